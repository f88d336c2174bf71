package network

import (
	"bytes"
	"context"
	"encoding/json"
	"net/netip"
	"slices"

	"github.com/gureum/gureum/internal/platform/errs"
	"github.com/gureum/gureum/internal/platform/ids"
)

// Opt is an attribute that may be absent, null or a value: Neutron gives
// null a meaning ("no gateway", "disassociate").
type Opt[T any] struct {
	Set  bool
	Null bool
	V    T
}

func (o *Opt[T]) UnmarshalJSON(b []byte) error {
	o.Set = true
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		o.Null = true
		return nil
	}
	return json.Unmarshal(b, &o.V)
}

// Limits on list attributes (Neutron's max_dns_nameservers and
// max_subnet_host_routes defaults are 5 and 20).
const (
	MaxDNSNameservers = 5
	MaxHostRoutes     = 20
	MaxPools          = 64
)

// SubnetSpec is a subnet create or update body.
type SubnetSpec struct {
	Name              *string     `json:"name"`
	Description       *string     `json:"description"`
	ProjectID         *string     `json:"project_id"`
	TenantID          *string     `json:"tenant_id"`
	NetworkID         *string     `json:"network_id"`
	IPVersion         *int        `json:"ip_version"`
	CIDR              *string     `json:"cidr"`
	GatewayIP         Opt[string] `json:"gateway_ip"`
	AllocationPools   []Pool      `json:"allocation_pools"`
	DNSNameservers    []string    `json:"dns_nameservers"`
	HostRoutes        []HostRoute `json:"host_routes"`
	EnableDHCP        *bool       `json:"enable_dhcp"`
	IPv6RAMode        Opt[string] `json:"ipv6_ra_mode"`
	IPv6AddressMode   Opt[string] `json:"ipv6_address_mode"`
	SubnetPoolID      Opt[string] `json:"subnetpool_id"`
	UseDefaultPool    *bool       `json:"use_default_subnetpool"`
	PrefixLen         *int        `json:"prefixlen"`
	ServiceTypes      []string    `json:"service_types"`
	SegmentID         Opt[string] `json:"segment_id"`
	DNSPublishFixedIP *bool       `json:"dns_publish_fixed_ip"`
	Tags              []string    `json:"tags"`
}

var ipv6Modes = []string{"slaac", "dhcpv6-stateful", "dhcpv6-stateless"}

// CreateSubnet creates a subnet on a network the caller owns (or any, for
// admins).
func (s *Service) CreateSubnet(ctx context.Context, c Caller, sp SubnetSpec) (*Subnet, error) {
	project, err := owner(c, sp.ProjectID, sp.TenantID)
	if err != nil {
		return nil, err
	}
	if sp.NetworkID == nil || *sp.NetworkID == "" {
		return nil, badInput("network_id is required.")
	}
	sn := &Subnet{Std: s.newStd(ids.UUID(), project, sp.Name, sp.Description), NetworkID: *sp.NetworkID, EnableDHCP: true,
		DNSNameservers: []string{}, HostRoutes: []HostRoute{}, ServiceTypes: []string{}}
	if sp.Tags != nil {
		for _, t := range sp.Tags {
			if err := validTag(t); err != nil {
				return nil, err
			}
		}
		sn.Tags = slices.Compact(slices.Sorted(slices.Values(sp.Tags)))
	}
	if sp.IPVersion != nil {
		sn.IPVersion = *sp.IPVersion
	}
	setBool(&sn.EnableDHCP, sp.EnableDHCP)
	setBool(&sn.DNSPublishFixed, sp.DNSPublishFixedIP)
	if sp.SegmentID.Set && !sp.SegmentID.Null {
		return nil, badInput("Routed network segments are not supported.")
	}
	if len(sp.ServiceTypes) > 0 {
		return nil, badInput("Subnet service types are not supported.")
	}
	err = s.store.Tx(ctx, func(o Ops) error {
		n, nrow, err := load[*Network](ctx, o, c, KindNetwork, sn.NetworkID, true)
		if err != nil {
			return err
		}
		if !c.Admin && nrow.ProjectID != c.ProjectID {
			return errs.Forbidden("Only the network's owner may create subnets on network %s.", n.ID).WithType("PolicyNotAuthorized")
		}
		if err := s.checkQuota(ctx, o, project, "subnet", KindSubnet); err != nil {
			return err
		}
		if err := s.subnetCIDR(ctx, o, c, sn, sp); err != nil {
			return err
		}
		if err := s.fillSubnet(sn, sp, true); err != nil {
			return err
		}
		// Overlap with the network's other subnets.
		p, _ := parseCIDR(sn.CIDR)
		for _, sid := range n.Subnets {
			row, err := o.Get(ctx, KindSubnet, sid, false)
			if err != nil {
				return err
			}
			r, err := decode(KindSubnet, row)
			if err != nil {
				return err
			}
			if q, err := parseCIDR(r.(*Subnet).CIDR); err == nil && overlaps(p, q) {
				return badInput("Requested subnet with cidr: %s for network: %s overlaps with another subnet.", sn.CIDR, n.ID)
			}
		}
		row, err := toRow(sn)
		if err != nil {
			return err
		}
		row.Shared = n.Shared
		if err := o.Insert(ctx, KindSubnet, row); err != nil {
			return err
		}
		n.Subnets = append(n.Subnets, sn.ID)
		return s.save(ctx, o, n)
	})
	if err != nil {
		return nil, err
	}
	return sn, nil
}

// subnetCIDR sets the subnet's CIDR: given, or cut from a subnet pool.
func (s *Service) subnetCIDR(ctx context.Context, o Ops, c Caller, sn *Subnet, sp SubnetSpec) error {
	poolID := ""
	if sp.SubnetPoolID.Set && !sp.SubnetPoolID.Null {
		poolID = sp.SubnetPoolID.V
	} else if sp.UseDefaultPool != nil && *sp.UseDefaultPool {
		if sn.IPVersion != 4 && sn.IPVersion != 6 {
			return badInput("ip_version is required with use_default_subnetpool.")
		}
		id, err := s.defaultPool(ctx, o, sn.IPVersion)
		if err != nil {
			return err
		}
		if id == "" {
			return errs.BadRequest("No default subnetpool found for IPv%d.", sn.IPVersion)
		}
		poolID = id
	}
	if poolID == "" {
		if sp.CIDR == nil {
			return badInput("A cidr must be specified in the absence of a subnet pool.")
		}
		if sp.PrefixLen != nil {
			return badInput("prefixlen is only valid with a subnet pool.")
		}
		p, err := parseCIDR(*sp.CIDR)
		if err != nil {
			return err
		}
		v := 4
		if p.Addr().Is6() {
			v = 6
		}
		if sn.IPVersion == 0 {
			sn.IPVersion = v
		}
		if sn.IPVersion != v {
			return badInput("Cidr %s does not support ip_version %d.", p, sn.IPVersion)
		}
		if v == 4 && p.Bits() > 30 && p.Bits() != 32 {
			// Neutron refuses /31 IPv4 subnets unless pools are given;
			// keep it simple and refuse tiny subnets.
			return badInput("Subnet %s is too small.", p)
		}
		if p.Bits() == 0 {
			return badInput("0 prefix length is not allowed.")
		}
		sn.CIDR = p.String()
		return nil
	}
	pool, _, err := load[*SubnetPool](ctx, o, c, KindSubnetPool, poolID, true)
	if err != nil {
		return err
	}
	if sn.IPVersion != 0 && sn.IPVersion != pool.IPVersion {
		return badInput("ip_version %d does not match subnet pool %s.", sn.IPVersion, pool.ID)
	}
	sn.IPVersion = pool.IPVersion
	sn.SubnetPoolID = &pool.ID
	used, err := s.poolSubnets(ctx, o, pool.ID)
	if err != nil {
		return err
	}
	if sp.CIDR != nil {
		p, err := parseCIDR(*sp.CIDR)
		if err != nil {
			return err
		}
		if !poolContains(pool, p) {
			return badInput("Cidr %s is not within subnet pool %s.", p, pool.ID)
		}
		if p.Bits() < pool.MinPrefixLen || p.Bits() > pool.MaxPrefixLen {
			return badInput("Prefix length %d is outside the pool's range %d-%d.", p.Bits(), pool.MinPrefixLen, pool.MaxPrefixLen)
		}
		for _, u := range used {
			if overlaps(u, p) {
				return errs.Conflict("Cidr %s overlaps with another subnet of subnet pool %s.", p, pool.ID).WithType("SubnetAllocationError")
			}
		}
		sn.CIDR = p.String()
		return nil
	}
	plen := pool.DefaultPrefixLen
	if sp.PrefixLen != nil {
		plen = *sp.PrefixLen
	}
	if plen < pool.MinPrefixLen || plen > pool.MaxPrefixLen {
		return badInput("Prefix length %d is outside the pool's range %d-%d.", plen, pool.MinPrefixLen, pool.MaxPrefixLen)
	}
	p, ok := carve(pool, plen, used)
	if !ok {
		return errs.Conflict("Insufficient prefix space to allocate subnet size /%d.", plen).WithType("SubnetAllocationError")
	}
	sn.CIDR = p.String()
	return nil
}

func poolContains(pool *SubnetPool, p netip.Prefix) bool {
	for _, s := range pool.Prefixes {
		if q, err := netip.ParsePrefix(s); err == nil && q.Bits() <= p.Bits() && q.Contains(p.Addr()) {
			return true
		}
	}
	return false
}

// carve finds the first prefix of length plen in the pool that overlaps
// nothing used.
func carve(pool *SubnetPool, plen int, used []netip.Prefix) (netip.Prefix, bool) {
	for _, s := range pool.Prefixes {
		q, err := netip.ParsePrefix(s)
		if err != nil || q.Bits() > plen {
			continue
		}
		cand := netip.PrefixFrom(q.Addr(), plen)
		for q.Contains(cand.Addr()) {
			free := true
			for _, u := range used {
				if overlaps(u, cand) {
					free = false
					break
				}
			}
			if free {
				return cand, true
			}
			next := lastAddr(cand).Next()
			if !next.IsValid() {
				break
			}
			cand = netip.PrefixFrom(next, plen)
		}
	}
	return netip.Prefix{}, false
}

func (s *Service) poolSubnets(ctx context.Context, o Ops, poolID string) ([]netip.Prefix, error) {
	rows, err := o.List(ctx, KindSubnet, Query{Eq: map[string][]string{"device_id": {poolID}}})
	if err != nil {
		return nil, err
	}
	var out []netip.Prefix
	for _, row := range rows {
		r, err := decode(KindSubnet, row)
		if err != nil {
			return nil, err
		}
		if p, err := netip.ParsePrefix(r.(*Subnet).CIDR); err == nil {
			out = append(out, p)
		}
	}
	return out, nil
}

// fillSubnet validates and applies gateway, pools, DNS, routes and IPv6
// modes (on create, or the given ones on update).
func (s *Service) fillSubnet(sn *Subnet, sp SubnetSpec, create bool) error {
	p, err := parseCIDR(sn.CIDR)
	if err != nil {
		return err
	}
	if create {
		for _, m := range []struct {
			o   Opt[string]
			dst **string
			n   string
		}{{sp.IPv6RAMode, &sn.IPv6RAMode, "ipv6_ra_mode"}, {sp.IPv6AddressMode, &sn.IPv6AddressMode, "ipv6_address_mode"}} {
			if m.o.Set && !m.o.Null {
				if sn.IPVersion != 6 {
					return badInput("%s set to '%s' with ip_version set to '4' is not valid. Modes are only valid for IPv6.", m.n, m.o.V)
				}
				if !slices.Contains(ipv6Modes, m.o.V) {
					return badInput("'%s' is not in %v", m.o.V, ipv6Modes)
				}
				v := m.o.V
				*m.dst = &v
			}
		}
		if sn.IPv6RAMode != nil && sn.IPv6AddressMode != nil && *sn.IPv6RAMode != *sn.IPv6AddressMode {
			return badInput("ipv6_ra_mode set to '%s' with ipv6_address_mode set to '%s' is not valid.", *sn.IPv6RAMode, *sn.IPv6AddressMode)
		}
		if isSLAAC(sn) && p.Bits() != 64 {
			return badInput("Invalid CIDR %s for IPv6 address mode. OpenStack uses the EUI-64 address format, which requires the prefix to be /64.", p)
		}
	}
	var gw *netip.Addr
	if create && !sp.GatewayIP.Set {
		a := p.Addr().Next()
		if p.Bits() < p.Addr().BitLen()-1 {
			gw = &a
		}
	} else if sp.GatewayIP.Set && !sp.GatewayIP.Null && sp.GatewayIP.V != "" {
		a, err := parseIP(sp.GatewayIP.V)
		if err != nil {
			return err
		}
		if !usable(p, a) {
			return badInput("Gateway IP %s is not in subnet %s.", a, p).WithType("InvalidInput")
		}
		gw = &a
	} else if !create && !sp.GatewayIP.Set && sn.GatewayIP != nil {
		a, _ := netip.ParseAddr(*sn.GatewayIP)
		gw = &a
	}
	if create || sp.GatewayIP.Set {
		if gw == nil {
			sn.GatewayIP = nil
		} else {
			g := gw.String()
			sn.GatewayIP = &g
		}
	}
	switch {
	case sp.AllocationPools != nil:
		if len(sp.AllocationPools) > MaxPools {
			return badInput("At most %d allocation pools.", MaxPools)
		}
		if _, err := checkPools(p, sp.AllocationPools, gw); err != nil {
			return err
		}
		sn.AllocationPools = sp.AllocationPools
	case create:
		sn.AllocationPools = defaultPools(p, gw)
	case sp.GatewayIP.Set && gw != nil:
		if _, err := checkPools(p, sn.AllocationPools, gw); err != nil {
			return err
		}
	}
	if sp.DNSNameservers != nil {
		if len(sp.DNSNameservers) > MaxDNSNameservers {
			return badInput("Number of DNS nameservers exceeds the limit %d.", MaxDNSNameservers).WithType("DNSNameServersExhausted")
		}
		for i, d := range sp.DNSNameservers {
			if _, err := parseIP(d); err != nil {
				return err
			}
			if slices.Contains(sp.DNSNameservers[:i], d) {
				return badInput("Duplicate nameserver '%s'.", d)
			}
		}
		sn.DNSNameservers = sp.DNSNameservers
	}
	if sp.HostRoutes != nil {
		if len(sp.HostRoutes) > MaxHostRoutes {
			return badInput("Number of host routes exceeds the limit %d.", MaxHostRoutes).WithType("HostRoutesExhausted")
		}
		for _, r := range sp.HostRoutes {
			if _, err := netip.ParsePrefix(r.Destination); err != nil {
				return badInput("'%s' is not a valid destination.", r.Destination)
			}
			if _, err := parseIP(r.NextHop); err != nil {
				return err
			}
		}
		sn.HostRoutes = sp.HostRoutes
	}
	return nil
}

// UpdateSubnet changes a subnet's mutable attributes.
func (s *Service) UpdateSubnet(ctx context.Context, c Caller, id string, sp SubnetSpec, rev *int64) (*Subnet, error) {
	if sp.NetworkID != nil || sp.IPVersion != nil || sp.CIDR != nil || sp.ProjectID != nil || sp.TenantID != nil || sp.IPv6RAMode.Set || sp.IPv6AddressMode.Set || sp.SubnetPoolID.Set || sp.PrefixLen != nil || sp.UseDefaultPool != nil || sp.Tags != nil {
		return nil, badInput("Cannot update read-only attributes of a subnet.")
	}
	var sn *Subnet
	err := s.store.Tx(ctx, func(o Ops) error {
		var err error
		var row *Row
		sn, row, err = load[*Subnet](ctx, o, c, KindSubnet, id, true)
		if err != nil {
			return err
		}
		if !ownsOrAdmin(c, row.ProjectID) {
			return errs.Forbidden("You are not allowed to update subnet %s.", id).WithType("PolicyNotAuthorized")
		}
		if err := CheckRevision(&sn.Std, rev); err != nil {
			return err
		}
		setStr(&sn.Name, sp.Name)
		setStr(&sn.Description, sp.Description)
		setBool(&sn.EnableDHCP, sp.EnableDHCP)
		setBool(&sn.DNSPublishFixed, sp.DNSPublishFixedIP)
		if err := s.fillSubnet(sn, sp, false); err != nil {
			return err
		}
		return s.save(ctx, o, sn)
	})
	return sn, err
}

// DeleteSubnet deletes a subnet no port uses.
func (s *Service) DeleteSubnet(ctx context.Context, c Caller, id string, rev *int64) error {
	return s.store.Tx(ctx, func(o Ops) error {
		sn, row, err := load[*Subnet](ctx, o, c, KindSubnet, id, true)
		if err != nil {
			return err
		}
		if !ownsOrAdmin(c, row.ProjectID) {
			return errs.Forbidden("You are not allowed to delete subnet %s.", id).WithType("PolicyNotAuthorized")
		}
		if err := CheckRevision(&sn.Std, rev); err != nil {
			return err
		}
		allocs, err := o.SubnetAllocations(ctx, id)
		if err != nil {
			return err
		}
		if len(allocs) > 0 {
			return errs.Conflict("Unable to complete operation on subnet %s: One or more ports have an IP allocation from this subnet.", id).WithType("SubnetInUse")
		}
		if err := o.Delete(ctx, KindSubnet, id); err != nil {
			return err
		}
		n, _, err := load[*Network](ctx, o, Caller{Admin: true}, KindNetwork, sn.NetworkID, true)
		if err != nil {
			return err
		}
		n.Subnets = slices.DeleteFunc(n.Subnets, func(x string) bool { return x == id })
		return s.save(ctx, o, n)
	})
}

// NetworkSubnets returns a network's subnets (for the data plane's DHCP).
func (s *Service) NetworkSubnets(ctx context.Context, networkID string) ([]*Subnet, error) {
	rows, err := s.store.Read().List(ctx, KindSubnet, Query{Eq: map[string][]string{"parent_id": {networkID}}})
	if err != nil {
		return nil, err
	}
	out := make([]*Subnet, 0, len(rows))
	for _, row := range rows {
		r, err := decode(KindSubnet, row)
		if err != nil {
			return nil, err
		}
		out = append(out, r.(*Subnet))
	}
	return out, nil
}
