package computeapi_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"

	"github.com/gureum/gureum/internal/testenv"
)

// TestQEMURescue rescues a running tiny guest: it boots a fresh copy of
// its image as the first disk and finds its own disk second (a marker
// written before the rescue is on /dev/vdb, not on /dev/vda); unrescue
// boots its own disk again with one disk.
func TestQEMURescue(t *testing.T) {
	e := startQEMU(t, "node-rs", "2.38", 13, "rs")
	s, sc := e.s, e.sc
	net := e.network(t, "rs-net", 31)
	id, ip := e.boot(t, "rs-guest", net)
	guest := func(cmd string) (string, error) { return e.ssh(net.ID, ip, cmd) }
	booted := func(n int) {
		t.Helper()
		testenv.Eventually(t, 3*time.Minute, fmt.Sprintf("boot %d of the guest", n), func() bool {
			out, err := servers.ShowConsoleOutput(ctx, sc, id, servers.ShowConsoleOutputOpts{}).Extract()
			return err == nil && strings.Count(out, "gureum-guest: ssh ready") >= n
		})
	}
	booted(1)
	marker := fmt.Sprintf("gureum-rescue-%d", os.Getpid())
	// Past the image's data (the guest boots its kernel directly; nothing
	// reads this part of the disk).
	if out, err := guest("printf " + marker + " | dd of=/dev/vda bs=512 seek=40000 conv=notrunc 2>/dev/null && sync && ls /sys/block"); err != nil || strings.Contains(out, "vdb") {
		t.Fatalf("write the marker: %v %s", err, out)
	}
	read := func(dev string) string {
		out, _ := guest("dd if=" + dev + " bs=512 skip=40000 count=1 2>/dev/null | head -c " + fmt.Sprint(len(marker)))
		return out
	}

	pass, err := servers.Rescue(ctx, sc, id, servers.RescueOpts{}).Extract()
	if err != nil || pass == "" {
		t.Fatalf("rescue: %q %v", pass, err)
	}
	waitStatusLong(t, sc, id, "RESCUE")
	booted(2)
	if got := read("/dev/vdb"); got != marker {
		t.Fatalf("rescue system's /dev/vdb holds %q, want the server's disk with %q", got, marker)
	}
	if got := read("/dev/vda"); got == marker {
		t.Fatal("rescue system booted the server's own disk")
	}
	if _, err := os.Stat(filepath.Join(s.DataDir, "compute", "instances", id, "rescue.qcow2")); err != nil {
		t.Fatalf("rescue overlay: %v", err)
	}

	if err := servers.Unrescue(ctx, sc, id).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	waitStatusLong(t, sc, id, "ACTIVE")
	booted(3)
	if got := read("/dev/vda"); got != marker {
		t.Fatalf("after unrescue /dev/vda holds %q, want %q", got, marker)
	}
	if out, err := guest("ls /sys/block"); err != nil || strings.Contains(out, "vdb") {
		t.Fatalf("disks after unrescue: %v %s", err, out)
	}
	if _, err := os.Stat(filepath.Join(s.DataDir, "compute", "instances", id, "rescue.qcow2")); !os.IsNotExist(err) {
		t.Fatalf("rescue overlay left behind: %v", err)
	}
}
