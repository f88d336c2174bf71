package dnsmasq_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gureum/gureum/internal/driver/dnsmasq"
	"github.com/gureum/gureum/internal/driver/linuxbridge"
	"github.com/gureum/gureum/internal/linux/linuxtest"
	"github.com/gureum/gureum/internal/linux/netdev"
	"github.com/gureum/gureum/internal/linux/netns"
)

// A failure half way (dnsmasq cannot start) leaves no namespace, veth or
// state directory behind.
func TestEnsureNetworkRollsBack(t *testing.T) {
	linuxtest.RequireRoot(t)
	t.Parallel()
	ctx := context.Background()
	tmp := t.TempDir()
	os.Chmod(tmp, 0o755)
	os.Chmod(filepath.Dir(tmp), 0o755)
	nsm := netns.New(filepath.Join(tmp, "netns"))
	bridges := linuxbridge.New("gr-")
	d, err := dnsmasq.New(dnsmasq.Config{Dnsmasq: "/nonexistent/dnsmasq", StateDir: filepath.Join(tmp, "dhcp"), Netns: nsm, Names: bridges.Names})
	if err != nil {
		t.Fatal(err)
	}
	id := fmt.Sprintf("%08x-aaaa-4000-8000-%012x", os.Getpid(), time.Now().UnixNano()&0xffffffffffff)
	br, err := bridges.EnsureNetwork(ctx, linuxbridge.Network{ID: id, MTU: 1450})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bridges.DeleteNetwork(ctx, id) })
	err = d.EnsureNetwork(ctx, dnsmasq.Network{ID: id, Bridge: br, Subnet: netip.MustParsePrefix("10.6.0.0/24"), DHCPIP: netip.MustParseAddr("10.6.0.2")}, nil)
	if err == nil {
		t.Fatal("EnsureNetwork with a missing dnsmasq succeeded")
	}
	if nsm.Exists(d.Namespace(id)) || netdev.Exists(bridges.Names.DHCP(id)) {
		t.Fatal("namespace or veth left after a failed EnsureNetwork")
	}
	if _, err := os.Stat(filepath.Join(tmp, "dhcp", id)); !os.IsNotExist(err) {
		t.Fatalf("state directory left: %v", err)
	}
	if nets, _ := d.Networks(ctx); len(nets) != 0 {
		t.Fatalf("Networks = %v", nets)
	}
}

// Another program's qdhcp- namespace is never listed or touched.
func TestNetworksOnlyOurs(t *testing.T) {
	linuxtest.RequireRoot(t)
	t.Parallel()
	ctx := context.Background()
	tmp := t.TempDir()
	os.Chmod(tmp, 0o755)
	os.Chmod(filepath.Dir(tmp), 0o755)
	nsm := netns.New(filepath.Join(tmp, "netns"))
	if _, err := nsm.Ensure(ctx, "qdhcp-someone-elses-net"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nsm.Delete(ctx, "qdhcp-someone-elses-net") })
	d, err := dnsmasq.New(dnsmasq.Config{StateDir: filepath.Join(tmp, "dhcp"), Netns: nsm})
	if err != nil {
		t.Fatal(err)
	}
	if nets, _ := d.Networks(ctx); len(nets) != 0 {
		t.Fatalf("Networks = %v, want none of ours", nets)
	}
}
