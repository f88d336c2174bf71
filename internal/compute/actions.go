package compute

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"github.com/gureum/gureum/internal/agentapi"
	"github.com/gureum/gureum/internal/platform/errs"
	"github.com/gureum/gureum/internal/platform/ids"
)

// powerAction describes a simple state-changing action.
type powerAction struct {
	name   string   // instance action name
	from   []string // allowed vm states
	task   string   // task state while in flight
	op     string   // agent operation
	to     string   // vm state on success
	hardOK []string // extra states allowed for HARD reboots
}

var powerActions = map[string]powerAction{
	"start":     {name: "start", from: []string{VMStopped}, task: TaskPoweringOn, op: agentapi.OpStart, to: VMActive},
	"stop":      {name: "stop", from: []string{VMActive, VMError}, task: TaskPoweringOff, op: agentapi.OpStop, to: VMStopped},
	"reboot":    {name: "reboot", from: []string{VMActive}, task: TaskRebooting, op: agentapi.OpReboot, to: VMActive, hardOK: []string{VMStopped, VMPaused, VMSuspended, VMError}},
	"pause":     {name: "pause", from: []string{VMActive}, task: TaskPausing, op: agentapi.OpPause, to: VMPaused},
	"unpause":   {name: "unpause", from: []string{VMPaused}, task: TaskUnpausing, op: agentapi.OpUnpause, to: VMActive},
	"suspend":   {name: "suspend", from: []string{VMActive}, task: TaskSuspending, op: agentapi.OpSuspend, to: VMSuspended},
	"resume":    {name: "resume", from: []string{VMSuspended}, task: TaskResuming, op: agentapi.OpResume, to: VMActive},
	"crashdump": {name: "trigger_crash_dump", from: []string{VMActive}, task: "", op: agentapi.OpCrashDump, to: VMActive},
}

func stateConflict(sv *Server, action string) error {
	return errs.Conflict("Cannot '%s' instance %s while it is in vm_state %s", action, sv.ID, sv.VMState)
}

// beginTask sets a server's task state for action when the server is in
// one of the vm states from, placed on a node and not busy with another
// task (409 otherwise); also, when set, changes more in the same update.
func (s *Service) beginTask(ctx context.Context, id, action string, from []string, task string, also func(*Server)) (*Server, error) {
	return s.store.UpdateServer(ctx, id, func(sv *Server) error {
		if !contains(from, sv.VMState) || sv.NodeID == "" {
			return stateConflict(sv, action)
		}
		if sv.TaskState != "" {
			return errs.Conflict("Cannot '%s' instance %s while it is in task_state %s", action, sv.ID, sv.TaskState)
		}
		sv.TaskState = task
		if also != nil {
			also(sv)
		}
		return nil
	})
}

// bootImage looks up the image a server is to boot (as c) and checks it
// fits the flavor; nil when there is no image service.
func (s *Service) bootImage(ctx context.Context, c Caller, imageID string, f *Flavor) (*Image, error) {
	if s.images == nil {
		return nil, nil
	}
	img, err := s.images.GetImage(ctx, c, imageID)
	if err != nil {
		if errs.Is(err, errs.KindNotFound) {
			return nil, errs.BadRequest("Image %s could not be found.", imageID)
		}
		return nil, err
	}
	if err := checkImageFits(img, f); err != nil {
		return nil, err
	}
	return img, nil
}

// Power runs start, stop, reboot, pause, unpause, suspend, resume or
// crashdump: the desired state is written with a task state at once
// (409 when the state does not allow it), the agent applies it in the
// background and the observed result settles the vm state.
func (s *Service) Power(ctx context.Context, c Caller, id, action string, hard bool) error {
	pa, ok := powerActions[action]
	if !ok {
		return errs.BadRequest("Unknown action %s.", action)
	}
	sv, err := s.unlockedServer(ctx, c, id)
	if err != nil {
		return err
	}
	task := pa.task
	if action == "reboot" && hard {
		task = TaskRebootingHard
	}
	var prev string
	sv, err = s.store.UpdateServer(ctx, id, func(sv *Server) error {
		allowed := contains(pa.from, sv.VMState) || (hard && contains(pa.hardOK, sv.VMState))
		if !allowed {
			return stateConflict(sv, pa.name)
		}
		if sv.TaskState != "" && !(hard && (sv.TaskState == TaskRebooting || sv.TaskState == TaskRebootingHard)) {
			return errs.Conflict("Cannot '%s' instance %s while it is in task_state %s", pa.name, sv.ID, sv.TaskState)
		}
		if sv.NodeID == "" {
			return stateConflict(sv, pa.name)
		}
		prev = sv.VMState
		sv.TaskState = task
		return nil
	})
	if err != nil {
		return err
	}
	if err := s.store.AddAction(ctx, Action{RequestID: c.RequestID, ServerID: id, ProjectID: sv.ProjectID, UserID: c.UserID, Action: pa.name, StartTime: s.now()}); err != nil {
		return err
	}
	event := "compute_" + pa.name + "_instance"
	s.goBackground(func(ctx context.Context) {
		_ = s.store.StartEvent(ctx, id, c.RequestID, event, sv.Host, s.now())
		res, err := s.sendTask(ctx, sv.NodeID, agentapi.Task{ID: ids.UUID(), ServerID: id, Op: pa.op, Hard: hard}, 0)
		if err != nil {
			s.log.Warn("action failed", "server", id, "action", pa.name, "err", err)
			_, _ = s.store.UpdateServer(ctx, id, func(sv *Server) error {
				sv.TaskState = ""
				if prev != VMError {
					sv.VMState = prev
				}
				sv.Fault = &Fault{Code: 500, Message: truncate(err.Error(), 255), Details: err.Error(), Created: s.now()}
				return nil
			})
			_ = s.store.FinishEvent(ctx, id, c.RequestID, event, s.now(), "Error", err.Error())
			return
		}
		_, _ = s.store.UpdateServer(ctx, id, func(sv *Server) error {
			if sv.TaskState == TaskDeleting {
				return errSkip
			}
			sv.TaskState, sv.VMState, sv.PowerState = "", pa.to, res.PowerState
			if pa.to == VMActive {
				sv.Fault = nil
			}
			return nil
		})
		_ = s.store.FinishEvent(ctx, id, c.RequestID, event, s.now(), "Success", "")
	})
	return nil
}

// Lock locks or unlocks a server; an admin's lock binds its owner.
func (s *Service) Lock(ctx context.Context, c Caller, id string, lock bool, reason string) error {
	sv, err := s.GetServer(ctx, c, id)
	if err != nil {
		return err
	}
	if !lock && sv.LockedBy == "admin" && !c.Admin {
		return errs.Forbidden("Policy doesn't allow os_compute_api:os-lock-server:unlock:unlock_override to be performed.")
	}
	name := "lock"
	if !lock {
		name = "unlock"
	}
	_, err = s.store.UpdateServer(ctx, id, func(sv *Server) error {
		sv.Locked = lock
		sv.LockedReason, sv.LockedBy = "", ""
		if lock {
			sv.LockedReason = reason
			sv.LockedBy = "owner"
			if c.Admin && c.ProjectID != sv.ProjectID {
				sv.LockedBy = "admin"
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return s.store.AddAction(ctx, Action{RequestID: c.RequestID, ServerID: id, ProjectID: sv.ProjectID, UserID: c.UserID, Action: name, StartTime: s.now()})
}

// RebuildRequest is a rebuild action.
type RebuildRequest struct {
	ImageRef  string
	Name      *string
	Metadata  map[string]string
	AdminPass string
}

// Rebuild replaces a server's disk with an image.
func (s *Service) Rebuild(ctx context.Context, c Caller, id string, r RebuildRequest) (*Server, string, error) {
	sv, err := s.unlockedServer(ctx, c, id)
	if err != nil {
		return nil, "", err
	}
	imageID := lastSegment(r.ImageRef)
	if !ids.ValidUUID(imageID) {
		return nil, "", errs.BadRequest("Invalid imageRef provided.")
	}
	img, err := s.bootImage(ctx, c, imageID, &sv.Flavor)
	if err != nil {
		return nil, "", err
	}
	if r.Metadata != nil {
		if err := s.ValidateMetadata(ctx, sv.ProjectID, r.Metadata); err != nil {
			return nil, "", err
		}
	}
	if r.Name != nil && (*r.Name == "" || len(*r.Name) > MaxNameLen || !validName.MatchString(*r.Name)) {
		return nil, "", errs.BadRequest("Invalid input for field/attribute name.")
	}
	if r.AdminPass == "" {
		r.AdminPass = ids.Random(6)
	}
	sv, err = s.beginTask(ctx, id, "rebuild", []string{VMActive, VMStopped, VMError}, TaskRebuilding, func(sv *Server) {
		sv.ImageRef = imageID
		if r.Name != nil {
			sv.Name = *r.Name
		}
		if r.Metadata != nil {
			sv.Metadata = r.Metadata
		}
	})
	if err != nil {
		return nil, "", err
	}
	_ = s.store.AddAction(ctx, Action{RequestID: c.RequestID, ServerID: id, ProjectID: sv.ProjectID, UserID: c.UserID, Action: "rebuild", StartTime: s.now()})
	spec := s.spec(sv, img, s.nicsOf(sv), r.AdminPass)
	s.goBackground(func(ctx context.Context) {
		s.runTask(ctx, sv, c.RequestID, "compute_rebuild_instance", agentapi.Task{ID: ids.UUID(), ServerID: id, Op: agentapi.OpRebuild, Spec: spec}, VMActive, nil)
	})
	return sv, r.AdminPass, nil
}

// nicsOf rebuilds the NIC list from recorded ports (actions after boot).
func (s *Service) nicsOf(sv *Server) []agentapi.NIC {
	var nics []agentapi.NIC
	for _, p := range sv.Ports {
		nic := agentapi.NIC{PortID: p.ID, NetworkID: p.NetworkID, MAC: p.MAC, FixedIPs: p.FixedIPs}
		if s.networks != nil {
			if full, err := s.networks.GetPort(context.Background(), Caller{Admin: true}, p.ID); err == nil {
				nic.MTU, nic.Bridge, nic.Tap, nic.Gateway, nic.CIDR, nic.DNSServers, nic.DHCPIP = full.MTU, full.Bridge, full.Tap, full.Gateway, full.CIDR, full.DNSServers, full.DHCPIP
			}
		}
		nics = append(nics, nic)
	}
	return nics
}

// runTask sends a task and settles the server: success sets vm state to
// (and runs after), failure sets ERROR with a fault.
func (s *Service) runTask(ctx context.Context, sv *Server, requestID, event string, t agentapi.Task, to string, after func(*Server)) {
	id := sv.ID
	_ = s.store.StartEvent(ctx, id, requestID, event, sv.Host, s.now())
	res, err := s.sendTask(ctx, sv.NodeID, t, 0)
	if err != nil {
		_, _ = s.store.UpdateServer(ctx, id, func(sv *Server) error {
			sv.VMState, sv.TaskState = VMError, ""
			sv.Fault = &Fault{Code: 500, Message: truncate(err.Error(), 255), Details: err.Error(), Created: s.now()}
			return nil
		})
		_ = s.store.FinishEvent(ctx, id, requestID, event, s.now(), "Error", err.Error())
		return
	}
	_, _ = s.store.UpdateServer(ctx, id, func(sv *Server) error {
		sv.VMState, sv.TaskState, sv.PowerState = to, "", res.PowerState
		if after != nil {
			after(sv)
		}
		return nil
	})
	_ = s.store.FinishEvent(ctx, id, requestID, event, s.now(), "Success", "")
}

// Resize moves a server to another flavor on its host (the all-in-one
// case: nova's allow_resize_to_same_host): the new flavor's quota and
// allocation are claimed first; the server waits in VERIFY_RESIZE.
func (s *Service) Resize(ctx context.Context, c Caller, id, flavorRef string) error {
	sv, err := s.unlockedServer(ctx, c, id)
	if err != nil {
		return err
	}
	nf, err := s.GetFlavor(ctx, c, lastSegment(flavorRef))
	if err != nil {
		if errs.Is(err, errs.KindNotFound) {
			return errs.BadRequest("Flavor %s could not be found.", flavorRef)
		}
		return err
	}
	if nf.ID == sv.Flavor.ID {
		return errs.BadRequest("When resizing, instances must change flavor!")
	}
	if nf.Disk < sv.Flavor.Disk && nf.Disk != 0 {
		return errs.BadRequest("Resizing to a smaller disk flavor is not allowed.")
	}
	if !contains([]string{VMActive, VMStopped}, sv.VMState) || sv.TaskState != "" || sv.NodeID == "" {
		return stateConflict(sv, "resize")
	}
	limits, err := s.Quotas(ctx, sv.ProjectID)
	if err != nil {
		return err
	}
	dc, dr := nf.VCPUs-sv.Flavor.VCPUs, nf.RAM-sv.Flavor.RAM
	if err := s.store.AdjustUsage(ctx, sv.ProjectID, map[string]int{QCores: dc, QRAM: dr}, limits); err != nil {
		return err
	}
	undoQuota := func() { _ = s.store.AdjustUsage(ctx, sv.ProjectID, map[string]int{QCores: -dc, QRAM: -dr}, nil) }
	if err := s.store.ReplaceAllocation(ctx, id, Resources{VCPUs: nf.VCPUs, MemoryMB: nf.RAM, DiskGB: nf.Disk + nf.Ephemeral}); err != nil {
		undoQuota()
		return err
	}
	old := sv.Flavor
	sv, err = s.store.UpdateServer(ctx, id, func(sv *Server) error {
		if !contains([]string{VMActive, VMStopped}, sv.VMState) || sv.TaskState != "" {
			return stateConflict(sv, "resize")
		}
		sv.OldFlavor, sv.Flavor, sv.TaskState = &old, *nf, TaskResizing
		return nil
	})
	if err != nil {
		_ = s.store.ReplaceAllocation(ctx, id, Resources{VCPUs: old.VCPUs, MemoryMB: old.RAM, DiskGB: old.Disk + old.Ephemeral})
		undoQuota()
		return err
	}
	_ = s.store.AddAction(ctx, Action{RequestID: c.RequestID, ServerID: id, ProjectID: sv.ProjectID, UserID: c.UserID, Action: "resize", StartTime: s.now()})
	spec := s.spec(sv, nil, s.nicsOf(sv), "")
	s.goBackground(func(ctx context.Context) {
		s.runTask(ctx, sv, c.RequestID, "compute_resize_instance", agentapi.Task{ID: ids.UUID(), ServerID: id, Op: agentapi.OpResize, Spec: spec}, VMResized, nil)
	})
	return nil
}

// ConfirmResize keeps the new flavor.
func (s *Service) ConfirmResize(ctx context.Context, c Caller, id string) error {
	sv, err := s.unlockedServer(ctx, c, id)
	if err != nil {
		return err
	}
	sv, err = s.store.UpdateServer(ctx, id, func(sv *Server) error {
		if sv.VMState != VMResized || sv.TaskState != "" {
			return stateConflict(sv, "confirmResize")
		}
		sv.OldFlavor, sv.VMState = nil, VMActive
		return nil
	})
	if err != nil {
		return err
	}
	_ = s.store.StartUsage(ctx, &Usage{ServerID: id, Name: sv.Name, ProjectID: sv.ProjectID, UserID: sv.UserID, FlavorName: sv.Flavor.Name, VCPUs: sv.Flavor.VCPUs, MemoryMB: sv.Flavor.RAM, LocalGB: sv.Flavor.Disk, StartedAt: sv.LaunchedAt})
	return s.store.AddAction(ctx, Action{RequestID: c.RequestID, ServerID: id, ProjectID: sv.ProjectID, UserID: c.UserID, Action: "confirmResize", StartTime: s.now()})
}

// RevertResize goes back to the old flavor and releases the difference.
func (s *Service) RevertResize(ctx context.Context, c Caller, id string) error {
	sv, err := s.unlockedServer(ctx, c, id)
	if err != nil {
		return err
	}
	if sv.VMState != VMResized || sv.TaskState != "" || sv.OldFlavor == nil {
		return stateConflict(sv, "revertResize")
	}
	// Give back the new flavor's share before the guest shrinks, so usage
	// is right as soon as the server is ACTIVE again.
	old, cur := *sv.OldFlavor, sv.Flavor
	limits, err := s.Quotas(ctx, sv.ProjectID)
	if err != nil {
		return err
	}
	if err := s.store.ReplaceAllocation(ctx, id, Resources{VCPUs: old.VCPUs, MemoryMB: old.RAM, DiskGB: old.Disk + old.Ephemeral}); err != nil {
		return err
	}
	dc, dr := old.VCPUs-cur.VCPUs, old.RAM-cur.RAM
	if err := s.store.AdjustUsage(ctx, sv.ProjectID, map[string]int{QCores: dc, QRAM: dr}, limits); err != nil {
		_ = s.store.ReplaceAllocation(ctx, id, Resources{VCPUs: cur.VCPUs, MemoryMB: cur.RAM, DiskGB: cur.Disk + cur.Ephemeral})
		return err
	}
	sv, err = s.store.UpdateServer(ctx, id, func(sv *Server) error {
		if sv.VMState != VMResized || sv.TaskState != "" || sv.OldFlavor == nil {
			return stateConflict(sv, "revertResize")
		}
		sv.TaskState = TaskResizeReverting
		return nil
	})
	if err != nil {
		_ = s.store.ReplaceAllocation(ctx, id, Resources{VCPUs: cur.VCPUs, MemoryMB: cur.RAM, DiskGB: cur.Disk + cur.Ephemeral})
		_ = s.store.AdjustUsage(ctx, sv.ProjectID, map[string]int{QCores: -dc, QRAM: -dr}, nil)
		return err
	}
	_ = s.store.AddAction(ctx, Action{RequestID: c.RequestID, ServerID: id, ProjectID: sv.ProjectID, UserID: c.UserID, Action: "revertResize", StartTime: s.now()})
	back := *sv
	back.Flavor = old
	spec := s.spec(&back, nil, s.nicsOf(sv), "")
	s.goBackground(func(ctx context.Context) {
		s.runTask(ctx, sv, c.RequestID, "compute_revert_resize", agentapi.Task{ID: ids.UUID(), ServerID: id, Op: agentapi.OpResize, Spec: spec}, VMActive, func(sv *Server) {
			sv.Flavor, sv.OldFlavor = old, nil
		})
	})
	return nil
}

// CreateImage snapshots a server's disk into the image service and
// returns the new image's ID at once; the image turns active when the
// upload finishes.
func (s *Service) CreateImage(ctx context.Context, c Caller, id, name string, md map[string]string) (string, error) {
	if s.snapshots == nil {
		return "", errs.NotImplemented("Snapshots need the image service.")
	}
	sv, err := s.GetServer(ctx, c, id)
	if err != nil {
		return "", err
	}
	if name == "" || len(name) > MaxNameLen {
		return "", errs.BadRequest("Invalid input for field/attribute name.")
	}
	sv, err = s.beginTask(ctx, id, "createImage", []string{VMActive, VMStopped, VMPaused, VMSuspended}, TaskSnapshot, nil)
	if err != nil {
		return "", err
	}
	props := map[string]string{}
	for k, v := range md {
		props[k] = v
	}
	// As nova does, the snapshot inherits how its base boots.
	if s.images != nil {
		if base, err := s.images.GetImage(ctx, Caller{ProjectID: sv.ProjectID, Admin: true}, sv.ImageRef); err == nil {
			for _, k := range []string{"kernel_id", "ramdisk_id", "os_command_line", "hypervisor_type", "architecture", "hw_disk_bus", "os_distro"} {
				if v, ok := base.Properties[k]; ok {
					if _, set := props[k]; !set {
						props[k] = v
					}
				}
			}
		}
	}
	props["instance_uuid"], props["image_type"], props["base_image_ref"] = id, "snapshot", sv.ImageRef
	imageID, err := s.snapshots.CreateSnapshot(ctx, c, name, props)
	if err != nil {
		_, _ = s.store.UpdateServer(ctx, id, func(sv *Server) error { sv.TaskState = ""; return nil })
		return "", err
	}
	_ = s.store.AddAction(ctx, Action{RequestID: c.RequestID, ServerID: id, ProjectID: sv.ProjectID, UserID: c.UserID, Action: "createImage", StartTime: s.now()})
	s.goBackground(func(ctx context.Context) {
		_ = s.store.StartEvent(ctx, id, c.RequestID, "compute_snapshot_instance", sv.Host, s.now())
		path := filepath.Join(s.cfg.SnapshotDir, imageID+".qcow2")
		_ = os.MkdirAll(s.cfg.SnapshotDir, 0o700)
		defer os.Remove(path)
		_, err := s.sendTask(ctx, sv.NodeID, agentapi.Task{ID: ids.UUID(), ServerID: id, Op: agentapi.OpSnapshot, SnapshotPath: path}, 0)
		if err == nil {
			err = s.snapshots.UploadSnapshot(ctx, c, imageID, path)
		}
		_, _ = s.store.UpdateServer(ctx, id, func(sv *Server) error { sv.TaskState = ""; return nil })
		if err != nil {
			s.log.Warn("snapshot failed", "server", id, "image", imageID, "err", err)
			s.snapshots.FailSnapshot(ctx, c, imageID)
			_ = s.store.FinishEvent(ctx, id, c.RequestID, "compute_snapshot_instance", s.now(), "Error", err.Error())
			return
		}
		_ = s.store.FinishEvent(ctx, id, c.RequestID, "compute_snapshot_instance", s.now(), "Success", "")
	})
	return imageID, nil
}

// SetService enables or disables a compute service (node) or forces it
// down; a disabled service gets no new servers.
func (s *Service) SetService(ctx context.Context, id string, disabled bool, reason string, forcedDown *bool) (*Node, error) {
	if len(reason) > 255 {
		return nil, errs.BadRequest("disabled_reason may be at most 255 characters.")
	}
	return s.store.SetNodeService(ctx, id, disabled, reason, forcedDown)
}

// Nodes lists compute nodes.
func (s *Service) Nodes(ctx context.Context) ([]*Node, error) { return s.store.ListNodes(ctx) }

// Node returns one node by UUID or integer ID.
func (s *Service) Node(ctx context.Context, id string) (*Node, error) {
	return s.store.GetNode(ctx, id)
}

// TenantUsage is os-simple-tenant-usage for one project.
type TenantUsage struct {
	ProjectID   string
	Start, Stop time.Time
	Servers     []ServerUsage
	TotalHours  float64
	VCPUHours   float64
	MemoryMBH   float64
	LocalGBH    float64
}

// ServerUsage is one server's share of a TenantUsage.
type ServerUsage struct {
	Usage
	Hours  float64
	State  string
	Uptime int64
}

// TenantUsages computes usage per project over [start, stop).
func (s *Service) TenantUsages(ctx context.Context, projectID string, start, stop time.Time) ([]*TenantUsage, error) {
	if !stop.After(start) {
		return nil, errs.BadRequest("Invalid start time %s: must be before end %s.", start.Format(time.RFC3339), stop.Format(time.RFC3339))
	}
	list, err := s.store.ListUsage(ctx, projectID, start, stop)
	if err != nil {
		return nil, err
	}
	now := s.now()
	by := map[string]*TenantUsage{}
	var order []string
	for _, u := range list {
		tu := by[u.ProjectID]
		if tu == nil {
			tu = &TenantUsage{ProjectID: u.ProjectID, Start: start, Stop: stop}
			by[u.ProjectID] = tu
			order = append(order, u.ProjectID)
		}
		from, to := u.StartedAt, u.EndedAt
		if from.Before(start) {
			from = start
		}
		if to.IsZero() || to.After(stop) {
			to = stop
		}
		if to.After(now) {
			to = now
		}
		h := to.Sub(from).Hours()
		if h < 0 {
			h = 0
		}
		state := "active"
		if !u.EndedAt.IsZero() {
			state = "terminated"
		}
		up := now
		if !u.EndedAt.IsZero() {
			up = u.EndedAt
		}
		tu.Servers = append(tu.Servers, ServerUsage{Usage: *u, Hours: h, State: state, Uptime: int64(up.Sub(u.StartedAt).Seconds())})
		tu.TotalHours += h
		tu.VCPUHours += h * float64(u.VCPUs)
		tu.MemoryMBH += h * float64(u.MemoryMB)
		tu.LocalGBH += h * float64(u.LocalGB)
	}
	out := make([]*TenantUsage, 0, len(order))
	for _, p := range order {
		out = append(out, by[p])
	}
	return out, nil
}
