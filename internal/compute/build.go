package compute

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gureum/gureum/internal/agentapi"
	"github.com/gureum/gureum/internal/platform/errs"
)

// build resumes a build (no request context left: the image and group
// are looked up again).
func (s *Service) build(ctx context.Context, id, requestID string) {
	s.buildWith(ctx, id, requestID, &buildSpec{})
}

// buildWith schedules, plugs ports and spawns one server. Any failure
// turns it ERROR with a fault and releases quota, allocations and ports.
func (s *Service) buildWith(ctx context.Context, id, requestID string, b *buildSpec) {
	t0 := time.Now()
	sv, err := s.store.GetServer(ctx, id)
	if err != nil {
		return
	}
	c := Caller{UserID: sv.UserID, ProjectID: sv.ProjectID, RequestID: requestID}
	_ = s.store.StartEvent(ctx, id, requestID, "compute__schedule_and_build_instance", "", s.now())
	fail := func(code int, err error) {
		s.log.Warn("server build failed", "server", id, "err", err)
		s.failServer(ctx, id, requestID, "compute__schedule_and_build_instance", code, err)
		s.cleanupPorts(ctx, c, id)
	}
	if b.image == nil && s.images != nil {
		b.image, err = s.images.GetImage(ctx, Caller{UserID: sv.UserID, ProjectID: sv.ProjectID, Admin: true}, sv.ImageRef)
		if err != nil {
			fail(500, fmt.Errorf("image %s: %w", sv.ImageRef, err))
			return
		}
	}
	if b.group == nil && sv.ServerGroupID != "" {
		b.group, _ = s.store.GetServerGroup(ctx, sv.ServerGroupID)
	}
	node := sv.NodeID
	var n *Node
	if node == "" {
		n, err = s.schedule(ctx, &Request{ServerID: id, Resources: Resources{VCPUs: sv.Flavor.VCPUs, MemoryMB: sv.Flavor.RAM, DiskGB: sv.Flavor.Disk + sv.Flavor.Ephemeral + (sv.Flavor.Swap+1023)/1024},
			AZ: sv.RequestedAZAZ(), ForceHost: b.forceHost, Image: b.image, Group: b.group})
		if err != nil {
			fail(500, err)
			return
		}
		node = n.ID
	} else if n, err = s.store.GetNode(ctx, node); err != nil {
		fail(500, err)
		return
	}
	sv, err = s.store.UpdateServer(ctx, id, func(sv *Server) error {
		if sv.TaskState == TaskDeleting {
			return errs.Conflict("deleted while building")
		}
		sv.TaskState, sv.AZ = TaskSpawning, n.AvailabilityZone
		return nil
	})
	if err != nil {
		return // deleted meanwhile: delete releases what it held
	}
	tSched := time.Since(t0)
	nics, err := s.plugPorts(ctx, c, sv, n.Hostname)
	if err != nil {
		fail(500, err)
		return
	}
	tPorts := time.Since(t0)
	spec := s.spec(sv, b.image, nics, b.adminPass)
	res, err := s.sendTask(ctx, node, agentapi.Task{ID: "spawn-" + id, ServerID: id, Op: agentapi.OpSpawn, Spec: spec}, 0)
	if err != nil {
		fail(500, fmt.Errorf("Build of instance %s aborted: %w", id, err))
		// Leave nothing half-built on the node (the agent runs it after
		// the abandoned spawn gives up the server's lock).
		_, _ = s.sendTask(ctx, node, agentapi.Task{ServerID: id, Op: agentapi.OpDestroy}, time.Minute)
		return
	}
	now := s.now()
	_, err = s.store.UpdateServer(ctx, id, func(sv *Server) error {
		if sv.TaskState == TaskDeleting {
			return errSkip
		}
		sv.VMState, sv.TaskState, sv.PowerState, sv.LaunchedAt = VMActive, "", res.PowerState, now
		return nil
	})
	if err != nil {
		return
	}
	_ = s.store.StartUsage(ctx, &Usage{ServerID: id, Name: sv.Name, ProjectID: sv.ProjectID, UserID: sv.UserID, FlavorName: sv.Flavor.Name,
		VCPUs: sv.Flavor.VCPUs, MemoryMB: sv.Flavor.RAM, LocalGB: sv.Flavor.Disk, StartedAt: now})
	_ = s.store.FinishEvent(ctx, id, requestID, "compute__schedule_and_build_instance", now, "Success", "")
	s.log.Debug("server built", "server", id, "node", node, "schedule_ms", tSched.Milliseconds(), "ports_ms", (tPorts - tSched).Milliseconds(),
		"spawn_ms", (time.Since(t0) - tPorts).Milliseconds(), "total_ms", time.Since(t0).Milliseconds())
}

// RequestedAZAZ is the zone part of the requested availability zone.
func (s *Server) RequestedAZAZ() string {
	az, _, _ := strings.Cut(s.RequestedAZ, ":")
	return az
}

func (s *Service) spec(sv *Server, img *Image, nics []agentapi.NIC, adminPass string) *agentapi.ServerSpec {
	spec := &agentapi.ServerSpec{ID: sv.ID, Name: sv.Name, Hostname: sv.Hostname, ProjectID: sv.ProjectID, UserID: sv.UserID,
		VCPUs: sv.Flavor.VCPUs, MemoryMB: sv.Flavor.RAM, DiskGB: sv.Flavor.Disk, NICs: nics, KeyName: sv.KeyName, PublicKey: sv.KeyData,
		UserData: sv.UserData, Metadata: sv.Metadata, ConfigDrive: sv.ConfigDrive, AdminPass: adminPass, AvailabilityZone: sv.AZ, LaunchIndex: sv.LaunchIndex,
		Image: agentapi.ImageRef{ID: sv.ImageRef}}
	if img != nil {
		spec.Image = imageRef(img)
		spec.Cmdline = img.Properties["os_command_line"]
		// AMI-style images: boot their kernel and ramdisk directly.
		for prop, dst := range map[string]**agentapi.ImageRef{"kernel_id": &spec.Kernel, "ramdisk_id": &spec.Ramdisk} {
			id := img.Properties[prop]
			if id == "" || s.images == nil {
				continue
			}
			if k, err := s.images.GetImage(context.Background(), Caller{ProjectID: sv.ProjectID, Admin: true}, id); err == nil {
				ref := imageRef(k)
				*dst = &ref
			}
		}
	}
	if spec.NICs == nil {
		spec.NICs = []agentapi.NIC{}
	}
	return spec
}

func imageRef(img *Image) agentapi.ImageRef {
	return agentapi.ImageRef{ID: img.ID, Checksum: img.Checksum, HashAlgo: img.HashAlgo, HashValue: img.HashValue, DiskFormat: img.DiskFormat,
		Size: img.Size, Path: img.Path, Properties: img.Properties}
}

// plugPorts creates (or takes) and binds the server's ports.
func (s *Service) plugPorts(ctx context.Context, c Caller, sv *Server, host string) ([]agentapi.NIC, error) {
	if s.networks == nil || sv.NetworksMode == "none" {
		return nil, nil
	}
	var nics []agentapi.NIC
	var ports []ServerPort
	for _, req := range sv.Networks {
		var p *Port
		var err error
		created := false
		if req.Port != "" {
			p, err = s.networks.BindPort(ctx, c, req.Port, sv.ID, host)
		} else {
			p, err = s.networks.CreatePort(ctx, c, PortRequest{NetworkID: req.UUID, FixedIP: req.FixedIP, DeviceID: sv.ID, Host: host, SecurityGroups: sv.SecurityGroups})
			created = err == nil
			if err == nil {
				p, err = s.networks.BindPort(ctx, c, p.ID, sv.ID, host)
			}
		}
		if err != nil {
			s.recordPorts(ctx, sv.ID, ports)
			return nil, fmt.Errorf("port for network %s: %w", firstNonEmpty(req.UUID, req.Port), err)
		}
		netName := p.NetworkID
		if nw, err := s.networks.GetNetwork(ctx, Caller{Admin: true}, p.NetworkID); err == nil {
			netName = nw.Name
			if p.MTU == 0 {
				p.MTU = nw.MTU
			}
		}
		ports = append(ports, ServerPort{ID: p.ID, NetworkID: p.NetworkID, NetworkName: netName, MAC: p.MAC, FixedIPs: p.FixedIPs, Created: created})
		nics = append(nics, agentapi.NIC{PortID: p.ID, NetworkID: p.NetworkID, MAC: p.MAC, MTU: p.MTU, FixedIPs: p.FixedIPs, Bridge: p.Bridge, Tap: p.Tap,
			Gateway: p.Gateway, CIDR: p.CIDR, DNSServers: p.DNSServers, DHCPIP: p.DHCPIP})
	}
	s.recordPorts(ctx, sv.ID, ports)
	return nics, nil
}

func (s *Service) recordPorts(ctx context.Context, id string, ports []ServerPort) {
	_, _ = s.store.UpdateServer(ctx, id, func(sv *Server) error { sv.Ports = ports; return nil })
}

// cleanupPorts deletes the ports the server created and unbinds the
// others.
func (s *Service) cleanupPorts(ctx context.Context, c Caller, id string) {
	if s.networks == nil {
		return
	}
	sv, err := s.store.GetServer(ctx, id)
	if err != nil {
		return
	}
	for _, p := range sv.Ports {
		var err error
		if p.Created {
			err = s.networks.DeletePort(ctx, c, p.ID)
		} else {
			err = s.networks.UnbindPort(ctx, c, p.ID, id)
		}
		if err != nil && !errs.Is(err, errs.KindNotFound) {
			s.log.Warn("release port", "server", id, "port", p.ID, "err", err)
		}
	}
	s.recordPorts(ctx, id, nil)
}

// failServer turns a server ERROR with a fault and releases its quota and
// allocations.
func (s *Service) failServer(ctx context.Context, id, requestID, event string, code int, cause error) {
	now := s.now()
	msg := cause.Error()
	var nvh *NoValidHost
	if errors.As(cause, &nvh) {
		msg = "No valid host was found. "
	}
	err := s.store.ReleaseServer(ctx, id, func(sv *Server) {
		sv.VMState, sv.TaskState = VMError, ""
		sv.Fault = &Fault{Code: code, Message: truncate(msg, 255), Details: cause.Error(), Created: now}
	})
	if err != nil {
		if !errs.Is(err, errs.KindNotFound) {
			s.log.Error("release failed server", "server", id, "err", err)
		}
		return
	}
	_ = s.store.FinishEvent(ctx, id, requestID, event, now, "Error", cause.Error())
}
