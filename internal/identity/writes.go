package identity

import "context"

// Writes the admin API makes that need no more checks than the store's
// own (constraints, not-found). They are here, not called on the store by
// the API, so every write stays in the service layer and goes through the
// generation-bumping store.

// CreateEndpoint is Store.CreateEndpoint.
func (s *Service) CreateEndpoint(ctx context.Context, e *Endpoint) error {
	return s.store.CreateEndpoint(ctx, e)
}

// CreateRegion is Store.CreateRegion.
func (s *Service) CreateRegion(ctx context.Context, r *Region) error {
	return s.store.CreateRegion(ctx, r)
}

// CreateService is Store.CreateService.
func (s *Service) CreateService(ctx context.Context, v *ServiceRecord) error {
	return s.store.CreateService(ctx, v)
}

// DeleteAppCred is Store.DeleteAppCred.
func (s *Service) DeleteAppCred(ctx context.Context, id string) error {
	return s.store.DeleteAppCred(ctx, id)
}

// DeleteEndpoint is Store.DeleteEndpoint.
func (s *Service) DeleteEndpoint(ctx context.Context, id string) error {
	return s.store.DeleteEndpoint(ctx, id)
}

// DeleteGroup is Store.DeleteGroup.
func (s *Service) DeleteGroup(ctx context.Context, id string) error {
	return s.store.DeleteGroup(ctx, id)
}

// DeleteRegion is Store.DeleteRegion.
func (s *Service) DeleteRegion(ctx context.Context, id string) error {
	return s.store.DeleteRegion(ctx, id)
}

// DeleteService is Store.DeleteService.
func (s *Service) DeleteService(ctx context.Context, id string) error {
	return s.store.DeleteService(ctx, id)
}

// GrantRole is Store.Grant.
func (s *Service) GrantRole(ctx context.Context, a Assignment) error {
	return s.store.Grant(ctx, a)
}

// RemoveImpliedRole is Store.RemoveImpliedRole.
func (s *Service) RemoveImpliedRole(ctx context.Context, prior, implied string) error {
	return s.store.RemoveImpliedRole(ctx, prior, implied)
}

// RemoveUserFromGroup is Store.RemoveUserFromGroup.
func (s *Service) RemoveUserFromGroup(ctx context.Context, userID, groupID string) error {
	return s.store.RemoveUserFromGroup(ctx, userID, groupID)
}

// RevokeGrant is Store.Revoke.
func (s *Service) RevokeGrant(ctx context.Context, a Assignment) error {
	return s.store.Revoke(ctx, a)
}

// UpdateEndpoint is Store.UpdateEndpoint.
func (s *Service) UpdateEndpoint(ctx context.Context, e *Endpoint) error {
	return s.store.UpdateEndpoint(ctx, e)
}

// UpdateGroup is Store.UpdateGroup.
func (s *Service) UpdateGroup(ctx context.Context, g *Group) error {
	return s.store.UpdateGroup(ctx, g)
}

// UpdateRegion is Store.UpdateRegion.
func (s *Service) UpdateRegion(ctx context.Context, r *Region) error {
	return s.store.UpdateRegion(ctx, r)
}

// UpdateService is Store.UpdateService.
func (s *Service) UpdateService(ctx context.Context, v *ServiceRecord) error {
	return s.store.UpdateService(ctx, v)
}
