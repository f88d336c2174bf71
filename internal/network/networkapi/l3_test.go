package networkapi_test

import (
	"testing"

	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/external"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/layer3/floatingips"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/layer3/routers"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/security/groups"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/security/rules"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/networks"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/ports"
)

func TestSecurityGroups(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// The default group appears on first use with Neutron's four rules.
	all, err := groups.List(e.p1, groups.ListOpts{}).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	gs, _ := groups.ExtractGroups(all)
	if len(gs) != 1 || gs[0].Name != "default" || len(gs[0].Rules) != 4 {
		t.Fatalf("default group: %+v", gs)
	}
	def := gs[0]
	ingress := 0
	for _, r := range def.Rules {
		if r.Direction == "ingress" {
			ingress++
			if r.RemoteGroupID != def.ID {
				t.Fatalf("default ingress rule without remote group: %+v", r)
			}
		}
	}
	if ingress != 2 {
		t.Fatalf("%d ingress rules", ingress)
	}
	// Another project's list does not show it.
	all, _ = groups.List(e.p2, groups.ListOpts{}).AllPages(ctx)
	gs2, _ := groups.ExtractGroups(all)
	if len(gs2) != 1 || gs2[0].ID == def.ID {
		t.Fatalf("p2 groups: %+v", gs2)
	}
	sg, err := groups.Create(ctx, e.p1, groups.CreateOpts{Name: "web", Description: "w"}).Extract()
	if err != nil || len(sg.Rules) != 2 {
		t.Fatalf("create group: %v %+v", err, sg)
	}
	r, err := rules.Create(ctx, e.p1, rules.CreateOpts{Direction: "ingress", EtherType: "IPv4", SecGroupID: sg.ID, Protocol: "tcp", PortRangeMin: 22, PortRangeMax: 22, RemoteIPPrefix: "0.0.0.0/0"}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	_, err = rules.Create(ctx, e.p1, rules.CreateOpts{Direction: "ingress", EtherType: "IPv4", SecGroupID: sg.ID, Protocol: "6", PortRangeMin: 22, PortRangeMax: 22, RemoteIPPrefix: "0.0.0.0/0"}).Extract()
	wantType(t, "duplicate rule (protocol by number)", err, 409, "SecurityGroupRuleExists")
	if _, err := rules.Create(ctx, e.p1, rules.CreateOpts{Direction: "ingress", EtherType: "IPv6", SecGroupID: sg.ID, Protocol: "icmpv6", RemoteGroupID: def.ID}).Extract(); err != nil {
		t.Fatalf("icmpv6 from group: %v", err)
	}
	if _, err := rules.Create(ctx, e.p1, rules.CreateOpts{Direction: "ingress", EtherType: "IPv4", SecGroupID: sg.ID, Protocol: "132"}).Extract(); err != nil {
		t.Fatalf("protocol number: %v", err)
	}
	bad := []struct {
		name string
		o    rules.CreateOpts
		typ  string
	}{
		{"bad protocol", rules.CreateOpts{Direction: "ingress", EtherType: "IPv4", SecGroupID: sg.ID, Protocol: "bogus"}, "SecurityGroupRuleInvalidProtocol"},
		{"ports without protocol", rules.CreateOpts{Direction: "ingress", EtherType: "IPv4", SecGroupID: sg.ID, PortRangeMin: 1, PortRangeMax: 2}, "SecurityGroupInvalidProtocolForPortRange"},
		{"inverted range", rules.CreateOpts{Direction: "ingress", EtherType: "IPv4", SecGroupID: sg.ID, Protocol: "udp", PortRangeMin: 90, PortRangeMax: 80}, "SecurityGroupInvalidPortRange"},
		{"prefix and group", rules.CreateOpts{Direction: "ingress", EtherType: "IPv4", SecGroupID: sg.ID, RemoteIPPrefix: "10.0.0.0/8", RemoteGroupID: def.ID}, "SecurityGroupRemoteGroupAndRemoteIpPrefix"},
		{"ethertype conflict", rules.CreateOpts{Direction: "ingress", EtherType: "IPv6", SecGroupID: sg.ID, RemoteIPPrefix: "10.0.0.0/8"}, "SecurityGroupRuleParameterConflict"},
		{"bad direction", rules.CreateOpts{Direction: "sideways", EtherType: "IPv4", SecGroupID: sg.ID}, "InvalidInput"},
	}
	for _, b := range bad {
		_, err := rules.Create(ctx, e.p1, b.o).Extract()
		wantType(t, b.name, err, 400, b.typ)
	}
	// p2 cannot add rules to p1's group nor see its rules.
	_, err = rules.Create(ctx, e.p2, rules.CreateOpts{Direction: "ingress", EtherType: "IPv4", SecGroupID: sg.ID}).Extract()
	wantStatus(t, "p2 rule in p1 group", err, 404)
	wantStatus(t, "p2 get p1 rule", rules.Get(ctx, e.p2, r.ID).Err, 404)

	// In use by a port: refused; the default group cannot be deleted.
	n := mustNetwork(t, e.p1, "n")
	p, err := ports.Create(ctx, e.p1, ports.CreateOpts{NetworkID: n.ID, SecurityGroups: &[]string{sg.ID}}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	wantType(t, "group in use", groups.Delete(ctx, e.p1, sg.ID).Err, 409, "SecurityGroupInUse")
	wantType(t, "delete default", groups.Delete(ctx, e.p1, def.ID).Err, 409, "SecurityGroupCannotRemoveDefault")
	_, err = ports.Create(ctx, e.p1, ports.CreateOpts{NetworkID: n.ID, SecurityGroups: &[]string{gs2[0].ID}}).Extract()
	wantType(t, "other project's group", err, 404, "SecurityGroupNotFound")
	if _, err := ports.Update(ctx, e.p1, p.ID, ports.UpdateOpts{SecurityGroups: &[]string{}}).Extract(); err != nil {
		t.Fatal(err)
	}
	if _, err := groups.Update(ctx, e.p1, sg.ID, groups.UpdateOpts{Name: "web2"}).Extract(); err != nil {
		t.Fatal(err)
	}
	if err := rules.Delete(ctx, e.p1, r.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	if err := groups.Delete(ctx, e.p1, sg.ID).ExtractErr(); err != nil {
		t.Fatalf("delete unused group: %v", err)
	}
	wantStatus(t, "rules go with the group", rules.Get(ctx, e.p1, sg.Rules[0].ID).Err, 404)
	// An admin may delete a project's default group; the next use makes a
	// new one.
	if err := ports.Delete(ctx, e.p1, p.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	if err := groups.Delete(ctx, e.admin, def.ID).ExtractErr(); err != nil {
		t.Fatalf("admin deletes default group: %v", err)
	}
	p2, err := ports.Create(ctx, e.p1, ports.CreateOpts{NetworkID: n.ID}).Extract()
	if err != nil || len(p2.SecurityGroups) != 1 || p2.SecurityGroups[0] == def.ID {
		t.Fatalf("port after default group deletion: %v %+v", err, p2)
	}
	// Unsharing a network another project uses is refused.
	shared, err := networks.Create(ctx, e.admin, networks.CreateOpts{Name: "s", Shared: ptr(true)}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ports.Create(ctx, e.p2, ports.CreateOpts{NetworkID: shared.ID}).Extract(); err != nil {
		t.Fatal(err)
	}
	_, err = networks.Update(ctx, e.admin, shared.ID, networks.UpdateOpts{Shared: ptr(false)}).Extract()
	wantType(t, "unshare in use", err, 409, "InvalidSharedSetting")
}

func TestRoutersAndFloatingIPs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var ext networks.Network
	if err := networks.Create(ctx, e.admin, external.CreateOptsExt{CreateOptsBuilder: networks.CreateOpts{Name: "public"}, External: ptr(true)}).ExtractInto(&ext); err != nil {
		t.Fatal(err)
	}
	mustSubnet(t, e.admin, ext.ID, "203.0.113.0/24")
	n := mustNetwork(t, e.p1, "private")
	sn := mustSubnet(t, e.p1, n.ID, "10.0.0.0/24")
	other := mustNetwork(t, e.p1, "other")
	overlapping := mustSubnet(t, e.p1, other.ID, "10.0.0.0/25")
	lonely := mustNetwork(t, e.p1, "lonely")
	lonelySub := mustSubnet(t, e.p1, lonely.ID, "10.50.0.0/24")

	rt, err := routers.Create(ctx, e.p1, routers.CreateOpts{Name: "r", GatewayInfo: &routers.GatewayInfo{NetworkID: ext.ID}}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if rt.GatewayInfo.NetworkID != ext.ID || len(rt.GatewayInfo.ExternalFixedIPs) != 1 || rt.GatewayInfo.EnableSNAT == nil || !*rt.GatewayInfo.EnableSNAT {
		t.Fatalf("gateway: %+v", rt.GatewayInfo)
	}
	_, err = routers.Create(ctx, e.p1, routers.CreateOpts{Name: "bad", GatewayInfo: &routers.GatewayInfo{NetworkID: n.ID}}).Extract()
	wantStatus(t, "gateway on internal network", err, 400)
	_, err = routers.Create(ctx, e.p1, routers.CreateOpts{Name: "bad", GatewayInfo: &routers.GatewayInfo{NetworkID: ext.ID, ExternalFixedIPs: []routers.ExternalFixedIP{{IPAddress: "203.0.113.99"}}}}).Extract()
	wantStatus(t, "member picks external IP", err, 403)

	info, err := routers.AddInterface(ctx, e.p1, rt.ID, routers.AddInterfaceOpts{SubnetID: sn.ID}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if info.SubnetID != sn.ID || info.PortID == "" {
		t.Fatalf("interface: %+v", info)
	}
	ifPort, _ := ports.Get(ctx, e.p1, info.PortID).Extract()
	if ifPort.FixedIPs[0].IPAddress != "10.0.0.1" || ifPort.DeviceOwner != "network:router_interface" {
		t.Fatalf("interface port: %+v", ifPort)
	}
	_, err = routers.AddInterface(ctx, e.p1, rt.ID, routers.AddInterfaceOpts{SubnetID: overlapping.ID}).Extract()
	wantStatus(t, "overlapping subnet", err, 400)
	wantType(t, "router port delete", ports.Delete(ctx, e.p1, info.PortID).Err, 409, "ServicePortInUse")
	wantType(t, "router in use", routers.Delete(ctx, e.p1, rt.ID).Err, 409, "RouterInUse")

	// Static routes need a connected next hop.
	_, err = routers.Update(ctx, e.p1, rt.ID, routers.UpdateOpts{Routes: &[]routers.Route{{DestinationCIDR: "172.16.0.0/16", NextHop: "10.0.0.10"}}}).Extract()
	if err != nil {
		t.Fatalf("routes: %v", err)
	}
	_, err = routers.Update(ctx, e.p1, rt.ID, routers.UpdateOpts{Routes: &[]routers.Route{{DestinationCIDR: "172.16.0.0/16", NextHop: "192.0.2.1"}}}).Extract()
	wantType(t, "unreachable nexthop", err, 400, "InvalidRoutes")

	vm, err := ports.Create(ctx, e.p1, ports.CreateOpts{NetworkID: n.ID}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	stray, err := ports.Create(ctx, e.p1, ports.CreateOpts{NetworkID: lonely.ID, FixedIPs: []ports.IP{{SubnetID: lonelySub.ID}}}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	fip, err := floatingips.Create(ctx, e.p1, floatingips.CreateOpts{FloatingNetworkID: ext.ID, PortID: vm.ID}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if fip.FixedIP != vm.FixedIPs[0].IPAddress || fip.RouterID != rt.ID || fip.Status != "ACTIVE" || fip.FloatingIP == "" {
		t.Fatalf("fip: %+v", fip)
	}
	_, err = floatingips.Create(ctx, e.p1, floatingips.CreateOpts{FloatingNetworkID: n.ID}).Extract()
	wantStatus(t, "fip from internal network", err, 400)
	_, err = floatingips.Create(ctx, e.p1, floatingips.CreateOpts{FloatingNetworkID: ext.ID, PortID: vm.ID}).Extract()
	wantType(t, "second fip on same address", err, 409, "FloatingIPPortAlreadyAssociated")
	fip2, err := floatingips.Create(ctx, e.p1, floatingips.CreateOpts{FloatingNetworkID: ext.ID}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	_, err = floatingips.Update(ctx, e.p1, fip2.ID, floatingips.UpdateOpts{PortID: &stray.ID}).Extract()
	wantType(t, "unreachable port", err, 404, "ExternalGatewayForFloatingIPNotFound")
	// p2 neither sees the floating IP nor may point one at p1's port.
	wantStatus(t, "p2 get fip", floatingips.Get(ctx, e.p2, fip.ID).Err, 404)
	fip3, err := floatingips.Create(ctx, e.p2, floatingips.CreateOpts{FloatingNetworkID: ext.ID}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	_, err = floatingips.Update(ctx, e.p2, fip3.ID, floatingips.UpdateOpts{PortID: &vm.ID}).Extract()
	wantStatus(t, "p2 associates p1 port", err, 404)
	all, _ := floatingips.List(e.p2, floatingips.ListOpts{}).AllPages(ctx)
	if fs, _ := floatingips.ExtractFloatingIPs(all); len(fs) != 1 {
		t.Fatalf("p2 sees %d floating IPs", len(fs))
	}

	_, err = routers.RemoveInterface(ctx, e.p1, rt.ID, routers.RemoveInterfaceOpts{SubnetID: sn.ID}).Extract()
	wantType(t, "interface used by fip", err, 409, "RouterInterfaceInUseByFloatingIP")
	_, err = routers.Update(ctx, e.p1, rt.ID, routers.UpdateOpts{GatewayInfo: &routers.GatewayInfo{}}).Extract()
	wantType(t, "gateway used by fip", err, 409, "RouterExternalGatewayInUseByFloatingIp")
	// Disassociate (port_id null), then tear down.
	code, m := e.raw(t, "PUT", "/v2.0/floatingips/"+fip.ID, e.p1Tok, `{"floatingip":{"port_id":null}}`)
	if code != 200 || m["floatingip"].(map[string]any)["port_id"] != nil || m["floatingip"].(map[string]any)["status"] != "DOWN" {
		t.Fatalf("disassociate: %d %v", code, m)
	}
	if _, err := routers.Update(ctx, e.p1, rt.ID, routers.UpdateOpts{Routes: &[]routers.Route{}}).Extract(); err != nil {
		t.Fatal(err)
	}
	if _, err := routers.RemoveInterface(ctx, e.p1, rt.ID, routers.RemoveInterfaceOpts{SubnetID: sn.ID}).Extract(); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, "interface port gone", ports.Get(ctx, e.p1, info.PortID).Err, 404)
	// By port: attach an existing port.
	pp, _ := ports.Create(ctx, e.p1, ports.CreateOpts{NetworkID: other.ID}).Extract()
	if _, err := routers.AddInterface(ctx, e.p1, rt.ID, routers.AddInterfaceOpts{PortID: pp.ID}).Extract(); err != nil {
		t.Fatalf("add by port: %v", err)
	}
	if _, err := routers.RemoveInterface(ctx, e.p1, rt.ID, routers.RemoveInterfaceOpts{PortID: pp.ID}).Extract(); err != nil {
		t.Fatalf("remove by port: %v", err)
	}
	for _, id := range []string{fip.ID, fip2.ID} {
		if err := floatingips.Delete(ctx, e.p1, id).ExtractErr(); err != nil {
			t.Fatal(err)
		}
	}
	if err := floatingips.Delete(ctx, e.p2, fip3.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	if err := routers.Delete(ctx, e.p1, rt.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	// The gateway and floating IP ports are gone: the external network can go.
	if err := networks.Delete(ctx, e.admin, ext.ID).ExtractErr(); err != nil {
		t.Fatalf("delete external network: %v", err)
	}
}
