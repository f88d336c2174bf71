package computeapi_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"

	"github.com/gureum/gureum/internal/agent"
	"github.com/gureum/gureum/internal/app"
	"github.com/gureum/gureum/internal/image"
	"github.com/gureum/gureum/internal/network"
	"github.com/gureum/gureum/internal/testenv"
)

// tinyImages uploads the tiny guest as glance would hold an AMI-style
// image: the disk with kernel_id, ramdisk_id and os_command_line.
func tinyImages(t *testing.T, s *testenv.Server) string {
	t.Helper()
	dir, _ := filepath.Abs("../../../build/images")
	for _, f := range []string{"tiny.qcow2", "tiny.vmlinuz", "tiny.initrd", "tiny.cmdline"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Skipf("needs the tiny test image: run `make test-image` (missing %s)", f)
		}
	}
	svc := s.App.Image
	c := image.Caller{Project: "images", User: "test", Admin: true}
	put := func(name, file, disk, ctr string, props map[string]string) string {
		img, err := svc.Create(context.Background(), c, &image.Image{Name: name, Visibility: image.Public, DiskFormat: disk, ContainerFormat: ctr, Properties: props})
		if err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := svc.Upload(context.Background(), img.ID, f, ""); err != nil {
			t.Fatal(err)
		}
		return img.ID
	}
	cmdline, _ := os.ReadFile(filepath.Join(dir, "tiny.cmdline"))
	k := put("tiny-kernel", "tiny.vmlinuz", "aki", "aki", nil)
	r := put("tiny-ramdisk", "tiny.initrd", "ari", "ari", nil)
	return put("tiny", "tiny.qcow2", "qcow2", "bare", map[string]string{"kernel_id": k, "ramdisk_id": r, "os_command_line": strings.TrimSpace(string(cmdline))})
}

func consoleHas(t *testing.T, sc *gophercloud.ServiceClient, id string, re *regexp.Regexp, timeout time.Duration) string {
	t.Helper()
	var out string
	testenv.Eventually(t, timeout, "console to match "+re.String(), func() bool {
		var err error
		out, err = servers.ShowConsoleOutput(ctx, sc, id, servers.ShowConsoleOutputOpts{}).Extract()
		return err == nil && re.MatchString(out)
	})
	return out
}

// TestQEMUServerEndToEnd boots the tiny guest through the Nova API on a
// VXLAN-typed tenant network: DHCP hands it its fixed IP and MTU 1450, the
// metadata service its key, SSH answers from the qdhcp namespace, power
// actions reach QEMU, and delete leaves nothing behind.
func TestQEMUServerEndToEnd(t *testing.T) {
	e := startQEMU(t, "node", "2.26", 0, "e2e")
	s, sc := e.s, e.sc
	net := e.network(t, "e2e-net", 9, "192.0.2.53")
	if n, err := s.App.Network.GetNetwork(ctx, network.Caller{Admin: true}, net.ID); err != nil || n.MTU != 1450 || n.NetworkType != "vxlan" {
		t.Fatalf("network %+v %v, want VXLAN with MTU 1450", n, err)
	}
	id, ip := e.boot(t, "tiny-guest", net)
	deleted := false
	t.Cleanup(func() {
		if !deleted {
			_ = servers.Delete(ctx, sc, id).ExtractErr()
			testenv.Eventually(t, time.Minute, "cleanup delete", func() bool {
				_, err := servers.Get(ctx, sc, id).Extract()
				return gophercloud.ResponseCodeIs(err, 404)
			})
		}
	})
	console := consoleHas(t, sc, id, regexp.MustCompile(`gureum-guest: ssh ready`), 3*time.Minute)
	if !strings.Contains(console, fmt.Sprintf("gureum-guest: ip=%s/24 mtu=1450", ip)) {
		t.Fatalf("console lacks the fixed IP %s and MTU 1450:\n%s", ip, console)
	}
	if !strings.Contains(console, "gureum-guest: keys=1") {
		t.Fatalf("console: the key did not arrive:\n%s", console)
	}
	if got := listServers(t, sc, servers.ListOpts{IP: "^" + regexp.QuoteMeta(ip) + "$"}); len(got) != 1 {
		t.Fatalf("ip filter found %d", len(got))
	}
	if got := listServers(t, sc, servers.ListOpts{IP: "^192\\.0\\.2\\."}); len(got) != 0 {
		t.Fatalf("ip filter matched %d", len(got))
	}
	ns := "qdhcp-" + net.ID
	if out, err := e.ssh(net.ID, ip, "cat /sys/class/net/eth0/mtu"); err != nil || !strings.HasPrefix(out, "1450") {
		t.Fatalf("ssh: %v %s", err, out)
	}

	// Killing the agent leaves the guest running; a new agent process
	// (new driver, new bus connection) re-attaches without rebooting it.
	pidOf := func() string {
		out, _ := exec.Command("pgrep", "-f", "guest="+id).CombinedOutput()
		return strings.TrimSpace(string(out))
	}
	pid := pidOf()
	if pid == "" {
		t.Fatal("no QEMU process for the server")
	}
	s.App.Agent.Stop()
	if pidOf() != pid {
		t.Fatal("guest stopped with its agent")
	}
	restartAgent(t, s)
	if pidOf() != pid {
		t.Fatalf("guest restarted: pid %s -> %s", pid, pidOf())
	}
	if n := strings.Count(consoleHas(t, sc, id, regexp.MustCompile(`ssh ready`), time.Minute), "Linux version"); n != 1 {
		t.Fatalf("guest booted %d times", n)
	}

	// Power actions change the API status and QEMU's state (the agent
	// reports QMP's view as power_state).
	var sv *servers.Server
	wait := func(status string, power servers.PowerState) {
		t.Helper()
		testenv.Eventually(t, 2*time.Minute, "status "+status, func() bool {
			var err error
			sv, err = servers.Get(ctx, sc, id).Extract()
			return err == nil && sv.Status == status && sv.PowerState == power
		})
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(servers.Pause(ctx, sc, id).ExtractErr())
	wait("PAUSED", servers.PAUSED)
	must(servers.Unpause(ctx, sc, id).ExtractErr())
	wait("ACTIVE", servers.RUNNING)
	must(servers.Suspend(ctx, sc, id).ExtractErr())
	wait("SUSPENDED", servers.SUSPENDED)
	must(servers.Resume(ctx, sc, id).ExtractErr())
	wait("ACTIVE", servers.RUNNING)
	must(servers.Reboot(ctx, sc, id, servers.RebootOpts{Type: servers.HardReboot}).ExtractErr())
	wait("ACTIVE", servers.RUNNING)
	must(servers.Stop(ctx, sc, id).ExtractErr())
	wait("SHUTOFF", servers.SHUTDOWN)
	must(servers.Start(ctx, sc, id).ExtractErr())
	wait("ACTIVE", servers.RUNNING)

	// Resize moves the guest to the new flavor (VERIFY_RESIZE, confirm).
	readyBefore := strings.Count(consoleHas(t, sc, id, regexp.MustCompile(`ssh ready`), time.Minute), "gureum-guest: ssh ready")
	must(servers.Resize(ctx, sc, id, servers.ResizeOpts{FlavorRef: "2"}).ExtractErr())
	wait("VERIFY_RESIZE", servers.RUNNING)
	must(servers.ConfirmResize(ctx, sc, id).ExtractErr())
	wait("ACTIVE", servers.RUNNING)
	if sv.Flavor["id"] != "2" {
		t.Fatalf("flavor after resize %v", sv.Flavor)
	}
	testenv.Eventually(t, 3*time.Minute, "the resized guest to boot", func() bool {
		out, err := servers.ShowConsoleOutput(ctx, sc, id, servers.ShowConsoleOutputOpts{}).Extract()
		return err == nil && strings.Count(out, "gureum-guest: ssh ready") > readyBefore
	})
	if out, err := e.ssh(net.ID, ip, "grep MemTotal /proc/meminfo"); err != nil || !memAtLeast(out, 1500*1024) {
		t.Fatalf("guest memory after resize to 2048 MB: %v %s", err, out)
	}

	// createImage snapshots the disk into glance; the image boots.
	res := servers.CreateImage(ctx, sc, id, servers.CreateImageOpts{Name: "tiny-snap"})
	must(res.Err)
	snapID, err := res.ExtractImageID()
	must(err)
	testenv.Eventually(t, 2*time.Minute, "snapshot active", func() bool {
		img, err := s.App.Image.Get(ctx, snapID)
		return err == nil && img.Status == image.StatusActive
	})
	snapSrv, err := servers.Create(ctx, sc, servers.CreateOpts{Name: "from-snap", ImageRef: snapID, FlavorRef: "2", Networks: []servers.Network{{UUID: net.ID}}}, nil).Extract()
	must(err)
	consoleHas(t, sc, snapSrv.ID, regexp.MustCompile(`gureum-guest: ip=`), 3*time.Minute)
	must(servers.Delete(ctx, sc, snapSrv.ID).ExtractErr())
	testenv.Eventually(t, 2*time.Minute, "snapshot server deleted", func() bool {
		_, err := servers.Get(ctx, sc, snapSrv.ID).Extract()
		return gophercloud.ResponseCodeIs(err, 404)
	})

	// Delete leaves no process, tap, overlay or socket.
	must(servers.Delete(ctx, sc, id).ExtractErr())
	testenv.Eventually(t, 2*time.Minute, "server deleted", func() bool {
		_, err := servers.Get(ctx, sc, id).Extract()
		return gophercloud.ResponseCodeIs(err, 404)
	})
	deleted = true
	if _, err := os.Stat(filepath.Join(s.DataDir, "compute", "instances", id)); !os.IsNotExist(err) {
		t.Fatalf("instance directory left behind: %v", err)
	}
	links, _ := exec.Command("ip", "-o", "link").CombinedOutput()
	if strings.Contains(string(links), "gr-t"+strings.ReplaceAll(id, "-", "")[:6]) {
		t.Fatalf("tap left behind:\n%s", links)
	}
	if out, _ := exec.Command("pgrep", "-f", id).CombinedOutput(); strings.TrimSpace(string(out)) != "" {
		t.Fatalf("process left behind: %s", out)
	}
	// The network's last server on the node took its DHCP namespace,
	// dnsmasq and bridge along.
	if out, _ := exec.Command("ip", "netns", "list").CombinedOutput(); strings.Contains(string(out), ns) {
		t.Fatalf("namespace %s left behind", ns)
	}
	if out, _ := exec.Command("pgrep", "-f", "dhcp/"+net.ID).CombinedOutput(); strings.TrimSpace(string(out)) != "" {
		t.Fatalf("dnsmasq left behind: %s", out)
	}
}

func memAtLeast(meminfo string, kb int) bool {
	var n int
	if _, err := fmt.Sscanf(strings.TrimSpace(meminfo), "MemTotal: %d kB", &n); err != nil {
		return false
	}
	return n >= kb
}

// restartAgent starts a fresh in-process agent on the configured driver,
// as `gureum agent` would after a restart. When the test ends it deletes
// the servers left while the agent can still destroy their guests, then
// stops the agent.
func restartAgent(t *testing.T, s *testenv.Server) {
	t.Helper()
	nc, err := s.App.Bus.Connect(context.Background(), "agent-2")
	if err != nil {
		t.Fatal(err)
	}
	drv, err := app.NewComputeDriver(s.App.Config, s.App.Log)
	if err != nil {
		t.Fatal(err)
	}
	ag := agent.New(nc, drv, app.AgentOptions(s.App.Config, s.App.Log))
	if err := ag.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		reapServers(t, s) // while this agent can still destroy guests
		ag.Stop()
		nc.Close()
		if c, ok := drv.(interface{ Close() }); ok {
			c.Close()
		}
	})
}

// reapServers deletes every server left (a failed test must not leave
// guests running on the machine).
func reapServers(t *testing.T, s *testenv.Server) {
	sc := computeClient(t, s, s.Admin(t), "")
	pages, err := servers.List(sc, servers.ListOpts{AllTenants: true}).AllPages(ctx)
	if err != nil {
		return
	}
	list, _ := servers.ExtractServers(pages)
	for _, sv := range list {
		_ = servers.ForceDelete(ctx, sc, sv.ID).ExtractErr()
	}
	deadline := time.Now().Add(2 * time.Minute)
	for _, sv := range list {
		for time.Now().Before(deadline) {
			if _, err := servers.Get(ctx, sc, sv.ID).Extract(); gophercloud.ResponseCodeIs(err, 404) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}
