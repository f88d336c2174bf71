package identity

import (
	"context"
	"time"

	"github.com/gureum/gureum/internal/platform/errs"
	"github.com/gureum/gureum/internal/platform/ids"
)

// CatalogService describes a Gureum service for the catalog.
type CatalogDef struct {
	Type, Name string
	// URL is the full endpoint URL.
	URL string
}

// BootstrapOptions are the values of `gureum admin bootstrap`.
type BootstrapOptions struct {
	AdminUser     string
	AdminPassword string
	AdminProject  string
	Region        string
	Services      []CatalogDef
}

// Bootstrap creates, when missing, the Default domain, the roles admin,
// member and reader (admin implies member implies reader, as keystone's
// bootstrap does), the admin project and user with admin on the project and
// on the system, and the catalog. It is idempotent: run again it repairs the
// catalog URLs (say after the advertised URL changed) and leaves the rest.
// It reports whether the admin user was created.
func (s *Service) Bootstrap(ctx context.Context, o BootstrapOptions) (bool, error) {
	now := s.now()
	if _, err := s.store.GetProject(ctx, DefaultDomainID); errs.Is(err, errs.KindNotFound) {
		err = s.store.CreateProject(ctx, &Project{ID: DefaultDomainID, Name: "Default", DomainID: RootDomainID, IsDomain: true, Enabled: true, Description: "The default domain", CreatedAt: now})
		if err != nil && !errs.Is(err, errs.KindConflict) {
			return false, err
		}
	} else if err != nil {
		return false, err
	}
	roleID := map[string]string{}
	for _, name := range []string{"admin", "member", "reader", "service"} {
		rs, err := s.store.ListRoles(ctx, "", name)
		if err != nil {
			return false, err
		}
		if len(rs) > 0 {
			roleID[name] = rs[0].ID
			continue
		}
		r := &Role{ID: ids.Hex(), Name: name, CreatedAt: now, Options: map[string]any{"immutable": true}}
		if err := s.store.CreateRole(ctx, r); err != nil {
			return false, err
		}
		roleID[name] = r.ID
	}
	if err := s.store.AddImpliedRole(ctx, roleID["admin"], roleID["member"]); err != nil {
		return false, err
	}
	if err := s.store.AddImpliedRole(ctx, roleID["member"], roleID["reader"]); err != nil {
		return false, err
	}
	proj, err := s.store.GetProjectByName(ctx, DefaultDomainID, o.AdminProject)
	if errs.Is(err, errs.KindNotFound) {
		proj = &Project{ID: ids.Hex(), Name: o.AdminProject, DomainID: DefaultDomainID, ParentID: DefaultDomainID, Enabled: true, Description: "Bootstrap project for initializing the cloud.", CreatedAt: now}
		if err := s.store.CreateProject(ctx, proj); err != nil {
			return false, err
		}
	} else if err != nil {
		return false, err
	}
	created := false
	user, err := s.store.GetUserByName(ctx, DefaultDomainID, o.AdminUser)
	if errs.Is(err, errs.KindNotFound) {
		hash, err := s.HashPassword(o.AdminPassword)
		if err != nil {
			return false, err
		}
		user = &User{ID: ids.Hex(), Name: o.AdminUser, DomainID: DefaultDomainID, Enabled: true, PasswordHash: hash, PasswordCreatedAt: now, CreatedAt: now, DefaultProjectID: proj.ID}
		if err := s.store.CreateUser(ctx, user); err != nil {
			return false, err
		}
		created = true
	} else if err != nil {
		return false, err
	}
	for _, a := range []Assignment{
		{Type: UserProject, ActorID: user.ID, TargetID: proj.ID, RoleID: roleID["admin"]},
		{Type: UserSystem, ActorID: user.ID, TargetID: SystemTarget, RoleID: roleID["admin"]},
		{Type: UserDomain, ActorID: user.ID, TargetID: DefaultDomainID, RoleID: roleID["admin"]},
	} {
		if err := s.store.Grant(ctx, a); err != nil {
			return false, err
		}
	}
	return created, s.ensureCatalog(ctx, o.Region, o.Services)
}

func (s *Service) ensureCatalog(ctx context.Context, region string, defs []CatalogDef) error {
	if _, err := s.store.GetRegion(ctx, region); errs.Is(err, errs.KindNotFound) {
		if err := s.store.CreateRegion(ctx, &Region{ID: region}); err != nil && !errs.Is(err, errs.KindConflict) {
			return err
		}
	}
	svcs, err := s.store.ListServices(ctx)
	if err != nil {
		return err
	}
	eps, err := s.store.ListEndpoints(ctx)
	if err != nil {
		return err
	}
	for _, d := range defs {
		var svc *ServiceRecord
		for _, x := range svcs {
			if x.Type == d.Type && x.Name == d.Name {
				svc = x
			}
		}
		if svc == nil {
			svc = &ServiceRecord{ID: ids.Hex(), Type: d.Type, Name: d.Name, Enabled: true}
			if err := s.store.CreateService(ctx, svc); err != nil {
				return err
			}
		}
		for _, iface := range []string{"public", "internal", "admin"} {
			var ep *Endpoint
			for _, e := range eps {
				if e.ServiceID == svc.ID && e.Interface == iface && e.RegionID == region {
					ep = e
				}
			}
			switch {
			case ep == nil:
				if err := s.store.CreateEndpoint(ctx, &Endpoint{ID: ids.Hex(), ServiceID: svc.ID, Interface: iface, RegionID: region, URL: d.URL, Enabled: true}); err != nil {
					return err
				}
			case ep.URL != d.URL:
				ep.URL = d.URL
				if err := s.store.UpdateEndpoint(ctx, ep); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// TokenTTL returns the configured token lifetime.
func (s *Service) TokenTTL() time.Duration { return s.cfg.TokenTTL }
