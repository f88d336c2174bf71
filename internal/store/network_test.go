package store_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"

	"github.com/gureum/gureum/internal/network"
	"github.com/gureum/gureum/internal/platform/errs"
	"github.com/gureum/gureum/internal/store"
	"github.com/gureum/gureum/internal/store/storetest"
)

func netService(db *store.DB) *network.Service {
	return network.New(store.NewNetwork(db), network.Config{Quotas: map[string]int{"port": -1, "network": -1}, PhysicalNetworks: []string{"physnet1"}}, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// netWithSubnet creates, as c, a network named name with one subnet of
// cidr.
func netWithSubnet(t *testing.T, ctx context.Context, svc *network.Service, c network.Caller, name, cidr string) (*network.Network, *network.Subnet) {
	t.Helper()
	n, err := svc.CreateNetwork(ctx, c, network.NetworkSpec{Name: &name})
	if err != nil {
		t.Fatal(err)
	}
	sn, err := svc.CreateSubnet(ctx, c, network.SubnetSpec{NetworkID: &n.ID, CIDR: &cidr})
	if err != nil {
		t.Fatal(err)
	}
	return n, sn
}

// TestNetworkIPAMConcurrency races 300 port creates from 16 goroutines for
// a /24: each of the 253 usable addresses must go to exactly one port, the
// rest fail with IpAddressGenerationFailure and leave no port behind. The
// store's constraint, not the goroutine schedule, is what makes it hold.
func TestNetworkIPAMConcurrency(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		svc := netService(db)
		admin := network.Caller{ProjectID: "p1", Admin: true}
		n, sn := netWithSubnet(t, ctx, svc, admin, "race", "10.9.0.0/24")
		const total, workers = 300, 16
		var mu sync.Mutex
		got := map[string]string{}
		failures := 0
		var wg sync.WaitGroup
		jobs := make(chan int)
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range jobs {
					p, err := svc.CreatePort(ctx, admin, network.PortSpec{NetworkID: &n.ID})
					mu.Lock()
					if err != nil {
						var e *errs.Error
						if e = errs.From(err); e.Type != "IpAddressGenerationFailure" || e.StatusCode() != 409 {
							t.Errorf("unexpected error: %v (type %q, status %d)", err, e.Type, e.StatusCode())
						}
						failures++
					} else {
						if len(p.FixedIPs) != 1 {
							t.Errorf("port %s has %d addresses", p.ID, len(p.FixedIPs))
						} else if other, dup := got[p.FixedIPs[0].IPAddress]; dup {
							t.Errorf("address %s given to %s and %s", p.FixedIPs[0].IPAddress, other, p.ID)
						} else {
							got[p.FixedIPs[0].IPAddress] = p.ID
						}
					}
					mu.Unlock()
				}
			}()
		}
		for i := 0; i < total; i++ {
			jobs <- i
		}
		close(jobs)
		wg.Wait()
		if len(got) != 253 || failures != 47 {
			t.Fatalf("got %d addresses and %d failures, want 253 and 47", len(got), failures)
		}
		for i := 2; i <= 254; i++ {
			if _, ok := got[fmt.Sprintf("10.9.0.%d", i)]; !ok {
				t.Errorf("10.9.0.%d was not handed out", i)
			}
		}
		ports, err := svc.NetworkPorts(ctx, n.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(ports) != 253 {
			t.Fatalf("%d ports stored, want 253 (failed creates must leave nothing)", len(ports))
		}
		allocs, err := store.NewNetwork(db).Read().SubnetAllocations(ctx, sn.ID)
		if err != nil || len(allocs) != 253 {
			t.Fatalf("%d allocations (%v), want 253", len(allocs), err)
		}
		// A released address is handed out again.
		if err := svc.DeletePort(ctx, admin, got["10.9.0.77"], nil); err != nil {
			t.Fatal(err)
		}
		p, err := svc.CreatePort(ctx, admin, network.PortSpec{NetworkID: &n.ID})
		if err != nil || p.FixedIPs[0].IPAddress != "10.9.0.77" {
			t.Fatalf("reuse: %v %+v", err, p)
		}
	})
}

// TestNetworkSegmentsUnique checks that two networks never share a VNI and
// that a flat physical network is used once.
func TestNetworkSegmentsUnique(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		svc := netService(db)
		admin := network.Caller{ProjectID: "p1", Admin: true}
		var wg sync.WaitGroup
		var mu sync.Mutex
		vnis := map[int]bool{}
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := 0; j < 5; j++ {
					n, err := svc.CreateNetwork(ctx, admin, network.NetworkSpec{})
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					if vnis[*n.SegmentationID] {
						t.Errorf("VNI %d handed out twice", *n.SegmentationID)
					}
					vnis[*n.SegmentationID] = true
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		flat, phys := "flat", "physnet1"
		if _, err := svc.CreateNetwork(ctx, admin, network.NetworkSpec{NetworkType: &flat, PhysicalNetwork: &phys}); err != nil {
			t.Fatal(err)
		}
		_, err := svc.CreateNetwork(ctx, admin, network.NetworkSpec{NetworkType: &flat, PhysicalNetwork: &phys})
		if e := errs.From(err); e == nil || e.Type != "FlatNetworkInUse" {
			t.Fatalf("second flat network: %v", err)
		}
	})
}
