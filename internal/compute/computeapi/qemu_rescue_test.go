package computeapi_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/keypairs"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/networks"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/subnets"

	"github.com/gureum/gureum/internal/config"
	"github.com/gureum/gureum/internal/testenv"
)

// TestQEMURescue rescues a running tiny guest: it boots a fresh copy of
// its image as the first disk and finds its own disk second (a marker
// written before the rescue is on /dev/vdb, not on /dev/vda); unrescue
// boots its own disk again with one disk.
func TestQEMURescue(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireBinary(t, "qemu-system-x86_64", "qemu-img", "dnsmasq", "genisoimage", "ip", "ssh", "ssh-keygen")
	s := testenv.StartServer(t, func(c *config.Config) {
		c.Compute.Driver = "qemu"
		c.Compute.ShutdownTimeout = 3 * time.Second
		c.Compute.TaskTimeout = 3 * time.Minute
		c.Compute.NodeName = fmt.Sprintf("node-rs-%d", os.Getpid())
	})
	t.Cleanup(func() { reapServers(t, s) })
	imageID := tinyImages(t, s)
	adminPC := s.Admin(t)
	sc := computeClient(t, s, adminPC, "2.38")
	nc := s.ServiceClient(t, adminPC, "network", "v2.0")
	third := 64 + (os.Getpid()+13)%128
	net, err := networks.Create(ctx, nc, networks.CreateOpts{Name: "rs-net"}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	gw := fmt.Sprintf("10.%d.31.1", third)
	if _, err := subnets.Create(ctx, nc, subnets.CreateOpts{NetworkID: net.ID, CIDR: fmt.Sprintf("10.%d.31.0/24", third), IPVersion: gophercloud.IPv4, GatewayIP: &gw}).Extract(); err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(t.TempDir(), "id_ed25519")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v %s", err, out)
	}
	pub, _ := os.ReadFile(key + ".pub")
	if _, err := keypairs.Create(ctx, sc, keypairs.CreateOpts{Name: "rs", PublicKey: strings.TrimSpace(string(pub))}).Extract(); err != nil {
		t.Fatal(err)
	}
	created, err := servers.Create(ctx, sc, keypairs.CreateOptsExt{CreateOptsBuilder: servers.CreateOpts{Name: "rs-guest", ImageRef: imageID, FlavorRef: "1",
		Networks: []servers.Network{{UUID: net.ID}}}, KeyName: "rs"}, nil).Extract()
	if err != nil {
		t.Fatal(err)
	}
	id := created.ID
	sv := waitStatusLong(t, sc, id, "ACTIVE")
	ip := sv.Addresses["rs-net"].([]any)[0].(map[string]any)["addr"].(string)
	guest := func(cmd string) (string, error) {
		out, err := exec.Command("ip", "netns", "exec", "qdhcp-"+net.ID, "ssh", "-i", key, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
			"-o", "ConnectTimeout=10", "-o", "LogLevel=ERROR", "root@"+ip, cmd).CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
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
