package network

import (
	"context"
	"sort"

	"github.com/gureum/gureum/internal/platform/errs"
)

// DefaultQuotas are Neutron's per-project defaults (-1: unlimited).
var DefaultQuotas = map[string]int{
	"network": 100, "subnet": 100, "port": 500, "router": 10, "floatingip": 50,
	"security_group": 10, "security_group_rule": 100, "subnetpool": -1, "rbac_policy": 10,
}

var quotaKind = map[string]Kind{
	"network": KindNetwork, "subnet": KindSubnet, "port": KindPort, "router": KindRouter, "floatingip": KindFloatingIP,
	"security_group": KindSecurityGroup, "security_group_rule": KindSGRule, "subnetpool": KindSubnetPool,
}

// QuotaResources lists the resources with quotas, sorted.
func QuotaResources() []string {
	out := make([]string, 0, len(DefaultQuotas))
	for k := range DefaultQuotas {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// checkQuota refuses one more resource over the project's limit. On
// SQLite transactions are serialized so the count is exact; on PostgreSQL
// two racing creates may both pass the last unit (Neutron's own quota
// engine has the same window without its reservations).
func (s *Service) checkQuota(ctx context.Context, o Ops, project, resource string, k Kind) error {
	limits, err := o.Quotas(ctx, project)
	if err != nil {
		return err
	}
	limit, ok := limits[resource]
	if !ok {
		limit = s.cfg.Quotas[resource]
	}
	if limit < 0 {
		return nil
	}
	n, err := o.Count(ctx, k, Query{ProjectID: project})
	if err != nil {
		return err
	}
	if n+1 > limit {
		return errs.Conflict("Quota exceeded for resources: ['%s'].", resource).WithType("OverQuota")
	}
	return nil
}

// QuotaDetail is one resource's limit and usage.
type QuotaDetail struct {
	Limit    int `json:"limit"`
	Used     int `json:"used"`
	Reserved int `json:"reserved"`
}

// Quotas returns a project's limits.
func (s *Service) Quotas(ctx context.Context, project string) (map[string]int, error) {
	set, err := s.store.Read().Quotas(ctx, project)
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	for k, v := range s.cfg.Quotas {
		out[k] = v
	}
	for k, v := range set {
		out[k] = v
	}
	return out, nil
}

// DefaultQuotaLimits returns the configured defaults.
func (s *Service) DefaultQuotaLimits() map[string]int {
	out := map[string]int{}
	for k, v := range s.cfg.Quotas {
		out[k] = v
	}
	return out
}

// QuotaDetails returns limits with usage.
func (s *Service) QuotaDetails(ctx context.Context, project string) (map[string]QuotaDetail, error) {
	limits, err := s.Quotas(ctx, project)
	if err != nil {
		return nil, err
	}
	out := map[string]QuotaDetail{}
	for r, l := range limits {
		d := QuotaDetail{Limit: l}
		if k, ok := quotaKind[r]; ok {
			n, err := s.store.Read().Count(ctx, k, Query{ProjectID: project})
			if err != nil {
				return nil, err
			}
			d.Used = n
		}
		out[r] = d
	}
	return out, nil
}

// SetQuotas updates a project's limits.
func (s *Service) SetQuotas(ctx context.Context, project string, limits map[string]int) (map[string]int, error) {
	for r, l := range limits {
		if _, ok := DefaultQuotas[r]; !ok {
			return nil, errs.BadRequest("Unrecognized attribute(s) '%s'", r)
		}
		if l < -1 {
			return nil, errs.BadRequest("Invalid input for %s. Reason: '%d' is lower than minimum '-1'.", r, l)
		}
	}
	err := s.store.Tx(ctx, func(o Ops) error {
		for r, l := range limits {
			if err := o.SetQuota(ctx, project, r, l); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.Quotas(ctx, project)
}

// ResetQuotas returns a project to the defaults.
func (s *Service) ResetQuotas(ctx context.Context, project string) error {
	return s.store.Tx(ctx, func(o Ops) error { return o.DeleteQuotas(ctx, project) })
}

// QuotaProjects lists projects with non-default quotas.
func (s *Service) QuotaProjects(ctx context.Context) ([]string, error) {
	return s.store.Read().QuotaProjects(ctx)
}
