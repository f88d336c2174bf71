package image

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"syscall"
	"testing"

	"github.com/gureum/gureum/internal/platform/errs"
)

func tmpLeft(t *testing.T, f *Files) int {
	t.Helper()
	ents, err := os.ReadDir(f.tmpDir())
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

func TestReceive(t *testing.T) {
	t.Parallel()
	f, err := NewFiles(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// Data, a long zero run, data, and a zero tail: the zero runs become
	// holes, the hashes cover everything.
	data := make([]byte, 5<<20+123)
	r := rand.NewChaCha8([32]byte{})
	_, _ = r.Read(data[:1<<20])
	_, _ = r.Read(data[3<<20 : 4<<20])
	tmp, err := f.Receive(context.Background(), "x", bytes.NewReader(data), 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	md, sh := md5.Sum(data), sha512.Sum512(data)
	if tmp.Info.Size != int64(len(data)) || tmp.Info.MD5 != hex.EncodeToString(md[:]) || tmp.Info.HashValue != hex.EncodeToString(sh[:]) || tmp.Info.HashAlgo != "sha512" {
		t.Fatalf("info %+v", tmp.Info)
	}
	if err := tmp.Commit(f.Path("x")); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(f.Path("x"))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("stored data differs (%v)", err)
	}
	fi, _ := os.Stat(f.Path("x"))
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Blocks*512 > 3<<20 {
		t.Fatalf("not sparse: %d bytes allocated", st.Blocks*512)
	}
	if n := tmpLeft(t, f); n != 0 {
		t.Fatalf("%d temporary files", n)
	}
}

type failingReader struct{ n int }

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, io.ErrUnexpectedEOF
	}
	n := min(len(p), r.n)
	r.n -= n
	return n, nil
}

func TestReceiveFailures(t *testing.T) {
	t.Parallel()
	f, err := NewFiles(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.Receive(context.Background(), "big", bytes.NewReader(make([]byte, 3<<20)), 2<<20)
	if !errs.Is(err, errs.KindTooLarge) {
		t.Fatalf("over the limit: %v", err)
	}
	_, err = f.Receive(context.Background(), "cut", &failingReader{n: 3 << 20}, 1<<30)
	if !errs.Is(err, errs.KindBadRequest) || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("cut short: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err = f.Receive(ctx, "cancel", bytes.NewReader(make([]byte, 1<<20)), 1<<30); err == nil {
		t.Fatal("cancelled receive succeeded")
	}
	if n := tmpLeft(t, f); n != 0 {
		t.Fatalf("%d temporary files left", n)
	}
}

// BenchmarkReceive is the store's pipeline alone (hashes, writes), on
// incompressible data from memory: the ceiling of an upload.
func BenchmarkReceive(b *testing.B) {
	f, err := NewFiles(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	data := make([]byte, 256<<20)
	_, _ = rand.NewChaCha8([32]byte{1}).Read(data)
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tmp, err := f.Receive(context.Background(), "b", bytes.NewReader(data), 1<<40)
		if err != nil {
			b.Fatal(err)
		}
		tmp.Abort()
	}
}
