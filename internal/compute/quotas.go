package compute

import (
	"context"

	"github.com/gureum/gureum/internal/platform/errs"
)

// Quotas returns a project's limits: its overrides on the defaults.
func (s *Service) Quotas(ctx context.Context, projectID string) (map[string]int, error) {
	out := s.DefaultQuotas()
	o, err := s.store.GetQuotas(ctx, projectID)
	if err != nil {
		return nil, err
	}
	for k, v := range o {
		out[k] = v
	}
	return out, nil
}

// DefaultQuotas returns the configured defaults.
func (s *Service) DefaultQuotas() map[string]int {
	out := map[string]int{}
	for _, r := range QuotaResources {
		out[r] = -1
	}
	for k, v := range s.cfg.Quota {
		out[k] = v
	}
	return out
}

func (s *Service) quotaLimit(ctx context.Context, projectID, res string) int {
	q, err := s.Quotas(ctx, projectID)
	if err != nil {
		return s.DefaultQuotas()[res]
	}
	return q[res]
}

// SetQuotas updates a project's limits. Lowering a limit below what is in
// use is refused unless force (nova's behaviour).
func (s *Service) SetQuotas(ctx context.Context, projectID string, q map[string]int, force bool) (map[string]int, error) {
	for k, v := range q {
		if v < -1 {
			return nil, errs.BadRequest("Quota limit %d for %s must be -1 or greater.", v, k)
		}
		if !contains(QuotaResources, k) {
			return nil, errs.BadRequest("Additional properties are not allowed (%s was unexpected)", k)
		}
	}
	if !force {
		used, err := s.store.QuotaUsage(ctx, projectID, "")
		if err != nil {
			return nil, err
		}
		for k, v := range q {
			if v >= 0 && used[k] > v {
				return nil, errs.BadRequest("Quota limit %d for %s must be greater than or equal to already used and reserved %d.", v, k, used[k])
			}
		}
	}
	if err := s.store.SetQuotas(ctx, projectID, q); err != nil {
		return nil, err
	}
	return s.Quotas(ctx, projectID)
}

// ResetQuotas drops a project's overrides.
func (s *Service) ResetQuotas(ctx context.Context, projectID string) error {
	return s.store.DeleteQuotas(ctx, projectID)
}

// Usage returns what a project (and user, for key pairs) uses.
func (s *Service) Usage(ctx context.Context, projectID, userID string) (map[string]int, error) {
	return s.store.QuotaUsage(ctx, projectID, userID)
}
