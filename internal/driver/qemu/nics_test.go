package qemu_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gureum/gureum/internal/driver/qemu"
	"github.com/gureum/gureum/internal/linux/linuxtest"
)

// A hot-plug whose device_add fails (here: the PCI bus has no free slot
// left) takes its netdev out again, so QEMU lets go of the tap, and the
// NIC stays out of the saved spec; the NICs plugged before stay.
func TestAttachNICRollsBack(t *testing.T) {
	linuxtest.RequireRoot(t)
	linuxtest.RequireBinary(t, "qemu-system-x86_64", "qemu-img", "ip")
	dir := images(t)
	t.Parallel()
	ctx := context.Background()
	tmp := t.TempDir()
	d, err := qemu.New(qemu.Config{StateDir: filepath.Join(tmp, "i"), CacheDir: filepath.Join(tmp, "c")})
	if err != nil {
		t.Fatal(err)
	}
	id := fmt.Sprintf("nics-%d", os.Getpid())
	t.Cleanup(func() { d.Destroy(ctx, id) })
	if _, err := d.Spawn(ctx, qemu.Spec{ID: id, VCPUs: 1, MemoryMB: 256, RootGB: 1, ImageFormat: "qcow2",
		Image: fileImage(t, "tiny", filepath.Join(dir, "tiny.qcow2"))}); err != nil {
		t.Fatal(err)
	}
	nic := func(i int) qemu.NIC {
		return qemu.NIC{Tap: fmt.Sprintf("grn%d-%d", os.Getpid()%100000, i), MAC: fmt.Sprintf("fa:16:3e:00:%02x:%02x", os.Getpid()&0xff, i)}
	}
	tapExists := func(tap string) bool { return exec.Command("ip", "link", "show", tap).Run() == nil }
	failed := -1
	for i := 0; i < 40 && failed < 0; i++ {
		if err := d.AttachNIC(ctx, id, nic(i)); err != nil {
			if !strings.Contains(err.Error(), "device_add") {
				t.Fatalf("attach %d: %v, want device_add to fail", i, err)
			}
			failed = i
		}
	}
	if failed < 1 {
		t.Fatalf("device_add failed at NIC %d", failed)
	}
	if tapExists(nic(failed).Tap) {
		t.Fatalf("tap %s still held by QEMU after the failed attach", nic(failed).Tap)
	}
	if !tapExists(nic(0).Tap) {
		t.Fatalf("tap %s of an attached NIC gone", nic(0).Tap)
	}
	nics, err := d.NICs(ctx, id)
	if err != nil || len(nics) != failed {
		t.Fatalf("QEMU's NICs: %d %v, want %d", len(nics), err, failed)
	}
	spec, err := os.ReadFile(filepath.Join(tmp, "i", id, "spec.json"))
	if err != nil || strings.Contains(string(spec), nic(failed).MAC) || !strings.Contains(string(spec), nic(failed-1).MAC) {
		t.Fatalf("spec after the failed attach: %v %s", err, spec)
	}
	must(t, d.Destroy(ctx, id))
}

// A hot-plug whose NIC cannot be written to the saved spec is undone:
// device_del, and netdev_del lets go of the tap at once (the guest, not
// booted yet here, need not cooperate); the spec is as it was.
func TestAttachNICSpecWriteRollsBack(t *testing.T) {
	linuxtest.RequireRoot(t)
	linuxtest.RequireBinary(t, "qemu-system-x86_64", "qemu-img", "ip")
	dir := images(t)
	t.Parallel()
	ctx := context.Background()
	tmp := t.TempDir()
	d, err := qemu.New(qemu.Config{StateDir: filepath.Join(tmp, "i"), CacheDir: filepath.Join(tmp, "c")})
	if err != nil {
		t.Fatal(err)
	}
	id := fmt.Sprintf("nicspec-%d", os.Getpid())
	t.Cleanup(func() { d.Destroy(ctx, id) })
	if _, err := d.Spawn(ctx, qemu.Spec{ID: id, VCPUs: 1, MemoryMB: 256, RootGB: 1, ImageFormat: "qcow2",
		Image: fileImage(t, "tiny", filepath.Join(dir, "tiny.qcow2"))}); err != nil {
		t.Fatal(err)
	}
	specPath := filepath.Join(tmp, "i", id, "spec.json")
	before, err := os.ReadFile(specPath)
	if err != nil {
		t.Fatal(err)
	}
	// writeJSON writes spec.json.tmp first: a directory there fails it.
	must(t, os.Mkdir(specPath+".tmp", 0o755))
	n := qemu.NIC{Tap: fmt.Sprintf("grs%d", os.Getpid()%100000), MAC: fmt.Sprintf("fa:16:3e:01:%02x:01", os.Getpid()&0xff)}
	if err := d.AttachNIC(ctx, id, n); err == nil {
		t.Fatal("attach with an unwritable spec succeeded")
	}
	if exec.Command("ip", "link", "show", n.Tap).Run() == nil {
		t.Fatalf("tap %s still held by QEMU after the failed attach", n.Tap)
	}
	if after, err := os.ReadFile(specPath); err != nil || string(after) != string(before) {
		t.Fatalf("spec after the failed attach: %v %s", err, after)
	}
	must(t, os.Remove(specPath+".tmp"))
	must(t, d.Destroy(ctx, id))
}
