package qemu

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"

	"github.com/gureum/gureum/internal/platform/errs"
)

// ConsoleOutput implements Driver.
func (d *QEMU) ConsoleOutput(ctx context.Context, id string, lines int) (string, error) {
	if err := checkID(id); err != nil {
		return "", err
	}
	p := d.paths(id)
	if _, err := os.Stat(p.spec()); err != nil {
		return "", errs.NotFound("qemu: instance %s not found on this node", id)
	}
	f, err := os.Open(p.console())
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	defer f.Close()
	return tail(f, lines, d.cfg.MaxConsoleBytes)
}

// tail returns the last n lines (all when n <= 0) of the last max bytes.
func tail(f *os.File, n int, max int64) (string, error) {
	st, err := f.Stat()
	if err != nil {
		return "", err
	}
	off := st.Size() - max
	if off < 0 {
		off = 0
	}
	b, err := io.ReadAll(io.NewSectionReader(f, off, st.Size()-off))
	if err != nil {
		return "", err
	}
	if off > 0 { // drop the partial first line
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	b = bytes.ToValidUTF8(bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n")), []byte("?"))
	if n > 0 {
		end := len(b)
		if end > 0 && b[end-1] == '\n' {
			end--
		}
		cnt := 0
		i := end
		for i > 0 {
			if b[i-1] == '\n' {
				cnt++
				if cnt == n {
					break
				}
			}
			i--
		}
		b = b[i:]
	}
	return string(b), nil
}
