package imagecache_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/gureum/gureum/internal/driver/qemu/imagecache"
)

func TestFetchOnceVerified(t *testing.T) {
	t.Parallel()
	c := imagecache.New(t.TempDir())
	data := []byte("an image")
	sum := sha256.Sum256(data)
	var opens atomic.Int32
	img := imagecache.Image{ID: "img-1", Hash: "sha256:" + hex.EncodeToString(sum[:]),
		Open: func(context.Context) (io.ReadCloser, error) {
			opens.Add(1)
			return io.NopCloser(bytes.NewReader(data)), nil
		}}
	var wg sync.WaitGroup
	paths := make([]string, 8)
	for i := range paths {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, _, err := c.Ensure(context.Background(), img)
			if err != nil {
				t.Error(err)
			}
			paths[i] = p
		}()
	}
	wg.Wait()
	if opens.Load() != 1 {
		t.Fatalf("image fetched %d times, want once per node", opens.Load())
	}
	for _, p := range paths[1:] {
		if p != paths[0] {
			t.Fatalf("different paths %v", paths)
		}
	}
	st, err := os.Stat(paths[0])
	if err != nil || st.Mode().Perm() != 0o444 {
		t.Fatalf("cached copy: %v %v (want read-only)", st, err)
	}
}

func TestHashMismatchRejected(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	c := imagecache.New(dir)
	img := imagecache.Image{ID: "img-2", Hash: "sha256:" + strings.Repeat("0", 64),
		Open: func(context.Context) (io.ReadCloser, error) { return io.NopCloser(strings.NewReader("tampered")), nil }}
	if _, _, err := c.Ensure(context.Background(), img); err == nil || !strings.Contains(err.Error(), "mismatch") {
		t.Fatalf("Ensure = %v, want hash mismatch", err)
	}
	if files, _ := c.List(); len(files) != 0 {
		t.Fatalf("a bad download was kept: %v", files)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 0 {
		t.Fatalf("temp files left: %v", ents)
	}
	for _, bad := range []imagecache.Image{{ID: "../x"}, {ID: "ok", Hash: "sha1:abcd"}, {ID: "ok", Hash: "md5:zz"}} {
		if _, err := c.Path(bad); err == nil {
			t.Errorf("Path(%+v) accepted", bad)
		}
	}
}

func TestSparseCopy(t *testing.T) {
	t.Parallel()
	data := make([]byte, 8<<20)
	copy(data[3<<20:], "data in the middle")
	sum := sha256.Sum256(data)
	c := imagecache.New(t.TempDir())
	p, _, err := c.Ensure(context.Background(), imagecache.Image{ID: "sparse", Hash: "sha256:" + hex.EncodeToString(sum[:]),
		Open: func(context.Context) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(p)
	if !bytes.Equal(got, data) {
		t.Fatal("cached copy differs from the image")
	}
	var st syscall.Stat_t
	if err := syscall.Stat(p, &st); err == nil && st.Blocks*512 >= int64(len(data)) {
		t.Errorf("cached copy is not sparse: %d bytes allocated", st.Blocks*512)
	}
}
