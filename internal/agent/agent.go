// Package agent is the node agent: it registers the node's inventory with
// the controller, heartbeats with the observed state of its servers, and
// applies tasks through a hypervisor driver. It never sees the database;
// everything arrives over the bus, so the in-process agent of the
// all-in-one server and a remote `gureum agent` are the same code.
package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gureum/gureum/internal/agentapi"
	"github.com/gureum/gureum/internal/bus"
	"github.com/gureum/gureum/internal/platform/keylock"
)

// Driver runs guests. Every method is idempotent: Spawn of a running
// server succeeds without touching it, Destroy of an absent one succeeds.
type Driver interface {
	// Info describes the hypervisor and the node's inventory.
	Info(ctx context.Context) (DriverInfo, error)
	Spawn(ctx context.Context, spec *agentapi.ServerSpec) error
	Destroy(ctx context.Context, serverID string) error
	// Power applies a power operation (agentapi.OpStart, OpStop, ...).
	Power(ctx context.Context, serverID, op string, hard bool) error
	// Rebuild replaces the root disk with spec's image; Resize respawns
	// with spec's flavor keeping the disk.
	Rebuild(ctx context.Context, spec *agentapi.ServerSpec) error
	Resize(ctx context.Context, spec *agentapi.ServerSpec) error
	Console(ctx context.Context, serverID string, lines int) (string, error)
	// Snapshot writes the server's root disk as a standalone qcow2 to path.
	Snapshot(ctx context.Context, serverID, path string) error
	// List returns the guests the node runs, re-attaching to those left
	// by a previous agent process.
	List(ctx context.Context) ([]agentapi.Observed, error)
	// Observe returns one guest's state (ErrNotFound when absent). A task
	// reports only its own server's state: asking every guest's monitor
	// after each task made concurrent spawns wait on each other.
	Observe(ctx context.Context, serverID string) (agentapi.Observed, error)
}

// DriverInfo describes the node.
type DriverInfo struct {
	HypervisorType    string
	HypervisorVersion int
	CPUInfo           agentapi.CPUInfo
	Inventory         agentapi.Inventory
}

// ErrNotFound is returned by drivers for unknown servers.
var ErrNotFound = errors.New("server not found on this node")

// Options configure an agent.
type Options struct {
	Node             string
	Hostname         string
	HostIP           string
	AvailabilityZone string
	// Inventory overrides what the driver detects, field by field.
	Inventory         agentapi.Inventory
	HeartbeatInterval time.Duration
	Log               *slog.Logger
}

// Agent is a running node agent.
type Agent struct {
	opts Options
	nc   *nats.Conn
	drv  Driver
	log  *slog.Logger

	mu sync.Mutex
	// servers serializes tasks of one server; results remembers recent
	// task results by ID so a retried task is answered, not re-applied.
	servers keylock.Map
	results map[string]agentapi.TaskResult
	order   []string
	sub     *nats.Subscription
	wg      sync.WaitGroup
	cancel  context.CancelFunc
}

// New returns an agent over a bus connection and a driver.
func New(nc *nats.Conn, drv Driver, o Options) *Agent {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.HeartbeatInterval <= 0 {
		o.HeartbeatInterval = 10 * time.Second
	}
	return &Agent{opts: o, nc: nc, drv: drv, log: o.Log.With("component", "agent", "node", o.Node),
		results: map[string]agentapi.TaskResult{}}
}

// Start subscribes to the node's tasks, registers (retrying until the
// controller answers or ctx ends) and heartbeats in the background.
func (a *Agent) Start(ctx context.Context) error {
	ctx, a.cancel = context.WithCancel(ctx)
	sub, err := a.nc.QueueSubscribe(agentapi.TaskSubject(a.opts.Node), agentapi.TaskQueue, func(m *nats.Msg) {
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			a.handle(ctx, m)
		}()
	})
	if err != nil {
		return fmt.Errorf("agent: subscribe: %w", err)
	}
	a.sub = sub
	// A restarted agent re-plugs the networks of the guests it finds
	// running; it never restarts them.
	if r, ok := a.drv.(interface{ Reattach(context.Context) error }); ok {
		if err := r.Reattach(ctx); err != nil {
			a.log.Warn("re-attach", "err", err)
		}
	}
	if err := a.register(ctx); err != nil {
		_ = sub.Unsubscribe()
		return err
	}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		a.heartbeatLoop(ctx)
	}()
	return nil
}

// Stop ends the agent (as a killed agent process would: guests keep
// running) and waits for its goroutines.
func (a *Agent) Stop() {
	if a.cancel != nil {
		a.cancel()
	}
	a.Wait()
	if c, ok := a.drv.(interface{ Close() }); ok {
		c.Close()
	}
}

// Wait blocks until the agent's goroutines end (after ctx is cancelled).
func (a *Agent) Wait() {
	if a.sub != nil {
		_ = a.sub.Unsubscribe()
	}
	a.wg.Wait()
}

func (a *Agent) registration(ctx context.Context) (agentapi.Registration, error) {
	info, err := a.drv.Info(ctx)
	if err != nil {
		return agentapi.Registration{}, fmt.Errorf("agent: driver info: %w", err)
	}
	inv := info.Inventory
	if o := a.opts.Inventory; o.VCPU > 0 {
		inv.VCPU = o.VCPU
	}
	if o := a.opts.Inventory; o.MemoryMB > 0 {
		inv.MemoryMB = o.MemoryMB
	}
	if o := a.opts.Inventory; o.DiskGB > 0 {
		inv.DiskGB = o.DiskGB
	}
	servers, err := a.drv.List(ctx)
	if err != nil {
		return agentapi.Registration{}, fmt.Errorf("agent: list guests: %w", err)
	}
	return agentapi.Registration{
		Node: a.opts.Node, Hostname: a.opts.Hostname, HostIP: a.opts.HostIP, AvailabilityZone: a.opts.AvailabilityZone,
		HypervisorType: info.HypervisorType, HypervisorVer: info.HypervisorVersion, CPUInfo: info.CPUInfo,
		Inventory: inv, AgentVersion: agentapi.Version, Servers: servers,
	}, nil
}

func (a *Agent) register(ctx context.Context) error {
	reg, err := a.registration(ctx)
	if err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		var reply agentapi.RegisterReply
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := bus.Request(rctx, a.nc, agentapi.SubjectRegister, reg, &reply)
		cancel()
		if err == nil && reply.OK {
			a.log.Info("registered", "vcpu", reg.Inventory.VCPU, "memory_mb", reg.Inventory.MemoryMB, "disk_gb", reg.Inventory.DiskGB, "guests", len(reg.Servers))
			return nil
		}
		if err == nil {
			err = errors.New(reply.Error)
		}
		if attempt%10 == 0 {
			a.log.Warn("registration failed, retrying", "err", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func (a *Agent) heartbeatLoop(ctx context.Context) {
	t := time.NewTicker(a.opts.HeartbeatInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			a.Heartbeat(ctx)
		}
	}
}

// Heartbeat publishes the node's observed state now.
func (a *Agent) Heartbeat(ctx context.Context) {
	servers, err := a.drv.List(ctx)
	if err != nil {
		a.log.Warn("list guests", "err", err)
		return
	}
	if err := bus.Publish(a.nc, agentapi.SubjectHeartbeat, agentapi.Heartbeat{Node: a.opts.Node, Time: time.Now().UTC(), Servers: servers}); err != nil {
		a.log.Warn("heartbeat", "err", err)
	}
}

const keepResults = 4096

func (a *Agent) handle(ctx context.Context, m *nats.Msg) {
	var t agentapi.Task
	if err := json.Unmarshal(m.Data, &t); err != nil || t.ServerID == "" || t.ID == "" {
		_ = bus.Reply(m, agentapi.TaskResult{Error: "malformed task"})
		return
	}
	unlock := a.servers.Lock(t.ServerID)
	defer unlock()
	a.mu.Lock()
	res, done := a.results[t.ID]
	a.mu.Unlock()
	if !done {
		tctx := ctx
		if !t.Deadline.IsZero() {
			var cancel context.CancelFunc
			tctx, cancel = context.WithDeadline(ctx, t.Deadline)
			defer cancel()
		}
		res = a.apply(tctx, &t)
		if t.Op != agentapi.OpConsole {
			a.mu.Lock()
			a.results[t.ID] = res
			a.order = append(a.order, t.ID)
			if len(a.order) > keepResults {
				delete(a.results, a.order[0])
				a.order = a.order[1:]
			}
			a.mu.Unlock()
		}
	}
	if err := bus.Reply(m, res); err != nil {
		a.log.Warn("reply", "task", t.ID, "err", err)
	}
}

func (a *Agent) apply(ctx context.Context, t *agentapi.Task) agentapi.TaskResult {
	log := a.log.With("server", t.ServerID, "op", t.Op, "task", t.ID)
	start := time.Now()
	var err error
	var res agentapi.TaskResult
	needSpec := func() error {
		if t.Spec == nil {
			return errors.New("task has no server spec")
		}
		return nil
	}
	switch t.Op {
	case agentapi.OpSpawn:
		if err = needSpec(); err == nil {
			err = a.drv.Spawn(ctx, t.Spec)
		}
	case agentapi.OpDestroy:
		err = a.drv.Destroy(ctx, t.ServerID)
	case agentapi.OpRebuild:
		if err = needSpec(); err == nil {
			err = a.drv.Rebuild(ctx, t.Spec)
		}
	case agentapi.OpResize:
		if err = needSpec(); err == nil {
			err = a.drv.Resize(ctx, t.Spec)
		}
	case agentapi.OpConsole:
		res.Console, err = a.drv.Console(ctx, t.ServerID, t.Length)
	case agentapi.OpSnapshot:
		err = a.drv.Snapshot(ctx, t.ServerID, t.SnapshotPath)
	case agentapi.OpAttachInterface, agentapi.OpDetachInterface:
		err = a.interfaces(ctx, t)
	case agentapi.OpRescue, agentapi.OpUnrescue:
		err = a.rescue(ctx, t)
	case agentapi.OpStart, agentapi.OpStop, agentapi.OpReboot, agentapi.OpPause, agentapi.OpUnpause,
		agentapi.OpSuspend, agentapi.OpResume, agentapi.OpCrashDump:
		err = a.drv.Power(ctx, t.ServerID, t.Op, t.Hard)
	default:
		err = fmt.Errorf("unknown operation %q", t.Op)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("task %s timed out after %s", t.Op, time.Since(start).Round(time.Millisecond))
	}
	if err != nil {
		log.Warn("task failed", "err", err, "duration_ms", time.Since(start).Milliseconds())
		res.Error = err.Error()
	} else {
		res.OK = true
		log.Debug("task done", "duration_ms", time.Since(start).Milliseconds())
	}
	if t.Op != agentapi.OpDestroy && t.Op != agentapi.OpConsole {
		res.PowerState = a.powerOf(ctx, t.ServerID)
	}
	return res
}

func (a *Agent) powerOf(ctx context.Context, id string) int {
	o, err := a.drv.Observe(ctx, id)
	if err != nil {
		return agentapi.PowerNoState
	}
	return o.PowerState
}
