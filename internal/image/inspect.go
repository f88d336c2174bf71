package image

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"regexp"
	"strings"
	"time"

	"github.com/gureum/gureum/internal/platform/errs"
)

// Inspector decides whether uploaded data is a safe image of its declared
// format. The first line of defence is Gureum's own parser of the qcow2,
// vmdk, vhd, vhdx, vdi and iso headers: it reads a few KiB through a
// ReaderAt, never follows a reference to another file, and refuses what
// the glance format-inspection CVEs (CVE-2022-47951, CVE-2024-32498)
// exploited — qcow2 backing files and external data files, vmdk extents
// and parents, differencing vhd/vhdx/vdi — and data that is not what it was
// declared as. Only data that passed it is shown to `qemu-img info` (when
// installed) as a second opinion and for the virtual size of formats the
// parser does not size.
type Inspector struct {
	// QemuImg is the qemu-img binary ("" skips the second opinion).
	QemuImg string
	// MaxVirtualSize refuses larger virtual disks (0: no limit).
	MaxVirtualSize int64
	// Timeout bounds one qemu-img run.
	Timeout time.Duration
}

// Inspection is what the inspector learnt.
type Inspection struct {
	Format      string
	VirtualSize *int64
}

func reject(format string, a ...any) error {
	return errs.BadRequest("Image format check failed: "+format, a...)
}

// Check inspects r (size bytes) declared as disk/container format.
func (in *Inspector) Check(ctx context.Context, path string, r io.ReaderAt, size int64, diskFormat, containerFormat string) (*Inspection, error) {
	switch containerFormat {
	case "bare", "ami", "ari", "aki", "":
	default:
		// ova/ovf/docker/compressed wrap the disk in another container;
		// the disk inside is not looked at, as in glance.
		return &Inspection{Format: diskFormat}, nil
	}
	det, err := detect(r, size)
	if err != nil {
		return nil, err
	}
	if !formatMatches(diskFormat, det.Format) {
		return nil, reject("the data is %s but disk_format is %s.", det.Format, diskFormat)
	}
	if in.QemuImg != "" && det.Format != "raw" && det.Format != "iso" {
		q, err := in.qemuInfo(ctx, path, det.Format)
		if err != nil {
			return nil, err
		}
		if det.VirtualSize == nil {
			det.VirtualSize = q
		}
	}
	if det.VirtualSize != nil && (*det.VirtualSize < 0 || (in.MaxVirtualSize > 0 && *det.VirtualSize > in.MaxVirtualSize)) {
		return nil, reject("virtual size %d exceeds the limit of %d bytes.", *det.VirtualSize, in.MaxVirtualSize)
	}
	return det, nil
}

// formatMatches says whether detected content fits the declared format.
// raw (and the ami/ari/aki kernel formats, which are raw) accepts any
// content that is not another disk format; an iso image is raw too.
func formatMatches(declared, detected string) bool {
	switch declared {
	case "raw", "ami", "ari", "aki":
		return detected == "raw" || detected == "iso"
	}
	return declared == detected
}

func readAt(r io.ReaderAt, size, off int64, n int) []byte {
	if off < 0 || off >= size {
		return nil
	}
	if rem := size - off; int64(n) > rem {
		n = int(rem)
	}
	b := make([]byte, n)
	m, _ := r.ReadAt(b, off)
	return b[:m]
}

func i64(v uint64) *int64 { x := int64(v); return &x }

// detect identifies the format from headers and validates what it finds.
func detect(r io.ReaderAt, size int64) (*Inspection, error) {
	head := readAt(r, size, 0, 4096)
	switch {
	case bytes.HasPrefix(head, []byte("QFI\xfb")):
		return inspectQcow2(r, size, head)
	case bytes.HasPrefix(head, []byte("KDMV")):
		return inspectVMDK(r, size, head)
	case bytes.HasPrefix(head, []byte("# Disk DescriptorFile")):
		return nil, reject("vmdk descriptor files reference other files and are not accepted.")
	case bytes.HasPrefix(head, []byte("vhdxfile")):
		return inspectVHDX(r, size)
	case bytes.HasPrefix(head, []byte("conectix")):
		return inspectVHD(head)
	case bytes.HasPrefix(head, []byte("WithoutFreeSpace")) || bytes.HasPrefix(head, []byte("WithouFreSpacExt")):
		return &Inspection{Format: "ploop"}, nil
	}
	if len(head) >= 0x178 && binary.LittleEndian.Uint32(head[0x40:]) == 0xbeda107f {
		return inspectVDI(head)
	}
	if foot := readAt(r, size, size-512, 512); size >= 512 && bytes.HasPrefix(foot, []byte("conectix")) {
		return inspectVHD(foot)
	}
	if iso := readAt(r, size, 0x8001, 5); string(iso) == "CD001" {
		vs := readAt(r, size, 0x8050, 4)
		bs := readAt(r, size, 0x8080, 2)
		ins := &Inspection{Format: "iso"}
		if len(vs) == 4 && len(bs) == 2 {
			ins.VirtualSize = i64(uint64(binary.LittleEndian.Uint32(vs)) * uint64(binary.LittleEndian.Uint16(bs)))
		}
		return ins, nil
	}
	return &Inspection{Format: "raw", VirtualSize: i64(uint64(size))}, nil
}

// qcow2: https://gitlab.com/qemu-project/qemu/-/blob/master/docs/interop/qcow2.txt
func inspectQcow2(r io.ReaderAt, size int64, h []byte) (*Inspection, error) {
	if len(h) < 72 {
		return nil, reject("truncated qcow2 header.")
	}
	be := binary.BigEndian
	version := be.Uint32(h[4:])
	if version != 2 && version != 3 {
		return nil, reject("unsupported qcow2 version %d.", version)
	}
	if be.Uint64(h[8:]) != 0 || be.Uint32(h[16:]) != 0 {
		return nil, reject("qcow2 images with a backing file are not allowed.")
	}
	if cb := be.Uint32(h[20:]); cb < 9 || cb > 21 {
		return nil, reject("invalid qcow2 cluster size.")
	}
	vsize := be.Uint64(h[24:])
	extStart := int64(72)
	if version == 3 {
		if len(h) < 104 {
			return nil, reject("truncated qcow2 header.")
		}
		const dataFileBit = 1 << 2
		if be.Uint64(h[72:])&dataFileBit != 0 {
			return nil, reject("qcow2 images with an external data file are not allowed.")
		}
		extStart = int64(be.Uint32(h[100:]))
		if extStart < 104 {
			return nil, reject("invalid qcow2 header length.")
		}
	}
	// Header extensions, up to the end of the first cluster.
	off := extStart
	for i := 0; i < 64; i++ {
		e := readAt(r, size, off, 8)
		if len(e) < 8 {
			break
		}
		typ, n := be.Uint32(e), be.Uint32(e[4:])
		if typ == 0 {
			break
		}
		switch typ {
		case 0x44415441: // external data file name
			return nil, reject("qcow2 images with an external data file are not allowed.")
		case 0xe2792aca: // backing file format name
			return nil, reject("qcow2 images with a backing file are not allowed.")
		}
		off += 8 + int64((n+7)&^7)
	}
	if vsize > 1<<62 {
		return nil, reject("qcow2 virtual size is absurd.")
	}
	return &Inspection{Format: "qcow2", VirtualSize: i64(vsize)}, nil
}

var (
	vmdkCreateType = regexp.MustCompile(`(?m)^\s*createType\s*=\s*"([^"]*)"`)
	vmdkExtent     = regexp.MustCompile(`(?m)^\s*(RW|RDONLY|NOACCESS)\s+\d+\s+(\S+)`)
	vmdkParent     = regexp.MustCompile(`(?m)^\s*parentFileNameHint\s*=`)
	vmdkParentCID  = regexp.MustCompile(`(?m)^\s*parentCID\s*=\s*(\S+)`)
)

// vmdk sparse extent: https://www.vmware.com/app/vmdk/?src=vmdk
func inspectVMDK(r io.ReaderAt, size int64, h []byte) (*Inspection, error) {
	if len(h) < 44 {
		return nil, reject("truncated vmdk header.")
	}
	le := binary.LittleEndian
	capacity := le.Uint64(h[12:])
	descOff, descLen := le.Uint64(h[28:]), le.Uint64(h[36:])
	if descOff == 0 || descLen == 0 || descLen > 128 || descOff > uint64(size)/512 {
		return nil, reject("vmdk without an embedded descriptor is not accepted.")
	}
	desc := string(bytes.TrimRight(readAt(r, size, int64(descOff)*512, int(descLen)*512), "\x00"))
	m := vmdkCreateType.FindStringSubmatch(desc)
	if m == nil || (m[1] != "monolithicSparse" && m[1] != "streamOptimized") {
		return nil, reject("vmdk createType must be monolithicSparse or streamOptimized.")
	}
	if vmdkParent.MatchString(desc) {
		return nil, reject("vmdk images with a parent are not allowed.")
	}
	if p := vmdkParentCID.FindStringSubmatch(desc); p != nil && !strings.EqualFold(p[1], "ffffffff") {
		return nil, reject("vmdk images with a parent are not allowed.")
	}
	ext := vmdkExtent.FindAllStringSubmatch(desc, -1)
	if len(ext) != 1 || ext[0][2] != "SPARSE" {
		return nil, reject("vmdk images must have exactly one sparse extent.")
	}
	if capacity > 1<<53 {
		return nil, reject("vmdk virtual size is absurd.")
	}
	return &Inspection{Format: "vmdk", VirtualSize: i64(capacity * 512)}, nil
}

// vhd footer: disk type 2 fixed, 3 dynamic, 4 differencing.
func inspectVHD(foot []byte) (*Inspection, error) {
	if len(foot) < 64 {
		return nil, reject("truncated vhd footer.")
	}
	be := binary.BigEndian
	switch be.Uint32(foot[60:]) {
	case 2, 3:
	case 4:
		return nil, reject("differencing vhd images are not allowed.")
	default:
		return nil, reject("unknown vhd disk type.")
	}
	return &Inspection{Format: "vhd", VirtualSize: i64(be.Uint64(foot[48:]))}, nil
}

var (
	vhdxMetadataRegion = []byte{0x06, 0xa2, 0x7c, 0x8b, 0x90, 0x47, 0x9a, 0x4b, 0xb8, 0xfe, 0x57, 0x5f, 0x05, 0x0f, 0x88, 0x6e}
	vhdxVirtualSize    = []byte{0x24, 0x42, 0xa5, 0x2f, 0x1b, 0xcd, 0x76, 0x48, 0xb2, 0x11, 0x5d, 0xbe, 0xd8, 0x3b, 0xf4, 0xb8}
	vhdxParentLocator  = []byte{0x2d, 0x5f, 0xd3, 0xa8, 0x0b, 0xb3, 0x4d, 0x45, 0xab, 0xf7, 0xd3, 0xd8, 0x48, 0x34, 0xab, 0x0c}
)

// vhdx: region table at 192 KiB, metadata table in the metadata region.
func inspectVHDX(r io.ReaderAt, size int64) (*Inspection, error) {
	le := binary.LittleEndian
	rt := readAt(r, size, 192<<10, 64<<10)
	if len(rt) < 16 || string(rt[:4]) != "regi" {
		return nil, reject("invalid vhdx region table.")
	}
	n := int(le.Uint32(rt[8:]))
	var metaOff int64 = -1
	for i := 0; i < n && i < 2047 && 16+32*(i+1) <= len(rt); i++ {
		e := rt[16+32*i:]
		if bytes.Equal(e[:16], vhdxMetadataRegion) {
			metaOff = int64(le.Uint64(e[16:]))
		}
	}
	if metaOff < 0 {
		return nil, reject("vhdx has no metadata region.")
	}
	mt := readAt(r, size, metaOff, 64<<10)
	if len(mt) < 32 || string(mt[:8]) != "metadata" {
		return nil, reject("invalid vhdx metadata table.")
	}
	cnt := int(le.Uint16(mt[10:]))
	ins := &Inspection{Format: "vhdx"}
	for i := 0; i < cnt && 32+32*(i+1) <= len(mt); i++ {
		e := mt[32+32*i:]
		switch {
		case bytes.Equal(e[:16], vhdxParentLocator):
			return nil, reject("differencing vhdx images are not allowed.")
		case bytes.Equal(e[:16], vhdxVirtualSize):
			v := readAt(r, size, metaOff+int64(le.Uint32(e[16:])), 8)
			if len(v) == 8 {
				ins.VirtualSize = i64(le.Uint64(v))
			}
		}
	}
	return ins, nil
}

// vdi: image type 1 normal, 2 fixed, 3 undo, 4 diff.
func inspectVDI(h []byte) (*Inspection, error) {
	le := binary.LittleEndian
	switch le.Uint32(h[0x4c:]) {
	case 1, 2:
	default:
		return nil, reject("vdi undo and differencing images are not allowed.")
	}
	return &Inspection{Format: "vdi", VirtualSize: i64(le.Uint64(h[0x170:]))}, nil
}

type qemuInfo struct {
	Format         string `json:"format"`
	VirtualSize    int64  `json:"virtual-size"`
	BackingFile    string `json:"backing-filename"`
	FullBacking    string `json:"full-backing-filename"`
	FormatSpecific struct {
		Data struct {
			DataFile string `json:"data-file"`
		} `json:"data"`
	} `json:"format-specific"`
}

// qemuInfo asks qemu-img about data the parser already accepted, naming the
// format so qemu-img does not probe.
func (in *Inspector) qemuInfo(ctx context.Context, path, format string) (*int64, error) {
	t := in.Timeout
	if t == 0 {
		t = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, t)
	defer cancel()
	out, err := exec.CommandContext(ctx, in.QemuImg, "info", "--output=json", "-f", format, path).Output()
	if err != nil {
		return nil, reject("qemu-img could not read the image as %s.", format)
	}
	var q qemuInfo
	if err := json.Unmarshal(out, &q); err != nil {
		return nil, errs.Internal(fmt.Errorf("qemu-img output: %w", err))
	}
	switch {
	case q.Format != format:
		return nil, reject("the data is %s but disk_format is %s.", q.Format, format)
	case q.BackingFile != "" || q.FullBacking != "":
		return nil, reject("images with a backing file are not allowed.")
	case q.FormatSpecific.Data.DataFile != "":
		return nil, reject("images with an external data file are not allowed.")
	}
	return &q.VirtualSize, nil
}
