package network

import (
	"context"
	"net/netip"
	"slices"

	"github.com/gureum/gureum/internal/platform/errs"
	"github.com/gureum/gureum/internal/platform/ids"
)

// GatewaySpec is external_gateway_info in a request.
type GatewaySpec struct {
	NetworkID        string        `json:"network_id"`
	EnableSNAT       *bool         `json:"enable_snat"`
	ExternalFixedIPs []FixedIPSpec `json:"external_fixed_ips"`
	QoSPolicyID      *string       `json:"qos_policy_id"`
}

// RouterSpec is a router create or update body.
type RouterSpec struct {
	Name                  *string          `json:"name"`
	Description           *string          `json:"description"`
	ProjectID             *string          `json:"project_id"`
	TenantID              *string          `json:"tenant_id"`
	AdminStateUp          *bool            `json:"admin_state_up"`
	Gateway               Opt[GatewaySpec] `json:"external_gateway_info"`
	Routes                *[]Route         `json:"routes"`
	AvailabilityZoneHints []string         `json:"availability_zone_hints"`
	Distributed           *bool            `json:"distributed"`
	HA                    *bool            `json:"ha"`
	FlavorID              *string          `json:"flavor_id"`
	Tags                  []string         `json:"tags"`
}

// MaxRoutes is Neutron's max_routes default.
const MaxRoutes = 30

// InterfaceInfo is the answer to add/remove_router_interface.
type InterfaceInfo struct {
	ID        string   `json:"id"`
	TenantID  string   `json:"tenant_id"`
	ProjectID string   `json:"project_id"`
	SubnetID  string   `json:"subnet_id"`
	SubnetIDs []string `json:"subnet_ids"`
	PortID    string   `json:"port_id"`
	NetworkID string   `json:"network_id"`
}

// CreateRouter creates a router, with its gateway when asked.
func (s *Service) CreateRouter(ctx context.Context, c Caller, sp RouterSpec) (*Router, error) {
	project, err := owner(c, sp.ProjectID, sp.TenantID)
	if err != nil {
		return nil, err
	}
	if (sp.Distributed != nil && *sp.Distributed) || (sp.HA != nil && *sp.HA) || (sp.FlavorID != nil && *sp.FlavorID != "") {
		return nil, badInput("Distributed, HA and flavored routers are not supported.")
	}
	if sp.Routes != nil && len(*sp.Routes) > 0 {
		return nil, badInput("Routes are set by updating the router.")
	}
	for _, z := range sp.AvailabilityZoneHints {
		if z != AvailabilityZone {
			return nil, errs.NotFound("AvailabilityZone %s could not be found.", z).WithType("AvailabilityZoneNotFound")
		}
	}
	r := &Router{Std: s.newStd(ids.UUID(), project, sp.Name, sp.Description), AdminStateUp: true, Status: "ACTIVE",
		Routes: []Route{}, AvailabilityZoneHints: []string{}, AvailabilityZones: []string{AvailabilityZone}}
	if sp.AvailabilityZoneHints != nil {
		r.AvailabilityZoneHints = sp.AvailabilityZoneHints
	}
	setBool(&r.AdminStateUp, sp.AdminStateUp)
	if sp.Tags != nil {
		for _, t := range sp.Tags {
			if err := validTag(t); err != nil {
				return nil, err
			}
		}
		r.Tags = sp.Tags
	}
	err = s.store.Tx(ctx, func(o Ops) error {
		if err := s.checkQuota(ctx, o, project, "router", KindRouter); err != nil {
			return err
		}
		if sp.Gateway.Set && !sp.Gateway.Null {
			if err := s.setGateway(ctx, o, c, r, &sp.Gateway.V); err != nil {
				return err
			}
		}
		return insert(ctx, o, r)
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// setGateway attaches the router to an external network through a port
// the service owns.
func (s *Service) setGateway(ctx context.Context, o Ops, c Caller, r *Router, g *GatewaySpec) error {
	if g.QoSPolicyID != nil && *g.QoSPolicyID != "" {
		return badInput("QoS policies are not supported.")
	}
	snat := true
	if g.EnableSNAT != nil {
		snat = *g.EnableSNAT
	}
	if r.Gateway != nil && r.Gateway.NetworkID == g.NetworkID && g.ExternalFixedIPs == nil {
		r.Gateway.EnableSNAT = snat
		return nil
	}
	if r.Gateway != nil {
		if err := s.clearGateway(ctx, o, r); err != nil {
			return err
		}
	}
	n, _, err := load[*Network](ctx, o, c, KindNetwork, g.NetworkID, false)
	if err != nil {
		return err
	}
	if !n.External {
		return badInput("Bad router request: Network %s is not an external network.", n.ID).WithType("BadRequest")
	}
	if len(g.ExternalFixedIPs) > 0 && !c.Admin {
		return errs.Forbidden("Only admins may choose external fixed IPs.").WithType("PolicyNotAuthorized")
	}
	p := s.servicePort(n.ID, r.ID, OwnerRouterGateway)
	ips, err := s.allocatePortIPs(ctx, o, n, p, g.ExternalFixedIPs, len(g.ExternalFixedIPs) == 0)
	if err != nil {
		return err
	}
	p.FixedIPs = ips
	if err := insert(ctx, o, p); err != nil {
		return err
	}
	r.Gateway = &GatewayInfo{NetworkID: n.ID, EnableSNAT: snat, ExternalFixedIPs: ips}
	return nil
}

func (s *Service) servicePort(networkID, deviceID, owner string) *Port {
	return &Port{Std: s.newStd(ids.UUID(), "", nil, nil), NetworkID: networkID, AdminStateUp: true, Status: "ACTIVE",
		MACAddress: GenerateMAC(), DeviceID: deviceID, DeviceOwner: owner, FixedIPs: []FixedIP{}, SecurityGroups: []string{},
		AllowedAddressPairs: []AddressPair{}, VIFType: "unbound", VIFDetails: map[string]any{}, VNICType: "normal",
		Profile: map[string]any{}, DNSAssignment: []map[string]any{}, ExtraDHCPOpts: []ExtraDHCPOpt{}, IPAllocation: "immediate"}
}

func (s *Service) clearGateway(ctx context.Context, o Ops, r *Router) error {
	fips, err := s.routerFIPs(ctx, o, r.ID)
	if err != nil {
		return err
	}
	if len(fips) > 0 {
		return errs.Conflict("Gateway cannot be updated for router %s, since a gateway to external network %s is required by one or more floating IPs.", r.ID, r.Gateway.NetworkID).WithType("RouterExternalGatewayInUseByFloatingIp")
	}
	ports, err := routerPorts(ctx, o, r.ID)
	if err != nil {
		return err
	}
	for _, p := range ports {
		if p.DeviceOwner == OwnerRouterGateway {
			if err := deletePort(ctx, o, p.ID); err != nil {
				return err
			}
		}
	}
	r.Gateway = nil
	return nil
}

func routerPorts(ctx context.Context, o Ops, routerID string) ([]*Port, error) {
	rows, err := o.List(ctx, KindPort, Query{Eq: map[string][]string{"device_id": {routerID}}})
	if err != nil {
		return nil, err
	}
	var out []*Port
	for _, row := range rows {
		r, err := decode(KindPort, row)
		if err != nil {
			return nil, err
		}
		p := r.(*Port)
		if p.DeviceOwner == OwnerRouterInterface || p.DeviceOwner == OwnerRouterGateway {
			out = append(out, p)
		}
	}
	return out, nil
}

func (s *Service) routerFIPs(ctx context.Context, o Ops, routerID string) ([]*FloatingIP, error) {
	rows, err := o.List(ctx, KindFloatingIP, Query{})
	if err != nil {
		return nil, err
	}
	var out []*FloatingIP
	for _, row := range rows {
		if row.DeviceID == "" {
			continue
		}
		r, err := decode(KindFloatingIP, row)
		if err != nil {
			return nil, err
		}
		f := r.(*FloatingIP)
		if f.RouterID != nil && *f.RouterID == routerID {
			out = append(out, f)
		}
	}
	return out, nil
}

// UpdateRouter changes a router's attributes, gateway and routes.
func (s *Service) UpdateRouter(ctx context.Context, c Caller, id string, sp RouterSpec, rev *int64) (*Router, error) {
	if sp.ProjectID != nil || sp.TenantID != nil || sp.AvailabilityZoneHints != nil || sp.Tags != nil || sp.FlavorID != nil ||
		(sp.Distributed != nil && *sp.Distributed) || (sp.HA != nil && *sp.HA) {
		return nil, badInput("Cannot update read-only attributes of a router.")
	}
	var r *Router
	err := s.store.Tx(ctx, func(o Ops) error {
		var err error
		var row *Row
		r, row, err = load[*Router](ctx, o, c, KindRouter, id, true)
		if err != nil {
			return err
		}
		if !ownsOrAdmin(c, row.ProjectID) {
			return errs.Forbidden("You are not allowed to update router %s.", id).WithType("PolicyNotAuthorized")
		}
		if err := CheckRevision(&r.Std, rev); err != nil {
			return err
		}
		setStr(&r.Name, sp.Name)
		setStr(&r.Description, sp.Description)
		setBool(&r.AdminStateUp, sp.AdminStateUp)
		if sp.Gateway.Set {
			if sp.Gateway.Null || sp.Gateway.V.NetworkID == "" {
				if r.Gateway != nil {
					if err := s.clearGateway(ctx, o, r); err != nil {
						return err
					}
				}
			} else if err := s.setGateway(ctx, o, c, r, &sp.Gateway.V); err != nil {
				return err
			}
		}
		if sp.Routes != nil {
			if err := s.checkRoutes(ctx, o, r, *sp.Routes); err != nil {
				return err
			}
			r.Routes = *sp.Routes
			if r.Routes == nil {
				r.Routes = []Route{}
			}
		}
		return s.save(ctx, o, r)
	})
	return r, err
}

// checkRoutes validates static routes: each next hop must be on a subnet
// the router is connected to.
func (s *Service) checkRoutes(ctx context.Context, o Ops, r *Router, routes []Route) error {
	if len(routes) > MaxRoutes {
		return badInput("Unable to complete operation for %s. Number of routes exceeds the maximum %d.", r.ID, MaxRoutes).WithType("RoutesExhausted")
	}
	cidrs, err := s.routerCIDRs(ctx, o, r.ID, true)
	if err != nil {
		return err
	}
	for i, rt := range routes {
		if _, err := netip.ParsePrefix(rt.Destination); err != nil {
			return badInput("Invalid format for routes: %v, '%s' is not a valid destination.", routes, rt.Destination).WithType("InvalidRoutes")
		}
		hop, err := netip.ParseAddr(rt.NextHop)
		if err != nil {
			return badInput("Invalid format for routes: %v, '%s' is not a valid nexthop.", routes, rt.NextHop).WithType("InvalidRoutes")
		}
		ok := false
		for _, c := range cidrs {
			if c.cidr.Contains(hop) {
				ok = true
			}
		}
		if !ok {
			return badInput("Invalid format for routes: %v, the nexthop %s is not connected with router.", routes, rt.NextHop).WithType("InvalidRoutes")
		}
		if slices.Contains(routes[:i], rt) {
			return badInput("Invalid format for routes: duplicate route %v.", rt).WithType("InvalidRoutes")
		}
	}
	return nil
}

type routerCIDR struct {
	subnetID string
	cidr     netip.Prefix
	portID   string
}

// routerCIDRs lists the subnets the router's interfaces (and gateway,
// when withGateway) sit on.
func (s *Service) routerCIDRs(ctx context.Context, o Ops, routerID string, withGateway bool) ([]routerCIDR, error) {
	ports, err := routerPorts(ctx, o, routerID)
	if err != nil {
		return nil, err
	}
	var out []routerCIDR
	for _, p := range ports {
		if p.DeviceOwner == OwnerRouterGateway && !withGateway {
			continue
		}
		for _, f := range p.FixedIPs {
			row, err := o.Get(ctx, KindSubnet, f.SubnetID, false)
			if err != nil {
				continue
			}
			r, err := decode(KindSubnet, row)
			if err != nil {
				return nil, err
			}
			if pf, err := netip.ParsePrefix(r.(*Subnet).CIDR); err == nil {
				out = append(out, routerCIDR{f.SubnetID, pf, p.ID})
			}
		}
	}
	return out, nil
}

// DeleteRouter deletes a router without interfaces, and its gateway port.
func (s *Service) DeleteRouter(ctx context.Context, c Caller, id string, rev *int64) error {
	return s.store.Tx(ctx, func(o Ops) error {
		r, row, err := load[*Router](ctx, o, c, KindRouter, id, true)
		if err != nil {
			return err
		}
		if !ownsOrAdmin(c, row.ProjectID) {
			return errs.Forbidden("You are not allowed to delete router %s.", id).WithType("PolicyNotAuthorized")
		}
		if err := CheckRevision(&r.Std, rev); err != nil {
			return err
		}
		ports, err := routerPorts(ctx, o, id)
		if err != nil {
			return err
		}
		for _, p := range ports {
			if p.DeviceOwner == OwnerRouterInterface {
				return errs.Conflict("Router %s still has ports.", id).WithType("RouterInUse")
			}
		}
		if r.Gateway != nil {
			if err := s.clearGateway(ctx, o, r); err != nil {
				return err
			}
		}
		return o.Delete(ctx, KindRouter, id)
	})
}

// InterfaceSpec names a subnet or a port to attach or detach.
type InterfaceSpec struct {
	SubnetID string `json:"subnet_id"`
	PortID   string `json:"port_id"`
}

// AddRouterInterface connects a subnet (through a new port holding its
// gateway address) or an existing port to the router.
func (s *Service) AddRouterInterface(ctx context.Context, c Caller, routerID string, sp InterfaceSpec) (*InterfaceInfo, error) {
	if (sp.SubnetID == "") == (sp.PortID == "") {
		return nil, badInput("Bad router request: Either subnet_id or port_id must be specified.").WithType("BadRequest")
	}
	var info *InterfaceInfo
	err := s.store.Tx(ctx, func(o Ops) error {
		r, row, err := load[*Router](ctx, o, c, KindRouter, routerID, true)
		if err != nil {
			return err
		}
		if !ownsOrAdmin(c, row.ProjectID) {
			return errs.Forbidden("You are not allowed to change router %s.", routerID).WithType("PolicyNotAuthorized")
		}
		existing, err := s.routerCIDRs(ctx, o, routerID, false)
		if err != nil {
			return err
		}
		var p *Port
		if sp.PortID != "" {
			var prow *Row
			p, prow, err = load[*Port](ctx, o, c, KindPort, sp.PortID, true)
			if err != nil {
				return err
			}
			if !ownsOrAdmin(c, prow.ProjectID) {
				return errs.Forbidden("You are not allowed to use port %s.", sp.PortID).WithType("PolicyNotAuthorized")
			}
			if p.DeviceID != "" || p.DeviceOwner != "" {
				return errs.Conflict("Unable to complete operation on port %s for network %s. Port already has an attached device %s.", p.ID, p.NetworkID, p.DeviceID).WithType("PortInUse")
			}
			if len(p.FixedIPs) == 0 {
				return badInput("Bad router request: Router port must have at least one fixed IP.").WithType("BadRequest")
			}
		} else {
			sn, srow, err := load[*Subnet](ctx, o, c, KindSubnet, sp.SubnetID, false)
			if err != nil {
				return err
			}
			if !ownsOrAdmin(c, srow.ProjectID) && !srow.Shared {
				return errs.Forbidden("You are not allowed to use subnet %s.", sn.ID).WithType("PolicyNotAuthorized")
			}
			if sn.GatewayIP == nil {
				return badInput("Bad router request: Subnet for router interface must have a gateway IP.").WithType("BadRequest")
			}
			n, _, err := load[*Network](ctx, o, Caller{Admin: true}, KindNetwork, sn.NetworkID, false)
			if err != nil {
				return err
			}
			p = s.servicePort(sn.NetworkID, "", OwnerRouterInterface)
			p.ProjectID = r.ProjectID
			ips, err := s.allocatePortIPs(ctx, o, n, p, []FixedIPSpec{{SubnetID: sn.ID, IPAddress: *sn.GatewayIP}}, false)
			if err != nil {
				return err
			}
			p.FixedIPs = ips
			if err := insert(ctx, o, p); err != nil {
				return err
			}
		}
		// Overlapping subnets on one router cannot be routed.
		for _, f := range p.FixedIPs {
			srow, err := o.Get(ctx, KindSubnet, f.SubnetID, false)
			if err != nil {
				return err
			}
			x, err := decode(KindSubnet, srow)
			if err != nil {
				return err
			}
			pf, _ := netip.ParsePrefix(x.(*Subnet).CIDR)
			for _, e := range existing {
				if e.subnetID == f.SubnetID {
					return badInput("Bad router request: Router already has a port on subnet %s.", f.SubnetID).WithType("BadRequest")
				}
				if e.cidr.Overlaps(pf) {
					return badInput("Bad router request: Cidr %s of subnet %s overlaps with cidr %s of subnet %s.", pf, f.SubnetID, e.cidr, e.subnetID).WithType("BadRequest")
				}
			}
		}
		p.DeviceID, p.DeviceOwner, p.Status = r.ID, OwnerRouterInterface, "ACTIVE"
		if err := s.save(ctx, o, p); err != nil {
			return err
		}
		if err := o.SetPortSecurityGroups(ctx, p.ID, nil); err != nil {
			return err
		}
		info = interfaceInfo(r, p)
		return s.save(ctx, o, r)
	})
	return info, err
}

func interfaceInfo(r *Router, p *Port) *InterfaceInfo {
	info := &InterfaceInfo{ID: r.ID, TenantID: r.ProjectID, ProjectID: r.ProjectID, PortID: p.ID, NetworkID: p.NetworkID, SubnetIDs: []string{}}
	for _, f := range p.FixedIPs {
		info.SubnetIDs = append(info.SubnetIDs, f.SubnetID)
	}
	if len(info.SubnetIDs) > 0 {
		info.SubnetID = info.SubnetIDs[0]
	}
	return info
}

// RemoveRouterInterface detaches a subnet or port from the router and
// deletes the interface port.
func (s *Service) RemoveRouterInterface(ctx context.Context, c Caller, routerID string, sp InterfaceSpec) (*InterfaceInfo, error) {
	if sp.SubnetID == "" && sp.PortID == "" {
		return nil, badInput("Bad router request: Either subnet_id or port_id must be specified.").WithType("BadRequest")
	}
	var info *InterfaceInfo
	err := s.store.Tx(ctx, func(o Ops) error {
		r, row, err := load[*Router](ctx, o, c, KindRouter, routerID, true)
		if err != nil {
			return err
		}
		if !ownsOrAdmin(c, row.ProjectID) {
			return errs.Forbidden("You are not allowed to change router %s.", routerID).WithType("PolicyNotAuthorized")
		}
		ports, err := routerPorts(ctx, o, routerID)
		if err != nil {
			return err
		}
		var found *Port
		for _, p := range ports {
			if p.DeviceOwner != OwnerRouterInterface {
				continue
			}
			if sp.PortID != "" && p.ID == sp.PortID {
				found = p
			}
			if sp.PortID == "" && slices.ContainsFunc(p.FixedIPs, func(f FixedIP) bool { return f.SubnetID == sp.SubnetID }) {
				found = p
			}
		}
		if found == nil {
			if sp.PortID != "" {
				return errs.NotFound("Router %s does not have an interface with id %s.", routerID, sp.PortID).WithType("RouterInterfaceNotFound")
			}
			return errs.NotFound("Router %s has no interface on subnet %s.", routerID, sp.SubnetID).WithType("RouterInterfaceNotFoundForSubnet")
		}
		if sp.SubnetID != "" && sp.PortID != "" && !slices.ContainsFunc(found.FixedIPs, func(f FixedIP) bool { return f.SubnetID == sp.SubnetID }) {
			return errs.Conflict("Subnet %s is not on port %s.", sp.SubnetID, sp.PortID).WithType("SubnetMismatchForPort")
		}
		// Floating IPs reaching fixed addresses through this interface.
		fips, err := s.routerFIPs(ctx, o, routerID)
		if err != nil {
			return err
		}
		for _, f := range fips {
			if f.PortID == nil || f.FixedIPAddress == nil {
				continue
			}
			a, _ := netip.ParseAddr(*f.FixedIPAddress)
			for _, fx := range found.FixedIPs {
				srow, err := o.Get(ctx, KindSubnet, fx.SubnetID, false)
				if err != nil {
					continue
				}
				x, _ := decode(KindSubnet, srow)
				if pf, err := netip.ParsePrefix(x.(*Subnet).CIDR); err == nil && pf.Contains(a) {
					return errs.Conflict("Cannot remove router interface on subnet %s: it is required by one or more floating IPs.", fx.SubnetID).WithType("RouterInterfaceInUseByFloatingIP")
				}
			}
		}
		info = interfaceInfo(r, found)
		if err := deletePort(ctx, o, found.ID); err != nil {
			return err
		}
		return s.save(ctx, o, r)
	})
	return info, err
}

// RouterPorts returns a router's interface and gateway ports, for the
// data plane.
func (s *Service) RouterPorts(ctx context.Context, routerID string) ([]*Port, error) {
	return routerPorts(ctx, s.store.Read(), routerID)
}
