package qemu_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gureum/gureum/internal/driver/qemu"
	"github.com/gureum/gureum/internal/linux/linuxtest"
)

// A rescue boot that fails leaves the instance as it was: its own boot
// running again, its spec without the rescue, no rescue overlay.
func TestRescueRollsBack(t *testing.T) {
	linuxtest.RequireRoot(t)
	linuxtest.RequireBinary(t, "qemu-system-x86_64", "qemu-img")
	dir := images(t)
	t.Parallel()
	ctx := context.Background()
	tmp := t.TempDir()
	real, err := exec.LookPath("qemu-system-x86_64")
	if err != nil {
		t.Fatal(err)
	}
	// A QEMU that refuses to start once, when the file fail exists.
	fail := filepath.Join(tmp, "fail")
	wrapper := filepath.Join(tmp, "qemu")
	script := fmt.Sprintf("#!/bin/sh\n[ -e %[1]s ] && { rm -f %[1]s; echo refused >&2; exit 1; }\nexec %[2]s \"$@\"\n", fail, real)
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	d, err := qemu.New(qemu.Config{StateDir: filepath.Join(tmp, "i"), CacheDir: filepath.Join(tmp, "c"), QEMU: wrapper, Grace: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	id := fmt.Sprintf("rescue-%d", os.Getpid())
	t.Cleanup(func() { d.Destroy(ctx, id) })
	img := fileImage(t, "tiny", filepath.Join(dir, "tiny.qcow2"))
	if _, err := d.Spawn(ctx, qemu.Spec{ID: id, VCPUs: 1, MemoryMB: 256, RootGB: 1, ImageFormat: "qcow2", Image: img}); err != nil {
		t.Fatal(err)
	}
	must(t, os.WriteFile(fail, nil, 0o644))
	if err := d.Rescue(ctx, id, qemu.Boot{Image: img, ImageFormat: "qcow2"}); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("rescue with a QEMU that refuses: %v", err)
	}
	if in, err := d.Info(ctx, id); err != nil || in.Status != qemu.Running {
		t.Fatalf("after the failed rescue: %+v %v, want the own boot running", in, err)
	}
	if _, err := os.Stat(filepath.Join(tmp, "i", id, "rescue.qcow2")); !os.IsNotExist(err) {
		t.Fatalf("rescue overlay left behind: %v", err)
	}
	if spec, err := os.ReadFile(filepath.Join(tmp, "i", id, "spec.json")); err != nil || strings.Contains(string(spec), "Original") {
		t.Fatalf("spec after the failed rescue: %v %s", err, spec)
	}
	must(t, d.Destroy(ctx, id))
}
