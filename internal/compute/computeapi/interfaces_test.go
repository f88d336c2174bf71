package computeapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/attachinterfaces"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/instanceactions"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/networks"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/ports"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/subnets"

	"github.com/gureum/gureum/internal/agent/fakedriver"
)

// netWithSubnet creates a network with one IPv4 subnet.
func netWithSubnet(t *testing.T, nc *gophercloud.ServiceClient, name, cidr string) (*networks.Network, *subnets.Subnet) {
	t.Helper()
	n, err := networks.Create(ctx, nc, networks.CreateOpts{Name: name}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	sn, err := subnets.Create(ctx, nc, subnets.CreateOpts{NetworkID: n.ID, CIDR: cidr, IPVersion: gophercloud.IPv4}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	return n, sn
}

func listInterfaces(t *testing.T, sc *gophercloud.ServiceClient, id string) []attachinterfaces.Interface {
	t.Helper()
	pages, err := attachinterfaces.List(sc, id).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	list, err := attachinterfaces.ExtractInterfaces(pages)
	if err != nil {
		t.Fatal(err)
	}
	return list
}

// serverAddrs returns the fixed addresses of a server by network name.
func serverAddrs(t *testing.T, sc *gophercloud.ServiceClient, id string) map[string][]string {
	t.Helper()
	sv, err := servers.Get(ctx, sc, id).Extract()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for net, v := range sv.Addresses {
		for _, a := range v.([]any) {
			out[net] = append(out[net], a.(map[string]any)["addr"].(string))
		}
	}
	return out
}

func wantCode(t *testing.T, what string, err error, code int) {
	t.Helper()
	if !gophercloud.ResponseCodeIs(err, code) {
		t.Fatalf("%s: %v, want %d", what, err, code)
	}
}

// TestInterfaces drives os-interface through gophercloud on the fake
// driver: list, attach by network (with a fixed IP) and by port, show,
// detach (the created port is deleted, the user's port only unbound), the
// errors nova answers, policy, instance actions, and rollback.
func TestInterfaces(t *testing.T) {
	t.Parallel()
	s, pc, sc, nc := startMember(t, "if")
	net1, sub1 := netWithSubnet(t, nc, "if-net1", "10.61.1.0/24")
	net2, sub2 := netWithSubnet(t, nc, "if-net2", "10.61.2.0/24")

	sv, err := servers.Create(ctx, sc, servers.CreateOpts{Name: "if-1", ImageRef: testImage, FlavorRef: "1", Networks: []servers.Network{{UUID: net1.ID}}}, nil).Extract()
	if err != nil {
		t.Fatal(err)
	}
	id := sv.ID
	waitStatus(t, sc, id, "ACTIVE")
	drv := s.App.Agent.Driver().(*fakedriver.Driver)

	list := listInterfaces(t, sc, id)
	if len(list) != 1 || list[0].NetID != net1.ID || list[0].PortState != "ACTIVE" || len(list[0].FixedIPs) != 1 ||
		list[0].FixedIPs[0].SubnetID != sub1.ID || !strings.HasPrefix(list[0].FixedIPs[0].IPAddress, "10.61.1.") || list[0].MACAddr == "" {
		t.Fatalf("boot interface %+v", list)
	}
	bootPort := list[0].PortID

	// Attach on a network with a fixed IP: nova creates the port.
	in, err := attachinterfaces.Create(ctx, sc, id, attachinterfaces.CreateOpts{NetworkID: net2.ID, FixedIPs: []attachinterfaces.FixedIP{{IPAddress: "10.61.2.50"}}}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if in.NetID != net2.ID || in.PortState != "ACTIVE" || len(in.FixedIPs) != 1 || in.FixedIPs[0].IPAddress != "10.61.2.50" || in.FixedIPs[0].SubnetID != sub2.ID {
		t.Fatalf("attached %+v", in)
	}
	created := in.PortID
	got, err := attachinterfaces.Get(ctx, sc, id, created).Extract()
	if err != nil || got.MACAddr != in.MACAddr || got.PortID != created {
		t.Fatalf("get %+v %v", got, err)
	}
	np, err := ports.Get(ctx, nc, created).Extract()
	if err != nil || np.DeviceID != id || np.DeviceOwner != "compute:nova" || np.Status != "ACTIVE" {
		t.Fatalf("created port %+v %v", np, err)
	}
	if addrs := serverAddrs(t, sc, id); len(addrs["if-net2"]) != 1 || addrs["if-net2"][0] != "10.61.2.50" || len(addrs["if-net1"]) != 1 {
		t.Fatalf("addresses after attach %v", addrs)
	}
	ips, err := servers.ListAddressesByNetwork(sc, id, "if-net2").AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if a, _ := servers.ExtractNetworkAddresses(ips); len(a) != 1 || a[0].Address != "10.61.2.50" {
		t.Fatalf("ips/if-net2 %+v", a)
	}
	if nics := drv.NICs(id); len(nics) != 2 || nics[1] != created {
		t.Fatalf("driver NICs %v", nics)
	}

	// Attach the user's own port.
	up, err := ports.Create(ctx, nc, ports.CreateOpts{NetworkID: net2.ID, Name: "mine"}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	in2, err := attachinterfaces.Create(ctx, sc, id, attachinterfaces.CreateOpts{PortID: up.ID}).Extract()
	if err != nil || in2.PortID != up.ID || in2.MACAddr != up.MACAddress {
		t.Fatalf("attach port %+v %v", in2, err)
	}
	if list := listInterfaces(t, sc, id); len(list) != 3 {
		t.Fatalf("%d interfaces, want 3", len(list))
	}

	// Errors.
	other, err := servers.Create(ctx, sc, servers.CreateOpts{Name: "if-2", ImageRef: testImage, FlavorRef: "1", Networks: []servers.Network{{UUID: net1.ID}}}, nil).Extract()
	if err != nil {
		t.Fatal(err)
	}
	waitStatus(t, sc, other.ID, "ACTIVE")
	_, err = attachinterfaces.Create(ctx, sc, other.ID, attachinterfaces.CreateOpts{PortID: up.ID}).Extract()
	wantCode(t, "port in use", err, http.StatusConflict)
	tok := pc.Token()
	base := "/compute/v2.1/servers/" + other.ID + "/os-interface"
	resp, raw := s.HTTP(t, "POST", base, tok, `{"interfaceAttachment": {"port_id": "`+up.ID+`"}}`)
	if resp.StatusCode != 409 || !strings.Contains(string(raw), `"conflictingRequest"`) {
		t.Fatalf("in use: %d %s", resp.StatusCode, raw)
	}
	for body, code := range map[string]int{
		`{"interfaceAttachment": {"port_id": "` + up.ID + `", "net_id": "` + net2.ID + `"}}`:                  400,
		`{"interfaceAttachment": {"fixed_ips": [{"ip_address": "10.61.2.9"}]}}`:                               400,
		`{"interfaceAttachment": {"net_id": "not-a-uuid"}}`:                                                   400,
		`{"interfaceAttachment": {"net_id": "` + net2.ID + `", "fixed_ips": [{"ip_address": "x"}]}}`:          400,
		`{"interfaceAttachment": {"net_id": "` + net2.ID + `", "bogus": 1}}`:                                  400,
		`{"interfaceAttachment": {"net_id": "8c1a1f62-0d47-4f5b-9d1b-3a8f5d7c0e11"}}`:                         404,
		`{"interfaceAttachment": {"port_id": "8c1a1f62-0d47-4f5b-9d1b-3a8f5d7c0e11"}}`:                        404,
		`{"interfaceAttachment": {"net_id": "` + net2.ID + `", "fixed_ips": [{"ip_address": "10.61.2.50"}]}}`: 409,
		`{}`: 400, // two networks: ambiguous
	} {
		resp, raw := s.HTTP(t, "POST", base, tok, body)
		if resp.StatusCode != code {
			t.Errorf("%s: %d %s, want %d", body, resp.StatusCode, raw, code)
		}
	}
	_, err = attachinterfaces.Create(ctx, sc, "8c1a1f62-0d47-4f5b-9d1b-3a8f5d7c0e11", attachinterfaces.CreateOpts{NetworkID: net2.ID}).Extract()
	wantCode(t, "unknown server", err, 404)
	_, err = attachinterfaces.Get(ctx, sc, other.ID, created).Extract()
	wantCode(t, "port of another server", err, 404)
	wantCode(t, "detach a port not attached", attachinterfaces.Delete(ctx, sc, other.ID, created).ExtractErr(), 404)

	// Another project: the server is not found, nor is its port.
	q := s.CreateProjectUser(t, "if-q", "if-bob", "member")
	qpc := s.LoginProject(t, q)
	qsc := computeClient(t, s, qpc, "2.38")
	_, err = attachinterfaces.Get(ctx, qsc, id, created).Extract()
	wantCode(t, "other project's server", err, 404)
	qnc := s.ServiceClient(t, qpc, "network", "v2.0")
	qnet, _ := netWithSubnet(t, qnc, "if-qnet", "10.61.3.0/24")
	qport, err := ports.Create(ctx, qnc, ports.CreateOpts{NetworkID: qnet.ID}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	_, err = attachinterfaces.Create(ctx, sc, id, attachinterfaces.CreateOpts{PortID: qport.ID}).Extract()
	wantCode(t, "other project's port", err, 404)
	_, err = attachinterfaces.Create(ctx, sc, id, attachinterfaces.CreateOpts{NetworkID: qnet.ID}).Extract()
	wantCode(t, "other project's network", err, 404)

	// A reader lists but does not attach.
	r := s.CreateProjectUser(t, "if-p", "if-reader", "reader")
	rsc := computeClient(t, s, s.LoginProject(t, r), "2.38")
	if list := listInterfaces(t, rsc, id); len(list) != 3 {
		t.Fatalf("reader sees %d", len(list))
	}
	_, err = attachinterfaces.Create(ctx, rsc, id, attachinterfaces.CreateOpts{NetworkID: net2.ID}).Extract()
	wantCode(t, "reader attach", err, 403)
	wantCode(t, "reader detach", attachinterfaces.Delete(ctx, rsc, id, created).ExtractErr(), 403)

	// Locked: 409 for its owner, an admin may.
	if err := servers.Lock(ctx, sc, other.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	_, err = attachinterfaces.Create(ctx, sc, other.ID, attachinterfaces.CreateOpts{NetworkID: net2.ID}).Extract()
	wantCode(t, "locked", err, 409)
	asc := computeClient(t, s, s.Admin(t), "2.38")
	ain, err := attachinterfaces.Create(ctx, asc, other.ID, attachinterfaces.CreateOpts{NetworkID: net2.ID}).Extract()
	if err != nil {
		t.Fatalf("admin attach to a locked server: %v", err)
	}
	if err := attachinterfaces.Delete(ctx, asc, other.ID, ain.PortID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	if err := servers.Unlock(ctx, sc, other.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}

	// States: an ERROR server refuses; a stopped one takes the port.
	bad, err := servers.Create(ctx, sc, servers.CreateOpts{Name: "if-bad", ImageRef: testImage, FlavorRef: "1", Networks: []servers.Network{{UUID: net1.ID}},
		Metadata: map[string]string{"fake:fail": "spawn"}}, nil).Extract()
	if err != nil {
		t.Fatal(err)
	}
	waitStatus(t, sc, bad.ID, "ERROR")
	_, err = attachinterfaces.Create(ctx, sc, bad.ID, attachinterfaces.CreateOpts{NetworkID: net2.ID}).Extract()
	wantCode(t, "ERROR server", err, 409)
	building, err := servers.Create(ctx, sc, servers.CreateOpts{Name: "if-build", ImageRef: testImage, FlavorRef: "1", Networks: []servers.Network{{UUID: net1.ID}},
		Metadata: map[string]string{"fake:hang": "spawn"}}, nil).Extract()
	if err != nil {
		t.Fatal(err)
	}
	_, err = attachinterfaces.Create(ctx, sc, building.ID, attachinterfaces.CreateOpts{NetworkID: net2.ID}).Extract()
	wantCode(t, "BUILD server", err, 409)
	_ = servers.Delete(ctx, sc, building.ID).ExtractErr()
	if err := servers.Stop(ctx, sc, other.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, sc, other.ID, "SHUTOFF")
	sin, err := attachinterfaces.Create(ctx, sc, other.ID, attachinterfaces.CreateOpts{NetworkID: net2.ID}).Extract()
	if err != nil {
		t.Fatalf("attach to a stopped server: %v", err)
	}
	if err := servers.Start(ctx, sc, other.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, sc, other.ID, "ACTIVE")
	if nics := drv.NICs(other.ID); len(nics) != 2 || nics[1] != sin.PortID {
		t.Fatalf("stopped server's NICs %v", nics)
	}

	// Paused: a port goes in, none comes out (the guest cannot let go).
	if err := servers.Pause(ctx, sc, other.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, sc, other.ID, "PAUSED")
	pin, err := attachinterfaces.Create(ctx, sc, other.ID, attachinterfaces.CreateOpts{NetworkID: net2.ID}).Extract()
	if err != nil {
		t.Fatalf("attach to a paused server: %v", err)
	}
	wantCode(t, "detach from a paused server", attachinterfaces.Delete(ctx, sc, other.ID, pin.PortID).ExtractErr(), 409)
	if err := servers.Unpause(ctx, sc, other.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, sc, other.ID, "ACTIVE")
	if err := attachinterfaces.Delete(ctx, sc, other.ID, pin.PortID).ExtractErr(); err != nil {
		t.Fatal(err)
	}

	// Detach: nova's own port is deleted, the user's port unbound.
	if err := attachinterfaces.Delete(ctx, sc, id, created).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	_, err = ports.Get(ctx, nc, created).Extract()
	wantCode(t, "created port after detach", err, 404)
	if err := attachinterfaces.Delete(ctx, sc, id, up.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	if np, err := ports.Get(ctx, nc, up.ID).Extract(); err != nil || np.DeviceID != "" || np.DeviceOwner != "" {
		t.Fatalf("user port after detach %+v %v", np, err)
	}
	if list := listInterfaces(t, sc, id); len(list) != 1 || list[0].PortID != bootPort {
		t.Fatalf("after detach %+v", list)
	}
	if addrs := serverAddrs(t, sc, id); len(addrs) != 1 || len(addrs["if-net1"]) != 1 {
		t.Fatalf("addresses after detach %v", addrs)
	}
	if nics := drv.NICs(id); len(nics) != 1 {
		t.Fatalf("driver NICs after detach %v", nics)
	}

	// Instance actions with their events.
	pages, err := instanceactions.List(sc, id, nil).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	acts, _ := instanceactions.ExtractInstanceActions(pages)
	count := map[string]int{}
	var attachReq string
	for _, a := range acts {
		count[a.Action]++
		if a.Action == "attach_interface" {
			attachReq = a.RequestID
		}
	}
	if count["attach_interface"] != 2 || count["detach_interface"] != 2 {
		t.Fatalf("actions %v", count)
	}
	act, err := instanceactions.Get(ctx, sc, id, attachReq).Extract()
	if err != nil || act.Events == nil || len(*act.Events) != 1 || (*act.Events)[0].Event != "compute_attach_interface" || (*act.Events)[0].Result != "Success" {
		t.Fatalf("attach action %+v %v", act, err)
	}

	// Golden shape of a show.
	resp, raw = s.HTTP(t, "GET", "/compute/v2.1/servers/"+id+"/os-interface/"+bootPort, tok, "")
	var v any
	if resp.StatusCode != 200 || json.Unmarshal(raw, &v) != nil {
		t.Fatalf("show: %d %s", resp.StatusCode, raw)
	}
	sameShape(t, "interface", golden(t, "interface-attachment.json"), v, true, nil)
}

// TestInterfaceAttachRollback: when the node fails to plug the port, the
// port nova created is deleted, a user's port is unbound, and the server
// keeps its ports and takes the next action.
func TestInterfaceAttachRollback(t *testing.T) {
	t.Parallel()
	sc, nc, sv, net2 := failingServer(t, "rb", 62, "attach_interface")
	portsOn := func(netID string) []ports.Port {
		pages, err := ports.List(nc, ports.ListOpts{NetworkID: netID, DeviceOwner: "compute:nova"}).AllPages(ctx)
		if err != nil {
			t.Fatal(err)
		}
		l, _ := ports.ExtractPorts(pages)
		return l
	}
	_, err := attachinterfaces.Create(ctx, sc, sv.ID, attachinterfaces.CreateOpts{NetworkID: net2.ID}).Extract()
	wantCode(t, "failing attach", err, 500)
	if l := portsOn(net2.ID); len(l) != 0 {
		t.Fatalf("ports left on the network: %+v", l)
	}
	up, err := ports.Create(ctx, nc, ports.CreateOpts{NetworkID: net2.ID}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	_, err = attachinterfaces.Create(ctx, sc, sv.ID, attachinterfaces.CreateOpts{PortID: up.ID}).Extract()
	wantCode(t, "failing attach of a port", err, 500)
	if np, err := ports.Get(ctx, nc, up.ID).Extract(); err != nil || np.DeviceID != "" {
		t.Fatalf("user port still bound: %+v %v", np, err)
	}
	got := waitStatus(t, sc, sv.ID, "ACTIVE")
	if len(got.Addresses) != 1 {
		t.Fatalf("addresses %v", got.Addresses)
	}
	if list := listInterfaces(t, sc, sv.ID); len(list) != 1 {
		t.Fatalf("interfaces %+v", list)
	}
	// The server takes other actions (no task state left behind).
	if err := servers.Stop(ctx, sc, sv.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, sc, sv.ID, "SHUTOFF")
	wantFailedActions(t, sc, sv.ID, "attach_interface")
}

// failingServer starts a cloud and, as its admin, an ACTIVE server on the
// first of two networks (10.<octet>.1.0/24 and .2.0/24) whose node fails
// op; it returns the clients, the server and the second network.
func failingServer(t *testing.T, name string, octet int, op string) (sc, nc *gophercloud.ServiceClient, sv *servers.Server, net2 *networks.Network) {
	t.Helper()
	s := start(t)
	pc := s.Admin(t)
	sc = computeClient(t, s, pc, "2.38")
	nc = s.ServiceClient(t, pc, "network", "v2.0")
	net1, _ := netWithSubnet(t, nc, name+"-net1", fmt.Sprintf("10.%d.1.0/24", octet))
	net2, _ = netWithSubnet(t, nc, name+"-net2", fmt.Sprintf("10.%d.2.0/24", octet))
	sv, err := servers.Create(ctx, sc, servers.CreateOpts{Name: name, ImageRef: testImage, FlavorRef: "1", Networks: []servers.Network{{UUID: net1.ID}},
		Metadata: map[string]string{"fake:fail": op}}, nil).Extract()
	if err != nil {
		t.Fatal(err)
	}
	waitStatus(t, sc, sv.ID, "ACTIVE")
	return sc, nc, sv, net2
}

// wantFailedActions checks the server has an action named action and
// that each such action has one event, which failed.
func wantFailedActions(t *testing.T, sc *gophercloud.ServiceClient, id, action string) {
	t.Helper()
	pages, err := instanceactions.List(sc, id, nil).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	acts, _ := instanceactions.ExtractInstanceActions(pages)
	found := false
	for _, a := range acts {
		if a.Action != action {
			continue
		}
		found = true
		act, err := instanceactions.Get(ctx, sc, id, a.RequestID).Extract()
		if err != nil || act.Events == nil || len(*act.Events) != 1 || (*act.Events)[0].Result != "Error" {
			t.Fatalf("failed %s action %+v %v", action, act, err)
		}
	}
	if !found {
		t.Fatalf("no %s action", action)
	}
}
