package network

import (
	"context"
	"slices"

	"github.com/gureum/gureum/internal/platform/errs"
	"github.com/gureum/gureum/internal/platform/ids"
)

// Overheads of the overlay encapsulations over IPv4, as Neutron computes
// them (neutron_lib.constants: VXLAN_ENCAP_OVERHEAD 30, GENEVE 30 by
// default, GRE 22, plus the 20 byte outer IPv4 header).
const (
	VXLANOverhead = 50
	IPv4Header    = 20
)

// MTU returns the MTU of a network of the given type on this cloud's
// underlay: overlays lose their encapsulation, flat/vlan/local networks get
// the physical MTU.
func (s *Service) MTU(networkType string) int {
	if networkType == "vxlan" {
		return s.cfg.UnderlayMTU - VXLANOverhead
	}
	return s.cfg.UnderlayMTU
}

// Segment is a provider segment.
type Segment struct {
	NetworkType     *string `json:"provider:network_type"`
	PhysicalNetwork *string `json:"provider:physical_network"`
	SegmentationID  *int    `json:"provider:segmentation_id"`
}

// NetworkSpec is a network create or update body.
type NetworkSpec struct {
	Name                  *string   `json:"name"`
	Description           *string   `json:"description"`
	ProjectID             *string   `json:"project_id"`
	TenantID              *string   `json:"tenant_id"`
	AdminStateUp          *bool     `json:"admin_state_up"`
	Shared                *bool     `json:"shared"`
	External              *bool     `json:"router:external"`
	NetworkType           *string   `json:"provider:network_type"`
	PhysicalNetwork       *string   `json:"provider:physical_network"`
	SegmentationID        *int      `json:"provider:segmentation_id"`
	Segments              []Segment `json:"segments"`
	AvailabilityZoneHints []string  `json:"availability_zone_hints"`
	PortSecurityEnabled   *bool     `json:"port_security_enabled"`
	IsDefault             *bool     `json:"is_default"`
	DNSDomain             *string   `json:"dns_domain"`
	Tags                  []string  `json:"tags"`
	QoSPolicyID           *string   `json:"qos_policy_id"`
}

// AvailabilityZone is the one zone of an all-in-one cloud.
const AvailabilityZone = "nova"

// CreateNetwork creates a network; provider attributes are checked by the
// API's policy (admin only) before this is called.
func (s *Service) CreateNetwork(ctx context.Context, c Caller, sp NetworkSpec) (*Network, error) {
	project, err := owner(c, sp.ProjectID, sp.TenantID)
	if err != nil {
		return nil, err
	}
	if sp.QoSPolicyID != nil && *sp.QoSPolicyID != "" {
		return nil, errs.BadRequest("QoS policies are not supported.")
	}
	seg, err := s.segmentOf(sp)
	if err != nil {
		return nil, err
	}
	for _, z := range sp.AvailabilityZoneHints {
		if z != AvailabilityZone {
			return nil, errs.NotFound("AvailabilityZone %s could not be found.", z).WithType("AvailabilityZoneNotFound")
		}
	}
	n := &Network{
		Std: s.newStd(ids.UUID(), project, sp.Name, sp.Description), AdminStateUp: true, Status: "ACTIVE",
		PortSecurityEnabled: true, Subnets: []string{}, AvailabilityZoneHints: []string{}, AvailabilityZones: []string{},
	}
	if sp.AvailabilityZoneHints != nil {
		n.AvailabilityZoneHints = sp.AvailabilityZoneHints
	}
	if sp.AdminStateUp != nil {
		n.AdminStateUp = *sp.AdminStateUp
	}
	if sp.Shared != nil {
		n.Shared = *sp.Shared
	}
	if sp.External != nil {
		n.External = *sp.External
	}
	if sp.PortSecurityEnabled != nil {
		n.PortSecurityEnabled = *sp.PortSecurityEnabled
	}
	if sp.IsDefault != nil {
		n.IsDefault = *sp.IsDefault
	}
	if sp.DNSDomain != nil {
		n.DNSDomain = *sp.DNSDomain
	}
	if sp.Tags != nil {
		for _, t := range sp.Tags {
			if err := validTag(t); err != nil {
				return nil, err
			}
		}
		n.Tags = slices.Compact(slices.Sorted(slices.Values(sp.Tags)))
	}
	err = s.store.Tx(ctx, func(o Ops) error {
		if err := s.checkQuota(ctx, o, project, "network", KindNetwork); err != nil {
			return err
		}
		if err := s.allocateSegment(ctx, o, n, seg); err != nil {
			return err
		}
		return insert(ctx, o, n)
	})
	if err != nil {
		return nil, err
	}
	return n, nil
}

func (s *Service) segmentOf(sp NetworkSpec) (Segment, error) {
	seg := Segment{NetworkType: sp.NetworkType, PhysicalNetwork: sp.PhysicalNetwork, SegmentationID: sp.SegmentationID}
	if len(sp.Segments) > 0 {
		if sp.NetworkType != nil || sp.PhysicalNetwork != nil || sp.SegmentationID != nil {
			return seg, errs.BadRequest("Segments and provider values cannot both be set.").WithType("SegmentsSetInConjunctionWithProviders")
		}
		if len(sp.Segments) > 1 {
			return seg, errs.BadRequest("Networks with more than one segment are not supported.")
		}
		seg = sp.Segments[0]
	}
	// Clients serialising zero values (gophercloud's Segment) send "" and
	// 0 for "not set"; neither is a valid value.
	if seg.PhysicalNetwork != nil && *seg.PhysicalNetwork == "" {
		seg.PhysicalNetwork = nil
	}
	if seg.SegmentationID != nil && *seg.SegmentationID == 0 {
		seg.SegmentationID = nil
	}
	return seg, nil
}

// allocateSegment validates the provider attributes (or picks the tenant
// type) and reserves the segment, then fills the network's provider
// attributes and MTU.
func (s *Service) allocateSegment(ctx context.Context, o Ops, n *Network, seg Segment) error {
	typ := s.cfg.TenantNetworkType
	if seg.NetworkType != nil {
		typ = *seg.NetworkType
	} else if seg.PhysicalNetwork != nil || seg.SegmentationID != nil {
		return errs.BadRequest("provider:network_type is required with provider attributes.").WithType("InvalidInput")
	}
	physnet := ""
	if seg.PhysicalNetwork != nil {
		physnet = *seg.PhysicalNetwork
	}
	segID := 0
	if seg.SegmentationID != nil {
		segID = *seg.SegmentationID
	}
	bad := func(f string, a ...any) error { return errs.BadRequest(f, a...).WithType("InvalidInput") }
	switch typ {
	case "flat":
		if physnet == "" || seg.SegmentationID != nil {
			return bad("Invalid input for operation: flat networks need provider:physical_network and no provider:segmentation_id.")
		}
	case "vlan":
		if physnet == "" || segID < 1 || segID > 4094 {
			return bad("Invalid input for operation: vlan networks need provider:physical_network and a provider:segmentation_id between 1 and 4094.")
		}
	case "vxlan":
		if physnet != "" {
			return bad("Invalid input for operation: provider:physical_network is not allowed for vxlan networks.")
		}
		if seg.SegmentationID != nil && (segID < 1 || segID > 16777215) {
			return bad("Invalid input for operation: VXLAN VNI %d is out of range 1 to 16777215.", segID)
		}
	case "local":
		if physnet != "" || seg.SegmentationID != nil {
			return bad("Invalid input for operation: local networks take no other provider attributes.")
		}
	default:
		return bad("Invalid input for operation: network type %q is not supported (flat, vlan, vxlan, local).", typ)
	}
	if physnet != "" && !slices.Contains(s.cfg.PhysicalNetworks, physnet) {
		return bad("Invalid input for operation: physical network %q is unknown.", physnet)
	}
	n.NetworkType = typ
	n.MTU = s.MTU(typ)
	if typ == "local" {
		return nil
	}
	auto := typ == "vxlan" && seg.SegmentationID == nil
	skip := map[int]bool{}
	for {
		if auto {
			id, err := s.freeVNI(ctx, o, skip)
			if err != nil {
				return err
			}
			segID = id
		}
		ok, err := o.AllocateSegment(ctx, typ, physnet, segID, n.ID)
		if err != nil {
			return err
		}
		if ok {
			break
		}
		if auto {
			// A racing create took it first: take the next one.
			skip[segID] = true
			continue
		}
		if typ == "flat" {
			return errs.Conflict("Unable to create the flat network. Physical network %s is in use.", physnet).WithType("FlatNetworkInUse")
		}
		return errs.Conflict("Unable to create the network. The %s %d on physical network %s is in use.", typ, segID, physnet).WithType("SegmentationIdInUse")
	}
	if physnet != "" {
		n.PhysicalNetwork = &physnet
	}
	if typ != "flat" {
		n.SegmentationID = &segID
	}
	return nil
}

// freeVNI returns the lowest unused VNI of the configured range, past the
// ones known taken. Racing creates may pick the same one; the segment's
// primary key lets one win and the loser moves on to the next.
func (s *Service) freeVNI(ctx context.Context, o Ops, skip map[int]bool) (int, error) {
	used, err := o.UsedSegments(ctx, "vxlan", "", s.cfg.VXLANFirst, s.cfg.VXLANLast)
	if err != nil {
		return 0, err
	}
	taken := make(map[int]bool, len(used)+len(skip))
	for _, u := range used {
		taken[u] = true
	}
	next := s.cfg.VXLANFirst
	for taken[next] || skip[next] {
		next++
	}
	if next > s.cfg.VXLANLast {
		return 0, errs.Conflict("Unable to create the network. No tenant network is available for allocation.").WithType("NoNetworkAvailable").WithStatus(503)
	}
	return next, nil
}

// UpdateNetwork changes a network's mutable attributes.
func (s *Service) UpdateNetwork(ctx context.Context, c Caller, id string, sp NetworkSpec, rev *int64) (*Network, error) {
	if sp.NetworkType != nil || sp.PhysicalNetwork != nil || sp.SegmentationID != nil || sp.Segments != nil || sp.ProjectID != nil || sp.TenantID != nil || sp.AvailabilityZoneHints != nil || sp.Tags != nil {
		return nil, errs.BadRequest("Invalid input for operation: provider attributes, project and availability zones cannot be updated.").WithType("InvalidInput")
	}
	var n *Network
	err := s.store.Tx(ctx, func(o Ops) error {
		var err error
		var row *Row
		n, row, err = load[*Network](ctx, o, c, KindNetwork, id, true)
		if err != nil {
			return err
		}
		if !ownsOrAdmin(c, row.ProjectID) {
			return errs.Forbidden("You are not allowed to update network %s.", id).WithType("PolicyNotAuthorized")
		}
		if err := CheckRevision(&n.Std, rev); err != nil {
			return err
		}
		setStr(&n.Name, sp.Name)
		setStr(&n.Description, sp.Description)
		setBool(&n.AdminStateUp, sp.AdminStateUp)
		setBool(&n.PortSecurityEnabled, sp.PortSecurityEnabled)
		setBool(&n.IsDefault, sp.IsDefault)
		setStr(&n.DNSDomain, sp.DNSDomain)
		if sp.External != nil {
			n.External = *sp.External
		}
		if sp.Shared != nil && *sp.Shared != n.Shared {
			if !*sp.Shared {
				// Neutron refuses to unshare while other projects use it.
				ports, err := o.List(ctx, KindPort, Query{Eq: map[string][]string{"parent_id": {id}}})
				if err != nil {
					return err
				}
				for _, p := range ports {
					if p.ProjectID != n.ProjectID && p.ProjectID != "" {
						return errs.Conflict("Unable to reconfigure sharing settings for network %s. Multiple tenants are using it.", id).WithType("InvalidSharedSetting")
					}
				}
			}
			n.Shared = *sp.Shared
			if err := s.syncSubnetSharing(ctx, o, n); err != nil {
				return err
			}
		}
		return s.save(ctx, o, n)
	})
	return n, err
}

// syncSubnetSharing copies the network's sharing to its subnets' rows,
// which the visibility query reads.
func (s *Service) syncSubnetSharing(ctx context.Context, o Ops, n *Network) error {
	rows, err := o.List(ctx, KindSubnet, Query{Eq: map[string][]string{"parent_id": {n.ID}}})
	if err != nil {
		return err
	}
	for _, row := range rows {
		row.Shared = n.Shared
		if err := o.Update(ctx, KindSubnet, row); err != nil {
			return err
		}
	}
	return nil
}

// DeleteNetwork deletes a network and its subnets; ports other than the
// network's own (DHCP) keep it in use.
func (s *Service) DeleteNetwork(ctx context.Context, c Caller, id string, rev *int64) error {
	return s.store.Tx(ctx, func(o Ops) error {
		n, row, err := load[*Network](ctx, o, c, KindNetwork, id, true)
		if err != nil {
			return err
		}
		if !ownsOrAdmin(c, row.ProjectID) {
			return errs.Forbidden("You are not allowed to delete network %s.", id).WithType("PolicyNotAuthorized")
		}
		if err := CheckRevision(&n.Std, rev); err != nil {
			return err
		}
		prows, err := o.List(ctx, KindPort, Query{Eq: map[string][]string{"parent_id": {id}}})
		if err != nil {
			return err
		}
		var dhcp []string
		for _, pr := range prows {
			x, err := decode(KindPort, pr)
			if err != nil {
				return err
			}
			if x.(*Port).DeviceOwner != OwnerDHCP {
				return errs.Conflict("Unable to complete operation on network %s. There are one or more ports still in use on the network.", id).WithType("NetworkInUse")
			}
			dhcp = append(dhcp, pr.ID)
		}
		// The network's own DHCP ports go with it, as in Neutron.
		for _, pid := range dhcp {
			if err := deletePort(ctx, o, pid); err != nil {
				return err
			}
		}
		nfips, err := o.Count(ctx, KindFloatingIP, Query{Eq: map[string][]string{"parent_id": {id}}})
		if err != nil {
			return err
		}
		if nfips > 0 {
			return errs.Conflict("Unable to complete operation on network %s. There are one or more floating IPs allocated from it.", id).WithType("NetworkInUse")
		}
		nrouters, err := o.Count(ctx, KindRouter, Query{Eq: map[string][]string{"parent_id": {id}}})
		if err != nil {
			return err
		}
		if nrouters > 0 {
			return errs.Conflict("Unable to complete operation on network %s. One or more routers use it as their gateway.", id).WithType("NetworkInUse")
		}
		for _, sid := range n.Subnets {
			if err := o.Delete(ctx, KindSubnet, sid); err != nil && !errs.Is(err, errs.KindNotFound) {
				return err
			}
		}
		if err := o.ReleaseSegments(ctx, id); err != nil {
			return err
		}
		return o.Delete(ctx, KindNetwork, id)
	})
}

// GetNetwork returns a network with its MTU and segment, for the caller
// (use an admin Caller from the data plane).
func (s *Service) GetNetwork(ctx context.Context, c Caller, id string) (*Network, error) {
	n, _, err := load[*Network](ctx, s.store.Read(), c, KindNetwork, id, false)
	return n, err
}

func setStr(dst *string, v *string) {
	if v != nil {
		*dst = *v
	}
}

func setBool(dst *bool, v *bool) {
	if v != nil {
		*dst = *v
	}
}
