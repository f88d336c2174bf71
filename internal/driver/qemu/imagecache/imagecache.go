// Package imagecache keeps one verified copy of each image on a node, the
// read-only backing file of every instance overlay made from it: an image
// is fetched once per node (never once per server), checked against the
// hash the image service recorded, and renamed into place atomically so a
// half-written download is never used.
package imagecache

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/gureum/gureum/internal/platform/keylock"
)

// Image names an image and how to fetch it.
type Image struct {
	ID string
	// Hash is "<algo>:<hex>" with algo sha256, sha512 or md5 (Glance's
	// os_hash_algo/os_hash_value, or its md5 "checksum"). Empty means no
	// verification: the copy is keyed by ID only.
	Hash string
	// Open returns the image data; called only when the node has no copy.
	Open func(ctx context.Context) (io.ReadCloser, error) `json:"-"`
}

var idRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,128}$`)

// Cache is a directory of base images.
type Cache struct {
	Dir string

	locks keylock.Map // one fetch per image at a time
}

// New returns a cache in dir.
func New(dir string) *Cache { return &Cache{Dir: dir} }

func parseHash(s string) (algo, sum string, h hash.Hash, err error) {
	if s == "" {
		return "", "", sha256.New(), nil
	}
	algo, sum, ok := strings.Cut(s, ":")
	sum = strings.ToLower(sum)
	if _, herr := hex.DecodeString(sum); !ok || herr != nil {
		return "", "", nil, fmt.Errorf("imagecache: bad hash %q (want algo:hex)", s)
	}
	switch algo {
	case "sha256":
		h = sha256.New()
	case "sha512":
		h = sha512.New()
	case "md5":
		h = md5.New()
	default:
		return "", "", nil, fmt.Errorf("imagecache: unsupported hash algorithm %q", algo)
	}
	if len(sum) != h.Size()*2 {
		return "", "", nil, fmt.Errorf("imagecache: %s hash has the wrong length", algo)
	}
	return algo, sum, h, nil
}

// Path returns where img is (or would be) cached.
func (c *Cache) Path(img Image) (string, error) {
	if !idRE.MatchString(img.ID) {
		return "", fmt.Errorf("imagecache: bad image id %q", img.ID)
	}
	algo, sum, _, err := parseHash(img.Hash)
	if err != nil {
		return "", err
	}
	if algo == "" {
		return filepath.Join(c.Dir, img.ID), nil
	}
	// Keyed by ID and hash: a re-uploaded image with new content gets a new
	// copy; old copies are pruned when no overlay uses them.
	return filepath.Join(c.Dir, img.ID+"."+algo+"-"+sum[:min(len(sum), 32)]), nil
}

// Ensure returns the path of a verified local copy of img, fetching it if
// the node has none. Concurrent calls for one image fetch it once.
func (c *Cache) Ensure(ctx context.Context, img Image) (path string, fetched bool, err error) {
	path, err = c.Path(img)
	if err != nil {
		return "", false, err
	}
	unlock := c.locks.Lock(path)
	defer unlock()
	if _, err := os.Stat(path); err == nil {
		return path, false, nil
	}
	if img.Open == nil {
		return "", false, fmt.Errorf("imagecache: image %s not cached and no source given", img.ID)
	}
	_, sum, h, err := parseHash(img.Hash)
	if err != nil {
		return "", false, err
	}
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return "", false, err
	}
	rc, err := img.Open(ctx)
	if err != nil {
		return "", false, fmt.Errorf("imagecache: fetch %s: %w", img.ID, err)
	}
	defer rc.Close()
	tmp, err := os.CreateTemp(c.Dir, ".fetch-*")
	if err != nil {
		return "", false, err
	}
	defer os.Remove(tmp.Name())
	sw := &sparseWriter{f: tmp}
	_, err = io.CopyBuffer(io.MultiWriter(sw, h), ctxReader{ctx, rc}, make([]byte, 1<<20))
	if err == nil {
		err = sw.finish()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", false, fmt.Errorf("imagecache: fetch %s: %w", img.ID, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); sum != "" && got != sum {
		return "", false, fmt.Errorf("imagecache: image %s hash mismatch: got %s, want %s", img.ID, got, sum)
	}
	// Read-only: overlays must never write into their backing file.
	if err := os.Chmod(tmp.Name(), 0o444); err != nil {
		return "", false, err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", false, err
	}
	return path, true, nil
}

// Remove deletes the cached copy of img (the caller knows no overlay uses it).
func (c *Cache) Remove(img Image) error {
	path, err := c.Path(img)
	if err != nil {
		return err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// List returns the cached files' paths.
func (c *Cache) List() ([]string, error) {
	ents, err := os.ReadDir(c.Dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), ".") && e.Type().IsRegular() {
			out = append(out, filepath.Join(c.Dir, e.Name()))
		}
	}
	return out, nil
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (r ctxReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}

// FileSource opens a local file: for images already on the node (tests,
// pre-seeded caches).
func FileSource(path string) func(context.Context) (io.ReadCloser, error) {
	return func(context.Context) (io.ReadCloser, error) { return os.Open(path) }
}

// sparseWriter skips zero blocks (seeking over them) so raw images with
// large empty areas stay sparse in the cache instead of costing their full
// virtual size in disk writes.
type sparseWriter struct {
	f    *os.File
	size int64
}

const sparseBlock = 64 << 10

func (w *sparseWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		b := p[:min(len(p), sparseBlock)]
		if isZero(b) {
			if _, err := w.f.Seek(int64(len(b)), io.SeekCurrent); err != nil {
				return 0, err
			}
		} else if _, err := w.f.Write(b); err != nil {
			return 0, err
		}
		w.size += int64(len(b))
		p = p[len(b):]
	}
	return n, nil
}

// finish sets the file's length (a trailing hole has no write to extend it).
func (w *sparseWriter) finish() error { return w.f.Truncate(w.size) }

func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
