package computeapi_test

import (
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/attachinterfaces"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/ports"

	"github.com/gureum/gureum/internal/agent/qemudriver"
	"github.com/gureum/gureum/internal/driver/linuxbridge"
	"github.com/gureum/gureum/internal/testenv"
)

// TestQEMUInterfaceHotplug attaches a second port to a running tiny guest
// over os-interface: QEMU shows the new virtio NIC (QMP), the guest sees
// it with the port's MAC and gets the port's address from the second
// network's dnsmasq; the NIC survives a hard reboot (it is in the saved
// spec) and a restart of the agent; detach takes it out of the guest,
// removes the tap and, as the network's last port on the node, its DHCP
// namespace. A stopped server takes a port on a network (nova creates it)
// and has it when it starts; its detach deletes the port.
func TestQEMUInterfaceHotplug(t *testing.T) {
	e := startQEMU(t, "node-if", "2.38", 7, "hp")
	s, sc, nc, third := e.s, e.sc, e.nc, e.third
	netA, netB := e.network(t, "hp-a", 21), e.network(t, "hp-b", 22)
	id, ipA := e.boot(t, "hp-guest", netA)
	consoleHas(t, sc, id, regexp.MustCompile(`gureum-guest: ssh ready`), 3*time.Minute)
	guest := func(cmd string) (string, error) { return e.ssh(netA.ID, ipA, cmd) }
	drv := s.App.Agent.Driver().(*qemudriver.Driver)

	// Attach the user's port on the second network.
	ipB := fmt.Sprintf("10.%d.22.20", third)
	port, err := ports.Create(ctx, nc, ports.CreateOpts{NetworkID: netB.ID, FixedIPs: []ports.IP{{IPAddress: ipB}}}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	mac := strings.ToLower(port.MACAddress)
	in, err := attachinterfaces.Create(ctx, sc, id, attachinterfaces.CreateOpts{PortID: port.ID}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if in.PortState != "ACTIVE" || in.NetID != netB.ID || in.FixedIPs[0].IPAddress != ipB {
		t.Fatalf("attached %+v", in)
	}
	nics, err := drv.GuestNICs(ctx, id)
	if err != nil || len(nics) != 2 || nics[1].MAC != mac && nics[0].MAC != mac {
		t.Fatalf("QEMU's NICs %+v %v, want a second one with %s", nics, err, mac)
	}
	tap := linuxbridge.Names{}.Tap(port.ID)
	if out, err := exec.Command("ip", "-o", "link", "show", tap).CombinedOutput(); err != nil || !strings.Contains(string(out), "master "+linuxbridge.Names{}.Bridge(netB.ID)) {
		t.Fatalf("tap %s: %v %s", tap, err, out)
	}
	if got := serverAddrs(t, sc, id); len(got["hp-b"]) != 1 || got["hp-b"][0] != ipB {
		t.Fatalf("addresses %v", got)
	}
	var eth string
	testenv.Eventually(t, time.Minute, "the guest to see the new NIC", func() bool {
		out, err := guest(`for i in /sys/class/net/eth*; do echo "${i##*/} $(cat $i/address)"; done`)
		for _, l := range strings.Split(out, "\n") {
			if f := strings.Fields(l); err == nil && len(f) == 2 && f[1] == mac {
				eth = f[0]
				return true
			}
		}
		return false
	})
	// The new NIC's address comes from the second network's dnsmasq.
	out, err := guest("ip link set " + eth + " up && udhcpc -i " + eth + " -s /etc/udhcpc.script -t 10 -T 1 -n -q >/dev/null 2>&1; ip -4 -o addr show dev " + eth)
	if err != nil || !strings.Contains(out, ipB+"/24") {
		t.Fatalf("DHCP on %s: %v %s", eth, err, out)
	}
	t.Logf("QEMU: %+v; guest: %s", nics, out)

	// A hard reboot starts QEMU from the saved spec: the NIC is still there.
	readyBefore := strings.Count(consoleHas(t, sc, id, regexp.MustCompile(`ssh ready`), time.Minute), "gureum-guest: ssh ready")
	if err := servers.Reboot(ctx, sc, id, servers.RebootOpts{Type: servers.HardReboot}).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 3*time.Minute, "the rebooted guest", func() bool {
		out, err := servers.ShowConsoleOutput(ctx, sc, id, servers.ShowConsoleOutputOpts{}).Extract()
		return err == nil && strings.Count(out, "gureum-guest: ssh ready") > readyBefore
	})
	if out, err := guest("cat /sys/class/net/*/address"); err != nil || !strings.Contains(out, mac) {
		t.Fatalf("after a hard reboot the guest lacks %s: %v %s", mac, err, out)
	}

	// A new agent process learns the NIC from the saved spec: the detach
	// below goes through it.
	s.App.Agent.Stop()
	restartAgent(t, s)

	// Detach: out of the guest, tap and DHCP namespace gone, port unbound.
	if err := attachinterfaces.Delete(ctx, sc, id, port.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	if nics, err := drv.GuestNICs(ctx, id); err != nil || len(nics) != 1 || nics[0].MAC == mac {
		t.Fatalf("QEMU's NICs after detach %+v %v", nics, err)
	}
	if out, err := guest("cat /sys/class/net/*/address"); err != nil || strings.Contains(out, mac) {
		t.Fatalf("the guest still has %s: %v %s", mac, err, out)
	}
	if out, err := exec.Command("ip", "link", "show", tap).CombinedOutput(); err == nil {
		t.Fatalf("tap left behind: %s", out)
	}
	if out, _ := exec.Command("ip", "netns", "list").CombinedOutput(); strings.Contains(string(out), "qdhcp-"+netB.ID) {
		t.Fatalf("DHCP namespace of the detached network left behind")
	}
	if p, err := ports.Get(ctx, nc, port.ID).Extract(); err != nil || p.DeviceID != "" {
		t.Fatalf("port after detach %+v %v", p, err)
	}
	if got := serverAddrs(t, sc, id); len(got) != 1 {
		t.Fatalf("addresses after detach %v", got)
	}

	// Stopped: recorded only, plugged at the next start.
	if err := servers.Stop(ctx, sc, id).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	waitStatusLong(t, sc, id, "SHUTOFF")
	in2, err := attachinterfaces.Create(ctx, sc, id, attachinterfaces.CreateOpts{NetworkID: netB.ID}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	tap2 := linuxbridge.Names{}.Tap(in2.PortID)
	if out, err := exec.Command("ip", "link", "show", tap2).CombinedOutput(); err == nil {
		t.Fatalf("a stopped server's new port was plugged: %s", out)
	}
	readyBefore = strings.Count(consoleHas(t, sc, id, regexp.MustCompile(`ssh ready`), time.Minute), "gureum-guest: ssh ready")
	if err := servers.Start(ctx, sc, id).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	waitStatusLong(t, sc, id, "ACTIVE")
	testenv.Eventually(t, 3*time.Minute, "the started guest", func() bool {
		out, err := servers.ShowConsoleOutput(ctx, sc, id, servers.ShowConsoleOutputOpts{}).Extract()
		return err == nil && strings.Count(out, "gureum-guest: ssh ready") > readyBefore
	})
	if out, err := guest("cat /sys/class/net/*/address"); err != nil || !strings.Contains(out, strings.ToLower(in2.MACAddr)) {
		t.Fatalf("the started guest lacks %s: %v %s", in2.MACAddr, err, out)
	}
	if err := attachinterfaces.Delete(ctx, sc, id, in2.PortID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	if _, err := ports.Get(ctx, nc, in2.PortID).Extract(); !gophercloud.ResponseCodeIs(err, 404) {
		t.Fatalf("nova's port after detach: %v", err)
	}
	if out, err := exec.Command("ip", "link", "show", tap2).CombinedOutput(); err == nil {
		t.Fatalf("tap left behind: %s", out)
	}

	if err := servers.Delete(ctx, sc, id).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 2*time.Minute, "server deleted", func() bool {
		_, err := servers.Get(ctx, sc, id).Extract()
		return gophercloud.ResponseCodeIs(err, 404)
	})
}

// waitStatusLong is waitStatus with a QEMU-sized (TCG) timeout.
func waitStatusLong(t *testing.T, sc *gophercloud.ServiceClient, id, status string) *servers.Server {
	t.Helper()
	var sv *servers.Server
	testenv.Eventually(t, 3*time.Minute, "server "+status, func() bool {
		var err error
		sv, err = servers.Get(ctx, sc, id).Extract()
		if err != nil {
			t.Fatal(err)
		}
		if sv.Status == "ERROR" {
			t.Fatalf("server ERROR: %+v", sv.Fault)
		}
		return sv.Status == status
	})
	return sv
}
