package dnsmasq_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/gureum/gureum/internal/driver/dnsmasq"
	"github.com/gureum/gureum/internal/driver/linuxbridge"
	"github.com/gureum/gureum/internal/linux/linuxtest"
)

// BenchmarkNetworkPlumbing times the host side of a first server on a
// network: bridge + qdhcp namespace + veth + dnsmasq up ("network"), a tap
// plugged ("port"), a host entry added to a running dnsmasq ("hosts"), and
// the teardown. Run as root:
//
//	go test -run '^$' -bench Plumbing -benchtime 20x ./internal/driver/dnsmasq/
func BenchmarkNetworkPlumbing(b *testing.B) {
	linuxtest.RequireRoot(b)
	linuxtest.RequireBinary(b, "dnsmasq")
	ctx := context.Background()
	h := newHost(b, "")
	bridges, d := h.bridges, h.d
	var network, port, hosts, teardown time.Duration
	for i := 0; i < b.N; i++ {
		id := fmt.Sprintf("%08x-%04x-4000-8000-%012x", os.Getpid(), i, time.Now().UnixNano()&0xffffffffffff)
		t0 := time.Now()
		br, err := bridges.EnsureNetwork(ctx, linuxbridge.Network{ID: id, MTU: 1450})
		if err == nil {
			err = d.EnsureNetwork(ctx, dnsmasq.Network{ID: id, Bridge: br, MTU: 1450,
				Subnet: netip.MustParsePrefix("10.5.0.0/24"), DHCPIP: netip.MustParseAddr("10.5.0.2"),
				Gateway: netip.MustParseAddr("10.5.0.1")}, nil)
		}
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if _, err := bridges.PlugPort(ctx, linuxbridge.Port{ID: id[:8] + "-p", NetworkID: id, MTU: 1450}); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		if err := d.SetHosts(ctx, id, []dnsmasq.Host{{MAC: "fa:16:3e:00:00:01", IP: netip.MustParseAddr("10.5.0.10")}}); err != nil {
			b.Fatal(err)
		}
		t3 := time.Now()
		bridges.UnplugPort(ctx, id[:8]+"-p")
		if err := d.DeleteNetwork(ctx, id); err != nil {
			b.Fatal(err)
		}
		bridges.DeleteNetwork(ctx, id)
		t4 := time.Now()
		network += t1.Sub(t0)
		port += t2.Sub(t1)
		hosts += t3.Sub(t2)
		teardown += t4.Sub(t3)
	}
	n := float64(b.N)
	b.ReportMetric(float64(network.Microseconds())/n/1000, "network-ms")
	b.ReportMetric(float64(port.Microseconds())/n/1000, "port-ms")
	b.ReportMetric(float64(hosts.Microseconds())/n/1000, "hosts-ms")
	b.ReportMetric(float64(teardown.Microseconds())/n/1000, "teardown-ms")
}
