package compute

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gureum/gureum/internal/agentapi"
	"github.com/gureum/gureum/internal/bus"
	"github.com/gureum/gureum/internal/platform/ids"
)

// StartController subscribes to agent registrations, heartbeats and state
// reports, marks silent agents down, and resumes servers a previous
// controller left in flight. Queue groups let several `gureum server`
// processes share the work.
func (s *Service) StartController(ctx context.Context, checkEvery time.Duration) error {
	if s.nc == nil {
		return errors.New("compute: no bus connection")
	}
	handlers := map[string]nats.MsgHandler{
		agentapi.SubjectRegister:  s.onRegister,
		agentapi.SubjectHeartbeat: s.onHeartbeat,
		agentapi.SubjectState:     s.onState,
	}
	for subj, h := range handlers {
		sub, err := s.nc.QueueSubscribe(subj, "controller", h)
		if err != nil {
			return fmt.Errorf("compute: subscribe %s: %w", subj, err)
		}
		s.mu.Lock()
		s.subs = append(s.subs, sub)
		s.mu.Unlock()
	}
	if err := s.nc.Flush(); err != nil {
		return err
	}
	if checkEvery <= 0 {
		checkEvery = s.cfg.AgentDownTime / 4
	}
	s.goBackground(func(ctx context.Context) {
		t := time.NewTicker(checkEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				s.CheckAgents(ctx)
			}
		}
	})
	s.goBackground(func(ctx context.Context) { s.resumeInFlight(ctx) })
	return nil
}

// CheckAgents marks agents silent for longer than AgentDownTime down.
func (s *Service) CheckAgents(ctx context.Context) {
	down, err := s.store.MarkNodesDown(ctx, s.now().Add(-s.cfg.AgentDownTime))
	if err != nil {
		s.log.Warn("mark agents down", "err", err)
		return
	}
	for _, id := range down {
		s.log.Warn("compute agent is down: no heartbeat", "node", id, "after", s.cfg.AgentDownTime)
	}
}

func (s *Service) onRegister(m *nats.Msg) {
	var reg agentapi.Registration
	if err := json.Unmarshal(m.Data, &reg); err != nil || reg.Node == "" {
		_ = bus.Reply(m, agentapi.RegisterReply{Error: "malformed registration"})
		return
	}
	ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
	defer cancel()
	n, err := s.RegisterNode(ctx, reg)
	if err != nil {
		s.log.Warn("agent registration", "node", reg.Node, "err", err)
		_ = bus.Reply(m, agentapi.RegisterReply{Error: err.Error()})
		return
	}
	s.log.Info("compute agent registered", "node", n.ID, "hostname", n.Hostname, "vcpus", n.VCPUs, "memory_mb", n.MemoryMB, "disk_gb", n.DiskGB)
	_ = bus.Reply(m, agentapi.RegisterReply{OK: true})
	s.observe(ctx, reg.Node, reg.Servers)
}

// RegisterNode records an agent's inventory as a compute node.
func (s *Service) RegisterNode(ctx context.Context, reg agentapi.Registration) (*Node, error) {
	az := reg.AvailabilityZone
	if az == "" {
		az = s.cfg.DefaultAZ
	}
	host := reg.Hostname
	if host == "" {
		host = reg.Node
	}
	now := s.now()
	n := &Node{ID: reg.Node, Hostname: host, HostIP: reg.HostIP, AvailabilityZone: az, HypervisorType: reg.HypervisorType, HypervisorVersion: reg.HypervisorVer,
		CPUInfo: reg.CPUInfo, VCPUs: reg.Inventory.VCPU, MemoryMB: reg.Inventory.MemoryMB, DiskGB: reg.Inventory.DiskGB,
		CPURatio: s.cfg.CPURatio, RAMRatio: s.cfg.RAMRatio, DiskRatio: s.cfg.DiskRatio, LastSeen: now, CreatedAt: now, UpdatedAt: now}
	n.VCPUsCap = int(float64(n.VCPUs) * n.CPURatio)
	n.MemoryMBCap = int(float64(n.MemoryMB) * n.RAMRatio)
	n.DiskGBCap = int(float64(n.DiskGB) * n.DiskRatio)
	return s.store.UpsertNode(ctx, n)
}

func (s *Service) onHeartbeat(m *nats.Msg) {
	var hb agentapi.Heartbeat
	if err := json.Unmarshal(m.Data, &hb); err != nil || hb.Node == "" {
		return
	}
	ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
	defer cancel()
	if err := s.store.TouchNode(ctx, hb.Node, s.now()); err != nil {
		s.log.Debug("heartbeat from unknown node", "node", hb.Node, "err", err)
		return
	}
	s.observe(ctx, hb.Node, hb.Servers)
	s.reconcile(ctx, hb.Node, hb.Servers)
}

// reconcile compares the servers the store places on node with those the
// node reports: a settled server whose guest is gone is drift, recorded
// as power state NOSTATE with a fault so operators and users see it
// (nova's power-state sync); guests the store does not know are logged.
func (s *Service) reconcile(ctx context.Context, node string, obs []agentapi.Observed) {
	seen := make(map[string]bool, len(obs))
	for _, o := range obs {
		seen[o.ServerID] = true
	}
	placed, err := s.store.ListServers(ctx, ServerFilter{NodeID: node})
	if err != nil {
		return
	}
	known := make(map[string]bool, len(placed))
	for _, sv := range placed {
		known[sv.ID] = true
		// A heartbeat sent while a task finished may predate its guest:
		// only servers settled for a while count.
		if seen[sv.ID] || sv.TaskState != "" || sv.VMState == VMBuilding || sv.VMState == VMError || sv.PowerState == agentapi.PowerNoState ||
			s.now().Sub(sv.UpdatedAt) < 2*time.Second {
			continue
		}
		s.log.Warn("drift: guest missing on its node", "server", sv.ID, "node", node, "vm_state", sv.VMState)
		_, _ = s.store.UpdateServer(ctx, sv.ID, func(sv *Server) error {
			if sv.TaskState != "" || sv.NodeID != node {
				return errSkip
			}
			sv.PowerState = agentapi.PowerNoState
			sv.Fault = &Fault{Code: 500, Message: driftFault, Details: "node " + node + " does not report it", Created: s.now()}
			return nil
		})
	}
	for id := range seen {
		if !known[id] {
			s.log.Warn("drift: node runs a guest the cloud does not place there", "server", id, "node", node)
		}
	}
}

func (s *Service) onState(m *nats.Msg) {
	var st agentapi.StateReport
	if err := json.Unmarshal(m.Data, &st); err != nil || st.Node == "" {
		return
	}
	ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
	defer cancel()
	s.observe(ctx, st.Node, []agentapi.Observed{st.Observed})
}

// observe records the power state agents report (observed state, kept
// apart from the desired vm_state). Servers without a task in flight whose
// guest stopped on its own turn SHUTOFF, as nova's power sync does.
func (s *Service) observe(ctx context.Context, node string, obs []agentapi.Observed) {
	for _, o := range obs {
		if o.Unknown {
			continue
		}
		_, err := s.store.UpdateServer(ctx, o.ServerID, func(sv *Server) error {
			if sv.NodeID != node {
				return errSkip
			}
			if sv.PowerState == o.PowerState {
				return errSkip
			}
			sv.PowerState = o.PowerState
			if sv.Fault != nil && sv.Fault.Message == driftFault {
				sv.Fault = nil // the guest is back
			}
			if sv.TaskState == "" && sv.VMState == VMActive && o.PowerState == agentapi.PowerShutdown {
				sv.VMState = VMStopped
			}
			return nil
		})
		if err != nil && !errors.Is(err, errSkip) {
			s.log.Debug("observe", "server", o.ServerID, "err", err)
		}
	}
}

var errSkip = errors.New("skip")

const driftFault = "The guest is missing on its compute node."

// resumeInFlight drives servers a stopped controller left in BUILD
// (tasks are idempotent by server, so resending is safe) and clears other
// task states left behind.
func (s *Service) resumeInFlight(ctx context.Context) {
	servers, err := s.store.ListServers(ctx, ServerFilter{VMState: VMBuilding})
	if err != nil {
		s.log.Warn("resume in-flight servers", "err", err)
		return
	}
	for _, sv := range servers {
		s.log.Info("resuming build", "server", sv.ID)
		s.goBackground(func(ctx context.Context) { s.build(ctx, sv.ID, "req-resume-"+ids.Random(4)) })
	}
	// Other tasks a stopped controller left: deletes are driven again
	// (destroy is idempotent); other actions lost their caller, so their
	// task state is cleared and the next heartbeat settles power state.
	all, err := s.store.ListServers(ctx, ServerFilter{})
	if err != nil {
		return
	}
	for _, sv := range all {
		switch {
		case sv.VMState == VMBuilding || sv.TaskState == "":
		case sv.TaskState == TaskDeleting:
			s.log.Info("resuming delete", "server", sv.ID)
			s.goBackground(func(ctx context.Context) {
				s.destroy(ctx, sv, Caller{UserID: sv.UserID, ProjectID: sv.ProjectID, RequestID: "req-resume-" + ids.Random(4)})
			})
		default:
			s.log.Warn("clearing a task left by a stopped controller", "server", sv.ID, "task_state", sv.TaskState)
			_, _ = s.store.UpdateServer(ctx, sv.ID, func(x *Server) error {
				if x.TaskState != sv.TaskState {
					return errSkip
				}
				x.TaskState = ""
				return nil
			})
		}
	}
}

// sendTask sends a task to the server's node and waits for the result.
func (s *Service) sendTask(ctx context.Context, node string, t agentapi.Task, timeout time.Duration) (agentapi.TaskResult, error) {
	if t.ID == "" {
		t.ID = ids.UUID()
	}
	if timeout <= 0 {
		timeout = s.cfg.TaskTimeout
	}
	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	t.Deadline = time.Now().Add(timeout)
	var res agentapi.TaskResult
	if err := bus.Request(tctx, s.nc, agentapi.TaskSubject(node), t, &res); err != nil {
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) {
			return res, fmt.Errorf("task %s on %s timed out after %s", t.Op, node, timeout)
		}
		return res, fmt.Errorf("task %s on %s: %w", t.Op, node, err)
	}
	if !res.OK {
		return res, fmt.Errorf("%s", res.Error)
	}
	return res, nil
}
