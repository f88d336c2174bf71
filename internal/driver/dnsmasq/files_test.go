package dnsmasq

import (
	"net/netip"
	"testing"
	"time"

	"github.com/gureum/gureum/internal/platform/errs"
)

func TestOptsFile(t *testing.T) {
	n := Network{ID: "net-12345678", Bridge: "gr-bnet", MTU: 1450, Subnet: netip.MustParsePrefix("10.0.0.0/24"),
		DHCPIP: netip.MustParseAddr("10.0.0.2"), Gateway: netip.MustParseAddr("10.0.0.1"),
		DNS: []netip.Addr{netip.MustParseAddr("1.1.1.1"), netip.MustParseAddr("8.8.8.8")}, Metadata: true}
	if err := n.validate(); err != nil {
		t.Fatal(err)
	}
	const want = "tag:subnet0,option:router,10.0.0.1\n" +
		"tag:subnet0,option:dns-server,1.1.1.1,8.8.8.8\n" +
		"tag:subnet0,option:mtu,1450\n" +
		"tag:subnet0,option:classless-static-route,169.254.169.254/32,10.0.0.2,0.0.0.0/0,10.0.0.1\n"
	if got := optsFile(n); got != want {
		t.Errorf("opts:\n%s\nwant:\n%s", got, want)
	}
	n.Gateway, n.DNS, n.Metadata = netip.Addr{}, nil, false
	if got := optsFile(n); got != "tag:subnet0,option:router\ntag:subnet0,option:mtu,1450\n" {
		t.Errorf("isolated network opts: %q", got)
	}
	if n.Lease != 24*time.Hour {
		t.Errorf("default lease %v", n.Lease)
	}
}

func TestHostsFile(t *testing.T) {
	sub := netip.MustParsePrefix("10.0.0.0/24")
	got, err := hostsFile(sub, []Host{
		{MAC: "FA:16:3E:00:00:02", IP: netip.MustParseAddr("10.0.0.4"), Hostname: "vm-2"},
		{MAC: "fa:16:3e:00:00:01", IP: netip.MustParseAddr("10.0.0.3"), Hostname: "bad name;"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := "fa:16:3e:00:00:01,10.0.0.3\nfa:16:3e:00:00:02,10.0.0.4,vm-2\n"; got != want {
		t.Errorf("hosts = %q, want %q", got, want)
	}
	for _, bad := range [][]Host{
		{{MAC: "fa:16:3e:00:00:01\n", IP: netip.MustParseAddr("10.0.0.3")}},
		{{MAC: "fa:16:3e:00:00:01", IP: netip.MustParseAddr("10.9.0.3")}},
		{{MAC: "fa:16:3e:00:00:01", IP: netip.MustParseAddr("10.0.0.3")}, {MAC: "fa:16:3e:00:00:02", IP: netip.MustParseAddr("10.0.0.3")}},
	} {
		if _, err := hostsFile(sub, bad); err == nil {
			t.Errorf("hosts %v accepted", bad)
		} else if !errs.Is(err, errs.KindBadRequest) && !errs.Is(err, errs.KindConflict) {
			t.Errorf("hosts %v: unclassified error %v", bad, err)
		}
	}
}

func TestValidate(t *testing.T) {
	base := Network{ID: "net-12345678", Bridge: "gr-b1", Subnet: netip.MustParsePrefix("10.0.0.0/24"), DHCPIP: netip.MustParseAddr("10.0.0.2")}
	for name, mod := range map[string]func(*Network){
		"id":      func(n *Network) { n.ID = "../etc" },
		"dhcp ip": func(n *Network) { n.DHCPIP = netip.MustParseAddr("10.1.0.2") },
		"gateway": func(n *Network) { n.Gateway = netip.MustParseAddr("10.1.0.1") },
		"mtu":     func(n *Network) { n.MTU = 100 },
		"v6":      func(n *Network) { n.Subnet = netip.MustParsePrefix("fd00::/64") },
		"bridge":  func(n *Network) { n.Bridge = "a-very-long-bridge-name" },
	} {
		n := base
		mod(&n)
		if err := n.validate(); !errs.Is(err, errs.KindBadRequest) {
			t.Errorf("%s: validate = %v, want BadRequest", name, err)
		}
	}
}
