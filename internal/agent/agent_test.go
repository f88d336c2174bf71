package agent_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gureum/gureum/internal/agent"
	"github.com/gureum/gureum/internal/agent/fakedriver"
	"github.com/gureum/gureum/internal/agentapi"
	"github.com/gureum/gureum/internal/bus"
	"github.com/gureum/gureum/internal/platform/logging"
)

func startBus(t *testing.T, listen string) *bus.Bus {
	t.Helper()
	b, err := bus.Start(context.Background(), bus.Options{Listen: listen, Name: "test", Log: logging.Discard()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b
}

// controller answers registrations and collects heartbeats.
type controller struct {
	mu    sync.Mutex
	regs  []agentapi.Registration
	beats []agentapi.Heartbeat
}

func (c *controller) subscribe(t *testing.T, nc *nats.Conn) {
	t.Helper()
	_, err := nc.Subscribe(agentapi.SubjectRegister, func(m *nats.Msg) {
		var r agentapi.Registration
		_ = json.Unmarshal(m.Data, &r)
		c.mu.Lock()
		c.regs = append(c.regs, r)
		c.mu.Unlock()
		_ = bus.Reply(m, agentapi.RegisterReply{OK: true})
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = nc.Subscribe(agentapi.SubjectHeartbeat, func(m *nats.Msg) {
		var h agentapi.Heartbeat
		_ = json.Unmarshal(m.Data, &h)
		c.mu.Lock()
		c.beats = append(c.beats, h)
		c.mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = nc.Flush()
}

func TestAgentRegistersHeartbeatsAndTakesTasksIdempotently(t *testing.T) {
	t.Parallel()
	b := startBus(t, "")
	var ctl controller
	ctl.subscribe(t, b.Conn())
	nc, err := b.Connect(context.Background(), "agent")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	drv := fakedriver.New(agentapi.Inventory{VCPU: 4, MemoryMB: 2048, DiskGB: 20})
	ctx, cancel := context.WithCancel(context.Background())
	ag := agent.New(nc, drv, agent.Options{Node: "n1", Hostname: "host1", AvailabilityZone: "az1", Inventory: agentapi.Inventory{MemoryMB: 1024},
		HeartbeatInterval: 20 * time.Millisecond, Log: logging.Discard()})
	if err := ag.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); ag.Wait() }()
	ctl.mu.Lock()
	reg := ctl.regs[0]
	ctl.mu.Unlock()
	if reg.Node != "n1" || reg.Inventory.VCPU != 4 || reg.Inventory.MemoryMB != 1024 || reg.AvailabilityZone != "az1" || reg.HypervisorType != "fake" {
		t.Fatalf("registration %+v", reg)
	}

	task := agentapi.Task{ID: "t1", ServerID: "s1", Op: agentapi.OpSpawn, Spec: &agentapi.ServerSpec{ID: "s1", Hostname: "s1", VCPUs: 1, MemoryMB: 64}}
	var res agentapi.TaskResult
	for i := 0; i < 3; i++ { // the same task thrice: applied once
		if err := bus.Request(ctx, b.Conn(), agentapi.TaskSubject("n1"), task, &res); err != nil {
			t.Fatal(err)
		}
		if !res.OK || res.PowerState != agentapi.PowerRunning {
			t.Fatalf("result %+v", res)
		}
	}
	// A new task ID for the same spawn is still idempotent by server ID.
	task.ID = "t2"
	_ = bus.Request(ctx, b.Conn(), agentapi.TaskSubject("n1"), task, &res)
	if drv.Spawned != 1 {
		t.Fatalf("spawned %d times", drv.Spawned)
	}
	_ = bus.Request(ctx, b.Conn(), agentapi.TaskSubject("n1"), agentapi.Task{ID: "t3", ServerID: "s1", Op: agentapi.OpStop}, &res)
	if !res.OK || res.PowerState != agentapi.PowerShutdown {
		t.Fatalf("stop %+v", res)
	}
	_ = bus.Request(ctx, b.Conn(), agentapi.TaskSubject("n1"), agentapi.Task{ID: "t4", ServerID: "nope", Op: agentapi.OpStart}, &res)
	if res.OK || res.Error == "" {
		t.Fatalf("unknown server %+v", res)
	}
	// Heartbeats carry the observed state.
	deadline := time.Now().Add(5 * time.Second)
	for {
		ctl.mu.Lock()
		var last *agentapi.Heartbeat
		if n := len(ctl.beats); n > 0 {
			last = &ctl.beats[n-1]
		}
		ctl.mu.Unlock()
		if last != nil && len(last.Servers) == 1 && last.Servers[0].PowerState == agentapi.PowerShutdown {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no heartbeat with the stopped server")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestRemoteAgentOverTCP runs the agent the way `gureum agent` does: over
// TCP to the server's embedded NATS.
func TestRemoteAgentOverTCP(t *testing.T) {
	t.Parallel()
	b := startBus(t, "127.0.0.1:0")
	if b.ClientURL() == "" {
		t.Fatal("no client URL")
	}
	var ctl controller
	ctl.subscribe(t, b.Conn())
	nc, err := bus.Dial(context.Background(), b.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ctx, cancel := context.WithCancel(context.Background())
	ag := agent.New(nc, fakedriver.New(agentapi.Inventory{VCPU: 1, MemoryMB: 512, DiskGB: 1}), agent.Options{Node: "remote", Log: logging.Discard()})
	if err := ag.Start(ctx); err != nil {
		t.Fatal(err)
	}
	cancel()
	ag.Wait()
	ctl.mu.Lock()
	defer ctl.mu.Unlock()
	if len(ctl.regs) != 1 || ctl.regs[0].Node != "remote" {
		t.Fatalf("registrations %+v", ctl.regs)
	}
}
