package qemu_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gureum/gureum/internal/driver/linuxbridge"
	"github.com/gureum/gureum/internal/driver/metadata"
	"github.com/gureum/gureum/internal/driver/qemu"
	"github.com/gureum/gureum/internal/driver/qemu/imagecache"
	"github.com/gureum/gureum/internal/linux/linuxtest"
)

// marks are console lines timed from the start of a boot.
var marks = []struct{ name, text string }{
	{"first-line-ms", "\n"},
	{"kernel-ms", "Linux version"},
	{"init-ms", "gureum-guest: eth0"},
}

// watch polls a console log until every mark appeared (or timeout) and
// returns the elapsed time of each since start.
func watch(path string, start time.Time, timeout time.Duration) ([]time.Duration, error) {
	got := make([]time.Duration, len(marks))
	next := 0
	for next < len(marks) {
		b, _ := os.ReadFile(path)
		for next < len(marks) && bytes.Contains(b, []byte(marks[next].text)) {
			got[next] = time.Since(start)
			next++
		}
		if time.Since(start) > timeout {
			return nil, fmt.Errorf("console %s lacks %q after %v", path, marks[next].text, timeout)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return got, nil
}

func report(b *testing.B, sums []time.Duration) {
	for i, m := range marks {
		b.ReportMetric(float64(sums[i].Milliseconds())/float64(b.N), m.name)
	}
}

// BenchmarkBoot compares a bare qemu-system-x86_64 boot of the tiny
// kernel+initrd with a boot through the driver (overlay creation, config
// drive, tap NIC on a bridge, seccomp, QMP handshake included), to the first
// console line, the kernel banner and the guest's init. Each iteration runs
// one of each back to back, so both see the same load on a shared machine.
// Run as root:
//
//	go test -run '^$' -bench Boot -benchtime 5x ./internal/driver/qemu/
func BenchmarkBoot(b *testing.B) {
	linuxtest.RequireRoot(b)
	linuxtest.RequireBinary(b, "qemu-system-x86_64", "qemu-img", "genisoimage")
	dir, _ := filepath.Abs("../../../build/images")
	if _, err := os.Stat(filepath.Join(dir, "tiny.initrd")); err != nil {
		b.Skip("needs the tiny test image: run `make test-image`")
	}
	cmdline := func() string {
		c, _ := os.ReadFile(filepath.Join(dir, "tiny.cmdline"))
		return strings.TrimSpace(string(c))
	}()
	ctx := context.Background()
	tmp := b.TempDir()

	bare := func(i int) ([]time.Duration, error) {
		console := filepath.Join(tmp, fmt.Sprintf("bare-%d.log", i))
		start := time.Now()
		cmd := exec.Command("qemu-system-x86_64", "-machine", "pc,accel=tcg", "-m", "256",
			"-nodefaults", "-no-user-config", "-display", "none",
			"-chardev", "file,id=s0,path="+console, "-serial", "chardev:s0",
			"-netdev", "user,id=n0", "-device", "virtio-net-pci,netdev=n0",
			"-kernel", filepath.Join(dir, "tiny.vmlinuz"), "-initrd", filepath.Join(dir, "tiny.initrd"),
			"-append", cmdline)
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		defer func() { cmd.Process.Kill(); cmd.Wait() }()
		return watch(console, start, 2*time.Minute)
	}

	cfg := qemu.Config{StateDir: filepath.Join(tmp, "i"), CacheDir: filepath.Join(tmp, "c"), Accel: "tcg"}
	d, err := qemu.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	bridges := linuxbridge.New("gr-")
	netID := fmt.Sprintf("bench%08x%06x", os.Getpid(), time.Now().UnixNano()&0xffffff)
	b.Cleanup(func() { bridges.DeleteNetwork(ctx, netID) })
	kernel := fileImage(b, "k", filepath.Join(dir, "tiny.vmlinuz"))
	ramdisk := fileImage(b, "r", filepath.Join(dir, "tiny.initrd"))
	image := fileImage(b, "tiny", filepath.Join(dir, "tiny.qcow2"))
	// The images are cached on the node, as the speed target assumes.
	for _, img := range []imagecache.Image{image, kernel, ramdisk} {
		if _, _, err := d.Cache().Ensure(ctx, img); err != nil {
			b.Fatal(err)
		}
	}
	driver := func(i int) ([]time.Duration, time.Duration, error) {
		portID := fmt.Sprintf("port%08x%06x", i, time.Now().UnixNano()&0xffffff)
		tap, err := bridges.PlugPort(ctx, linuxbridge.Port{ID: portID, NetworkID: netID, MTU: 1450})
		if err != nil {
			return nil, 0, err
		}
		defer bridges.UnplugPort(ctx, portID)
		id := fmt.Sprintf("bench-%d-%d", os.Getpid(), i)
		spec := qemu.Spec{ID: id, VCPUs: 1, MemoryMB: 256, RootGB: 1, Image: image, ImageFormat: "qcow2",
			ConfigDrive: &metadata.Instance{UUID: id, Hostname: "bench"},
			Kernel:      &kernel, Ramdisk: &ramdisk, Cmdline: cmdline,
			NICs: []qemu.NIC{{Tap: tap, MAC: "fa:16:3e:00:be:01"}}}
		start := time.Now()
		if _, err := d.Spawn(ctx, spec); err != nil {
			return nil, 0, err
		}
		spawn := time.Since(start)
		defer d.Destroy(ctx, id)
		got, err := watch(filepath.Join(cfg.StateDir, id, "console.log"), start, 2*time.Minute)
		return got, spawn, err
	}

	sumB := make([]time.Duration, len(marks))
	sumD := make([]time.Duration, len(marks))
	var spawn time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		gb, err := bare(i)
		if err != nil {
			b.Fatal(err)
		}
		gd, sp, err := driver(i)
		if err != nil {
			b.Fatal(err)
		}
		for j := range marks {
			sumB[j] += gb[j]
			sumD[j] += gd[j]
		}
		spawn += sp
		b.Logf("run %d: bare %v, driver %v (spawn %v)", i, gb, gd, sp)
	}
	n := float64(b.N)
	for j, m := range marks {
		b.ReportMetric(float64(sumB[j].Milliseconds())/n, "bare-"+m.name)
		b.ReportMetric(float64(sumD[j].Milliseconds())/n, "driver-"+m.name)
	}
	b.ReportMetric(float64(sumD[0])/float64(sumB[0]), "first-line-ratio")
	b.ReportMetric(float64(spawn.Milliseconds())/n, "spawn-ms")
}
