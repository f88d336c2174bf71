package qemu_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gureum/gureum/internal/driver/qemu"
	"github.com/gureum/gureum/internal/driver/qemu/imagecache"
	"github.com/gureum/gureum/internal/linux/linuxtest"
	"github.com/gureum/gureum/internal/platform/errs"
)

// A QEMU that does not start leaves no state directory, overlay or pidfile;
// the cached base image stays for the next try.
func TestSpawnRollsBack(t *testing.T) {
	linuxtest.RequireBinary(t, "qemu-img")
	t.Parallel()
	ctx := context.Background()
	tmp := t.TempDir()
	base := filepath.Join(tmp, "base.raw")
	if err := os.WriteFile(base, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := qemu.New(qemu.Config{StateDir: filepath.Join(tmp, "i"), CacheDir: filepath.Join(tmp, "c"), QEMU: "false", Accel: "tcg"})
	if err != nil {
		t.Fatal(err)
	}
	spec := qemu.Spec{ID: "s1", VCPUs: 1, MemoryMB: 64, ImageFormat: "raw",
		Image:       imagecache.Image{ID: "base", Open: imagecache.FileSource(base)},
		ConfigDrive: nil}
	if _, err := d.Spawn(ctx, spec); err == nil {
		t.Fatal("Spawn with a QEMU that exits succeeded")
	}
	if _, err := os.Stat(filepath.Join(tmp, "i", "s1")); !os.IsNotExist(err) {
		t.Fatalf("instance directory left: %v", err)
	}
	if in, _ := d.Info(ctx, "s1"); in.Status != qemu.NotFound {
		t.Fatalf("status %s", in.Status)
	}
	if files, _ := d.Cache().List(); len(files) != 1 {
		t.Fatalf("cache %v, want the base kept", files)
	}
	// An image larger than the flavor's disk is refused.
	spec.RootGB = 0
	big := filepath.Join(tmp, "big.qcow2")
	if out, err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2", big, "3G").CombinedOutput(); err != nil {
		t.Fatalf("qemu-img: %v %s", err, out)
	}
	spec.Image = imagecache.Image{ID: "big", Open: imagecache.FileSource(big)}
	spec.ImageFormat, spec.RootGB = "qcow2", 1
	if _, err := d.Spawn(ctx, spec); !errs.Is(err, errs.KindBadRequest) {
		t.Fatalf("3 GB image on a 1 GB root disk: %v, want BadRequest", err)
	}
}

// The self-contained tiny.qcow2 (no kernel_id/ramdisk_id) boots from its
// disk through SeaBIOS and syslinux.
func TestDiskBoot(t *testing.T) {
	ctx := context.Background()
	d, id, _ := diskGuest(t, "disk")
	out := waitConsole(t, d, id, regexp.MustCompile(`Run /init as init process`), 1, 180*time.Second)
	if !strings.Contains(out, "SYSLINUX") {
		t.Fatalf("not booted through syslinux:\n%s", out)
	}
	must(t, d.Destroy(ctx, id))
}
