package network

import (
	"context"

	"github.com/gureum/gureum/internal/platform/errs"
	"github.com/gureum/gureum/internal/platform/ids"
)

// FloatingIPSpec is a floating IP create or update body.
type FloatingIPSpec struct {
	FloatingNetworkID *string     `json:"floating_network_id"`
	FloatingIPAddress *string     `json:"floating_ip_address"`
	SubnetID          *string     `json:"subnet_id"`
	PortID            Opt[string] `json:"port_id"`
	FixedIPAddress    Opt[string] `json:"fixed_ip_address"`
	Description       *string     `json:"description"`
	ProjectID         *string     `json:"project_id"`
	TenantID          *string     `json:"tenant_id"`
	DNSName           *string     `json:"dns_name"`
	DNSDomain         *string     `json:"dns_domain"`
	QoSPolicyID       *string     `json:"qos_policy_id"`
	Tags              []string    `json:"tags"`
}

// CreateFloatingIP allocates an address on an external network, and
// associates it when a port is given.
func (s *Service) CreateFloatingIP(ctx context.Context, c Caller, sp FloatingIPSpec) (*FloatingIP, error) {
	project, err := owner(c, sp.ProjectID, sp.TenantID)
	if err != nil {
		return nil, err
	}
	if sp.FloatingNetworkID == nil || *sp.FloatingNetworkID == "" {
		return nil, badInput("floating_network_id is required.")
	}
	if sp.QoSPolicyID != nil && *sp.QoSPolicyID != "" {
		return nil, badInput("QoS policies are not supported.")
	}
	f := &FloatingIP{Std: s.newStd(ids.UUID(), project, nil, sp.Description), FloatingNetworkID: *sp.FloatingNetworkID, Status: "DOWN", PortForwardings: []any{}}
	setStr(&f.DNSName, sp.DNSName)
	setStr(&f.DNSDomain, sp.DNSDomain)
	if sp.Tags != nil {
		for _, t := range sp.Tags {
			if err := validTag(t); err != nil {
				return nil, err
			}
		}
		f.Tags = sp.Tags
	}
	err = s.store.Tx(ctx, func(o Ops) error {
		n, _, err := load[*Network](ctx, o, c, KindNetwork, f.FloatingNetworkID, false)
		if err != nil {
			return err
		}
		if !n.External {
			return badInput("Bad floatingip request: Network %s is not a valid external network.", n.ID).WithType("BadRequest")
		}
		if err := s.checkQuota(ctx, o, project, "floatingip", KindFloatingIP); err != nil {
			return err
		}
		p := s.servicePort(n.ID, f.ID, OwnerFloatingIP)
		var want []FixedIPSpec
		if sp.FloatingIPAddress != nil || sp.SubnetID != nil {
			if sp.FloatingIPAddress != nil && !c.Admin {
				return errs.Forbidden("Only admins may choose the floating IP address.").WithType("PolicyNotAuthorized")
			}
			fs := FixedIPSpec{}
			setStr(&fs.IPAddress, sp.FloatingIPAddress)
			setStr(&fs.SubnetID, sp.SubnetID)
			want = []FixedIPSpec{fs}
		}
		ips, err := s.allocatePortIPs(ctx, o, n, p, want, want == nil)
		if err != nil {
			return err
		}
		var v4 *FixedIP
		for i := range ips {
			if !isIPv6(ips[i].IPAddress) {
				v4 = &ips[i]
				break
			}
		}
		if v4 == nil {
			return exhausted(n.ID)
		}
		p.FixedIPs = []FixedIP{*v4}
		for _, x := range ips {
			if x != *v4 {
				if err := o.ReleaseIP(ctx, x.SubnetID, x.IPAddress); err != nil {
					return err
				}
			}
		}
		f.FloatingIPAddress = v4.IPAddress
		if err := insert(ctx, o, p); err != nil {
			return err
		}
		if sp.PortID.Set && !sp.PortID.Null && sp.PortID.V != "" {
			if err := s.associate(ctx, o, c, f, sp.PortID.V, sp.FixedIPAddress); err != nil {
				return err
			}
		}
		return insert(ctx, o, f)
	})
	if err != nil {
		return nil, err
	}
	return f, nil
}

// associate maps f to a port's fixed address; the address must reach the
// floating network through a router with a gateway on it.
func (s *Service) associate(ctx context.Context, o Ops, c Caller, f *FloatingIP, portID string, fixed Opt[string]) error {
	p, prow, err := load[*Port](ctx, o, c, KindPort, portID, false)
	if err != nil {
		return err
	}
	if prow.ProjectID != f.ProjectID && !c.Admin {
		return notFound(KindPort, portID)
	}
	if len(p.DeviceOwner) > 8 && p.DeviceOwner[:8] == "network:" {
		return badInput("Bad floatingip request: Port %s has owner %s and therefore cannot be assigned a floating IP.", p.ID, p.DeviceOwner).WithType("BadRequest")
	}
	var chosen *FixedIP
	for i := range p.FixedIPs {
		x := &p.FixedIPs[i]
		if isIPv6(x.IPAddress) {
			continue
		}
		if fixed.Set && !fixed.Null && fixed.V != "" {
			if x.IPAddress == fixed.V {
				chosen = x
			}
			continue
		}
		if chosen != nil {
			return badInput("Bad floatingip request: Port %s has multiple fixed IPv4 addresses. Must provide a specific IPv4 address when assigning a floating IP.", p.ID).WithType("BadRequest")
		}
		chosen = x
	}
	if chosen == nil {
		if fixed.Set && !fixed.Null && fixed.V != "" {
			return badInput("Bad floatingip request: Port %s does not have fixed ip %s.", p.ID, fixed.V).WithType("BadRequest")
		}
		return badInput("Bad floatingip request: Port %s does not have any IPv4 address.", p.ID).WithType("BadRequest")
	}
	// Another floating IP on the same fixed address?
	others, err := o.List(ctx, KindFloatingIP, Query{Eq: map[string][]string{"device_id": {p.ID}}})
	if err != nil {
		return err
	}
	for _, row := range others {
		if row.ID == f.ID {
			continue
		}
		x, err := decode(KindFloatingIP, row)
		if err != nil {
			return err
		}
		if of := x.(*FloatingIP); of.FixedIPAddress != nil && *of.FixedIPAddress == chosen.IPAddress && of.FloatingNetworkID == f.FloatingNetworkID {
			return errs.Conflict("Cannot associate floating IP %s (%s) with port %s using fixed IP %s, as that fixed IP already has a floating IP on external network %s.",
				f.FloatingIPAddress, f.ID, p.ID, chosen.IPAddress, f.FloatingNetworkID).WithType("FloatingIPPortAlreadyAssociated")
		}
	}
	routerID, err := s.reachingRouter(ctx, o, f.FloatingNetworkID, chosen.SubnetID)
	if err != nil {
		return err
	}
	if routerID == "" {
		return errs.NotFound("External network %s is not reachable from subnet %s.  Therefore, cannot associate Port %s with a Floating IP.", f.FloatingNetworkID, chosen.SubnetID, p.ID).WithType("ExternalGatewayForFloatingIPNotFound")
	}
	pid, ip := p.ID, chosen.IPAddress
	f.PortID, f.FixedIPAddress, f.RouterID, f.Status = &pid, &ip, &routerID, "ACTIVE"
	return nil
}

// reachingRouter finds a router with a gateway on the external network
// and an interface on the subnet.
func (s *Service) reachingRouter(ctx context.Context, o Ops, extNetID, subnetID string) (string, error) {
	routers, err := o.List(ctx, KindRouter, Query{Eq: map[string][]string{"parent_id": {extNetID}}})
	if err != nil {
		return "", err
	}
	for _, r := range routers {
		ports, err := routerPorts(ctx, o, r.ID)
		if err != nil {
			return "", err
		}
		for _, p := range ports {
			if p.DeviceOwner != OwnerRouterInterface {
				continue
			}
			for _, fx := range p.FixedIPs {
				if fx.SubnetID == subnetID {
					return r.ID, nil
				}
			}
		}
	}
	return "", nil
}

func disassociate(f *FloatingIP) {
	f.PortID, f.FixedIPAddress, f.RouterID, f.Status = nil, nil, nil, "DOWN"
}

// UpdateFloatingIP associates, re-associates or disassociates.
func (s *Service) UpdateFloatingIP(ctx context.Context, c Caller, id string, sp FloatingIPSpec, rev *int64) (*FloatingIP, error) {
	if sp.FloatingNetworkID != nil || sp.FloatingIPAddress != nil || sp.SubnetID != nil || sp.ProjectID != nil || sp.TenantID != nil || sp.Tags != nil {
		return nil, badInput("Cannot update read-only attributes of a floating IP.")
	}
	var f *FloatingIP
	err := s.store.Tx(ctx, func(o Ops) error {
		var err error
		var row *Row
		f, row, err = load[*FloatingIP](ctx, o, c, KindFloatingIP, id, true)
		if err != nil {
			return err
		}
		if !ownsOrAdmin(c, row.ProjectID) {
			return errs.Forbidden("You are not allowed to update floating IP %s.", id).WithType("PolicyNotAuthorized")
		}
		if err := CheckRevision(&f.Std, rev); err != nil {
			return err
		}
		setStr(&f.Description, sp.Description)
		if sp.PortID.Set {
			if sp.PortID.Null || sp.PortID.V == "" {
				disassociate(f)
			} else if err := s.associate(ctx, o, c, f, sp.PortID.V, sp.FixedIPAddress); err != nil {
				return err
			}
		}
		return s.save(ctx, o, f)
	})
	return f, err
}

// DeleteFloatingIP releases the address.
func (s *Service) DeleteFloatingIP(ctx context.Context, c Caller, id string, rev *int64) error {
	return s.store.Tx(ctx, func(o Ops) error {
		f, row, err := load[*FloatingIP](ctx, o, c, KindFloatingIP, id, true)
		if err != nil {
			return err
		}
		if !ownsOrAdmin(c, row.ProjectID) {
			return errs.Forbidden("You are not allowed to delete floating IP %s.", id).WithType("PolicyNotAuthorized")
		}
		if err := CheckRevision(&f.Std, rev); err != nil {
			return err
		}
		ports, err := o.List(ctx, KindPort, Query{Eq: map[string][]string{"device_id": {id}}})
		if err != nil {
			return err
		}
		for _, p := range ports {
			if err := deletePort(ctx, o, p.ID); err != nil {
				return err
			}
		}
		return o.Delete(ctx, KindFloatingIP, id)
	})
}

// disassociatePortFIPs clears floating IPs of a port being deleted.
func (s *Service) disassociatePortFIPs(ctx context.Context, o Ops, portID string) error {
	rows, err := o.List(ctx, KindFloatingIP, Query{Eq: map[string][]string{"device_id": {portID}}})
	if err != nil {
		return err
	}
	for _, row := range rows {
		x, err := decode(KindFloatingIP, row)
		if err != nil {
			return err
		}
		f := x.(*FloatingIP)
		disassociate(f)
		if err := s.save(ctx, o, f); err != nil {
			return err
		}
	}
	return nil
}
