package image

import (
	"bytes"
	"context"
	"encoding/binary"
	"testing"

	"github.com/gureum/gureum/internal/platform/errs"
)

func qcow2(vsize uint64, backingOff uint64, incompat uint64) []byte {
	b := make([]byte, 8192)
	be := binary.BigEndian
	copy(b, "QFI\xfb")
	be.PutUint32(b[4:], 3)
	be.PutUint64(b[8:], backingOff)
	be.PutUint32(b[20:], 16)
	be.PutUint64(b[24:], vsize)
	be.PutUint64(b[72:], incompat)
	be.PutUint32(b[100:], 104)
	return b
}

func TestInspector(t *testing.T) {
	t.Parallel()
	in := &Inspector{MaxVirtualSize: 1 << 40}
	iso := make([]byte, 0x9000)
	copy(iso[0x8001:], "CD001")
	binary.LittleEndian.PutUint32(iso[0x8050:], 18)
	binary.LittleEndian.PutUint16(iso[0x8080:], 2048)
	vdi := make([]byte, 512)
	binary.LittleEndian.PutUint32(vdi[0x40:], 0xbeda107f)
	binary.LittleEndian.PutUint32(vdi[0x4c:], 1)
	binary.LittleEndian.PutUint64(vdi[0x170:], 1<<30)
	vdiDiff := bytes.Clone(vdi)
	binary.LittleEndian.PutUint32(vdiDiff[0x4c:], 4)
	cases := []struct {
		name, disk, container string
		data                  []byte
		ok                    bool
		vsize                 int64
	}{
		{"qcow2", "qcow2", "bare", qcow2(1<<30, 0, 0), true, 1 << 30},
		{"qcow2 backing", "qcow2", "bare", qcow2(1<<30, 512, 0), false, 0},
		{"qcow2 data file", "qcow2", "bare", qcow2(1<<30, 0, 4), false, 0},
		{"qcow2 too big", "qcow2", "bare", qcow2(1<<41, 0, 0), false, 0},
		{"qcow2 as raw", "raw", "bare", qcow2(1<<30, 0, 0), false, 0},
		{"raw", "raw", "bare", []byte("hello"), true, 5},
		{"raw as qcow2", "qcow2", "bare", []byte("hello"), false, 0},
		{"iso", "iso", "bare", iso, true, 18 * 2048},
		{"iso as raw", "raw", "bare", iso, true, 18 * 2048},
		{"vdi", "vdi", "bare", vdi, true, 1 << 30},
		{"vdi diff", "vdi", "bare", vdiDiff, false, 0},
		{"qcow2 in ova not inspected", "qcow2", "ova", []byte("tarball"), true, 0},
	}
	for _, c := range cases {
		ins, err := in.Check(context.Background(), "", bytes.NewReader(c.data), int64(len(c.data)), c.disk, c.container)
		if c.ok != (err == nil) {
			t.Errorf("%s: err %v", c.name, err)
			continue
		}
		if err != nil && !errs.Is(err, errs.KindBadRequest) {
			t.Errorf("%s: want a 400, got %v", c.name, err)
		}
		if err == nil && c.vsize != 0 && (ins.VirtualSize == nil || *ins.VirtualSize != c.vsize) {
			t.Errorf("%s: virtual size %v", c.name, ins.VirtualSize)
		}
	}
}
