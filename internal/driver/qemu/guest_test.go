package qemu_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gureum/gureum/internal/driver/dnsmasq"
	"github.com/gureum/gureum/internal/driver/linuxbridge"
	"github.com/gureum/gureum/internal/driver/metadata"
	"github.com/gureum/gureum/internal/driver/qemu"
	"github.com/gureum/gureum/internal/driver/qemu/imagecache"
	"github.com/gureum/gureum/internal/linux/linuxtest"
	"github.com/gureum/gureum/internal/linux/netdev"
	"github.com/gureum/gureum/internal/linux/netns"
	"github.com/gureum/gureum/internal/linux/proc"
	"github.com/gureum/gureum/internal/platform/errs"
)

// ownerRequest is what the test hands to the owner process: a separate
// process that creates a driver and spawns the guest, so the test can kill
// the guest's owner for real and re-attach from a new driver.
type ownerRequest struct {
	Cfg         qemu.Config
	Spec        qemu.Spec
	ConfigDrive *metadata.Instance
}

func TestMain(m *testing.M) {
	if os.Getenv("GUREUM_QEMU_OWNER") != "" {
		runOwner()
		return
	}
	os.Exit(m.Run())
}

func runOwner() {
	var req ownerRequest
	if err := json.Unmarshal([]byte(os.Getenv("GUREUM_QEMU_OWNER")), &req); err != nil {
		fmt.Println("ERR", err)
		os.Exit(1)
	}
	req.Spec.ConfigDrive = req.ConfigDrive
	d, err := qemu.New(req.Cfg)
	if err == nil {
		var in qemu.Info
		in, err = d.Spawn(context.Background(), req.Spec)
		if err == nil {
			fmt.Printf("PID %d %s\n", in.PID, in.Status)
		}
	}
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(1)
	}
	select {} // own the guest until killed
}

// images finds the tiny test image (make test-image).
func images(t *testing.T) string {
	t.Helper()
	dir, _ := filepath.Abs("../../../build/images")
	for _, f := range []string{"tiny.qcow2", "tiny.vmlinuz", "tiny.initrd"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Skipf("needs the tiny test image: run `make test-image` (missing %s)", f)
		}
	}
	return dir
}

// diskGuest spawns the self-contained tiny.qcow2 (it boots from its disk)
// as instance <name>-<pid> under a driver of its own in a temporary
// directory, once root and the binaries are there; the instance is
// destroyed when the test ends. It returns the driver, the instance ID
// and the path of its saved spec.
func diskGuest(t *testing.T, name string, bins ...string) (*qemu.QEMU, string, string) {
	t.Helper()
	linuxtest.RequireRoot(t)
	linuxtest.RequireBinary(t, append([]string{"qemu-system-x86_64", "qemu-img"}, bins...)...)
	dir := images(t)
	t.Parallel()
	tmp := t.TempDir()
	d, err := qemu.New(qemu.Config{StateDir: filepath.Join(tmp, "i"), CacheDir: filepath.Join(tmp, "c")})
	if err != nil {
		t.Fatal(err)
	}
	id := fmt.Sprintf("%s-%d", name, os.Getpid())
	t.Cleanup(func() { d.Destroy(context.Background(), id) })
	if _, err := d.Spawn(context.Background(), qemu.Spec{ID: id, VCPUs: 1, MemoryMB: 256, RootGB: 1, ImageFormat: "qcow2",
		Image: fileImage(t, "tiny", filepath.Join(dir, "tiny.qcow2"))}); err != nil {
		t.Fatal(err)
	}
	return d, id, filepath.Join(tmp, "i", id, "spec.json")
}

func fileImage(t testing.TB, id, path string) imagecache.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	io.Copy(h, f)
	return imagecache.Image{ID: id, Hash: "sha256:" + hex.EncodeToString(h.Sum(nil)), Open: imagecache.FileSource(path)}
}

type source map[netip.Addr]*metadata.Instance

func (s source) InstanceByIP(ctx context.Context, networkID string, ip netip.Addr) (*metadata.Instance, error) {
	if in, ok := s[ip]; ok {
		return in, nil
	}
	return nil, errs.NotFound("no port with %s", ip)
}

// waitConsole waits until the console matches re (count times), failing
// with the console's tail after timeout. The timeout is a guard against a
// hung guest, not a speed assertion.
func waitConsole(t *testing.T, d qemu.Driver, id string, re *regexp.Regexp, count int, timeout time.Duration) string {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(timeout)
	for {
		out, err := d.ConsoleOutput(ctx, id, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(re.FindAllString(out, -1)) >= count {
			return out
		}
		if time.Now().After(deadline) {
			tail, _ := d.ConsoleOutput(ctx, id, 30)
			t.Fatalf("console never showed %q x%d; last lines:\n%s", re, count, tail)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func wantStatus(t *testing.T, d qemu.Driver, id string, want qemu.Status, qmpWant string) qemu.Info {
	t.Helper()
	in, err := d.Info(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if in.Status != want || in.QMPStatus != qmpWant {
		t.Fatalf("status = %s (QMP %q), want %s (QMP %q)", in.Status, in.QMPStatus, want, qmpWant)
	}
	return in
}

// TestGuestOnTenantNetwork boots the tiny guest on a bridge with dnsmasq in
// its qdhcp namespace and drives it through its life.
func TestGuestOnTenantNetwork(t *testing.T) {
	linuxtest.RequireRoot(t)
	linuxtest.RequireBinary(t, "qemu-system-x86_64", "qemu-img", "dnsmasq", "genisoimage", "ssh", "ssh-keygen", "ip")
	imgDir := images(t)
	ctx := context.Background()
	tmp := t.TempDir()
	// dnsmasq drops root: its state directory must be reachable.
	os.Chmod(tmp, 0o755)
	os.Chmod(filepath.Dir(tmp), 0o755)

	// Unique per run: other tests and processes share this machine.
	netID := fmt.Sprintf("%08x-0000-4000-8000-%012x", os.Getpid(), time.Now().UnixNano()&0xffffffffffff)
	portID := fmt.Sprintf("%08x-1111-4000-8000-%012x", os.Getpid(), time.Now().UnixNano()&0xffffffffffff)
	serverID := fmt.Sprintf("%08x-2222-4000-8000-%012x", os.Getpid(), time.Now().UnixNano()&0xffffffffffff)
	third := 64 + os.Getpid()%128
	subnet := netip.MustParsePrefix(fmt.Sprintf("10.%d.7.0/24", third))
	guestIP := netip.MustParseAddr(fmt.Sprintf("10.%d.7.10", third))
	mac := fmt.Sprintf("fa:16:3e:%02x:%02x:%02x", os.Getpid()&0xff, os.Getpid()>>8&0xff, third)

	// Keypair for the guest.
	key := filepath.Join(tmp, "id_ed25519")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v %s", err, out)
	}
	pub, _ := os.ReadFile(key + ".pub")
	inst := &metadata.Instance{
		UUID: serverID, Name: "tiny", Hostname: "tiny-guest", ProjectID: "p1", AvailabilityZone: "nova",
		LocalIPv4: guestIP.String(), InstanceType: "m1.tiny",
		Keys:     []metadata.Key{{Name: "k1", Type: "ssh", Data: strings.TrimSpace(string(pub))}},
		UserData: []byte("#!/bin/sh\necho hi\n"),
		Network: metadata.NetworkData{
			Links:    []metadata.Link{{ID: "tap0", Type: "bridge", EthernetMACAddress: mac, MTU: 1450, VifID: portID}},
			Networks: []metadata.Network{{ID: "network0", Type: "ipv4_dhcp", Link: "tap0", NetworkID: netID}},
		},
	}

	// Network plumbing: bridge, tap, qdhcp namespace with dnsmasq and the
	// metadata server.
	nsm := netns.New("") // /run/netns: `ip netns exec` must find it
	bridges := linuxbridge.New("gr-")
	mds := &metadata.Server{Source: source{guestIP: inst}, NS: nsm}
	t.Cleanup(mds.Close)
	dhcp, err := dnsmasq.New(dnsmasq.Config{StateDir: filepath.Join(tmp, "dhcp"), Netns: nsm, Names: bridges.Names, Hook: mds})
	if err != nil {
		t.Fatal(err)
	}
	br, err := bridges.EnsureNetwork(ctx, linuxbridge.Network{ID: netID, MTU: 1450})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = dhcp.DeleteNetwork(ctx, netID)
		_ = bridges.UnplugPort(ctx, portID)
		_ = bridges.DeleteNetwork(ctx, netID)
	})
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(tmp, "dhcp", netID, "dnsmasq.log"))
			h, _ := os.ReadFile(filepath.Join(tmp, "dhcp", netID, "hosts"))
			o, _ := os.ReadFile(filepath.Join(tmp, "dhcp", netID, "opts"))
			pid, _ := os.ReadFile(filepath.Join(tmp, "dhcp", netID, "dnsmasq.pid"))
			ps, _ := exec.Command("ps", "-o", "pid,stat,wchan:20,args", "-p", strings.Fields(string(pid) + " 0")[0]).CombinedOutput()
			t.Logf("dnsmasq.log:\n%s\nhosts:\n%s\nopts:\n%s\nps:\n%s", b, h, o, ps)
		}
	})
	hosts := []dnsmasq.Host{{MAC: mac, IP: guestIP, Hostname: "tiny-guest"}}
	dnet := dnsmasq.Network{ID: netID, Bridge: br, MTU: 1450, Subnet: subnet,
		DHCPIP:  netip.MustParseAddr(fmt.Sprintf("10.%d.7.2", third)),
		Gateway: netip.MustParseAddr(fmt.Sprintf("10.%d.7.1", third)),
		DNS:     []netip.Addr{netip.MustParseAddr("192.0.2.53")}, Metadata: true}
	// The network starts without the port's host entry: SetHosts adds it
	// to a running dnsmasq (SIGHUP), as when a port is bound later.
	if err := dhcp.EnsureNetwork(ctx, dnet, nil); err != nil {
		t.Fatal(err)
	}
	dnsmasqPID := pidOf(t, filepath.Join(tmp, "dhcp", netID, "dnsmasq.pid"))
	if err := dhcp.EnsureNetwork(ctx, dnet, nil); err != nil {
		t.Fatalf("EnsureNetwork is not idempotent: %v", err)
	}
	if err := dhcp.SetHosts(ctx, netID, hosts); err != nil {
		t.Fatal(err)
	}
	if p := pidOf(t, filepath.Join(tmp, "dhcp", netID, "dnsmasq.pid")); p != dnsmasqPID {
		t.Fatalf("dnsmasq restarted (pid %d -> %d); hosts must be applied by SIGHUP", dnsmasqPID, p)
	}
	tap, err := bridges.PlugPort(ctx, linuxbridge.Port{ID: portID, NetworkID: netID, MTU: 1450})
	if err != nil {
		t.Fatal(err)
	}

	// The guest, spawned by a separate owner process.
	cfg := qemu.Config{StateDir: filepath.Join(tmp, "instances"), CacheDir: filepath.Join(tmp, "cache"), Grace: 60 * time.Second, GuestNice: 5}
	cmdline, _ := os.ReadFile(filepath.Join(imgDir, "tiny.cmdline"))
	kernel := fileImage(t, "tiny-kernel", filepath.Join(imgDir, "tiny.vmlinuz"))
	ramdisk := fileImage(t, "tiny-ramdisk", filepath.Join(imgDir, "tiny.initrd"))
	spec := qemu.Spec{ID: serverID, VCPUs: 1, MemoryMB: 256, RootGB: 1,
		Image: fileImage(t, "tiny", filepath.Join(imgDir, "tiny.qcow2")), ImageFormat: "qcow2",
		Kernel: &kernel, Ramdisk: &ramdisk, Cmdline: strings.TrimSpace(string(cmdline)),
		NICs: []qemu.NIC{{Tap: tap, MAC: mac}}}
	d, err := qemu.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Destroy(ctx, serverID) })
	for _, img := range []imagecache.Image{spec.Image, kernel, ramdisk} {
		if _, _, err := d.Cache().Ensure(ctx, img); err != nil {
			t.Fatal(err)
		}
	}
	owner := startOwner(t, ownerRequest{Cfg: cfg, Spec: spec, ConfigDrive: inst})

	// The guest takes its fixed IP and MTU 1450 from dnsmasq, its key from
	// the metadata service, and starts SSH.
	console := waitConsole(t, d, serverID, regexp.MustCompile(`gureum-guest: boot done`), 1, 120*time.Second)
	for _, want := range []string{
		fmt.Sprintf("gureum-guest: ip=%s/24 mtu=1450 router=%s dns=192.0.2.53", guestIP, dnet.Gateway),
		"gureum-guest: metadata ok", "gureum-guest: keys=1", "gureum-guest: ssh ready",
	} {
		if !strings.Contains(console, want) {
			t.Fatalf("console lacks %q:\n%s", want, console)
		}
	}
	if leases, _ := dhcp.Leases(netID); leases[mac] != guestIP.String() {
		t.Fatalf("leases = %v, want %s for %s", leases, guestIP, mac)
	}

	// Kill the owner: the guest keeps running, and a new driver on the same
	// state directory re-attaches without rebooting it.
	first := wantStatus(t, d, serverID, qemu.Running, "running")
	// compute.guest_nice reaches every thread of the running guest.
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", first.PID))
	for _, task := range tasks {
		stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/stat", first.PID, task.Name()))
		// nice is the 17th field after the parenthesised command name.
		if f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+2:])); len(f) < 17 || f[16] != "5" {
			t.Fatalf("guest thread %s: nice %v, want 5", task.Name(), f)
		}
	}
	if len(tasks) < 2 {
		t.Fatalf("guest has %d threads", len(tasks))
	}
	if err := owner.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	owner.Wait()
	d2, err := qemu.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	d = d2
	if in := wantStatus(t, d, serverID, qemu.Running, "running"); in.PID != first.PID {
		t.Fatalf("pid changed after re-attach: %d -> %d", first.PID, in.PID)
	}
	if again, err := d.Spawn(ctx, spec); err != nil || again.PID != first.PID {
		t.Fatalf("Spawn of a running guest = %+v, %v; want a no-op", again, err)
	}
	if n := strings.Count(mustConsole(t, d, serverID), "Linux version"); n != 1 {
		t.Fatalf("guest booted %d times, want 1", n)
	}

	// SSH from the qdhcp namespace with the keypair.
	out := sshGuest(t, dhcp.Namespace(netID), key, guestIP, "cat /sys/class/net/eth0/mtu; hostname")
	if !strings.HasPrefix(out, "1450\ntiny-guest") {
		t.Fatalf("ssh output %q, want MTU 1450 and hostname tiny-guest", out)
	}

	// Power operations as QMP sees them.
	must(t, d.Pause(ctx, serverID))
	wantStatus(t, d, serverID, qemu.Paused, "paused")
	if err := d.Resume(ctx, serverID); !errs.Is(err, errs.KindConflict) {
		t.Fatalf("Resume of a paused guest = %v, want Conflict", err)
	}
	must(t, d.Unpause(ctx, serverID))
	wantStatus(t, d, serverID, qemu.Running, "running")
	// Suspend saves the guest's memory and stops QEMU; Resume continues the
	// same boot (no new kernel banner) with its network intact.
	must(t, d.Suspend(ctx, serverID))
	if in := wantStatus(t, d, serverID, qemu.Suspended, ""); in.PID != 0 || processAlive(first.PID) {
		t.Fatalf("QEMU still running while suspended (pid %d)", in.PID)
	}
	if err := d.Unpause(ctx, serverID); !errs.Is(err, errs.KindConflict) {
		t.Fatalf("Unpause of a suspended guest = %v, want Conflict", err)
	}
	must(t, d.Resume(ctx, serverID))
	wantStatus(t, d, serverID, qemu.Running, "running")
	if n := strings.Count(mustConsole(t, d, serverID), "Linux version"); n != 1 {
		t.Fatalf("resume rebooted the guest (%d boots)", n)
	}
	if out := sshGuest(t, dhcp.Namespace(netID), key, guestIP, "echo resumed"); out != "resumed\n" {
		t.Fatalf("ssh after resume: %q", out)
	}

	boot := regexp.MustCompile(`gureum-guest: boot done`)
	must(t, d.Reboot(ctx, serverID, true))
	waitConsole(t, d, serverID, boot, 2, 120*time.Second)
	wantStatus(t, d, serverID, qemu.Running, "running")

	// Growing the disk while running (flavor resize).
	must(t, d.ResizeDisk(ctx, serverID, 2))
	if err := d.ResizeDisk(ctx, serverID, 1); !errs.Is(err, errs.KindBadRequest) {
		t.Fatalf("shrinking = %v, want BadRequest", err)
	}

	// Soft reboot: the guest powers off on the ACPI button (its acpid) and
	// QEMU is started again.
	must(t, d.Reboot(ctx, serverID, false))
	waitConsole(t, d, serverID, boot, 3, 120*time.Second)
	soft := wantStatus(t, d, serverID, qemu.Running, "running")
	if soft.PID == first.PID || !strings.Contains(mustConsole(t, d, serverID), "gureum-guest: power button") {
		t.Fatalf("soft reboot was not a guest shutdown + start (pid %d -> %d)", first.PID, soft.PID)
	}

	must(t, d.PowerOff(ctx, serverID))
	off := wantStatus(t, d, serverID, qemu.Shutoff, "")
	if off.PID != 0 || processAlive(soft.PID) {
		t.Fatalf("QEMU still running after PowerOff")
	}
	if n := strings.Count(mustConsole(t, d, serverID), "gureum-guest: power button"); n != 2 {
		t.Fatalf("PowerOff was not a clean guest shutdown (%d power button lines, want 2)", n)
	}
	must(t, d.SetFlavor(ctx, serverID, 2, 384))
	must(t, d.PowerOn(ctx, serverID))
	waitConsole(t, d, serverID, boot, 4, 120*time.Second)
	wantStatus(t, d, serverID, qemu.Running, "running")
	if out := sshGuest(t, dhcp.Namespace(netID), key, guestIP, "grep -c ^processor /proc/cpuinfo"); strings.TrimSpace(out) != "2" {
		t.Fatalf("vCPUs after resize = %q, want 2", out)
	}
	// length=2 is the last two lines of the whole log. The kernel may still
	// print after the guest's "boot done", so compare against the whole log
	// read on both sides of the call, retrying while it grows.
	for attempt := 0; ; attempt++ {
		before := mustConsole(t, d, serverID)
		tail, err := d.ConsoleOutput(ctx, serverID, 2)
		if err != nil {
			t.Fatal(err)
		}
		if after := mustConsole(t, d, serverID); after != before {
			if attempt < 20 {
				time.Sleep(200 * time.Millisecond)
				continue
			}
			t.Fatal("console log kept growing")
		}
		if strings.Count(tail, "\n") != 2 || !strings.HasSuffix(before, tail) {
			t.Fatalf("ConsoleOutput(length=2) = %q, not the last two lines of the log", tail)
		}
		break
	}

	// A snapshot of the running guest is a standalone image that boots.
	snap := filepath.Join(tmp, "snap.qcow2")
	must(t, d.Snapshot(ctx, serverID, snap))
	wantStatus(t, d, serverID, qemu.Running, "running")
	if out, err := exec.Command("qemu-img", "info", "--output=json", snap).Output(); err != nil || strings.Contains(string(out), "backing-filename") {
		t.Fatalf("snapshot is not standalone: %v %s", err, out)
	}
	snapID := serverID[:len(serverID)-4] + "5a50"
	snapPort := fmt.Sprintf("%08x-3333-4000-8000-%012x", os.Getpid(), time.Now().UnixNano()&0xffffffffffff)
	snapMAC, snapIP := "fa:16:3e:5a:50:01", netip.MustParseAddr(fmt.Sprintf("10.%d.7.11", third))
	must(t, dhcp.SetHosts(ctx, netID, append(hosts, dnsmasq.Host{MAC: snapMAC, IP: snapIP})))
	snapTap, err := bridges.PlugPort(ctx, linuxbridge.Port{ID: snapPort, NetworkID: netID, MTU: 1450})
	must(t, err)
	t.Cleanup(func() { d.Destroy(ctx, snapID); bridges.UnplugPort(ctx, snapPort) })
	snapSpec := spec
	snapSpec.ID, snapSpec.RootGB = snapID, 2
	snapSpec.Image = fileImage(t, "snap", snap)
	snapSpec.NICs = []qemu.NIC{{Tap: snapTap, MAC: snapMAC}}
	if _, err := d.Spawn(ctx, snapSpec); err != nil {
		t.Fatal(err)
	}
	waitConsole(t, d, snapID, regexp.MustCompile(`gureum-guest: ip=`+regexp.QuoteMeta(snapIP.String())+`/24 mtu=1450`), 1, 180*time.Second)
	must(t, d.Destroy(ctx, snapID))
	must(t, bridges.UnplugPort(ctx, snapPort))

	// Delete leaves nothing behind.
	in := wantStatus(t, d, serverID, qemu.Running, "running")
	must(t, d.Destroy(ctx, serverID))
	must(t, bridges.UnplugPort(ctx, portID))
	must(t, dhcp.DeleteNetwork(ctx, netID))
	must(t, bridges.DeleteNetwork(ctx, netID))
	if processAlive(in.PID) || processAlive(dnsmasqPID) {
		t.Fatal("a process survived delete")
	}
	if _, err := os.Stat(filepath.Join(cfg.StateDir, serverID)); !os.IsNotExist(err) {
		t.Fatalf("instance directory (overlay, socket, pidfile) left: %v", err)
	}
	for _, l := range []string{tap, br, bridges.Names.DHCP(netID)} {
		if netdev.Exists(l) {
			t.Fatalf("link %s left behind", l)
		}
	}
	if nsm.Exists(dhcp.Namespace(netID)) {
		t.Fatal("namespace left behind")
	}
	if st, _ := d.Info(ctx, serverID); st.Status != qemu.NotFound {
		t.Fatalf("status after destroy = %s", st.Status)
	}
	// The base image stays cached for the next server.
	if files, _ := d.Cache().List(); len(files) != 4 {
		t.Fatalf("cache = %v, want the 4 base files", files)
	}
}

func startOwner(t *testing.T, req ownerRequest) *exec.Cmd {
	t.Helper()
	b, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "GUREUM_QEMU_OWNER="+string(b))
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	if !strings.HasPrefix(line, "PID ") {
		t.Fatalf("owner process: %q", line)
	}
	return cmd
}

func sshGuest(t *testing.T, ns, key string, ip netip.Addr, command string) string {
	t.Helper()
	var last []byte
	for i := 0; i < 10; i++ {
		cmd := exec.Command("ip", "netns", "exec", ns, "ssh", "-i", key,
			"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes",
			"-o", "ConnectTimeout=10", "-o", "LogLevel=ERROR", "root@"+ip.String(), command)
		out, err := cmd.Output()
		if err == nil {
			return string(out)
		}
		last = out
		if ee, ok := err.(*exec.ExitError); ok {
			last = append(last, ee.Stderr...)
		}
		time.Sleep(time.Second)
	}
	t.Fatalf("ssh to %s in %s failed: %s", ip, ns, last)
	return ""
}

func mustConsole(t *testing.T, d qemu.Driver, id string) string {
	t.Helper()
	out, err := d.ConsoleOutput(context.Background(), id, 0)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func pidOf(t *testing.T, pidfile string) int {
	t.Helper()
	p, err := proc.Adopt(pidfile)
	if err != nil {
		t.Fatalf("%s: %v", pidfile, err)
	}
	return p.Pid
}

func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && len(s) > i+2 && s[i+2] != 'Z' && syscall.Kill(pid, 0) == nil
}
