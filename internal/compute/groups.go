package compute

import (
	"context"
	"strings"

	"github.com/gureum/gureum/internal/platform/errs"
	"github.com/gureum/gureum/internal/platform/ids"
)

// CreateServerGroup validates and stores a group; soft policies need
// microversion 2.15 (the API passes soft=false before it).
func (s *Service) CreateServerGroup(ctx context.Context, c Caller, name string, policies []string, soft bool) (*ServerGroup, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 255 {
		return nil, errs.BadRequest("Invalid input for field/attribute name.")
	}
	if len(policies) != 1 {
		return nil, errs.BadRequest("Invalid input for field/attribute policies. Exactly one policy is required.")
	}
	p := policies[0]
	ok := p == PolicyAffinity || p == PolicyAntiAffinity || (soft && (p == PolicySoftAffinity || p == PolicySoftAntiAffinity))
	if !ok {
		return nil, errs.BadRequest("Invalid input for field/attribute 0. Value: %s. '%s' is not one of the allowed policies", p, p)
	}
	g := &ServerGroup{ID: ids.UUID(), Name: name, Policy: p, ProjectID: c.ProjectID, UserID: c.UserID, CreatedAt: s.now(), Members: []string{}}
	if err := s.store.CreateServerGroup(ctx, g, s.quotaLimit(ctx, c.ProjectID, QServerGroups)); err != nil {
		return nil, err
	}
	return g, nil
}

// GetServerGroup returns a group the caller may see (404 otherwise).
func (s *Service) GetServerGroup(ctx context.Context, c Caller, id string) (*ServerGroup, error) {
	g, err := s.store.GetServerGroup(ctx, id)
	if err != nil {
		return nil, err
	}
	if !c.Admin && g.ProjectID != c.ProjectID {
		return nil, errs.NotFound("Instance group %s could not be found.", id)
	}
	return g, nil
}

// DeleteServerGroup removes a group of the caller's project.
func (s *Service) DeleteServerGroup(ctx context.Context, c Caller, id string) error {
	if _, err := s.GetServerGroup(ctx, c, id); err != nil {
		return err
	}
	return s.store.DeleteServerGroup(ctx, id)
}
