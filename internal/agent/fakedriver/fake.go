// Package fakedriver is an in-memory hypervisor for controller and API
// tests (DESIGN.md allows fakes for drivers there); data-plane tests use
// the real QEMU driver. Its behaviour can be steered through server
// metadata so API tests can exercise failure paths:
//
//	"fake:fail": "spawn" | "stop" | ...   the operation fails
//	"fake:hang": "spawn" | ...            the operation blocks until ctx ends
package fakedriver

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/gureum/gureum/internal/agent"
	"github.com/gureum/gureum/internal/agentapi"
)

// Driver is the fake.
type Driver struct {
	Inventory agentapi.Inventory

	mu      sync.Mutex
	guests  map[string]*guest
	Spawned int // number of real spawns (idempotency checks)
}

type guest struct {
	spec    agentapi.ServerSpec
	power   int
	console []string
}

// New returns a fake with the given inventory.
func New(inv agentapi.Inventory) *Driver {
	return &Driver{Inventory: inv, guests: map[string]*guest{}}
}

var _ agent.Driver = (*Driver)(nil)

func (d *Driver) Info(context.Context) (agent.DriverInfo, error) {
	return agent.DriverInfo{HypervisorType: "fake", HypervisorVersion: 1000,
		CPUInfo:   agentapi.CPUInfo{Arch: "x86_64", Model: "fake", Vendor: "Gureum", Cores: d.Inventory.VCPU, Threads: 1, Sockets: 1, Features: []string{}},
		Inventory: d.Inventory}, nil
}

func (d *Driver) steer(ctx context.Context, meta map[string]string, op string) error {
	if meta["fake:fail"] == op {
		return fmt.Errorf("fake driver: %s failed as asked", op)
	}
	if meta["fake:hang"] == op {
		<-ctx.Done()
		return ctx.Err()
	}
	return nil
}

func (d *Driver) Spawn(ctx context.Context, s *agentapi.ServerSpec) error {
	if err := d.steer(ctx, s.Metadata, "spawn"); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.guests[s.ID]; ok {
		return nil
	}
	d.Spawned++
	g := &guest{spec: *s, power: agentapi.PowerRunning}
	g.console = append(g.console, "fake BIOS", "Booting "+s.Image.ID)
	for _, n := range s.NICs {
		g.console = append(g.console, fmt.Sprintf("eth0: %s mtu %d", strings.Join(n.FixedIPs, ","), n.MTU))
	}
	g.console = append(g.console, s.Hostname+" login:")
	d.guests[s.ID] = g
	return nil
}

func (d *Driver) get(id string) (*guest, error) {
	g, ok := d.guests[id]
	if !ok {
		return nil, agent.ErrNotFound
	}
	return g, nil
}

// steered looks a guest up and applies its "fake:fail" / "fake:hang" for
// op (outside the lock: a hanging op must not hold up other guests); the
// caller takes d.mu again to change the guest.
func (d *Driver) steered(ctx context.Context, id, op string) (*guest, error) {
	d.mu.Lock()
	g, err := d.get(id)
	d.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if err := d.steer(ctx, g.spec.Metadata, op); err != nil {
		return nil, err
	}
	return g, nil
}

func (d *Driver) Destroy(ctx context.Context, id string) error {
	d.mu.Lock()
	g := d.guests[id]
	d.mu.Unlock()
	if g != nil {
		if err := d.steer(ctx, g.spec.Metadata, "destroy"); err != nil {
			return err
		}
	}
	d.mu.Lock()
	delete(d.guests, id)
	d.mu.Unlock()
	return nil
}

func (d *Driver) Power(ctx context.Context, id, op string, hard bool) error {
	g, err := d.steered(ctx, id, op)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	switch op {
	case agentapi.OpStart, agentapi.OpUnpause, agentapi.OpResume:
		g.power = agentapi.PowerRunning
	case agentapi.OpStop:
		g.power = agentapi.PowerShutdown
	case agentapi.OpReboot:
		g.power = agentapi.PowerRunning
		g.console = append(g.console, fmt.Sprintf("reboot (hard=%v)", hard))
	case agentapi.OpPause:
		g.power = agentapi.PowerPaused
	case agentapi.OpSuspend:
		g.power = agentapi.PowerSuspended
	case agentapi.OpCrashDump:
		g.console = append(g.console, "NMI received")
	default:
		return fmt.Errorf("fake driver: unknown power op %q", op)
	}
	return nil
}

func (d *Driver) Rebuild(ctx context.Context, s *agentapi.ServerSpec) error {
	if err := d.steer(ctx, s.Metadata, "rebuild"); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	g, err := d.get(s.ID)
	if err != nil {
		return err
	}
	g.spec, g.power = *s, agentapi.PowerRunning
	g.console = append(g.console, "rebuilt from "+s.Image.ID)
	return nil
}

func (d *Driver) Resize(ctx context.Context, s *agentapi.ServerSpec) error {
	if err := d.steer(ctx, s.Metadata, "resize"); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	g, err := d.get(s.ID)
	if err != nil {
		return err
	}
	g.spec, g.power = *s, agentapi.PowerRunning
	g.console = append(g.console, fmt.Sprintf("resized to %d vcpus %d MB", s.VCPUs, s.MemoryMB))
	return nil
}

func (d *Driver) Console(_ context.Context, id string, lines int) (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	g, err := d.get(id)
	if err != nil {
		return "", err
	}
	c := g.console
	if lines > 0 && len(c) > lines {
		c = c[len(c)-lines:]
	}
	return strings.Join(c, "\n") + "\n", nil
}

func (d *Driver) Snapshot(_ context.Context, id, path string) error {
	return fmt.Errorf("fake driver: snapshots are not supported")
}

func (d *Driver) List(context.Context) ([]agentapi.Observed, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]agentapi.Observed, 0, len(d.guests))
	for id, g := range d.guests {
		out = append(out, agentapi.Observed{ServerID: id, PowerState: g.power})
	}
	return out, nil
}

func (d *Driver) Observe(_ context.Context, id string) (agentapi.Observed, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	g, ok := d.guests[id]
	if !ok {
		return agentapi.Observed{}, agent.ErrNotFound
	}
	return agentapi.Observed{ServerID: id, PowerState: g.power}, nil
}

// Power returns a guest's power state (tests).
func (d *Driver) PowerState(id string) (int, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	g, ok := d.guests[id]
	if !ok {
		return 0, false
	}
	return g.power, true
}
