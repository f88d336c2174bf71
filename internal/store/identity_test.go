package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/gureum/gureum/internal/identity"
	"github.com/gureum/gureum/internal/platform/errs"
	"github.com/gureum/gureum/internal/store"
	"github.com/gureum/gureum/internal/store/storetest"
)

func TestIdentityStore(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		st := store.NewIdentity(db)
		now := time.Now().UTC().Truncate(time.Microsecond)
		fail := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		wantKind := func(err error, k errs.Kind, what string) {
			t.Helper()
			if !errs.Is(err, k) {
				t.Fatalf("%s: want kind %v, got %v", what, k, err)
			}
		}

		dom := &identity.Project{ID: "d1", Name: "D1", DomainID: identity.RootDomainID, IsDomain: true, Enabled: true, CreatedAt: now}
		fail(st.CreateProject(ctx, dom))
		wantKind(st.CreateProject(ctx, &identity.Project{ID: "d1b", Name: "D1", DomainID: identity.RootDomainID, IsDomain: true, CreatedAt: now}), errs.KindConflict, "duplicate domain name")
		p := &identity.Project{ID: "p1", Name: "P1", DomainID: "d1", ParentID: "d1", Enabled: true, Tags: []string{"a", "b"}, Extra: map[string]any{"k": "v"}, CreatedAt: now}
		fail(st.CreateProject(ctx, p))
		fail(st.CreateProject(ctx, &identity.Project{ID: "p2", Name: "P2", DomainID: "d1", ParentID: "p1", Enabled: true, Tags: []string{"b"}, CreatedAt: now}))
		got, err := st.GetProject(ctx, "p1")
		fail(err)
		if !slices.Equal(got.Tags, []string{"a", "b"}) || got.Extra["k"] != "v" || !got.CreatedAt.Equal(now) {
			t.Fatalf("project %+v", got)
		}
		ids := func(f identity.ProjectFilter) []string {
			ps, err := st.ListProjects(ctx, f)
			fail(err)
			var out []string
			for _, p := range ps {
				out = append(out, p.ID)
			}
			return out
		}
		if l := ids(identity.ProjectFilter{DomainID: "d1", Tags: []string{"a", "b"}}); !slices.Equal(l, []string{"p1"}) {
			t.Fatalf("tags %v", l)
		}
		if l := ids(identity.ProjectFilter{DomainID: "d1", NotTags: []string{"a", "b"}}); !slices.Equal(l, []string{"p2"}) {
			t.Fatalf("not-tags %v", l)
		}
		if l := ids(identity.ProjectFilter{DomainID: "d1", TagsAny: []string{"b"}}); !slices.Equal(l, []string{"p1", "p2"}) {
			t.Fatalf("tags-any %v", l)
		}
		wantKind(st.DeleteProject(ctx, "p1"), errs.KindForbidden, "delete non-leaf")

		u := &identity.User{ID: "u1", Name: "U1", DomainID: "d1", Enabled: true, PasswordHash: "h", Options: map[string]any{"lock_password": true}, CreatedAt: now}
		fail(st.CreateUser(ctx, u))
		wantKind(st.CreateUser(ctx, &identity.User{ID: "u2", Name: "U1", DomainID: "d1", CreatedAt: now}), errs.KindConflict, "duplicate user")
		wantKind(st.CreateUser(ctx, &identity.User{ID: "u3", Name: "U3", DomainID: "nope", CreatedAt: now}), errs.KindBadRequest, "user in missing domain")
		n, err := st.RecordAuthFailure(ctx, "u1", now)
		fail(err)
		if n != 1 {
			t.Fatalf("failures %d", n)
		}
		g := &identity.Group{ID: "g1", Name: "G1", DomainID: "d1", CreatedAt: now}
		fail(st.CreateGroup(ctx, g))
		fail(st.AddUserToGroup(ctx, "u1", "g1"))
		fail(st.AddUserToGroup(ctx, "u1", "g1")) // idempotent
		us, err := st.ListUsers(ctx, identity.UserFilter{GroupID: "g1"})
		fail(err)
		if len(us) != 1 || us[0].Options["lock_password"] != true {
			t.Fatalf("group members %+v", us)
		}

		r1 := &identity.Role{ID: "r1", Name: "R1", CreatedAt: now}
		r2 := &identity.Role{ID: "r2", Name: "R2", CreatedAt: now}
		dr := &identity.Role{ID: "dr", Name: "R1", DomainID: "d1", CreatedAt: now}
		for _, r := range []*identity.Role{r1, r2, dr} {
			fail(st.CreateRole(ctx, r))
		}
		fail(st.AddImpliedRole(ctx, "r1", "r2"))
		im, err := st.ImpliedRoles(ctx)
		fail(err)
		if !slices.Equal(im["r1"], []string{"r2"}) {
			t.Fatalf("implied %v", im)
		}
		grants := []identity.Assignment{
			{Type: identity.UserProject, ActorID: "u1", TargetID: "p2", RoleID: "r1"},
			{Type: identity.GroupDomain, ActorID: "g1", TargetID: "d1", RoleID: "r2", Inherited: true},
			{Type: identity.UserSystem, ActorID: "u1", TargetID: identity.SystemTarget, RoleID: "r2"},
		}
		for _, a := range grants {
			fail(st.Grant(ctx, a))
			fail(st.Grant(ctx, a)) // granting twice is fine
		}
		wantKind(st.Grant(ctx, identity.Assignment{Type: identity.UserProject, ActorID: "u1", TargetID: "p2", RoleID: "nope"}), errs.KindNotFound, "grant missing role")
		inh := true
		as, err := st.ListAssignments(ctx, identity.AssignmentFilter{ActorIDs: []string{"u1", "g1"}, Inherited: &inh})
		fail(err)
		if len(as) != 1 || as[0].ActorID != "g1" {
			t.Fatalf("inherited %+v", as)
		}

		ac := &identity.AppCred{ID: "ac1", Name: "ci", UserID: "u1", ProjectID: "p2", SecretHash: "s", Roles: []string{"r1"}, ExpiresAt: now.Add(time.Hour), CreatedAt: now}
		fail(st.CreateAppCred(ctx, ac))
		wantKind(st.CreateAppCred(ctx, &identity.AppCred{ID: "ac2", Name: "ci", UserID: "u1", ProjectID: "p2", SecretHash: "s", CreatedAt: now}), errs.KindConflict, "duplicate app cred")
		gotAC, err := st.GetAppCred(ctx, "ac1")
		fail(err)
		if !slices.Equal(gotAC.Roles, []string{"r1"}) || !gotAC.ExpiresAt.Equal(ac.ExpiresAt) {
			t.Fatalf("app cred %+v", gotAC)
		}

		// Deleting a role removes its assignments and inferences.
		fail(st.DeleteRole(ctx, "r2"))
		as, err = st.ListAssignments(ctx, identity.AssignmentFilter{})
		fail(err)
		if len(as) != 1 {
			t.Fatalf("after role delete %+v", as)
		}
		// Deleting the domain removes everything in it, in one transaction.
		fail(st.DeleteProject(ctx, "d1"))
		for _, id := range []string{"d1", "p1", "p2"} {
			_, err := st.GetProject(ctx, id)
			wantKind(err, errs.KindNotFound, "project after domain delete "+id)
		}
		_, err = st.GetUser(ctx, "u1")
		wantKind(err, errs.KindNotFound, "user after domain delete")
		_, err = st.GetAppCred(ctx, "ac1")
		wantKind(err, errs.KindNotFound, "app cred after domain delete")
		_, err = st.GetRole(ctx, "dr")
		wantKind(err, errs.KindNotFound, "domain role after domain delete")
		as, err = st.ListAssignments(ctx, identity.AssignmentFilter{})
		fail(err)
		if len(as) != 0 {
			t.Fatalf("assignments left %+v", as)
		}

		// Catalog.
		fail(st.CreateRegion(ctx, &identity.Region{ID: "east"}))
		wantKind(st.CreateRegion(ctx, &identity.Region{ID: "x", ParentRegionID: "nope"}), errs.KindNotFound, "missing parent region")
		fail(st.CreateService(ctx, &identity.ServiceRecord{ID: "s1", Type: "t", Enabled: true}))
		fail(st.CreateEndpoint(ctx, &identity.Endpoint{ID: "e1", ServiceID: "s1", Interface: "public", RegionID: "east", URL: "http://x", Enabled: true}))
		wantKind(st.DeleteRegion(ctx, "east"), errs.KindForbidden, "region with endpoints")
		fail(st.DeleteService(ctx, "s1"))
		fail(st.DeleteRegion(ctx, "east"))

		// Fernet keys: compare-and-swap.
		k1 := []identity.FernetKey{{Index: 0, Key: "a", CreatedAt: now}, {Index: 1, Key: "b", CreatedAt: now}}
		fail(st.ReplaceFernetKeys(ctx, nil, k1))
		wantKind(st.ReplaceFernetKeys(ctx, nil, k1), errs.KindConflict, "concurrent rotation")
		fail(st.ReplaceFernetKeys(ctx, k1, []identity.FernetKey{{Index: 0, Key: "c", CreatedAt: now}}))

		// Revocation events.
		fail(st.AddRevocation(ctx, identity.Revocation{AuditID: "x", RevokedAt: now, ExpiresAt: now.Add(time.Hour)}))
		fail(st.AddRevocation(ctx, identity.Revocation{AuditID: "y", RevokedAt: now.Add(time.Second), ExpiresAt: now.Add(-time.Second)}))
		evs, err := st.RevocationsSince(ctx, now.Add(time.Millisecond))
		fail(err)
		if len(evs) != 1 || evs[0].AuditID != "y" {
			t.Fatalf("since %+v", evs)
		}
		fail(st.PruneRevocations(ctx, now))
		evs, err = st.RevocationsSince(ctx, time.Time{})
		fail(err)
		if len(evs) != 1 || evs[0].AuditID != "x" {
			t.Fatalf("after prune %+v", evs)
		}
	})
}
