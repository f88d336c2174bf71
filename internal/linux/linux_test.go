package linux_test

import (
	"context"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gureum/gureum/internal/linux/linuxtest"
	"github.com/gureum/gureum/internal/linux/netdev"
	"github.com/gureum/gureum/internal/linux/netns"
	"github.com/gureum/gureum/internal/linux/proc"
)

func TestNamespaceBridgeTapVeth(t *testing.T) {
	linuxtest.RequireRoot(t)
	linuxtest.RequireBinary(t, "ip")
	t.Parallel()
	ctx := context.Background()
	nsm := netns.New(t.TempDir())
	ns := linuxtest.Name("grt-")
	br, tap, veth := linuxtest.Name("grb"), linuxtest.Name("grt"), linuxtest.Name("grv")
	t.Cleanup(func() {
		for _, l := range []string{tap, veth, br} {
			_ = netdev.Delete(ctx, l)
		}
		_ = nsm.Delete(ctx, ns)
	})

	created, err := nsm.Ensure(ctx, ns)
	if err != nil || !created {
		t.Fatalf("Ensure(%s) = %v, %v", ns, created, err)
	}
	if created, err := nsm.Ensure(ctx, ns); err != nil || created {
		t.Fatalf("second Ensure = %v, %v; want no-op", created, err)
	}
	if c, err := netdev.EnsureBridge(ctx, br, 1450); err != nil || !c {
		t.Fatalf("EnsureBridge: %v %v", c, err)
	}
	if c, err := netdev.EnsureBridge(ctx, br, 1450); err != nil || c {
		t.Fatalf("EnsureBridge again: %v %v", c, err)
	}
	if _, err := netdev.EnsureTap(ctx, tap, br, 1450); err != nil {
		t.Fatal(err)
	}
	if _, err := netdev.EnsureVeth(ctx, netdev.Veth{Host: veth, Bridge: br, Peer: "ns-dhcp", NSPath: nsm.Path(ns), MTU: 1450}); err != nil {
		t.Fatal(err)
	}
	if _, err := netdev.EnsureVeth(ctx, netdev.Veth{Host: veth, Bridge: br, Peer: "ns-dhcp", NSPath: nsm.Path(ns), MTU: 1450}); err != nil {
		t.Fatalf("EnsureVeth again: %v", err)
	}
	addrs := []netip.Prefix{netip.MustParsePrefix("10.9.0.2/24"), netip.MustParsePrefix("169.254.169.254/32")}
	if err := netdev.EnsureAddrs(ctx, nsm.Path(ns), "ns-dhcp", addrs); err != nil {
		t.Fatal(err)
	}
	if err := netdev.EnsureAddrs(ctx, nsm.Path(ns), "ns-dhcp", addrs[:1]); err != nil {
		t.Fatal(err)
	}
	ports, err := netdev.Ports(ctx, br)
	if err != nil || len(ports) != 2 {
		t.Fatalf("ports of %s = %v, %v; want tap and veth", br, ports, err)
	}
	if mtu, err := netdev.MTU(nsm.Path(ns), "ns-dhcp"); err != nil || mtu != 1450 {
		t.Fatalf("peer MTU = %d, %v", mtu, err)
	}

	// A command started in the namespace sees its devices, not the host's.
	cmd := exec.Command("ip", "-o", "addr", "show", "dev", "ns-dhcp")
	var sb strings.Builder
	cmd.Stdout = &sb
	if err := nsm.Run(ctx, ns, cmd); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(sb.String(), "10.9.0.2/24") || strings.Contains(sb.String(), "169.254.169.254") {
		t.Fatalf("addresses in namespace: %s", sb.String())
	}
	if list, _ := nsm.List("grt-"); !contains(list, ns) {
		t.Fatalf("List = %v, want %s", list, ns)
	}

	if err := netdev.Delete(ctx, veth); err != nil {
		t.Fatal(err)
	}
	if err := nsm.Delete(ctx, ns); err != nil {
		t.Fatal(err)
	}
	if nsm.Exists(ns) {
		t.Fatal("namespace still there")
	}
	if err := nsm.Delete(ctx, ns); err != nil {
		t.Fatalf("second delete: %v", err)
	}
}

func TestProcessAdoptAndStop(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pidfile := filepath.Join(t.TempDir(), "sleep.pid")
	p, err := proc.Start(exec.Command("sleep", "300"), pidfile, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Stop(ctx, time.Second) })
	q, err := proc.Adopt(pidfile)
	if err != nil || q.Pid != p.Pid {
		t.Fatalf("Adopt = %+v, %v; want pid %d", q, err, p.Pid)
	}
	if err := q.Stop(ctx, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := p.Wait(ctx); err != nil || p.Alive() {
		t.Fatalf("still alive after Stop: %v", err)
	}
	if _, err := os.Stat(pidfile); !os.IsNotExist(err) {
		t.Fatalf("pidfile left behind: %v", err)
	}
	if _, err := proc.Adopt(pidfile); err != proc.ErrNotRunning {
		t.Fatalf("Adopt after stop = %v", err)
	}

	// A pidfile whose PID was reused by another process is not adopted.
	os.WriteFile(pidfile, []byte("1 12345\n"), 0o644)
	if _, err := proc.Adopt(pidfile); err != proc.ErrNotRunning {
		t.Fatalf("Adopt of recycled pid = %v", err)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
