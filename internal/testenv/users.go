package testenv

import (
	"context"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"

	"github.com/gureum/gureum/internal/identity"
	"github.com/gureum/gureum/internal/platform/errs"
	"github.com/gureum/gureum/internal/platform/ids"
)

// Project is a project with one user holding the given roles on it.
type Project struct {
	ID, Name         string
	UserID, UserName string
	Password         string
}

// CreateProjectUser creates (through the store, so tests of other services
// do not depend on the identity API) a project in the Default domain and a
// user with roles (names, e.g. "member") on it.
func (s *Server) CreateProjectUser(t testing.TB, project, user string, roles ...string) Project {
	t.Helper()
	ctx := context.Background()
	st := s.App.Identity.Store()
	now := time.Now().UTC()
	p, err := st.GetProjectByName(ctx, identity.DefaultDomainID, project)
	if errs.Is(err, errs.KindNotFound) {
		p = &identity.Project{ID: ids.Hex(), Name: project, DomainID: identity.DefaultDomainID, ParentID: identity.DefaultDomainID, Enabled: true, CreatedAt: now}
		err = st.CreateProject(ctx, p)
	}
	if err != nil {
		t.Fatal(err)
	}
	pw := "pw-" + ids.Random(6)
	hash, err := s.App.Identity.HashPassword(pw)
	if err != nil {
		t.Fatal(err)
	}
	u := &identity.User{ID: ids.Hex(), Name: user, DomainID: identity.DefaultDomainID, Enabled: true, PasswordHash: hash, PasswordCreatedAt: now, CreatedAt: now}
	if err := st.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	for _, rn := range roles {
		rs, err := st.ListRoles(ctx, "", rn)
		if err != nil || len(rs) == 0 {
			t.Fatalf("role %s: %v", rn, err)
		}
		if err := st.Grant(ctx, identity.Assignment{Type: identity.UserProject, ActorID: u.ID, TargetID: p.ID, RoleID: rs[0].ID}); err != nil {
			t.Fatal(err)
		}
	}
	return Project{ID: p.ID, Name: p.Name, UserID: u.ID, UserName: u.Name, Password: pw}
}

// LoginProject authenticates as the project's user, scoped to it.
func (s *Server) LoginProject(t testing.TB, p Project) *gophercloud.ProviderClient {
	return s.Login(t, gophercloud.AuthOptions{Username: p.UserName, Password: p.Password, DomainName: "Default", TenantID: p.ID})
}
