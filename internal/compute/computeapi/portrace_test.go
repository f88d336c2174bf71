package computeapi_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/attachinterfaces"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/limits"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/ports"

	"github.com/gureum/gureum/internal/agent/fakedriver"
	"github.com/gureum/gureum/internal/testenv"
)

// settle polls a server until it is ACTIVE or ERROR.
func settle(t *testing.T, sc *gophercloud.ServiceClient, id string) *servers.Server {
	t.Helper()
	var last *servers.Server
	testenv.Eventually(t, 20*time.Second, "server "+id+" to become ACTIVE or ERROR", func() bool {
		sv, err := servers.Get(context.Background(), sc, id).Extract()
		if err != nil {
			t.Fatalf("get server: %v", err)
		}
		last = sv
		return sv.Status == "ACTIVE" || sv.Status == "ERROR"
	})
	return last
}

// TestPortBindRace creates two servers at the same moment on one user
// port, in a few rounds: exactly one becomes ACTIVE with the port; the
// other is refused with 409 at create (when the winner had bound it
// already) or, having passed that check, goes ERROR when its bind loses,
// releasing its quota and leaving the port to the winner. Then two
// servers attach one port at once through os-interface: one gets it, the
// other a 409 conflictingRequest and no interface.
func TestPortBindRace(t *testing.T) {
	t.Parallel()
	s, _, sc, nc := startMember(t, "race")
	net, _ := netWithSubnet(t, nc, "race-net", "10.62.1.0/24")
	drv := s.App.Agent.Driver().(*fakedriver.Driver)

	var winners []string
	for round := 0; round < 3; round++ {
		port, err := ports.Create(ctx, nc, ports.CreateOpts{NetworkID: net.ID, Name: fmt.Sprintf("race-%d", round)}).Extract()
		if err != nil {
			t.Fatal(err)
		}
		type result struct {
			id  string
			err error
		}
		results := make([]result, 2)
		var wg sync.WaitGroup
		startLine := make(chan struct{})
		for i := range results {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-startLine
				sv, err := servers.Create(ctx, sc, servers.CreateOpts{Name: fmt.Sprintf("race-%d-%d", round, i), ImageRef: testImage, FlavorRef: "1",
					Networks: []servers.Network{{Port: port.ID}}}, nil).Extract()
				if err == nil {
					results[i].id = sv.ID
				}
				results[i].err = err
			}()
		}
		close(startLine)
		wg.Wait()

		var active, losers []string
		refused := 0
		for _, r := range results {
			if r.err != nil {
				if !gophercloud.ResponseCodeIs(r.err, http.StatusConflict) || !strings.Contains(r.err.Error(), "is still in use") {
					t.Fatalf("round %d: create: %v, want 409 port in use", round, r.err)
				}
				refused++
				continue
			}
			sv := settle(t, sc, r.id)
			if sv.Status == "ACTIVE" {
				active = append(active, r.id)
				continue
			}
			if sv.Fault.Code != 500 || !strings.Contains(sv.Fault.Message, "Port "+port.ID+" is still in use") {
				t.Fatalf("round %d: loser %s fault %+v", round, r.id, sv.Fault)
			}
			losers = append(losers, r.id)
		}
		if len(active) != 1 || refused+len(losers) != 1 {
			t.Fatalf("round %d: %d ACTIVE, %d refused, %d ERROR; want exactly one ACTIVE", round, len(active), refused, len(losers))
		}
		winner := active[0]
		winners = append(winners, winner)
		t.Logf("round %d: winner %s, loser refused at create: %v", round, winner, refused == 1)

		np, err := ports.Get(ctx, nc, port.ID).Extract()
		if err != nil || np.DeviceID != winner || np.DeviceOwner != "compute:nova" || np.Status != "ACTIVE" {
			t.Fatalf("round %d: port %+v %v, want bound to %s", round, np, err, winner)
		}
		if list := listInterfaces(t, sc, winner); len(list) != 1 || list[0].PortID != port.ID {
			t.Fatalf("round %d: winner's interfaces %+v", round, list)
		}
		if nics := drv.NICs(winner); len(nics) != 1 || nics[0] != port.ID {
			t.Fatalf("round %d: winner's driver NICs %v", round, nics)
		}
		for _, id := range losers {
			if list := listInterfaces(t, sc, id); len(list) != 0 {
				t.Fatalf("round %d: loser %s kept interfaces %+v", round, id, list)
			}
			// Deleting the loser leaves the winner's port alone.
			if err := servers.Delete(ctx, sc, id).ExtractErr(); err != nil {
				t.Fatal(err)
			}
			waitGone(t, sc, id)
		}
		if np, err := ports.Get(ctx, nc, port.ID).Extract(); err != nil || np.DeviceID != winner {
			t.Fatalf("round %d: port after the loser's delete %+v %v", round, np, err)
		}
		// Only the winners hold quota: the losers' was released.
		l, err := limits.Get(ctx, sc, nil).Extract()
		if err != nil {
			t.Fatal(err)
		}
		if l.Absolute.TotalInstancesUsed != len(winners) || l.Absolute.TotalCoresUsed != len(winners) {
			t.Fatalf("round %d: usage %+v, want %d instances", round, l.Absolute, len(winners))
		}
	}

	// os-interface: two servers attach one port at once.
	port, err := ports.Create(ctx, nc, ports.CreateOpts{NetworkID: net.ID, Name: "race-attach"}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	pair := winners[:2]
	errsOf := make([]error, len(pair))
	var wg sync.WaitGroup
	startLine := make(chan struct{})
	for i, id := range pair {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-startLine
			_, errsOf[i] = attachinterfaces.Create(ctx, sc, id, attachinterfaces.CreateOpts{PortID: port.ID}).Extract()
		}()
	}
	close(startLine)
	wg.Wait()
	owner, loser := "", ""
	for i, err := range errsOf {
		switch {
		case err == nil && owner == "":
			owner = pair[i]
		case gophercloud.ResponseCodeIs(err, http.StatusConflict) && strings.Contains(err.Error(), "Port "+port.ID+" is still in use"):
			loser = pair[i]
		default:
			t.Fatalf("attach to %s: %v", pair[i], err)
		}
	}
	if owner == "" || loser == "" {
		t.Fatalf("attach race: owner %q loser %q (%v)", owner, loser, errsOf)
	}
	np, err := ports.Get(ctx, nc, port.ID).Extract()
	if err != nil || np.DeviceID != owner {
		t.Fatalf("attached port %+v %v, want bound to %s", np, err, owner)
	}
	if list := listInterfaces(t, sc, owner); len(list) != 2 {
		t.Fatalf("owner's interfaces %+v", list)
	}
	// The loser is back to ACTIVE with its one interface, and takes
	// another attach.
	if sv := waitStatus(t, sc, loser, "ACTIVE"); sv.TaskState != "" {
		t.Fatalf("loser task state %q", sv.TaskState)
	}
	if list := listInterfaces(t, sc, loser); len(list) != 1 {
		t.Fatalf("loser's interfaces %+v", list)
	}
	if nics := drv.NICs(loser); len(nics) != 1 {
		t.Fatalf("loser's driver NICs %v", nics)
	}
	if _, err := attachinterfaces.Create(ctx, sc, loser, attachinterfaces.CreateOpts{NetworkID: net.ID}).Extract(); err != nil {
		t.Fatalf("attach to the loser afterwards: %v", err)
	}
}

// TestReleaseLeavesRebound: a user's port moved to another device through
// the Neutron API after a server took it stays with that device when the
// server is deleted; the server only releases what it still holds.
func TestReleaseLeavesRebound(t *testing.T) {
	t.Parallel()
	_, _, sc, nc := startMember(t, "rel")
	net, _ := netWithSubnet(t, nc, "rel-net", "10.62.2.0/24")
	mk := func(name string) *ports.Port {
		port, err := ports.Create(ctx, nc, ports.CreateOpts{NetworkID: net.ID, Name: name}).Extract()
		if err != nil {
			t.Fatal(err)
		}
		return port
	}
	moved, kept := mk("moved"), mk("kept")
	sv, err := servers.Create(ctx, sc, servers.CreateOpts{Name: "rel", ImageRef: testImage, FlavorRef: "1",
		Networks: []servers.Network{{Port: moved.ID}, {Port: kept.ID}}}, nil).Extract()
	if err != nil {
		t.Fatal(err)
	}
	waitStatus(t, sc, sv.ID, "ACTIVE")
	other := "0d5c2b9e-9f7a-4c1e-8d3b-2a6f4e8c1b7d"
	if _, err := ports.Update(ctx, nc, moved.ID, ports.UpdateOpts{DeviceID: &other}).Extract(); err != nil {
		t.Fatal(err)
	}
	if err := servers.Delete(ctx, sc, sv.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 20*time.Second, "server deleted", func() bool {
		_, err := servers.Get(ctx, sc, sv.ID).Extract()
		return gophercloud.ResponseCodeIs(err, http.StatusNotFound)
	})
	got, err := ports.Get(ctx, nc, moved.ID).Extract()
	if err != nil || got.DeviceID != other {
		t.Fatalf("moved port after delete: device %q, %v (want %s)", got.DeviceID, err, other)
	}
	got, err = ports.Get(ctx, nc, kept.ID).Extract()
	if err != nil || got.DeviceID != "" || got.DeviceOwner != "" {
		t.Fatalf("the server's own port not released: device %q owner %q, %v", got.DeviceID, got.DeviceOwner, err)
	}
}

// TestSamePortTwice: one port named twice in one create is refused with
// nova's 409 and nothing is created.
func TestSamePortTwice(t *testing.T) {
	t.Parallel()
	_, _, sc, nc := startMember(t, "twice")
	net, _ := netWithSubnet(t, nc, "twice-net", "10.62.3.0/24")
	port, err := ports.Create(ctx, nc, ports.CreateOpts{NetworkID: net.ID, Name: "twice"}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	_, err = servers.Create(ctx, sc, servers.CreateOpts{Name: "twice", ImageRef: testImage, FlavorRef: "1",
		Networks: []servers.Network{{Port: port.ID}, {Port: port.ID}}}, nil).Extract()
	wantCode(t, "same port twice", err, http.StatusConflict)
	all, err := servers.List(sc, nil).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if list, _ := servers.ExtractServers(all); len(list) != 0 {
		t.Fatalf("%d servers created", len(list))
	}
	if got, err := ports.Get(ctx, nc, port.ID).Extract(); err != nil || got.DeviceID != "" {
		t.Fatalf("port after the refused create: device %q, %v", got.DeviceID, err)
	}
}
