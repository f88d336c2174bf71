package networkapi_test

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/attributestags"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/dns"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/external"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/extradhcpopts"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/mtu"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/portsbinding"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/portsecurity"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/provider"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/networks"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/ports"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/subnets"

	"github.com/gureum/gureum/internal/testenv"
)

func TestNetworksMTUAndProvider(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// Tenant networks are VXLAN: 1500 - 50.
	var n struct {
		networks.Network
		mtu.NetworkMTUExt
		provider.NetworkProviderExt
	}
	err := networks.Create(ctx, e.admin, networks.CreateOpts{Name: "vx"}).ExtractInto(&n)
	if err != nil {
		t.Fatal(err)
	}
	if n.MTU != 1450 || n.NetworkType != "vxlan" || n.SegmentationID == "" {
		t.Fatalf("vxlan network: mtu %d type %q seg %q", n.MTU, n.NetworkType, n.SegmentationID)
	}
	// Flat and VLAN networks get the physical MTU.
	for _, seg := range []provider.Segment{{NetworkType: "flat", PhysicalNetwork: "physnet1"}, {NetworkType: "vlan", PhysicalNetwork: "physnet1", SegmentationID: 101}} {
		var pn struct {
			networks.Network
			mtu.NetworkMTUExt
			provider.NetworkProviderExt
		}
		err := networks.Create(ctx, e.admin, provider.CreateOptsExt{CreateOptsBuilder: networks.CreateOpts{Name: seg.NetworkType}, Segments: []provider.Segment{seg}}).ExtractInto(&pn)
		if err != nil {
			t.Fatalf("%s: %v", seg.NetworkType, err)
		}
		if pn.MTU != 1500 || pn.NetworkType != seg.NetworkType || pn.PhysicalNetwork != "physnet1" {
			t.Fatalf("%s network: %+v", seg.NetworkType, pn)
		}
	}
	// The same VLAN twice, an unknown physical network, a bad type.
	code, m := e.raw(t, "POST", "/v2.0/networks", e.adminTok, `{"network":{"provider:network_type":"vlan","provider:physical_network":"physnet1","provider:segmentation_id":101}}`)
	neutronError(t, "duplicate vlan", code, m, 409, "SegmentationIdInUse")
	code, m = e.raw(t, "POST", "/v2.0/networks", e.adminTok, `{"network":{"provider:network_type":"flat","provider:physical_network":"nope"}}`)
	neutronError(t, "unknown physnet", code, m, 400, "InvalidInput")
	code, m = e.raw(t, "POST", "/v2.0/networks", e.adminTok, `{"network":{"provider:network_type":"gre"}}`)
	neutronError(t, "gre", code, m, 400, "InvalidInput")
	// Members may not set provider attributes, nor see them.
	code, m = e.raw(t, "POST", "/v2.0/networks", e.p1Tok, `{"network":{"provider:network_type":"vxlan"}}`)
	neutronError(t, "member provider", code, m, 403, "PolicyNotAuthorized")
	code, m = e.raw(t, "POST", "/v2.0/networks", e.p1Tok, `{"network":{"name":"mine","shared":false}}`)
	if code != 201 {
		t.Fatalf("member create: %d %v", code, m)
	}
	net := m["network"].(map[string]any)
	for _, k := range []string{"provider:network_type", "provider:segmentation_id", "provider:physical_network"} {
		if _, ok := net[k]; ok {
			t.Fatalf("member sees %s", k)
		}
	}
	if net["mtu"] != 1450.0 {
		t.Fatalf("member network mtu %v", net["mtu"])
	}
	code, m = e.raw(t, "POST", "/v2.0/networks", e.p1Tok, `{"network":{"shared":true}}`)
	neutronError(t, "member shared", code, m, 403, "PolicyNotAuthorized")
	code, m = e.raw(t, "POST", "/v2.0/networks", e.p1Tok, `{"network":{"bogus":1}}`)
	neutronError(t, "unknown attribute", code, m, 400, "")
	code, m = e.raw(t, "POST", "/v2.0/networks", e.p1Tok, `{"network":`)
	neutronError(t, "malformed", code, m, 400, "")

	// Update with revision checks.
	id := net["id"].(string)
	rev := int(net["revision_number"].(float64))
	code, m = e.raw(t, "PUT", "/v2.0/networks/"+id, e.p1Tok, `{"network":{"name":"renamed"}}`, "If-Match", fmt.Sprintf("revision_number=%d", rev+5))
	neutronError(t, "stale revision", code, m, 412, "RevisionNumberConstraintFailed")
	code, m = e.raw(t, "PUT", "/v2.0/networks/"+id, e.p1Tok, `{"network":{"name":"renamed"}}`, "If-Match", fmt.Sprintf("revision_number=%d", rev))
	if code != 200 || m["network"].(map[string]any)["name"] != "renamed" || m["network"].(map[string]any)["revision_number"].(float64) != float64(rev+1) {
		t.Fatalf("update: %d %v", code, m)
	}
	code, m = e.raw(t, "PUT", "/v2.0/networks/"+id, e.p1Tok, `{"network":{"provider:segmentation_id":7}}`)
	neutronError(t, "member provider update", code, m, 403, "PolicyNotAuthorized")
	// fields= selection.
	code, m = e.raw(t, "GET", "/v2.0/networks/"+id+"?fields=id&fields=mtu", e.p1Tok, "")
	if code != 200 || len(m["network"].(map[string]any)) != 2 {
		t.Fatalf("fields: %d %v", code, m)
	}
	code, m = e.raw(t, "GET", "/v2.0/networks/00000000-0000-0000-0000-000000000000", e.p1Tok, "")
	neutronError(t, "missing network", code, m, 404, "NetworkNotFound")
	if err := networks.Delete(ctx, e.p1, id).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	if _, err := networks.Get(ctx, e.p1, id).Extract(); err == nil {
		t.Fatal("deleted network still there")
	}
}

func TestSubnetsValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	n := mustNetwork(t, e.p1, "n")
	sn := mustSubnet(t, e.p1, n.ID, "10.1.0.0/24")
	if sn.GatewayIP != "10.1.0.1" || len(sn.AllocationPools) != 1 || sn.AllocationPools[0].Start != "10.1.0.2" || sn.AllocationPools[0].End != "10.1.0.254" {
		t.Fatalf("defaults: %+v", sn)
	}
	bad := []struct {
		name, body string
		status     int
		typ        string
	}{
		{"invalid cidr", `{"cidr":"10.2.0.0/33","ip_version":4}`, 400, "InvalidInput"},
		{"host bits", `{"cidr":"10.2.0.5/24","ip_version":4}`, 400, "InvalidInput"},
		{"version mismatch", `{"cidr":"10.2.0.0/24","ip_version":6}`, 400, "InvalidInput"},
		{"gateway outside", `{"cidr":"10.2.0.0/24","ip_version":4,"gateway_ip":"10.3.0.1"}`, 400, "InvalidInput"},
		{"overlapping pools", `{"cidr":"10.2.0.0/24","ip_version":4,"allocation_pools":[{"start":"10.2.0.10","end":"10.2.0.20"},{"start":"10.2.0.15","end":"10.2.0.30"}]}`, 400, "OverlappingAllocationPools"},
		{"pool outside", `{"cidr":"10.2.0.0/24","ip_version":4,"allocation_pools":[{"start":"10.2.0.10","end":"10.2.1.20"}]}`, 400, "OutOfBoundsAllocationPool"},
		{"gateway in pool", `{"cidr":"10.2.0.0/24","ip_version":4,"gateway_ip":"10.2.0.15","allocation_pools":[{"start":"10.2.0.10","end":"10.2.0.20"}]}`, 409, "GatewayConflictWithAllocationPools"},
		{"overlaps subnet", `{"cidr":"10.1.0.128/25","ip_version":4}`, 400, "InvalidInput"},
		{"bad dns", `{"cidr":"10.2.0.0/24","ip_version":4,"dns_nameservers":["x"]}`, 400, "InvalidInput"},
		{"slaac on v4", `{"cidr":"10.2.0.0/24","ip_version":4,"ipv6_address_mode":"slaac"}`, 400, "InvalidInput"},
		{"slaac needs /64", `{"cidr":"fd00:1::/80","ip_version":6,"ipv6_address_mode":"slaac","ipv6_ra_mode":"slaac"}`, 400, "InvalidInput"},
	}
	for _, b := range bad {
		body := `{"subnet":` + strings.Replace(b.body, "{", `{"network_id":"`+n.ID+`",`, 1) + `}`
		code, m := e.raw(t, "POST", "/v2.0/subnets", e.p1Tok, body)
		neutronError(t, b.name, code, m, b.status, b.typ)
	}
	// Nothing half-created: the network still has one subnet.
	got, _ := networks.Get(ctx, e.p1, n.ID).Extract()
	if len(got.Subnets) != 1 {
		t.Fatalf("network subnets %v", got.Subnets)
	}
	// No gateway, explicit pools, DNS and routes; then update.
	code, m := e.raw(t, "POST", "/v2.0/subnets", e.p1Tok, `{"subnet":{"network_id":"`+n.ID+`","cidr":"10.5.0.0/24","ip_version":4,"gateway_ip":null,"allocation_pools":[{"start":"10.5.0.100","end":"10.5.0.101"}],"dns_nameservers":["8.8.8.8"],"host_routes":[{"destination":"10.9.0.0/16","nexthop":"10.5.0.254"}]}}`)
	if code != 201 || m["subnet"].(map[string]any)["gateway_ip"] != nil {
		t.Fatalf("no-gateway subnet: %d %v", code, m)
	}
	sid := m["subnet"].(map[string]any)["id"].(string)
	up, err := subnets.Update(ctx, e.p1, sid, subnets.UpdateOpts{Name: ptr("upd"), DNSNameservers: &[]string{"1.1.1.1", "9.9.9.9"}}).Extract()
	if err != nil || up.Name != "upd" || len(up.DNSNameservers) != 2 {
		t.Fatalf("update: %v %+v", err, up)
	}
	// Pool of two: a third port fails cleanly.
	for i := 0; i < 2; i++ {
		if _, err := ports.Create(ctx, e.p1, ports.CreateOpts{NetworkID: n.ID, FixedIPs: []ports.IP{{SubnetID: sid}}}).Extract(); err != nil {
			t.Fatal(err)
		}
	}
	_, err = ports.Create(ctx, e.p1, ports.CreateOpts{NetworkID: n.ID, FixedIPs: []ports.IP{{SubnetID: sid}}}).Extract()
	wantType(t, "exhausted pool", err, 409, "IpAddressGenerationFailure")

	// IPv6 SLAAC: the address is the EUI-64 of the MAC.
	v6, err := subnets.Create(ctx, e.p1, subnets.CreateOpts{NetworkID: n.ID, CIDR: "fd00:5::/64", IPVersion: gophercloud.IPv6, IPv6AddressMode: "slaac", IPv6RAMode: "slaac"}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	p, err := ports.Create(ctx, e.p1, ports.CreateOpts{NetworkID: n.ID, MACAddress: "fa:16:3e:11:22:33"}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	var v6addr string
	for _, f := range p.FixedIPs {
		if f.SubnetID == v6.ID {
			v6addr = f.IPAddress
		}
	}
	if v6addr != "fd00:5::f816:3eff:fe11:2233" {
		t.Fatalf("SLAAC address %q (%+v)", v6addr, p.FixedIPs)
	}
	// Delete with ports in use.
	err = subnets.Delete(ctx, e.p1, sn.ID).ExtractErr()
	wantType(t, "subnet in use", err, 409, "SubnetInUse")
	err = networks.Delete(ctx, e.p1, n.ID).ExtractErr()
	wantType(t, "network in use", err, 409, "NetworkInUse")
}

func TestPortsFixedIPsAndBinding(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	n := mustNetwork(t, e.p1, "n")
	sn := mustSubnet(t, e.p1, n.ID, "192.168.7.0/24")
	p, err := ports.Create(ctx, e.p1, ports.CreateOpts{NetworkID: n.ID, Name: "a", FixedIPs: []ports.IP{{SubnetID: sn.ID, IPAddress: "192.168.7.50"}}}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(p.MACAddress, "fa:16:3e:") || p.FixedIPs[0].IPAddress != "192.168.7.50" || len(p.SecurityGroups) != 1 || p.Status != "DOWN" {
		t.Fatalf("port: %+v", p)
	}
	_, err = ports.Create(ctx, e.p1, ports.CreateOpts{NetworkID: n.ID, FixedIPs: []ports.IP{{IPAddress: "192.168.7.50"}}}).Extract()
	wantType(t, "address in use", err, 409, "IpAddressAlreadyAllocated")
	_, err = ports.Create(ctx, e.p1, ports.CreateOpts{NetworkID: n.ID, FixedIPs: []ports.IP{{SubnetID: sn.ID, IPAddress: "10.0.0.5"}}}).Extract()
	wantType(t, "outside subnet", err, 400, "InvalidIpForSubnet")
	_, err = ports.Create(ctx, e.p1, ports.CreateOpts{NetworkID: n.ID, FixedIPs: []ports.IP{{IPAddress: "192.168.7.1"}}}).Extract()
	wantType(t, "gateway address", err, 409, "IpAddressAlreadyAllocated")
	_, err = ports.Create(ctx, e.p1, ports.CreateOpts{NetworkID: n.ID, FixedIPs: []ports.IP{{IPAddress: "192.168.7.255"}}}).Extract()
	wantType(t, "broadcast", err, 400, "InvalidIpForSubnet")
	_, err = ports.Create(ctx, e.p1, ports.CreateOpts{NetworkID: n.ID, MACAddress: "zz"}).Extract()
	wantStatus(t, "bad mac", err, 400)

	// Change addresses: the old one is released and reusable.
	up, err := ports.Update(ctx, e.p1, p.ID, ports.UpdateOpts{FixedIPs: []ports.IP{{SubnetID: sn.ID, IPAddress: "192.168.7.60"}}}).Extract()
	if err != nil || up.FixedIPs[0].IPAddress != "192.168.7.60" {
		t.Fatalf("update fixed ips: %v %+v", err, up)
	}
	if _, err := ports.Create(ctx, e.p1, ports.CreateOpts{NetworkID: n.ID, FixedIPs: []ports.IP{{IPAddress: "192.168.7.50"}}}).Extract(); err != nil {
		t.Fatalf("released address not reusable: %v", err)
	}
	// Allowed address pairs, extra DHCP options, dns_name through raw JSON.
	code, m := e.raw(t, "PUT", "/v2.0/ports/"+p.ID, e.p1Tok, `{"port":{"allowed_address_pairs":[{"ip_address":"10.9.9.9"}],"extra_dhcp_opts":[{"opt_name":"mtu","opt_value":"1400"}],"dns_name":"web1"}}`)
	if code != 200 {
		t.Fatalf("update extras: %d %v", code, m)
	}
	pm := m["port"].(map[string]any)
	if len(pm["allowed_address_pairs"].([]any)) != 1 || pm["dns_name"] != "web1" || len(pm["extra_dhcp_opts"].([]any)) != 1 {
		t.Fatalf("extras: %v", pm)
	}
	if _, ok := pm["binding:host_id"]; ok {
		t.Fatal("member sees binding:host_id")
	}
	// Binding is admin-only.
	_, err = ports.Update(ctx, e.p1, p.ID, portsbinding.UpdateOptsExt{UpdateOptsBuilder: ports.UpdateOpts{}, HostID: ptr("node1")}).Extract()
	wantType(t, "member binds", err, 403, "PolicyNotAuthorized")
	var bp struct {
		ports.Port
		portsbinding.PortsBindingExt
	}
	err = ports.Update(ctx, e.admin, p.ID, portsbinding.UpdateOptsExt{UpdateOptsBuilder: ports.UpdateOpts{DeviceID: ptr("vm-1"), DeviceOwner: ptr("compute:nova")}, HostID: ptr("node1")}).ExtractInto(&bp)
	if err != nil || bp.HostID != "node1" || bp.VIFType != "bridge" || bp.DeviceID != "vm-1" {
		t.Fatalf("admin bind: %v %+v", err, bp)
	}
	// List filtered by device and fixed IP.
	all, err := ports.List(e.p1, ports.ListOpts{DeviceID: "vm-1"}).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ps, _ := ports.ExtractPorts(all)
	if len(ps) != 1 || ps[0].ID != p.ID {
		t.Fatalf("by device: %+v", ps)
	}
	all, _ = ports.List(e.p1, ports.ListOpts{FixedIPs: []ports.FixedIPOpts{{IPAddress: "192.168.7.60"}}}).AllPages(ctx)
	ps, _ = ports.ExtractPorts(all)
	if len(ps) != 1 || ps[0].ID != p.ID {
		t.Fatalf("by fixed ip: %+v", ps)
	}
	// Lists render ports on a fast path: it must hide the same attributes.
	for _, who := range []struct {
		tok  string
		seen bool
	}{{e.p1Tok, false}, {e.adminTok, true}} {
		code, m := e.raw(t, "GET", "/v2.0/ports?device_id=vm-1&limit=5", who.tok, "")
		items, _ := m["ports"].([]any)
		if code != 200 || len(items) != 1 {
			t.Fatalf("list: %d %v", code, m)
		}
		item := items[0].(map[string]any)
		if _, ok := item["binding:host_id"]; ok != who.seen || item["tenant_id"] != e.p1ID || item["id"] != p.ID {
			t.Fatalf("listed port (admin %v): %v", who.seen, item)
		}
	}
	if err := ports.Delete(ctx, e.p1, p.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, "deleted port", ports.Get(ctx, e.p1, p.ID).Err, 404)
}

// TestPortCreateConcurrency: 300 creates on a /24 from 16 goroutines hand
// out the 253 usable addresses exactly once; the other 47 fail with 409
// IpAddressGenerationFailure and leave no port behind.
func TestPortCreateConcurrency(t *testing.T) {
	t.Parallel()
	portRace(t, newEnv(t))
}

// TestPortCreateConcurrencyPostgres runs the same race through the API on
// PostgreSQL (skipped unless GUREUM_TEST_POSTGRES is set; CI sets it).
func TestPortCreateConcurrencyPostgres(t *testing.T) {
	t.Parallel()
	portRace(t, newEnv(t, testenv.WithPostgres(t)))
}

func portRace(t *testing.T, e *env) {
	n := mustNetwork(t, e.admin, "race")
	mustSubnet(t, e.admin, n.ID, "10.77.0.0/24")
	var mu sync.Mutex
	seen := map[string]bool{}
	failed := 0
	var wg sync.WaitGroup
	jobs := make(chan struct{})
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				p, err := ports.Create(ctx, e.admin, ports.CreateOpts{NetworkID: n.ID}).Extract()
				mu.Lock()
				if err != nil {
					var ue gophercloud.ErrUnexpectedResponseCode
					if !asCode(err, &ue) || ue.Actual != 409 || !strings.Contains(string(ue.Body), "IpAddressGenerationFailure") {
						t.Errorf("unexpected failure: %v", err)
					}
					failed++
				} else {
					ip := p.FixedIPs[0].IPAddress
					if seen[ip] {
						t.Errorf("%s handed out twice", ip)
					}
					seen[ip] = true
				}
				mu.Unlock()
			}
		}()
	}
	for i := 0; i < 300; i++ {
		jobs <- struct{}{}
	}
	close(jobs)
	wg.Wait()
	if len(seen) != 253 || failed != 47 {
		t.Fatalf("%d addresses, %d failures; want 253 and 47", len(seen), failed)
	}
	all, err := ports.List(e.admin, ports.ListOpts{NetworkID: n.ID}).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ps, _ := ports.ExtractPorts(all)
	if len(ps) != 253 {
		t.Fatalf("%d ports listed, want 253", len(ps))
	}
}

func TestProjectIsolation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	priv := mustNetwork(t, e.p1, "private")
	mustSubnet(t, e.p1, priv.ID, "10.10.0.0/24")
	port, err := ports.Create(ctx, e.p1, ports.CreateOpts{NetworkID: priv.ID}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	shared, err := networks.Create(ctx, e.admin, networks.CreateOpts{Name: "shared", Shared: ptr(true)}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	mustSubnet(t, e.admin, shared.ID, "10.20.0.0/24")
	var ext networks.Network
	err = networks.Create(ctx, e.admin, external.CreateOptsExt{CreateOptsBuilder: networks.CreateOpts{Name: "public"}, External: ptr(true)}).ExtractInto(&ext)
	if err != nil {
		t.Fatal(err)
	}
	extSub := mustSubnet(t, e.admin, ext.ID, "198.51.100.0/24")

	// p2 sees shared and external networks, not p1's.
	all, err := networks.List(e.p2, nil).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ns, _ := networks.ExtractNetworks(all)
	var names []string
	for _, n := range ns {
		names = append(names, n.Name)
	}
	sort.Strings(names)
	if strings.Join(names, ",") != "public,shared" {
		t.Fatalf("p2 sees %v", names)
	}
	wantType(t, "p2 get p1 network", networks.Get(ctx, e.p2, priv.ID).Err, 404, "NetworkNotFound")
	wantStatus(t, "p2 get p1 port", ports.Get(ctx, e.p2, port.ID).Err, 404)
	wantStatus(t, "p2 update p1 network", networks.Update(ctx, e.p2, priv.ID, networks.UpdateOpts{Name: ptr("x")}).Err, 404)
	wantStatus(t, "p2 delete p1 port", ports.Delete(ctx, e.p2, port.ID).Err, 404)
	wantStatus(t, "p2 port on p1 network", ports.Create(ctx, e.p2, ports.CreateOpts{NetworkID: priv.ID}).Err, 404)
	wantStatus(t, "p2 subnet on p1 network", subnets.Create(ctx, e.p2, subnets.CreateOpts{NetworkID: priv.ID, CIDR: "10.30.0.0/24", IPVersion: 4}).Err, 404)
	all, _ = ports.List(e.p2, nil).AllPages(ctx)
	if ps, _ := ports.ExtractPorts(all); len(ps) != 0 {
		t.Fatalf("p2 sees ports: %v", ps)
	}
	// Filtering by another project's ID returns nothing.
	all, _ = networks.List(e.p2, networks.ListOpts{ProjectID: e.p1ID}).AllPages(ctx)
	if ns, _ := networks.ExtractNetworks(all); len(ns) != 0 {
		t.Fatalf("p2 filter by p1: %v", ns)
	}
	// p2 may use the shared network, not change it; the external one is
	// visible but not attachable, and its subnet is hidden.
	if _, err := ports.Create(ctx, e.p2, ports.CreateOpts{NetworkID: shared.ID}).Extract(); err != nil {
		t.Fatalf("port on shared network: %v", err)
	}
	// Subnets of shared networks stay visible after their owner changes them.
	all, _ = subnets.List(e.admin, subnets.ListOpts{NetworkID: shared.ID}).AllPages(ctx)
	sns, _ := subnets.ExtractSubnets(all)
	if err := attributestags.Add(ctx, e.admin, "subnets", sns[0].ID, "t").ExtractErr(); err != nil {
		t.Fatal(err)
	}
	if _, err := subnets.Update(ctx, e.admin, sns[0].ID, subnets.UpdateOpts{Name: ptr("renamed")}).Extract(); err != nil {
		t.Fatal(err)
	}
	if got, err := subnets.Get(ctx, e.p2, sns[0].ID).Extract(); err != nil || got.Name != "renamed" {
		t.Fatalf("p2 sees the shared subnet: %v %+v", err, got)
	}
	wantStatus(t, "p2 updates shared", networks.Update(ctx, e.p2, shared.ID, networks.UpdateOpts{Name: ptr("x")}).Err, 403)
	wantStatus(t, "p2 port on external", ports.Create(ctx, e.p2, ports.CreateOpts{NetworkID: ext.ID}).Err, 403)
	wantStatus(t, "p2 sees external subnet", subnets.Get(ctx, e.p2, extSub.ID).Err, 404)
	// Admin sees everything.
	all, _ = networks.List(e.admin, nil).AllPages(ctx)
	if ns, _ := networks.ExtractNetworks(all); len(ns) != 3 {
		t.Fatalf("admin sees %d networks", len(ns))
	}
}

func asCode(err error, ue *gophercloud.ErrUnexpectedResponseCode) bool {
	if e, ok := err.(gophercloud.ErrUnexpectedResponseCode); ok {
		*ue = e
		return true
	}
	return false
}

func TestSizeLimitsAndDHCPPorts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	long := strings.Repeat("x", 256)
	code, m := e.raw(t, "POST", "/v2.0/networks", e.p1Tok, `{"network":{"name":"`+long+`"}}`)
	neutronError(t, "long name", code, m, 400, "InvalidInput")
	code, m = e.raw(t, "POST", "/v2.0/security-groups", e.p1Tok, `{"security_group":{"name":"x","description":"`+long+`"}}`)
	neutronError(t, "long description", code, m, 400, "InvalidInput")
	code, m = e.raw(t, "POST", "/v2.0/networks", e.p1Tok, `{"network":{"tags":["a,b"]}}`)
	neutronError(t, "bad tag", code, m, 400, "")
	big := strings.Repeat(`"`+long+`",`, 5000)
	code, m = e.raw(t, "POST", "/v2.0/networks", e.p1Tok, `{"network":{"tags":[`+big+`"x"]}}`)
	neutronError(t, "oversized body", code, m, 413, "")
	// A network's DHCP port (the data plane's) does not keep it in use.
	n := mustNetwork(t, e.admin, "dhcp")
	mustSubnet(t, e.admin, n.ID, "10.88.0.0/24")
	if _, err := ports.Create(ctx, e.admin, ports.CreateOpts{NetworkID: n.ID, DeviceOwner: "network:dhcp", DeviceID: "dhcp-" + n.ID}).Extract(); err != nil {
		t.Fatal(err)
	}
	if err := networks.Delete(ctx, e.admin, n.ID).ExtractErr(); err != nil {
		t.Fatalf("delete network with only a DHCP port: %v", err)
	}
}

func TestPortSecurityDHCPOptsDNS(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var n struct {
		networks.Network
		portsecurity.PortSecurityExt
	}
	err := networks.Create(ctx, e.p1, portsecurity.NetworkCreateOptsExt{CreateOptsBuilder: networks.CreateOpts{Name: "nosec"}, PortSecurityEnabled: ptr(false)}).ExtractInto(&n)
	if err != nil || n.PortSecurityEnabled {
		t.Fatalf("network: %v %+v", err, n)
	}
	mustSubnet(t, e.p1, n.ID, "10.12.0.0/24")
	// Ports inherit the network's port security, and then get no group.
	var p struct {
		ports.Port
		portsecurity.PortSecurityExt
		extradhcpopts.ExtraDHCPOptsExt
	}
	create := extradhcpopts.CreateOptsExt{
		CreateOptsBuilder: dns.PortCreateOptsExt{CreateOptsBuilder: ports.CreateOpts{NetworkID: n.ID}, DNSName: "db1"},
		ExtraDHCPOpts:     []extradhcpopts.CreateExtraDHCPOpt{{OptName: "bootfile-name", OptValue: "pxelinux.0"}, {OptName: "mtu", OptValue: "1400"}},
	}
	if err := ports.Create(ctx, e.p1, create).ExtractInto(&p); err != nil {
		t.Fatal(err)
	}
	if p.PortSecurityEnabled || len(p.SecurityGroups) != 0 || len(p.ExtraDHCPOpts) != 2 {
		t.Fatalf("port: %+v", p)
	}
	_, err = ports.Update(ctx, e.p1, p.ID, ports.UpdateOpts{SecurityGroups: &[]string{"no-such-group"}}).Extract()
	wantType(t, "unknown group", err, 404, "SecurityGroupNotFound")
	code, m := e.raw(t, "GET", "/v2.0/security-groups?name=default&fields=id", e.p1Tok, "")
	def := m["security_groups"].([]any)[0].(map[string]any)["id"].(string)
	if code != 200 || def == "" {
		t.Fatalf("default group: %d %v", code, m)
	}
	_, err = ports.Update(ctx, e.p1, p.ID, ports.UpdateOpts{SecurityGroups: &[]string{def}}).Extract()
	wantType(t, "group without port security", err, 409, "PortSecurityPortHasSecurityGroup")
	// DHCP options merge; a null value removes one.
	upd := extradhcpopts.UpdateOptsExt{UpdateOptsBuilder: ports.UpdateOpts{}, ExtraDHCPOpts: []extradhcpopts.UpdateExtraDHCPOpt{{OptName: "mtu"}, {OptName: "tftp-server", OptValue: ptr("10.12.0.5")}}}
	var up struct {
		ports.Port
		extradhcpopts.ExtraDHCPOptsExt
	}
	if err := ports.Update(ctx, e.p1, p.ID, upd).ExtractInto(&up); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, o := range up.ExtraDHCPOpts {
		names = append(names, o.OptName)
	}
	sort.Strings(names)
	if strings.Join(names, ",") != "bootfile-name,tftp-server" {
		t.Fatalf("merged options: %v", names)
	}
	// Enabling port security with a group.
	var sec struct {
		ports.Port
		portsecurity.PortSecurityExt
	}
	err = ports.Update(ctx, e.p1, p.ID, portsecurity.PortUpdateOptsExt{UpdateOptsBuilder: ports.UpdateOpts{}, PortSecurityEnabled: ptr(true)}).ExtractInto(&sec)
	if err != nil || !sec.PortSecurityEnabled {
		t.Fatalf("enable port security: %v %+v", err, sec)
	}
}

// TestPortListRawMatchesShow: admins' port lists serve stored bodies as
// they are; they must equal what a show (decode and render) answers.
func TestPortListRawMatchesShow(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	n := mustNetwork(t, e.p1, "n")
	mustSubnet(t, e.p1, n.ID, "10.66.0.0/24")
	p, err := ports.Create(ctx, e.p1, ports.CreateOpts{NetworkID: n.ID, Name: "x", AllowedAddressPairs: []ports.AddressPair{{IPAddress: "10.66.9.9"}}}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if err := attributestags.ReplaceAll(ctx, e.p1, "ports", p.ID, attributestags.ReplaceAllOpts{Tags: []string{"b", "a"}}).Err; err != nil {
		t.Fatal(err)
	}
	if err := attributestags.DeleteAll(ctx, e.p1, "ports", p.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	if _, err := ports.Update(ctx, e.admin, p.ID, portsbinding.UpdateOptsExt{UpdateOptsBuilder: ports.UpdateOpts{}, HostID: ptr("node9")}).Extract(); err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{e.adminTok, e.p1Tok} {
		_, list := e.raw(t, "GET", "/v2.0/ports?network_id="+n.ID+"&limit=10", tok, "")
		_, show := e.raw(t, "GET", "/v2.0/ports/"+p.ID, tok, "")
		got, _ := json.Marshal(list["ports"].([]any)[0])
		want, _ := json.Marshal(show["port"])
		if string(got) != string(want) {
			t.Fatalf("list and show differ:\n list %s\n show %s", got, want)
		}
	}
}
