package network

import (
	"context"
	"net/netip"
	"slices"

	"github.com/gureum/gureum/internal/platform/errs"
	"github.com/gureum/gureum/internal/platform/ids"
)

// SubnetPoolSpec is a subnet pool create or update body.
type SubnetPoolSpec struct {
	Name             *string  `json:"name"`
	Description      *string  `json:"description"`
	ProjectID        *string  `json:"project_id"`
	TenantID         *string  `json:"tenant_id"`
	Prefixes         []string `json:"prefixes"`
	DefaultPrefixLen *int     `json:"default_prefixlen"`
	MinPrefixLen     *int     `json:"min_prefixlen"`
	MaxPrefixLen     *int     `json:"max_prefixlen"`
	Shared           *bool    `json:"shared"`
	IsDefault        *bool    `json:"is_default"`
	AddressScopeID   *string  `json:"address_scope_id"`
	DefaultQuota     *int     `json:"default_quota"`
	Tags             []string `json:"tags"`
}

// MaxPoolPrefixes bounds a pool's prefix list.
const MaxPoolPrefixes = 64

// CreateSubnetPool creates a pool; shared and is_default are admin-only
// by policy.
func (s *Service) CreateSubnetPool(ctx context.Context, c Caller, sp SubnetPoolSpec) (*SubnetPool, error) {
	project, err := owner(c, sp.ProjectID, sp.TenantID)
	if err != nil {
		return nil, err
	}
	if sp.AddressScopeID != nil && *sp.AddressScopeID != "" {
		return nil, badInput("Address scopes are not supported.")
	}
	if len(sp.Prefixes) == 0 {
		return nil, badInput("prefixes is required.")
	}
	sp2 := &SubnetPool{Std: s.newStd(ids.UUID(), project, sp.Name, sp.Description), DefaultQuota: sp.DefaultQuota}
	if err := applyPoolPrefixes(sp2, sp, true); err != nil {
		return nil, err
	}
	setBool(&sp2.Shared, sp.Shared)
	setBool(&sp2.IsDefault, sp.IsDefault)
	if sp.Tags != nil {
		for _, t := range sp.Tags {
			if err := validTag(t); err != nil {
				return nil, err
			}
		}
		sp2.Tags = sp.Tags
	}
	err = s.store.Tx(ctx, func(o Ops) error {
		if err := s.checkQuota(ctx, o, project, "subnetpool", KindSubnetPool); err != nil {
			return err
		}
		if sp2.IsDefault {
			if id, err := s.defaultPool(ctx, o, sp2.IPVersion); err != nil {
				return err
			} else if id != "" {
				return badInput("A default subnetpool for this IP family has already been set. Only one default may exist per IP family.")
			}
		}
		return insert(ctx, o, sp2)
	})
	if err != nil {
		return nil, err
	}
	return sp2, nil
}

func applyPoolPrefixes(p *SubnetPool, sp SubnetPoolSpec, create bool) error {
	if sp.Prefixes != nil {
		if len(sp.Prefixes) > MaxPoolPrefixes {
			return badInput("At most %d prefixes.", MaxPoolPrefixes)
		}
		var out []string
		v := 0
		for _, s := range sp.Prefixes {
			pf, err := netip.ParsePrefix(s)
			if err != nil {
				return badInput("'%s' is not a valid IP subnet.", s)
			}
			pv := 4
			if pf.Addr().Is6() {
				pv = 6
			}
			if v != 0 && pv != v {
				return badInput("Illegal subnetpool prefix: mixed IP versions.").WithType("PrefixVersionMismatch")
			}
			v = pv
			out = append(out, pf.Masked().String())
		}
		if !create {
			if v != p.IPVersion {
				return badInput("Illegal subnetpool prefix: IP version change.").WithType("PrefixVersionMismatch")
			}
			for _, old := range p.Prefixes {
				op, _ := netip.ParsePrefix(old)
				if !slices.ContainsFunc(out, func(n string) bool {
					np, _ := netip.ParsePrefix(n)
					return np.Bits() <= op.Bits() && np.Contains(op.Addr())
				}) {
					return badInput("Illegal update to prefixes: prefix %s would be removed.", old).WithType("IllegalSubnetPoolPrefixUpdate")
				}
			}
		}
		p.Prefixes = out
		p.IPVersion = v
	}
	maxLen := 32
	if p.IPVersion == 6 {
		maxLen = 128
	}
	if create {
		p.MinPrefixLen, p.MaxPrefixLen = 8, maxLen
		if p.IPVersion == 6 {
			p.MinPrefixLen = 64
		}
		for _, s := range p.Prefixes {
			pf, _ := netip.ParsePrefix(s)
			p.MinPrefixLen = max(p.MinPrefixLen, pf.Bits())
		}
		p.DefaultPrefixLen = p.MinPrefixLen
	}
	if sp.MinPrefixLen != nil {
		p.MinPrefixLen = *sp.MinPrefixLen
		if sp.DefaultPrefixLen == nil && p.DefaultPrefixLen < p.MinPrefixLen {
			p.DefaultPrefixLen = p.MinPrefixLen
		}
	}
	if sp.MaxPrefixLen != nil {
		p.MaxPrefixLen = *sp.MaxPrefixLen
	}
	if sp.DefaultPrefixLen != nil {
		p.DefaultPrefixLen = *sp.DefaultPrefixLen
	}
	if p.MinPrefixLen < 0 || p.MaxPrefixLen > maxLen || p.MinPrefixLen > p.MaxPrefixLen ||
		p.DefaultPrefixLen < p.MinPrefixLen || p.DefaultPrefixLen > p.MaxPrefixLen {
		return badInput("Illegal prefix bounds: min_prefixlen %d, default_prefixlen %d, max_prefixlen %d.", p.MinPrefixLen, p.DefaultPrefixLen, p.MaxPrefixLen).WithType("IllegalSubnetPoolPrefixBounds")
	}
	return nil
}

// defaultPool returns the ID of the default pool of an IP version.
func (s *Service) defaultPool(ctx context.Context, o Ops, version int) (string, error) {
	rows, err := o.List(ctx, KindSubnetPool, Query{})
	if err != nil {
		return "", err
	}
	for _, row := range rows {
		x, err := decode(KindSubnetPool, row)
		if err != nil {
			return "", err
		}
		if p := x.(*SubnetPool); p.IsDefault && p.IPVersion == version {
			return p.ID, nil
		}
	}
	return "", nil
}

// UpdateSubnetPool changes a pool (prefixes may only grow).
func (s *Service) UpdateSubnetPool(ctx context.Context, c Caller, id string, sp SubnetPoolSpec, rev *int64) (*SubnetPool, error) {
	if sp.ProjectID != nil || sp.TenantID != nil || sp.Shared != nil || sp.Tags != nil || (sp.AddressScopeID != nil && *sp.AddressScopeID != "") {
		return nil, badInput("Cannot update read-only attributes of a subnet pool.")
	}
	var p *SubnetPool
	err := s.store.Tx(ctx, func(o Ops) error {
		var err error
		var row *Row
		p, row, err = load[*SubnetPool](ctx, o, c, KindSubnetPool, id, true)
		if err != nil {
			return err
		}
		if !ownsOrAdmin(c, row.ProjectID) {
			return errs.Forbidden("You are not allowed to update subnet pool %s.", id).WithType("PolicyNotAuthorized")
		}
		if err := CheckRevision(&p.Std, rev); err != nil {
			return err
		}
		setStr(&p.Name, sp.Name)
		setStr(&p.Description, sp.Description)
		if sp.DefaultQuota != nil {
			p.DefaultQuota = sp.DefaultQuota
		}
		if err := applyPoolPrefixes(p, sp, false); err != nil {
			return err
		}
		if sp.IsDefault != nil && *sp.IsDefault && !p.IsDefault {
			if other, err := s.defaultPool(ctx, o, p.IPVersion); err != nil {
				return err
			} else if other != "" {
				return badInput("A default subnetpool for this IP family has already been set. Only one default may exist per IP family.")
			}
		}
		setBool(&p.IsDefault, sp.IsDefault)
		return s.save(ctx, o, p)
	})
	return p, err
}

// DeleteSubnetPool deletes a pool no subnet uses.
func (s *Service) DeleteSubnetPool(ctx context.Context, c Caller, id string, rev *int64) error {
	return s.store.Tx(ctx, func(o Ops) error {
		p, row, err := load[*SubnetPool](ctx, o, c, KindSubnetPool, id, true)
		if err != nil {
			return err
		}
		if !ownsOrAdmin(c, row.ProjectID) {
			return errs.Forbidden("You are not allowed to delete subnet pool %s.", id).WithType("PolicyNotAuthorized")
		}
		if err := CheckRevision(&p.Std, rev); err != nil {
			return err
		}
		n, err := o.Count(ctx, KindSubnet, Query{Eq: map[string][]string{"device_id": {id}}})
		if err != nil {
			return err
		}
		if n > 0 {
			return errs.Conflict("Unable to complete operation on subnetpool %s. %d subnets are allocated from it.", id, n).WithType("SubnetPoolInUse")
		}
		return o.Delete(ctx, KindSubnetPool, id)
	})
}

// SubnetAvailability is one subnet's address usage.
type SubnetAvailability struct {
	SubnetID   string `json:"subnet_id"`
	SubnetName string `json:"subnet_name"`
	CIDR       string `json:"cidr"`
	IPVersion  int    `json:"ip_version"`
	TotalIPs   uint64 `json:"total_ips"`
	UsedIPs    int    `json:"used_ips"`
}

// IPAvailability is a network's address usage.
type IPAvailability struct {
	NetworkID   string               `json:"network_id"`
	NetworkName string               `json:"network_name"`
	ProjectID   string               `json:"project_id"`
	TenantID    string               `json:"tenant_id"`
	TotalIPs    uint64               `json:"total_ips"`
	UsedIPs     int                  `json:"used_ips"`
	Subnets     []SubnetAvailability `json:"subnet_ip_availability"`
}

// IPAvailabilities reports usage of the given networks (all when nil).
func (s *Service) IPAvailabilities(ctx context.Context, c Caller, q Query) ([]IPAvailability, error) {
	nets, err := s.List(ctx, c, KindNetwork, q)
	if err != nil {
		return nil, err
	}
	out := []IPAvailability{}
	for _, r := range nets {
		n := r.(*Network)
		subs, err := s.NetworkSubnets(ctx, n.ID)
		if err != nil {
			return nil, err
		}
		idl := make([]string, 0, len(subs))
		for _, sn := range subs {
			idl = append(idl, sn.ID)
		}
		counts, err := s.store.Read().AllocatedIPCounts(ctx, idl)
		if err != nil {
			return nil, err
		}
		a := IPAvailability{NetworkID: n.ID, NetworkName: n.Name, ProjectID: n.ProjectID, TenantID: n.ProjectID, Subnets: []SubnetAvailability{}}
		for _, sn := range subs {
			sa := SubnetAvailability{SubnetID: sn.ID, SubnetName: sn.Name, CIDR: sn.CIDR, IPVersion: sn.IPVersion, TotalIPs: poolSize(sn), UsedIPs: counts[sn.ID]}
			a.TotalIPs += sa.TotalIPs
			a.UsedIPs += sa.UsedIPs
			a.Subnets = append(a.Subnets, sa)
		}
		out = append(out, a)
	}
	return out, nil
}
