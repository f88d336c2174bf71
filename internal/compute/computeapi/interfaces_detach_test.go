package computeapi_test

import (
	"testing"

	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/attachinterfaces"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/ports"
)

// TestInterfaceDetachFailure: when the node fails to unplug the port, the
// detach answers 500, the port stays attached and bound, and the server
// takes the next action (no task state left behind).
func TestInterfaceDetachFailure(t *testing.T) {
	t.Parallel()
	sc, nc, sv, net2 := failingServer(t, "df", 63, "detach_interface")
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
	wantFailedActions(t, sc, sv.ID, "detach_interface")
}
