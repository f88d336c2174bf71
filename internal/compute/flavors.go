package compute

import (
	"context"
	"strings"

	"github.com/gureum/gureum/internal/platform/errs"
	"github.com/gureum/gureum/internal/platform/ids"
)

// DefaultFlavors are created at bootstrap (nova's classic set).
var DefaultFlavors = []Flavor{
	{ID: "1", Name: "m1.tiny", VCPUs: 1, RAM: 512, Disk: 1},
	{ID: "2", Name: "m1.small", VCPUs: 1, RAM: 2048, Disk: 20},
	{ID: "3", Name: "m1.medium", VCPUs: 2, RAM: 4096, Disk: 40},
	{ID: "4", Name: "m1.large", VCPUs: 4, RAM: 8192, Disk: 80},
}

// Bootstrap creates the default flavors of a new cloud (idempotent).
func (s *Service) Bootstrap(ctx context.Context) error {
	for _, f := range DefaultFlavors {
		if _, err := s.store.GetFlavor(ctx, f.ID); err == nil {
			continue
		} else if !errs.Is(err, errs.KindNotFound) {
			return err
		}
		f := f
		f.IsPublic, f.RxTxFactor, f.CreatedAt, f.ExtraSpecs = true, 1, s.now(), map[string]string{}
		if err := s.store.CreateFlavor(ctx, &f); err != nil && !errs.Is(err, errs.KindConflict) {
			return err
		}
	}
	return nil
}

// CreateFlavor validates and stores a flavor.
func (s *Service) CreateFlavor(ctx context.Context, f *Flavor) error {
	f.Name = strings.TrimSpace(f.Name)
	if f.Name == "" || len(f.Name) > 255 {
		return errs.BadRequest("Invalid input for field/attribute name. Value: %s. must be 1-255 characters", f.Name)
	}
	if f.ID == "" || f.ID == "auto" {
		f.ID = ids.UUID()
	}
	if len(f.ID) > 255 || strings.ContainsAny(f.ID, "/ ") {
		return errs.BadRequest("Invalid input for field/attribute id.")
	}
	if f.VCPUs < 1 || f.RAM < 1 || f.Disk < 0 || f.Ephemeral < 0 || f.Swap < 0 || f.RxTxFactor <= 0 {
		return errs.BadRequest("Invalid flavor: vcpus and ram must be positive, disk, ephemeral and swap non-negative.")
	}
	if f.ExtraSpecs == nil {
		f.ExtraSpecs = map[string]string{}
	}
	f.CreatedAt = s.now()
	return s.store.CreateFlavor(ctx, f)
}

// GetFlavor returns a flavor the caller may see.
func (s *Service) GetFlavor(ctx context.Context, c Caller, id string) (*Flavor, error) {
	f, err := s.store.GetFlavor(ctx, id)
	if err != nil {
		return nil, err
	}
	if !f.IsPublic && !c.Admin {
		access, err := s.store.FlavorAccess(ctx, id)
		if err != nil {
			return nil, err
		}
		if !contains(access, c.ProjectID) {
			return nil, errs.NotFound("Flavor %s could not be found.", id)
		}
	}
	return f, nil
}

// SetExtraSpecs merges specs into a flavor's extra specs.
func (s *Service) SetExtraSpecs(ctx context.Context, id string, specs map[string]string, replace bool) (*Flavor, error) {
	f, err := s.store.GetFlavor(ctx, id)
	if err != nil {
		return nil, err
	}
	for k, v := range specs {
		if k == "" || len(k) > 255 || len(v) > 255 {
			return nil, errs.BadRequest("Invalid extra spec %q: keys 1-255 characters, values up to 255.", k)
		}
	}
	if replace {
		f.ExtraSpecs = map[string]string{}
	}
	for k, v := range specs {
		f.ExtraSpecs[k] = v
	}
	return f, s.store.UpdateFlavor(ctx, f)
}

// DeleteExtraSpec removes one key.
func (s *Service) DeleteExtraSpec(ctx context.Context, id, key string) error {
	f, err := s.store.GetFlavor(ctx, id)
	if err != nil {
		return err
	}
	if _, ok := f.ExtraSpecs[key]; !ok {
		return errs.NotFound("Flavor %s has no extra specs with key %s.", id, key)
	}
	delete(f.ExtraSpecs, key)
	return s.store.UpdateFlavor(ctx, f)
}

// UpdateFlavorDescription sets a flavor's description (2.55 API; kept for
// the store's sake).
func (s *Service) UpdateFlavorDescription(ctx context.Context, id, desc string) (*Flavor, error) {
	f, err := s.store.GetFlavor(ctx, id)
	if err != nil {
		return nil, err
	}
	f.Description = desc
	return f, s.store.UpdateFlavor(ctx, f)
}

// AddFlavorAccess gives a project a private flavor; public flavors refuse
// (409, microversion 2.7 behaviour).
func (s *Service) AddFlavorAccess(ctx context.Context, id, projectID string) ([]string, error) {
	f, err := s.store.GetFlavor(ctx, id)
	if err != nil {
		return nil, err
	}
	if f.IsPublic {
		return nil, errs.Conflict("Can not add access to a public flavor.")
	}
	if err := s.store.AddFlavorAccess(ctx, id, projectID); err != nil {
		return nil, err
	}
	return s.store.FlavorAccess(ctx, id)
}

// RemoveFlavorAccess takes a private flavor from a project.
func (s *Service) RemoveFlavorAccess(ctx context.Context, id, projectID string) ([]string, error) {
	if _, err := s.store.GetFlavor(ctx, id); err != nil {
		return nil, err
	}
	if err := s.store.RemoveFlavorAccess(ctx, id, projectID); err != nil {
		return nil, err
	}
	return s.store.FlavorAccess(ctx, id)
}

// FlavorAccessList lists a private flavor's projects.
func (s *Service) FlavorAccessList(ctx context.Context, id string) ([]string, error) {
	f, err := s.store.GetFlavor(ctx, id)
	if err != nil {
		return nil, err
	}
	if f.IsPublic {
		return nil, errs.NotFound("Access list not available for public flavors.")
	}
	return s.store.FlavorAccess(ctx, id)
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
