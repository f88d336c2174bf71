package qemu_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/gureum/gureum/internal/driver/qemu"
)

// A hot-plug whose device_add fails (here: the PCI bus has no free slot
// left) takes its netdev out again, so QEMU lets go of the tap, and the
// NIC stays out of the saved spec; the NICs plugged before stay.
func TestAttachNICRollsBack(t *testing.T) {
	ctx := context.Background()
	d, id, specPath := diskGuest(t, "nics", "ip")
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
	spec, err := os.ReadFile(specPath)
	if err != nil || strings.Contains(string(spec), nic(failed).MAC) || !strings.Contains(string(spec), nic(failed-1).MAC) {
		t.Fatalf("spec after the failed attach: %v %s", err, spec)
	}
	must(t, d.Destroy(ctx, id))
}

// A hot-plug whose NIC cannot be written to the saved spec is undone:
// device_del, and netdev_del lets go of the tap at once (the guest, not
// booted yet here, need not cooperate); the spec is as it was.
func TestAttachNICSpecWriteRollsBack(t *testing.T) {
	ctx := context.Background()
	d, id, specPath := diskGuest(t, "nicspec", "ip")
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
