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

func TestTrimConsole(t *testing.T) {
	p := filepath.Join(t.TempDir(), "console.log")
	var b []byte
	for i := 0; i < 100; i++ {
		b = append(b, "line of the console\n"...)
	}
	os.WriteFile(p, b, 0o600)
	if err := trimConsole(p, 1000); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(p); len(got) != len(b) {
		t.Fatalf("trimmed below twice the limit: %d bytes", len(got))
	}
	if err := trimConsole(p, 500); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(p)
	if len(got) > 500 || len(got) < 400 || string(got[:5]) != "line " {
		t.Fatalf("trimmed to %d bytes starting %q", len(got), got[:5])
	}
}
