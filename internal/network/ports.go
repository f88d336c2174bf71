package network

import (
	"context"
	"net/netip"
	"slices"
	"strings"

	"github.com/gureum/gureum/internal/platform/errs"
	"github.com/gureum/gureum/internal/platform/ids"
)

// Device owners Neutron gives meaning to.
const (
	OwnerRouterInterface = "network:router_interface"
	OwnerRouterGateway   = "network:router_gateway"
	OwnerFloatingIP      = "network:floatingip"
	OwnerDHCP            = "network:dhcp"
)

// Port limits.
const (
	MaxFixedIPs     = 16
	MaxAddressPairs = 10
	MaxDHCPOpts     = 32
)

// FixedIPSpec asks for an address by subnet, by address, or both.
type FixedIPSpec struct {
	SubnetID  string `json:"subnet_id,omitempty"`
	IPAddress string `json:"ip_address,omitempty"`
}

// PortSpec is a port create or update body.
type PortSpec struct {
	Name                *string             `json:"name"`
	Description         *string             `json:"description"`
	ProjectID           *string             `json:"project_id"`
	TenantID            *string             `json:"tenant_id"`
	NetworkID           *string             `json:"network_id"`
	AdminStateUp        *bool               `json:"admin_state_up"`
	MACAddress          *string             `json:"mac_address"`
	FixedIPs            *[]FixedIPSpec      `json:"fixed_ips"`
	DeviceID            *string             `json:"device_id"`
	DeviceOwner         *string             `json:"device_owner"`
	SecurityGroups      *[]string           `json:"security_groups"`
	AllowedAddressPairs *[]AddressPair      `json:"allowed_address_pairs"`
	PortSecurityEnabled *bool               `json:"port_security_enabled"`
	HostID              *string             `json:"binding:host_id"`
	VNICType            *string             `json:"binding:vnic_type"`
	Profile             Opt[map[string]any] `json:"binding:profile"`
	DNSName             *string             `json:"dns_name"`
	ExtraDHCPOpts       *[]DHCPOptSpec      `json:"extra_dhcp_opts"`
	Tags                []string            `json:"tags"`
	QoSPolicyID         Opt[string]         `json:"qos_policy_id"`
	PropagateUplink     *bool               `json:"propagate_uplink_status"`
}

// DHCPOptSpec sets a DHCP option; on update a null value removes it.
type DHCPOptSpec struct {
	OptName   string  `json:"opt_name"`
	OptValue  *string `json:"opt_value"`
	IPVersion int     `json:"ip_version,omitempty"`
}

// CreatePort creates a port and allocates its addresses in one
// transaction: when any address cannot be had, nothing is created.
func (s *Service) CreatePort(ctx context.Context, c Caller, sp PortSpec) (*Port, error) {
	project, err := owner(c, sp.ProjectID, sp.TenantID)
	if err != nil {
		return nil, err
	}
	if sp.NetworkID == nil || *sp.NetworkID == "" {
		return nil, badInput("network_id is required.")
	}
	p := &Port{Std: s.newStd(ids.UUID(), project, sp.Name, sp.Description), NetworkID: *sp.NetworkID, AdminStateUp: true,
		Status: "DOWN", FixedIPs: []FixedIP{}, SecurityGroups: []string{}, AllowedAddressPairs: []AddressPair{},
		VIFType: "unbound", VIFDetails: map[string]any{}, VNICType: "normal", Profile: map[string]any{},
		DNSAssignment: []map[string]any{}, ExtraDHCPOpts: []ExtraDHCPOpt{}, IPAllocation: "immediate"}
	if err := s.applyPortSpec(p, sp, true); err != nil {
		return nil, err
	}
	if sp.MACAddress != nil {
		if !validMAC(*sp.MACAddress) {
			return nil, badInput("'%s' is not a valid MAC address.", *sp.MACAddress)
		}
		p.MACAddress = strings.ToLower(*sp.MACAddress)
	} else {
		p.MACAddress = GenerateMAC()
	}
	err = s.store.Tx(ctx, func(o Ops) error {
		n, nrow, err := load[*Network](ctx, o, c, KindNetwork, p.NetworkID, false)
		if err != nil {
			return err
		}
		if !c.Admin && nrow.ProjectID != c.ProjectID && !n.Shared {
			// External networks are visible, but only admins attach to them.
			return errs.Forbidden("You are not allowed to create a port on network %s.", n.ID).WithType("PolicyNotAuthorized")
		}
		if err := s.checkQuota(ctx, o, project, "port", KindPort); err != nil {
			return err
		}
		if sp.PortSecurityEnabled == nil {
			p.PortSecurityEnabled = n.PortSecurityEnabled
		}
		var fixed []FixedIPSpec
		if sp.FixedIPs != nil {
			fixed = *sp.FixedIPs
		}
		ips, err := s.allocateIPs(ctx, o, n, p, fixed, sp.FixedIPs == nil, true)
		if err != nil {
			return err
		}
		p.FixedIPs = ips
		if err := s.portSecurityGroups(ctx, o, c, p, sp, true); err != nil {
			return err
		}
		if err := insert(ctx, o, p); err != nil {
			return err
		}
		return o.SetPortSecurityGroups(ctx, p.ID, p.SecurityGroups)
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// applyPortSpec copies and validates the simple attributes.
func (s *Service) applyPortSpec(p *Port, sp PortSpec, create bool) error {
	if sp.QoSPolicyID.Set && !sp.QoSPolicyID.Null {
		return badInput("QoS policies are not supported.")
	}
	setStr(&p.Name, sp.Name)
	setStr(&p.Description, sp.Description)
	setBool(&p.AdminStateUp, sp.AdminStateUp)
	setStr(&p.DeviceID, sp.DeviceID)
	setStr(&p.DeviceOwner, sp.DeviceOwner)
	setBool(&p.PortSecurityEnabled, sp.PortSecurityEnabled)
	if len(p.DeviceID) > 255 || len(p.DeviceOwner) > 255 {
		return badInput("device_id and device_owner are at most 255 characters.")
	}
	if sp.DNSName != nil {
		if len(*sp.DNSName) > 63 || strings.ContainsAny(*sp.DNSName, " ./_") {
			return badInput("'%s' is not a valid DNS name.", *sp.DNSName)
		}
		p.DNSName = *sp.DNSName
	}
	if sp.HostID != nil {
		p.HostID = *sp.HostID
		if p.HostID != "" && p.VIFType == "unbound" {
			// Gureum's data plane binds every port to a Linux bridge.
			p.VIFType = "bridge"
			p.VIFDetails = map[string]any{"port_filter": true, "connectivity": "l2"}
		}
		if p.HostID == "" {
			p.VIFType, p.VIFDetails = "unbound", map[string]any{}
		}
	}
	if sp.VNICType != nil {
		if !slices.Contains([]string{"normal", "direct", "macvtap", "baremetal", "direct-physical", "virtio-forwarder", "smart-nic", "remote-managed"}, *sp.VNICType) {
			return badInput("'%s' is not a valid vnic type.", *sp.VNICType)
		}
		p.VNICType = *sp.VNICType
	}
	if sp.Profile.Set {
		p.Profile = map[string]any{}
		if !sp.Profile.Null && sp.Profile.V != nil {
			p.Profile = sp.Profile.V
		}
	}
	if sp.AllowedAddressPairs != nil {
		pairs := *sp.AllowedAddressPairs
		if len(pairs) > MaxAddressPairs {
			return badInput("The number of allowed address pair exceeds the maximum %d.", MaxAddressPairs).WithType("AllowedAddressPairExhausted")
		}
		for i, ap := range pairs {
			if _, err := netip.ParseAddr(ap.IPAddress); err != nil {
				if _, err := netip.ParsePrefix(ap.IPAddress); err != nil {
					return badInput("'%s' is not a valid IP address.", ap.IPAddress)
				}
			}
			if ap.MACAddress != "" && !validMAC(ap.MACAddress) {
				return badInput("'%s' is not a valid MAC address.", ap.MACAddress)
			}
			for _, q := range pairs[:i] {
				if q == ap {
					return badInput("Request contains duplicate address pair: mac_address %s ip_address %s.", ap.MACAddress, ap.IPAddress).WithType("DuplicateAddressPairInRequest")
				}
			}
		}
		p.AllowedAddressPairs = pairs
	}
	if sp.ExtraDHCPOpts != nil {
		// Options merge by (name, IP version), as in Neutron: given ones
		// are set, null values removed, others kept.
		opts := p.ExtraDHCPOpts
		if create {
			opts = nil
		}
		for _, o := range *sp.ExtraDHCPOpts {
			v := o.IPVersion
			if v == 0 {
				v = 4
			}
			if o.OptName == "" || len(o.OptName) > 64 || (v != 4 && v != 6) || (o.OptValue != nil && len(*o.OptValue) > 255) {
				return badInput("Invalid extra DHCP option %q.", o.OptName)
			}
			opts = slices.DeleteFunc(opts, func(x ExtraDHCPOpt) bool { return x.OptName == o.OptName && x.IPVersion == v })
			if o.OptValue != nil {
				opts = append(opts, ExtraDHCPOpt{OptName: o.OptName, OptValue: *o.OptValue, IPVersion: v})
			} else if create {
				return badInput("Invalid extra DHCP option %q: a value is required.", o.OptName)
			}
		}
		if len(opts) > MaxDHCPOpts {
			return badInput("At most %d extra DHCP options.", MaxDHCPOpts)
		}
		if opts == nil {
			opts = []ExtraDHCPOpt{}
		}
		p.ExtraDHCPOpts = opts
	}
	if create && sp.Tags != nil {
		for _, t := range sp.Tags {
			if err := validTag(t); err != nil {
				return err
			}
		}
		p.Tags = slices.Compact(slices.Sorted(slices.Values(sp.Tags)))
	}
	if !p.PortSecurityEnabled && len(p.AllowedAddressPairs) > 0 && sp.PortSecurityEnabled != nil {
		return errs.Conflict("Port Security must be enabled in order to have allowed address pairs on a port.").WithType("AddressPairAndPortSecurityRequired")
	}
	return nil
}

// portSecurityGroups resolves the port's groups: given ones must be
// visible to the caller; ports with port security and no group get the
// project's default group, network-owned ports none.
func (s *Service) portSecurityGroups(ctx context.Context, o Ops, c Caller, p *Port, sp PortSpec, create bool) error {
	if sp.SecurityGroups != nil {
		sgs := slices.Compact(slices.Sorted(slices.Values(*sp.SecurityGroups)))
		for _, id := range sgs {
			row, err := o.Get(ctx, KindSecurityGroup, id, false)
			if err != nil || (!visible(c, KindSecurityGroup, row) && row.ProjectID != p.ProjectID) {
				return errs.NotFound("Security group %s does not exist", id).WithType("SecurityGroupNotFound")
			}
		}
		if len(sgs) > 0 && !p.PortSecurityEnabled {
			return errs.Conflict("Port has security group associated. Cannot disable port security or IP address until security group is removed.").WithType("PortSecurityPortHasSecurityGroup")
		}
		p.SecurityGroups = sgs
		return nil
	}
	if create && p.PortSecurityEnabled && !strings.HasPrefix(p.DeviceOwner, "network:") && p.ProjectID != "" {
		id, err := s.ensureDefaultSG(ctx, o, p.ProjectID)
		if err != nil {
			return err
		}
		p.SecurityGroups = []string{id}
	}
	if !p.PortSecurityEnabled && len(p.SecurityGroups) > 0 {
		return errs.Conflict("Port has security group associated. Cannot disable port security or IP address until security group is removed.").WithType("PortSecurityPortHasSecurityGroup")
	}
	return nil
}

// allocatePortIPs allocates the requested addresses, or by default one
// IPv4 address and one address per IPv6 subnet (SLAAC ones from EUI-64).
func (s *Service) allocatePortIPs(ctx context.Context, o Ops, n *Network, p *Port, fixed []FixedIPSpec, auto bool) ([]FixedIP, error) {
	return s.allocateIPs(ctx, o, n, p, fixed, auto, false)
}

// allocateIPs is allocatePortIPs; slaacToo adds the auto-address subnets'
// addresses to explicitly requested ones (new ports).
func (s *Service) allocateIPs(ctx context.Context, o Ops, n *Network, p *Port, fixed []FixedIPSpec, auto, slaacToo bool) ([]FixedIP, error) {
	if len(fixed) > MaxFixedIPs {
		return nil, badInput("Exceeded maximum amount of fixed ips per port.").WithType("InvalidInput")
	}
	subnets := make([]*Subnet, 0, len(n.Subnets))
	byID := map[string]*Subnet{}
	for _, sid := range n.Subnets {
		row, err := o.Get(ctx, KindSubnet, sid, false)
		if err != nil {
			return nil, err
		}
		r, err := decode(KindSubnet, row)
		if err != nil {
			return nil, err
		}
		subnets = append(subnets, r.(*Subnet))
		byID[sid] = r.(*Subnet)
	}
	router := p.DeviceOwner == OwnerRouterInterface
	var out []FixedIP
	add := func(sn *Subnet, ip string) {
		out = append(out, FixedIP{SubnetID: sn.ID, IPAddress: ip})
	}
	if auto {
		v4done := false
		for _, sn := range subnets {
			switch {
			case sn.IPVersion == 4:
				if v4done {
					continue
				}
				ip, ok, err := allocateAny(ctx, o, sn, p.ID)
				if err != nil {
					return nil, err
				}
				if ok {
					add(sn, ip)
					v4done = true
				}
			case isSLAAC(sn):
				a, err := allocateSLAAC(ctx, o, sn, p)
				if err != nil {
					return nil, err
				}
				add(sn, a)
			default:
				ip, ok, err := allocateAny(ctx, o, sn, p.ID)
				if err != nil {
					return nil, err
				}
				if !ok {
					return nil, exhausted(n.ID)
				}
				add(sn, ip)
			}
		}
		hasV4 := slices.ContainsFunc(subnets, func(sn *Subnet) bool { return sn.IPVersion == 4 })
		if hasV4 && !v4done {
			return nil, exhausted(n.ID)
		}
		return out, nil
	}
	for _, f := range fixed {
		var sn *Subnet
		var ip netip.Addr
		if f.IPAddress != "" {
			a, err := parseIP(f.IPAddress)
			if err != nil {
				return nil, err
			}
			ip = a
		}
		switch {
		case f.SubnetID != "":
			sn = byID[f.SubnetID]
			if sn == nil {
				if _, err := o.Get(ctx, KindSubnet, f.SubnetID, false); err != nil {
					return nil, notFound(KindSubnet, f.SubnetID)
				}
				return nil, badInput("Failed to create port on network %s, because fixed_ips included invalid subnet %s.", n.ID, f.SubnetID).WithType("InvalidInput")
			}
		case ip.IsValid():
			for _, x := range subnets {
				if pf, err := parseCIDR(x.CIDR); err == nil && pf.Contains(ip) {
					sn = x
					break
				}
			}
			if sn == nil {
				return nil, badInput("IP address %s is not a valid IP for any subnet on network %s.", ip, n.ID).WithType("InvalidIpForNetwork")
			}
		default:
			return nil, badInput("fixed_ips entries need a subnet_id or an ip_address.")
		}
		if slices.ContainsFunc(out, func(x FixedIP) bool { return x.SubnetID == sn.ID && !ip.IsValid() }) {
			return nil, badInput("Duplicate subnet %s in fixed_ips.", sn.ID)
		}
		switch {
		case ip.IsValid():
			if err := allocateExact(ctx, o, sn, ip, p.ID, router); err != nil {
				return nil, err
			}
			add(sn, ip.String())
		case router && sn.GatewayIP != nil:
			a, _ := netip.ParseAddr(*sn.GatewayIP)
			if err := allocateExact(ctx, o, sn, a, p.ID, true); err != nil {
				return nil, err
			}
			add(sn, a.String())
		case isSLAAC(sn):
			a, err := allocateSLAAC(ctx, o, sn, p)
			if err != nil {
				return nil, err
			}
			add(sn, a)
		default:
			got, ok, err := allocateAny(ctx, o, sn, p.ID)
			if err != nil {
				return nil, err
			}
			if !ok {
				return nil, exhausted(n.ID)
			}
			add(sn, got)
		}
	}
	// Neutron adds the SLAAC addresses of the network's auto-address
	// subnets to every new port but router ones, asked for or not.
	if slaacToo && !router {
		for _, sn := range subnets {
			if !isSLAAC(sn) || slices.ContainsFunc(out, func(x FixedIP) bool { return x.SubnetID == sn.ID }) {
				continue
			}
			a, err := allocateSLAAC(ctx, o, sn, p)
			if err != nil {
				return nil, err
			}
			add(sn, a)
		}
	}
	if out == nil {
		out = []FixedIP{}
	}
	return out, nil
}

// UpdatePort changes a port; binding attributes are admin-only by policy.
func (s *Service) UpdatePort(ctx context.Context, c Caller, id string, sp PortSpec, rev *int64) (*Port, error) {
	if sp.NetworkID != nil || sp.ProjectID != nil || sp.TenantID != nil || sp.Tags != nil {
		return nil, badInput("Cannot update read-only attribute network_id or project_id.")
	}
	var p *Port
	err := s.store.Tx(ctx, func(o Ops) error {
		var err error
		var row *Row
		p, row, err = load[*Port](ctx, o, c, KindPort, id, true)
		if err != nil {
			return err
		}
		if !ownsOrAdmin(c, row.ProjectID) {
			return errs.Forbidden("You are not allowed to update port %s.", id).WithType("PolicyNotAuthorized")
		}
		if err := CheckRevision(&p.Std, rev); err != nil {
			return err
		}
		if sp.MACAddress != nil && !strings.EqualFold(*sp.MACAddress, p.MACAddress) {
			if p.HostID != "" {
				return errs.Conflict("Port %s is bound; its MAC address cannot change.", id).WithType("PortBound")
			}
			if !validMAC(*sp.MACAddress) {
				return badInput("'%s' is not a valid MAC address.", *sp.MACAddress)
			}
			p.MACAddress = strings.ToLower(*sp.MACAddress)
		}
		if err := s.applyPortSpec(p, sp, false); err != nil {
			return err
		}
		if sp.FixedIPs != nil {
			n, _, err := load[*Network](ctx, o, Caller{Admin: true}, KindNetwork, p.NetworkID, false)
			if err != nil {
				return err
			}
			// Keep addresses asked for again, release the others.
			var keep []FixedIP
			var want []FixedIPSpec
			for _, f := range *sp.FixedIPs {
				i := slices.IndexFunc(p.FixedIPs, func(x FixedIP) bool {
					return x.IPAddress == f.IPAddress && (f.SubnetID == "" || f.SubnetID == x.SubnetID)
				})
				if f.IPAddress != "" && i >= 0 {
					keep = append(keep, p.FixedIPs[i])
					continue
				}
				want = append(want, f)
			}
			for _, x := range p.FixedIPs {
				if !slices.Contains(keep, x) {
					if err := o.ReleaseIP(ctx, x.SubnetID, x.IPAddress); err != nil {
						return err
					}
				}
			}
			got, err := s.allocatePortIPs(ctx, o, n, p, want, false)
			if err != nil {
				return err
			}
			p.FixedIPs = append(keep, got...)
			if p.FixedIPs == nil {
				p.FixedIPs = []FixedIP{}
			}
		}
		if err := s.portSecurityGroups(ctx, o, c, p, sp, false); err != nil {
			return err
		}
		if sp.SecurityGroups != nil {
			if err := o.SetPortSecurityGroups(ctx, p.ID, p.SecurityGroups); err != nil {
				return err
			}
		}
		return s.save(ctx, o, p)
	})
	return p, err
}

// DeletePort deletes a port, releasing its addresses; router ports are
// removed through the router.
func (s *Service) DeletePort(ctx context.Context, c Caller, id string, rev *int64) error {
	return s.store.Tx(ctx, func(o Ops) error {
		p, row, err := load[*Port](ctx, o, c, KindPort, id, true)
		if err != nil {
			return err
		}
		if !ownsOrAdmin(c, row.ProjectID) {
			return errs.Forbidden("You are not allowed to delete port %s.", id).WithType("PolicyNotAuthorized")
		}
		if err := CheckRevision(&p.Std, rev); err != nil {
			return err
		}
		if p.DeviceOwner == OwnerRouterInterface || p.DeviceOwner == OwnerRouterGateway || p.DeviceOwner == OwnerFloatingIP {
			if _, err := o.Get(ctx, KindRouter, p.DeviceID, false); err == nil || p.DeviceOwner == OwnerFloatingIP {
				return errs.Conflict("Port %s cannot be deleted directly via the port API: has device owner %s.", id, p.DeviceOwner).WithType("ServicePortInUse")
			}
		}
		if err := s.disassociatePortFIPs(ctx, o, id); err != nil {
			return err
		}
		return o.Delete(ctx, KindPort, id)
	})
}

// deletePort removes a port the service owns (router and floating IP
// ports): its allocations and groups go with it.
func deletePort(ctx context.Context, o Ops, id string) error {
	err := o.Delete(ctx, KindPort, id)
	if errs.Is(err, errs.KindNotFound) {
		return nil
	}
	return err
}

// NetworkPorts lists a network's ports with their addresses and MACs, for
// the data plane.
func (s *Service) NetworkPorts(ctx context.Context, networkID string) ([]*Port, error) {
	rows, err := s.store.Read().List(ctx, KindPort, Query{Eq: map[string][]string{"parent_id": {networkID}}})
	if err != nil {
		return nil, err
	}
	out := make([]*Port, 0, len(rows))
	for _, row := range rows {
		r, err := decode(KindPort, row)
		if err != nil {
			return nil, err
		}
		out = append(out, r.(*Port))
	}
	return out, nil
}

// GetPort returns a port (use an admin Caller from the data plane).
func (s *Service) GetPort(ctx context.Context, c Caller, id string) (*Port, error) {
	p, _, err := load[*Port](ctx, s.store.Read(), c, KindPort, id, false)
	return p, err
}

// BindPort attaches a port to a device on a host (compute's plug step):
// device_id, device_owner and binding:host_id in one change. The bind is
// conditional: it takes the port only when it has no device or already
// has deviceID (a retried bind), decided by the store in one statement,
// so of two servers taking one port at once exactly one gets it and the
// other a Conflict (PortInUse). Neutron's own update (UpdatePort) stays
// unconditional: an owner or admin may rewrite device_id through the
// API. An empty deviceID unbinds.
func (s *Service) BindPort(ctx context.Context, portID, deviceID, deviceOwner, hostID string) (*Port, error) {
	sp := PortSpec{DeviceID: &deviceID, DeviceOwner: &deviceOwner, HostID: &hostID}
	if deviceID == "" {
		return s.UpdatePort(ctx, Caller{Admin: true}, portID, sp, nil)
	}
	var p *Port
	err := s.store.Tx(ctx, func(o Ops) error {
		if err := o.ClaimPortDevice(ctx, portID, deviceID); err != nil {
			if errs.Is(err, errs.KindNotFound) {
				return notFound(KindPort, portID)
			}
			return err
		}
		var err error
		p, _, err = load[*Port](ctx, o, Caller{Admin: true}, KindPort, portID, true)
		if err != nil {
			return err
		}
		if err := s.applyPortSpec(p, sp, false); err != nil {
			return err
		}
		return s.save(ctx, o, p)
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// ReleasePort unbinds a port from deviceID (device, owner and host
// cleared). A port some other device holds by now — rebound through the
// Neutron API after this one took it — is left alone: released reports
// whether the port was this device's to release.
func (s *Service) ReleasePort(ctx context.Context, portID, deviceID string) (released bool, err error) {
	err = s.store.Tx(ctx, func(o Ops) error {
		p, _, err := load[*Port](ctx, o, Caller{Admin: true}, KindPort, portID, true)
		if err != nil {
			return err
		}
		if p.DeviceID != deviceID {
			return nil
		}
		none := ""
		if err := s.applyPortSpec(p, PortSpec{DeviceID: &none, DeviceOwner: &none, HostID: &none}, false); err != nil {
			return err
		}
		released = true
		return s.save(ctx, o, p)
	})
	return released, err
}

// SetPortStatus records the data plane's view of a port (ACTIVE, DOWN,
// BUILD, ERROR).
func (s *Service) SetPortStatus(ctx context.Context, portID, status string) error {
	switch status {
	case "ACTIVE", "DOWN", "BUILD", "ERROR":
	default:
		return badInput("Invalid port status %q.", status)
	}
	return s.store.Tx(ctx, func(o Ops) error {
		p, _, err := load[*Port](ctx, o, Caller{Admin: true}, KindPort, portID, true)
		if err != nil {
			return err
		}
		if p.Status == status {
			return nil
		}
		p.Status = status
		return s.save(ctx, o, p)
	})
}

// allocateSLAAC records the port's EUI-64 address on an auto-address
// subnet: derived from its MAC, never chosen from the pool.
func allocateSLAAC(ctx context.Context, o Ops, sn *Subnet, p *Port) (string, error) {
	pf, _ := parseCIDR(sn.CIDR)
	a, err := EUI64(pf, p.MACAddress)
	if err != nil {
		return "", err
	}
	if err := allocateExact(ctx, o, sn, a, p.ID, false); err != nil {
		return "", err
	}
	return a.String(), nil
}
