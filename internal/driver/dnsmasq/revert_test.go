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
)

// A failure half way (dnsmasq cannot start) leaves no namespace, veth or
// state directory behind.
func TestEnsureNetworkRollsBack(t *testing.T) {
	linuxtest.RequireRoot(t)
	t.Parallel()
	ctx := context.Background()
	h := newHost(t, "/nonexistent/dnsmasq")
	tmp, nsm, bridges, d := h.tmp, h.nsm, h.bridges, h.d
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
	h := newHost(t, "")
	nsm, d := h.nsm, h.d
	if _, err := nsm.Ensure(ctx, "qdhcp-someone-elses-net"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nsm.Delete(ctx, "qdhcp-someone-elses-net") })
	if nets, _ := d.Networks(ctx); len(nets) != 0 {
		t.Fatalf("Networks = %v, want none of ours", nets)
	}
}
