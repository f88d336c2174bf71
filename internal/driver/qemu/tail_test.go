package qemu

import (
	"os"
	"path/filepath"
	"testing"
)

func TestTail(t *testing.T) {
	p := filepath.Join(t.TempDir(), "console.log")
	os.WriteFile(p, []byte("one\r\ntwo\nthree\nfour\n"), 0o600)
	f, _ := os.Open(p)
	defer f.Close()
	for _, c := range []struct {
		n    int
		max  int64
		want string
	}{
		{0, 1 << 20, "one\ntwo\nthree\nfour\n"},
		{2, 1 << 20, "three\nfour\n"},
		{10, 1 << 20, "one\ntwo\nthree\nfour\n"},
		{0, 12, "three\nfour\n"}, // partial first line dropped
	} {
		got, err := tail(f, c.n, c.max)
		if err != nil || got != c.want {
			t.Errorf("tail(%d, %d) = %q, %v; want %q", c.n, c.max, got, err, c.want)
		}
	}
}
