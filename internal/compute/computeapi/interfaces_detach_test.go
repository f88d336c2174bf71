package computeapi_test

import (
	"testing"

	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/attachinterfaces"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/instanceactions"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/ports"
)

// TestInterfaceDetachFailure: when the node fails to unplug the port, the
// detach answers 500, the port stays attached and bound, and the server
// takes the next action (no task state left behind).
func TestInterfaceDetachFailure(t *testing.T) {
	t.Parallel()
	s := start(t)
	pc := s.Admin(t)
	sc := computeClient(t, s, pc, "2.38")
	nc := s.ServiceClient(t, pc, "network", "v2.0")
	net1, _ := netWithSubnet(t, nc, "df-net1", "10.63.1.0/24")
	net2, _ := netWithSubnet(t, nc, "df-net2", "10.63.2.0/24")
	sv, err := servers.Create(ctx, sc, servers.CreateOpts{Name: "df", ImageRef: testImage, FlavorRef: "1", Networks: []servers.Network{{UUID: net1.ID}},
		Metadata: map[string]string{"fake:fail": "detach_interface"}}, nil).Extract()
	if err != nil {
		t.Fatal(err)
	}
	waitStatus(t, sc, sv.ID, "ACTIVE")
	in, err := attachinterfaces.Create(ctx, sc, sv.ID, attachinterfaces.CreateOpts{NetworkID: net2.ID}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	wantCode(t, "failing detach", attachinterfaces.Delete(ctx, sc, sv.ID, in.PortID).ExtractErr(), 500)
	if list := listInterfaces(t, sc, sv.ID); len(list) != 2 {
		t.Fatalf("interfaces after the failed detach %+v", list)
	}
	if p, err := ports.Get(ctx, nc, in.PortID).Extract(); err != nil || p.DeviceID != sv.ID {
		t.Fatalf("port after the failed detach: %+v %v", p, err)
	}
	if err := servers.Stop(ctx, sc, sv.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, sc, sv.ID, "SHUTOFF")
	pages, err := instanceactions.List(sc, sv.ID, nil).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	acts, _ := instanceactions.ExtractInstanceActions(pages)
	found := false
	for _, a := range acts {
		if a.Action != "detach_interface" {
			continue
		}
		found = true
		act, err := instanceactions.Get(ctx, sc, sv.ID, a.RequestID).Extract()
		if err != nil || act.Events == nil || len(*act.Events) != 1 || (*act.Events)[0].Result != "Error" {
			t.Fatalf("failed detach action %+v %v", act, err)
		}
	}
	if !found {
		t.Fatal("no detach_interface action")
	}
}
