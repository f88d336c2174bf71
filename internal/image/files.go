package image

import (
	"bytes"
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
	"strings"
	"sync"
	"sync/atomic"

	"github.com/gureum/gureum/internal/platform/errs"
)

// Files is the file store: image data lives in Dir/<id>, staged import data
// in Dir/staging/<id>, and every write first goes to Dir/.tmp, is fsynced
// and renamed, so an image file is either whole or absent. All three are in
// one directory tree so the renames never cross a filesystem.
type Files struct {
	dir string
	// chunk is the pipeline's buffer size; buffers is how many are in flight
	// per upload: memory per upload is chunk*buffers whatever the image size.
	chunk   int
	buffers int
	pool    sync.Pool
	// algo is the multihash computed beside md5 (os_hash_algo).
	algo string
}

// Pipeline sizes: 1 MiB reads keep syscalls few; four buffers let the
// reader, the two hashers and the writer all work at once.
const (
	defaultChunk   = 1 << 20
	defaultBuffers = 4
	// holeBlock is the granularity at which all-zero data is left as a
	// hole: sparse images stay sparse on disk, which the compute service's
	// copy-on-write overlays also benefit from.
	holeBlock = 64 << 10
)

// NewFiles opens (creating) the store in dir and removes temporary files a
// crash may have left behind.
func NewFiles(dir string) (*Files, error) {
	f := &Files{dir: dir, chunk: defaultChunk, buffers: defaultBuffers, algo: HashAlgo}
	f.pool.New = func() any { b := make([]byte, f.chunk); return &b }
	for _, d := range []string{dir, f.tmpDir(), f.stageDir()} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("image store: %w", err)
		}
	}
	ents, err := os.ReadDir(f.tmpDir())
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		_ = os.Remove(filepath.Join(f.tmpDir(), e.Name()))
	}
	return f, nil
}

func (f *Files) tmpDir() string   { return filepath.Join(f.dir, ".tmp") }
func (f *Files) stageDir() string { return filepath.Join(f.dir, "staging") }

// SetHashAlgo chooses the multihash (one of HashAlgos).
func (f *Files) SetHashAlgo(algo string) error {
	if newHash(algo) == nil {
		return fmt.Errorf("image store: unsupported hash algorithm %q", algo)
	}
	f.algo = algo
	return nil
}

func newHash(algo string) hash.Hash {
	switch algo {
	case "sha256":
		return sha256.New()
	case "sha384":
		return sha512.New384()
	case "sha512":
		return sha512.New()
	}
	return nil
}

// Dir is the store's directory.
func (f *Files) Dir() string { return f.dir }

// Path is where an image's data lives.
func (f *Files) Path(id string) string { return filepath.Join(f.dir, id) }

// StagePath is where an image's staged data lives.
func (f *Files) StagePath(id string) string { return filepath.Join(f.stageDir(), id) }

// Remove deletes an image's data and staged data (absent files are fine).
func (f *Files) Remove(id string) error {
	var errOut error
	for _, p := range []string{f.Path(id), f.StagePath(id)} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			errOut = err
		}
	}
	return errOut
}

// DataIDs lists the IDs that have data or staged data on disk (for the
// start-up sweep of orphans).
func (f *Files) DataIDs() (data, staged []string, err error) {
	list := func(dir string) ([]string, error) {
		ents, err := os.ReadDir(dir)
		if err != nil {
			return nil, err
		}
		var out []string
		for _, e := range ents {
			if e.Type().IsRegular() && !strings.HasPrefix(e.Name(), ".") {
				out = append(out, e.Name())
			}
		}
		return out, nil
	}
	if data, err = list(f.dir); err != nil {
		return nil, nil, err
	}
	staged, err = list(f.stageDir())
	return data, staged, err
}

// Temp is received data in a temporary file, not yet committed.
type Temp struct {
	f    *os.File
	path string
	Info DataInfo
}

// File gives read access for inspection.
func (t *Temp) File() *os.File { return t.f }

// Path is the temporary file's path.
func (t *Temp) Path() string { return t.path }

// Commit renames the data to dst and makes the rename durable.
func (t *Temp) Commit(dst string) error {
	if err := t.f.Close(); err != nil {
		_ = os.Remove(t.path)
		return err
	}
	if err := os.Rename(t.path, dst); err != nil {
		_ = os.Remove(t.path)
		return err
	}
	return syncDir(filepath.Dir(dst))
}

// Abort discards the data.
func (t *Temp) Abort() {
	_ = t.f.Close()
	_ = os.Remove(t.path)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// errTooBig marks a stream longer than the allowed limit.
var errTooBig = errors.New("image data exceeds the limit")

// Move moves already committed data (a staged file) to dst durably.
func (f *Files) Move(src, dst string) error {
	if err := os.Rename(src, dst); err != nil {
		return err
	}
	return syncDir(filepath.Dir(dst))
}

type chunk struct {
	buf  *[]byte
	n    int
	off  int64
	refs atomic.Int32
}

// Receive streams r into a temporary file, computing md5 and the multihash on the
// way, and fsyncs it. It reads at most limit bytes (a longer stream is a
// TooLarge error). Memory use is fixed: the reader, the two hashers and the
// disk writer run concurrently over a small ring of buffers, so the upload
// goes at the speed of the slowest of them, not of their sum.
func (f *Files) Receive(ctx context.Context, id string, r io.Reader, limit int64) (*Temp, error) {
	file, err := os.CreateTemp(f.tmpDir(), id+"-*")
	if err != nil {
		return nil, errs.Internal(err)
	}
	t := &Temp{f: file, path: file.Name()}
	ok := false
	defer func() {
		if !ok {
			t.Abort()
		}
	}()

	free := make(chan *chunk, f.buffers)
	for i := 0; i < f.buffers; i++ {
		free <- &chunk{buf: f.pool.Get().(*[]byte)}
	}
	defer func() {
		for i := 0; i < f.buffers; i++ {
			f.pool.Put((<-free).buf)
		}
	}()
	release := func(c *chunk) {
		if c.refs.Add(-1) == 0 {
			free <- c
		}
	}
	md5h, shah := md5.New(), newHash(f.algo)
	queues := []chan *chunk{make(chan *chunk, f.buffers), make(chan *chunk, f.buffers), make(chan *chunk, f.buffers)}
	var wg sync.WaitGroup
	hasher := func(q chan *chunk, h hash.Hash) {
		defer wg.Done()
		for c := range q {
			h.Write((*c.buf)[:c.n])
			release(c)
		}
	}
	var writeErr error
	writer := func(q chan *chunk) {
		defer wg.Done()
		zero := make([]byte, holeBlock)
		for c := range q {
			if writeErr == nil {
				writeErr = writeSparse(file, (*c.buf)[:c.n], c.off, zero)
			}
			release(c)
		}
	}
	wg.Add(3)
	go hasher(queues[0], md5h)
	go hasher(queues[1], shah)
	go writer(queues[2])

	var total int64
	var readErr error
	for readErr == nil {
		if err := ctx.Err(); err != nil {
			readErr = err
			break
		}
		c := <-free
		n, err := readChunk(r, *c.buf)
		if n > 0 {
			if total+int64(n) > limit {
				free <- c
				readErr = errTooBig
				break
			}
			c.n, c.off = n, total
			total += int64(n)
			c.refs.Store(int32(len(queues)))
			for _, q := range queues {
				q <- c
			}
		} else {
			free <- c
		}
		if err == io.EOF {
			break
		}
		readErr = err
	}
	for _, q := range queues {
		close(q)
	}
	wg.Wait()
	switch {
	case errors.Is(readErr, errTooBig):
		return nil, errs.TooLarge("Image exceeds the storage quota or the image size limit of %d bytes.", limit)
	case readErr != nil:
		e := errs.BadRequest("Error while reading the image data: %v.", readErr)
		e.Cause = readErr
		return nil, e
	case writeErr != nil:
		return nil, errs.Internal(writeErr)
	}
	// A trailing hole is not written: the size comes from the truncate.
	if err := file.Truncate(total); err != nil {
		return nil, errs.Internal(err)
	}
	if err := file.Sync(); err != nil {
		return nil, errs.Internal(err)
	}
	t.Info = DataInfo{Size: total, MD5: hex.EncodeToString(md5h.Sum(nil)), HashAlgo: f.algo, HashValue: hex.EncodeToString(shah.Sum(nil))}
	ok = true
	return t, nil
}

// readChunk fills b unless the stream ends: only io.EOF is a normal end; a
// body cut short (io.ErrUnexpectedEOF from net/http) is an error.
func readChunk(r io.Reader, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := r.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// writeSparse writes b at off, leaving all-zero blocks as holes; runs of
// data blocks go out in one write.
func writeSparse(f *os.File, b []byte, off int64, zero []byte) error {
	start := -1 // start of the pending run of data blocks
	flush := func(end int) error {
		if start < 0 {
			return nil
		}
		_, err := f.WriteAt(b[start:end], off+int64(start))
		start = -1
		return err
	}
	for i := 0; i < len(b); i += len(zero) {
		n := min(len(b)-i, len(zero))
		if bytes.Equal(b[i:i+n], zero[:n]) {
			if err := flush(i); err != nil {
				return err
			}
		} else if start < 0 {
			start = i
		}
	}
	return flush(len(b))
}
