package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/gureum/gureum/internal/network"
	"github.com/gureum/gureum/internal/platform/errs"
	"github.com/gureum/gureum/internal/store"
	"github.com/gureum/gureum/internal/store/storetest"
)

// TestNetworkBindPortRace binds one port to 32 different devices from 32
// goroutines at once: exactly one bind wins, the others get a Conflict
// (PortInUse) and the port ends bound, in its body and in its indexed
// device_id column, to the winner only. The store's conditional update,
// not the goroutine schedule, is what makes it hold. A retried bind by the
// owner succeeds; Neutron's own update still rewrites device_id
// unconditionally.
func TestNetworkBindPortRace(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		svc := netService(db)
		admin := network.Caller{ProjectID: "p1", Admin: true}
		n, _ := netWithSubnet(t, ctx, svc, admin, "bind", "10.8.0.0/24")
		p, err := svc.CreatePort(ctx, admin, network.PortSpec{NetworkID: &n.ID})
		if err != nil {
			t.Fatal(err)
		}

		const racers = 32
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			winners []string
			lost    int
		)
		startLine := make(chan struct{})
		for i := 0; i < racers; i++ {
			wg.Add(1)
			go func(dev string) {
				defer wg.Done()
				<-startLine
				got, err := svc.BindPort(ctx, p.ID, dev, "compute:nova", "host-"+dev)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					if e := errs.From(err); e.Kind != errs.KindConflict || e.Type != "PortInUse" || e.StatusCode() != 409 {
						t.Errorf("bind %s: %v (kind %v, type %q), want a PortInUse conflict", dev, err, e.Kind, e.Type)
					}
					lost++
					return
				}
				if got.DeviceID != dev || got.HostID != "host-"+dev {
					t.Errorf("bind %s returned device %q host %q", dev, got.DeviceID, got.HostID)
				}
				winners = append(winners, dev)
			}(fmt.Sprintf("server-%02d", i))
		}
		close(startLine)
		wg.Wait()
		if len(winners) != 1 || lost != racers-1 {
			t.Fatalf("%d binds won (%v), %d lost; want exactly one winner", len(winners), winners, lost)
		}
		winner := winners[0]

		check := func(what, device, host string) {
			t.Helper()
			got, err := svc.GetPort(ctx, admin, p.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.DeviceID != device || got.HostID != host {
				t.Fatalf("%s: port device %q host %q, want %q %q", what, got.DeviceID, got.HostID, device, host)
			}
			rows, err := store.NewNetwork(db).Read().List(ctx, network.KindPort, network.Query{Eq: map[string][]string{"id": {p.ID}}})
			if err != nil || len(rows) != 1 || rows[0].DeviceID != device {
				t.Fatalf("%s: stored device_id column %+v %v, want %q", what, rows, err, device)
			}
		}
		check("after the race", winner, "host-"+winner)

		// The owner's bind again (a resumed build) is no conflict.
		if _, err := svc.BindPort(ctx, p.ID, winner, "compute:nova", "host-"+winner); err != nil {
			t.Fatalf("rebind by the owner: %v", err)
		}
		// Unknown ports are not found.
		if _, err := svc.BindPort(ctx, "no-such-port", "server-x", "compute:nova", "h"); !errs.Is(err, errs.KindNotFound) {
			t.Fatalf("bind an unknown port: %v", err)
		}
		// Unbound, the port is free for the next device.
		if _, err := svc.BindPort(ctx, p.ID, "", "", ""); err != nil {
			t.Fatal(err)
		}
		check("unbound", "", "")
		if _, err := svc.BindPort(ctx, p.ID, "server-next", "compute:nova", "h2"); err != nil {
			t.Fatalf("bind after unbind: %v", err)
		}
		// Neutron's PUT keeps its semantics: an admin rewrites device_id.
		dev := "rewritten-by-neutron"
		if _, err := svc.UpdatePort(ctx, admin, p.ID, network.PortSpec{DeviceID: &dev}, nil); err != nil {
			t.Fatalf("neutron update of a bound port's device_id: %v", err)
		}
		check("after the neutron update", dev, "h2")
	})
}

// TestNetworkClaimPortDevice checks the store's conditional claim directly:
// on a free port, again by its device, refused for another device, and
// not found for an unknown port.
func TestNetworkClaimPortDevice(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		svc := netService(db)
		st := store.NewNetwork(db)
		admin := network.Caller{ProjectID: "p1", Admin: true}
		n, err := svc.CreateNetwork(ctx, admin, network.NetworkSpec{})
		if err != nil {
			t.Fatal(err)
		}
		p, err := svc.CreatePort(ctx, admin, network.PortSpec{NetworkID: &n.ID})
		if err != nil {
			t.Fatal(err)
		}
		claim := func(id, dev string) error {
			return st.Tx(ctx, func(o network.Ops) error { return o.ClaimPortDevice(ctx, id, dev) })
		}
		if err := claim(p.ID, "a"); err != nil {
			t.Fatalf("claim a free port: %v", err)
		}
		if err := claim(p.ID, "a"); err != nil {
			t.Fatalf("claim again by its device: %v", err)
		}
		err = claim(p.ID, "b")
		if e := errs.From(err); e == nil || e.Kind != errs.KindConflict || e.Type != "PortInUse" {
			t.Fatalf("claim by another device: %v", err)
		}
		if err := claim("no-such-port", "a"); !errs.Is(err, errs.KindNotFound) {
			t.Fatalf("claim an unknown port: %v", err)
		}
		row, err := st.Read().Get(ctx, network.KindPort, p.ID, false)
		if err != nil || row.DeviceID != "a" {
			t.Fatalf("device_id column %+v %v, want a", row, err)
		}
	})
}
