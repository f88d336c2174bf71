package compute

import (
	"context"
	"fmt"

	"github.com/gureum/gureum/internal/agentapi"
	"github.com/gureum/gureum/internal/platform/errs"
	"github.com/gureum/gureum/internal/platform/ids"
)

// Task states while a port is plugged in or out (nova's).
const (
	TaskInterfaceAttaching = "interface_attaching"
	TaskInterfaceDetaching = "interface_detaching"
)

// Interface is a port attached to a server (os-interface).
type Interface struct {
	PortID    string
	NetworkID string
	MAC       string
	State     string
	FixedIPs  []InterfaceIP
}

// InterfaceIP is one fixed address of an Interface.
type InterfaceIP struct {
	SubnetID  string
	IPAddress string
}

// AttachRequest is an os-interface create: a port, or a network (and
// optionally an address on it) to create a port on; neither picks the
// project's one available network.
type AttachRequest struct {
	PortID    string
	NetworkID string
	FixedIP   string
}

// States in which a server takes a port (nova's ACTIVE, PAUSED and
// SHUTOFF) and gives one up: not PAUSED here, as a paused guest cannot
// acknowledge the hot-unplug (nova's would fail after accepting it).
var (
	attachStates = []string{VMActive, VMPaused, VMStopped}
	detachStates = []string{VMActive, VMStopped}
)

func interfaceOf(p *Port) *Interface {
	in := &Interface{PortID: p.ID, NetworkID: p.NetworkID, MAC: p.MAC, State: p.Status, FixedIPs: []InterfaceIP{}}
	for i, ip := range p.FixedIPs {
		sub := ""
		if i < len(p.Subnets) {
			sub = p.Subnets[i]
		}
		in.FixedIPs = append(in.FixedIPs, InterfaceIP{SubnetID: sub, IPAddress: ip})
	}
	return in
}

func (s *Service) needNetworks() error {
	if s.networks == nil {
		return errs.NotImplemented("Network interfaces need the network service.")
	}
	return nil
}

// Interfaces lists the ports attached to a server.
func (s *Service) Interfaces(ctx context.Context, c Caller, id string) ([]*Interface, error) {
	sv, err := s.GetServer(ctx, c, id)
	if err != nil {
		return nil, err
	}
	if err := s.needNetworks(); err != nil {
		return nil, err
	}
	out := []*Interface{}
	for _, sp := range sv.Ports {
		p, err := s.networks.GetPort(ctx, Caller{Admin: true}, sp.ID)
		if errs.Is(err, errs.KindNotFound) {
			continue // deleted behind the server's back
		}
		if err != nil {
			return nil, err
		}
		if p.DeviceID != id {
			continue
		}
		out = append(out, interfaceOf(p))
	}
	return out, nil
}

// GetInterface returns one port of a server; the port is looked up as the
// caller (another project's port is not found).
func (s *Service) GetInterface(ctx context.Context, c Caller, id, portID string) (*Interface, error) {
	if _, err := s.GetServer(ctx, c, id); err != nil {
		return nil, err
	}
	if err := s.needNetworks(); err != nil {
		return nil, err
	}
	p, err := s.networks.GetPort(ctx, c, portID)
	if errs.Is(err, errs.KindNotFound) {
		return nil, errs.NotFound("Port id %s could not be found.", portID)
	}
	if err != nil {
		return nil, err
	}
	if p.DeviceID != id {
		return nil, errs.NotFound("Instance %s does not have a port with id %s", id, portID)
	}
	return interfaceOf(p), nil
}

// beginInterfaceTask checks the server's lock and state and sets the task
// state, so no other action runs while a port is plugged in or out.
func (s *Service) beginInterfaceTask(ctx context.Context, c Caller, id, action, task string, states []string) (*Server, error) {
	if _, err := s.unlockedServer(ctx, c, id); err != nil {
		return nil, err
	}
	return s.beginTask(ctx, id, action, states, task, nil)
}

// endInterfaceTask clears the task state, records the ports and the
// observed power state.
func (s *Service) endInterfaceTask(ctx context.Context, id string, ports func([]ServerPort) []ServerPort, power *int) {
	_, _ = s.store.UpdateServer(ctx, id, func(sv *Server) error {
		if sv.TaskState == TaskDeleting {
			return errSkip
		}
		sv.TaskState = ""
		if ports != nil {
			sv.Ports = ports(sv.Ports)
		}
		if power != nil && *power != agentapi.PowerNoState {
			sv.PowerState = *power
		}
		return nil
	})
}

func nicOf(p *Port) agentapi.NIC {
	return agentapi.NIC{PortID: p.ID, NetworkID: p.NetworkID, MAC: p.MAC, MTU: p.MTU, FixedIPs: p.FixedIPs, Bridge: p.Bridge, Tap: p.Tap,
		Gateway: p.Gateway, CIDR: p.CIDR, DNSServers: p.DNSServers, DHCPIP: p.DHCPIP}
}

// AttachInterface plugs a port into a server, creating it on a network
// when r names one (such ports are deleted again on detach): the port is
// bound to the server's host, the node plugs it (hot-plugged into a
// running guest), and the server's ports include it. A failure unbinds or
// deletes the port and leaves the server as it was.
func (s *Service) AttachInterface(ctx context.Context, c Caller, id string, r AttachRequest) (*Interface, error) {
	if r.PortID != "" && r.NetworkID != "" {
		return nil, errs.BadRequest("Must not input both network_id and port_id")
	}
	if r.FixedIP != "" && r.NetworkID == "" {
		return nil, errs.BadRequest("Must input network_id when request IP address")
	}
	if _, err := s.GetServer(ctx, c, id); err != nil {
		return nil, err
	}
	if err := s.needNetworks(); err != nil {
		return nil, err
	}
	// Resolve the request before the server is marked busy.
	switch {
	case r.PortID != "":
		p, err := s.networks.GetPort(ctx, c, r.PortID)
		if errs.Is(err, errs.KindNotFound) {
			return nil, errs.NotFound("Port id %s could not be found.", r.PortID)
		}
		if err != nil {
			return nil, err
		}
		if p.DeviceID != "" {
			return nil, errs.Conflict("Port %s is still in use.", r.PortID)
		}
	case r.NetworkID != "":
		if _, err := s.networks.GetNetwork(ctx, c, r.NetworkID); err != nil {
			if errs.Is(err, errs.KindNotFound) {
				return nil, errs.NotFound("Network %s could not be found.", r.NetworkID)
			}
			return nil, err
		}
	default:
		nets, err := s.networks.AvailableNetworks(ctx, c)
		if err != nil {
			return nil, err
		}
		switch len(nets) {
		case 0:
			return nil, errs.BadRequest("No specific network was requested and none are available for project '%s'.", c.ProjectID)
		case 1:
			r.NetworkID = nets[0].ID
		default:
			return nil, errs.BadRequest("Multiple possible networks found, use a Network ID to be more specific.")
		}
	}
	sv, err := s.beginInterfaceTask(ctx, c, id, "attach_interface", TaskInterfaceAttaching, attachStates)
	if err != nil {
		return nil, err
	}
	// The work goes on when the client hangs up: nothing is left half done.
	ctx = context.WithoutCancel(ctx)
	_ = s.store.AddAction(ctx, Action{RequestID: c.RequestID, ServerID: id, ProjectID: sv.ProjectID, UserID: c.UserID, Action: "attach_interface", StartTime: s.now()})
	const event = "compute_attach_interface"
	_ = s.store.StartEvent(ctx, id, c.RequestID, event, sv.Host, s.now())
	fail := func(err error) (*Interface, error) {
		s.endInterfaceTask(ctx, id, nil, nil)
		_ = s.store.FinishEvent(ctx, id, c.RequestID, event, s.now(), "Error", err.Error())
		return nil, err
	}
	host := sv.Host
	if n, err := s.store.GetNode(ctx, sv.NodeID); err == nil {
		host = n.Hostname
	}
	var p *Port
	portID, created := r.PortID, false
	if r.PortID != "" {
		p, err = s.networks.BindPort(ctx, c, r.PortID, id, host)
	} else {
		p, err = s.networks.CreatePort(ctx, c, PortRequest{NetworkID: r.NetworkID, FixedIP: r.FixedIP, DeviceID: id, Host: host, SecurityGroups: sv.SecurityGroups})
		if err == nil {
			portID, created = p.ID, true
			p, err = s.networks.BindPort(ctx, c, p.ID, id, host)
		}
	}
	release := func(portID string) {
		var err error
		if created {
			err = s.networks.DeletePort(ctx, Caller{Admin: true, ProjectID: sv.ProjectID}, portID)
		} else {
			err = s.networks.UnbindPort(ctx, Caller{Admin: true, ProjectID: sv.ProjectID}, portID, id)
		}
		if err != nil && !errs.Is(err, errs.KindNotFound) {
			s.log.Warn("release port after a failed attach", "server", id, "port", portID, "err", err)
		}
	}
	if err != nil {
		if created {
			release(portID)
		}
		return fail(attachError(err))
	}
	netName := p.NetworkID
	if nw, err := s.networks.GetNetwork(ctx, Caller{Admin: true}, p.NetworkID); err == nil {
		netName = nw.Name
		if p.MTU == 0 {
			p.MTU = nw.MTU
		}
	}
	sp := ServerPort{ID: p.ID, NetworkID: p.NetworkID, NetworkName: netName, MAC: p.MAC, FixedIPs: p.FixedIPs, Created: created}
	// Recorded before the node plugs it: a server deleted meanwhile
	// releases the port with its others.
	if _, err := s.store.UpdateServer(ctx, id, func(sv *Server) error {
		sv.Ports = append(withoutPort(sv.Ports, p.ID), sp)
		return nil
	}); err != nil {
		release(p.ID)
		return fail(err)
	}
	nic := nicOf(p)
	res, err := s.sendTask(ctx, sv.NodeID, agentapi.Task{ID: ids.UUID(), ServerID: id, Op: agentapi.OpAttachInterface, NIC: &nic}, 0)
	if err != nil {
		s.log.Warn("attach interface failed", "server", id, "port", p.ID, "err", err)
		// The node undid its part; make sure it holds nothing of the port.
		_, _ = s.sendTask(ctx, sv.NodeID, agentapi.Task{ID: ids.UUID(), ServerID: id, Op: agentapi.OpDetachInterface, NIC: &agentapi.NIC{PortID: p.ID}}, 0)
		release(p.ID)
		s.endInterfaceTask(ctx, id, func(ports []ServerPort) []ServerPort { return withoutPort(ports, p.ID) }, nil)
		_ = s.store.FinishEvent(ctx, id, c.RequestID, event, s.now(), "Error", err.Error())
		return nil, &errs.Error{Kind: errs.KindInternal, Message: fmt.Sprintf("Failed to attach network adapter device to %s", id), Cause: err}
	}
	s.endInterfaceTask(ctx, id, nil, &res.PowerState)
	_ = s.store.FinishEvent(ctx, id, c.RequestID, event, s.now(), "Success", "")
	if full, err := s.networks.GetPort(ctx, Caller{Admin: true}, p.ID); err == nil {
		p = full
	}
	return interfaceOf(p), nil
}

// attachError maps the network service's answers to nova's: an
// exhausted network is the client's (NoMoreFixedIps), a taken address
// conflicts (FixedIpAlreadyInUse), unknown networks are not found.
func attachError(err error) error {
	e := errs.From(err)
	switch {
	case e.Type == "IpAddressGenerationFailure":
		return errs.BadRequest("%s", e.Message)
	case e.Kind == errs.KindNotFound, e.Kind == errs.KindConflict, e.Kind == errs.KindBadRequest:
		return e
	}
	return err
}

func withoutPort(ports []ServerPort, portID string) []ServerPort {
	out := []ServerPort{}
	for _, p := range ports {
		if p.ID != portID {
			out = append(out, p)
		}
	}
	return out
}

// DetachInterface unplugs a port from a server: out of the guest (which
// must let it go), off the node's bridge and DHCP hosts; then the port is
// deleted when nova created it, else unbound.
func (s *Service) DetachInterface(ctx context.Context, c Caller, id, portID string) error {
	cur, err := s.GetServer(ctx, c, id)
	if err != nil {
		return err
	}
	if err := s.needNetworks(); err != nil {
		return err
	}
	var sp *ServerPort
	for i := range cur.Ports {
		if cur.Ports[i].ID == portID {
			sp = &cur.Ports[i]
		}
	}
	if sp == nil {
		return errs.NotFound("Port %s is not attached", portID)
	}
	sv, err := s.beginInterfaceTask(ctx, c, id, "detach_interface", TaskInterfaceDetaching, detachStates)
	if err != nil {
		return err
	}
	ctx = context.WithoutCancel(ctx)
	_ = s.store.AddAction(ctx, Action{RequestID: c.RequestID, ServerID: id, ProjectID: sv.ProjectID, UserID: c.UserID, Action: "detach_interface", StartTime: s.now()})
	const event = "compute_detach_interface"
	_ = s.store.StartEvent(ctx, id, c.RequestID, event, sv.Host, s.now())
	res, err := s.sendTask(ctx, sv.NodeID, agentapi.Task{ID: ids.UUID(), ServerID: id, Op: agentapi.OpDetachInterface, NIC: &agentapi.NIC{PortID: portID}}, 0)
	if err != nil {
		s.log.Warn("detach interface failed", "server", id, "port", portID, "err", err)
		s.endInterfaceTask(ctx, id, nil, &res.PowerState)
		_ = s.store.FinishEvent(ctx, id, c.RequestID, event, s.now(), "Error", err.Error())
		return &errs.Error{Kind: errs.KindInternal, Message: fmt.Sprintf("Failed to detach network adapter device from %s", id), Cause: err}
	}
	admin := Caller{Admin: true, ProjectID: sv.ProjectID}
	if sp.Created {
		err = s.networks.DeletePort(ctx, admin, portID)
	} else {
		err = s.networks.UnbindPort(ctx, admin, portID, id)
	}
	if err != nil && !errs.Is(err, errs.KindNotFound) {
		s.log.Warn("release detached port", "server", id, "port", portID, "err", err)
	}
	s.endInterfaceTask(ctx, id, func(ports []ServerPort) []ServerPort { return withoutPort(ports, portID) }, &res.PowerState)
	_ = s.store.FinishEvent(ctx, id, c.RequestID, event, s.now(), "Success", "")
	return nil
}
