package network

import (
	"net/netip"
	"testing"

	"github.com/gureum/gureum/internal/platform/errs"
)

func TestDefaultPools(t *testing.T) {
	gw := func(s string) *netip.Addr { a := netip.MustParseAddr(s); return &a }
	for _, c := range []struct {
		cidr string
		gw   *netip.Addr
		want []Pool
	}{
		{"10.0.0.0/24", gw("10.0.0.1"), []Pool{{"10.0.0.2", "10.0.0.254"}}},
		{"10.0.0.0/24", gw("10.0.0.254"), []Pool{{"10.0.0.1", "10.0.0.253"}}},
		{"10.0.0.0/24", gw("10.0.0.100"), []Pool{{"10.0.0.1", "10.0.0.99"}, {"10.0.0.101", "10.0.0.254"}}},
		{"10.0.0.0/24", nil, []Pool{{"10.0.0.1", "10.0.0.254"}}},
		{"10.0.0.0/30", gw("10.0.0.1"), []Pool{{"10.0.0.2", "10.0.0.2"}}},
		{"fd00::/64", gw("fd00::1"), []Pool{{"fd00::2", "fd00::ffff:ffff:ffff:ffff"}}},
	} {
		got := defaultPools(netip.MustParsePrefix(c.cidr), c.gw)
		if len(got) != len(c.want) {
			t.Errorf("%s gw %v: %v, want %v", c.cidr, c.gw, got, c.want)
			continue
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("%s gw %v: %v, want %v", c.cidr, c.gw, got, c.want)
			}
		}
	}
}

func TestUsableAndPools(t *testing.T) {
	p := netip.MustParsePrefix("192.168.1.0/24")
	for ip, want := range map[string]bool{"192.168.1.0": false, "192.168.1.255": false, "192.168.1.1": true, "192.168.2.1": false} {
		if usable(p, netip.MustParseAddr(ip)) != want {
			t.Errorf("usable(%s) != %v", ip, want)
		}
	}
	gw := netip.MustParseAddr("192.168.1.1")
	for _, c := range []struct {
		pools []Pool
		typ   string
	}{
		{[]Pool{{"192.168.1.10", "192.168.1.5"}}, "InvalidAllocationPool"},
		{[]Pool{{"192.168.1.10", "192.168.2.5"}}, "OutOfBoundsAllocationPool"},
		{[]Pool{{"192.168.1.0", "192.168.1.5"}}, "OutOfBoundsAllocationPool"},
		{[]Pool{{"192.168.1.10", "192.168.1.20"}, {"192.168.1.20", "192.168.1.30"}}, "OverlappingAllocationPools"},
		{[]Pool{{"192.168.1.1", "192.168.1.20"}}, "GatewayConflictWithAllocationPools"},
		{[]Pool{{"192.168.1.2", "192.168.1.20"}, {"192.168.1.30", "192.168.1.254"}}, ""},
	} {
		_, err := checkPools(p, c.pools, &gw)
		switch {
		case c.typ == "" && err != nil:
			t.Errorf("%v: %v", c.pools, err)
		case c.typ != "" && err == nil:
			t.Errorf("%v: accepted, want %s", c.pools, c.typ)
		case c.typ != "":
			if e := errs.From(err); e.Type != c.typ {
				t.Errorf("%v: type %s, want %s", c.pools, e.Type, c.typ)
			}
		}
	}
}

func TestEUI64AndMTU(t *testing.T) {
	a, err := EUI64(netip.MustParsePrefix("2001:db8:1::/64"), "fa:16:3e:aa:bb:cc")
	if err != nil || a.String() != "2001:db8:1:0:f816:3eff:feaa:bbcc" {
		t.Fatalf("EUI64: %v %v", a, err)
	}
	s := New(nil, Config{UnderlayMTU: 9000}, nil)
	if s.MTU("vxlan") != 8950 || s.MTU("vlan") != 9000 || s.MTU("flat") != 9000 {
		t.Fatalf("MTU: %d %d", s.MTU("vxlan"), s.MTU("vlan"))
	}
}

func TestCarve(t *testing.T) {
	pool := &SubnetPool{Prefixes: []string{"10.0.0.0/22", "10.8.0.0/24"}}
	used := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/24"), netip.MustParsePrefix("10.0.1.128/25")}
	for _, c := range []struct {
		plen int
		want string
	}{{24, "10.0.2.0/24"}, {25, "10.0.1.0/25"}, {22, ""}, {23, "10.0.2.0/23"}} {
		got, ok := carve(pool, c.plen, used)
		if (c.want == "" && ok) || (c.want != "" && got.String() != c.want) {
			t.Errorf("/%d: %v %v, want %s", c.plen, got, ok, c.want)
		}
	}
}
