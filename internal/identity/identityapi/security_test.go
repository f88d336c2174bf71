package identityapi_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/applicationcredentials"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/domains"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/osinherit"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/projects"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/roles"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/tokens"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/users"
	"github.com/gophercloud/gophercloud/v2/pagination"

	"github.com/gureum/gureum/internal/app"
	"github.com/gureum/gureum/internal/config"
	"github.com/gureum/gureum/internal/platform/logging"
	"github.com/gureum/gureum/internal/testenv"
)

// login returns a provider or the authentication error.
func login(s *testenv.Server, ao gophercloud.AuthOptions) (*gophercloud.ProviderClient, error) {
	ao.IdentityEndpoint = s.AuthURL()
	return openstack.AuthenticatedClient(ctx, ao)
}

func TestTokenInvalidation(t *testing.T) {
	t.Parallel()
	s := testenv.StartServer(t)
	admin := s.Identity(t, s.Admin(t))

	// A password change through the API revokes the user's tokens.
	p := s.CreateProjectUser(t, "p", "dave", "member")
	old := s.LoginProject(t, p).Token()
	if ok, _ := tokensValidate(s, old); !ok {
		t.Fatal("fresh token invalid")
	}
	wantCode(t, users.ChangePassword(ctx, admin, p.UserID, users.ChangePasswordOpts{OriginalPassword: "wrong", Password: "new-pass-1"}).Err, 401, "change with wrong original")
	if err := users.ChangePassword(ctx, admin, p.UserID, users.ChangePasswordOpts{OriginalPassword: p.Password, Password: "new-pass-1"}).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	if ok, code := tokensValidate(s, old); ok || code != 401 {
		t.Fatalf("token after password change: %d", code)
	}
	if _, err := login(s, gophercloud.AuthOptions{Username: "dave", Password: p.Password, DomainID: "default", TenantID: p.ID}); err == nil {
		t.Fatal("old password still works")
	}
	p.Password = "new-pass-1"
	tok := s.LoginProject(t, p).Token()

	// Disabling the user, then the project, stops the token at once.
	if _, err := users.Update(ctx, admin, p.UserID, users.UpdateOpts{Enabled: ptr(false)}).Extract(); err != nil {
		t.Fatal(err)
	}
	if ok, _ := tokensValidate(s, tok); ok {
		t.Fatal("token of disabled user valid")
	}
	if _, err := users.Update(ctx, admin, p.UserID, users.UpdateOpts{Enabled: ptr(true)}).Extract(); err != nil {
		t.Fatal(err)
	}
	if ok, _ := tokensValidate(s, tok); !ok {
		t.Fatal("token of re-enabled user invalid")
	}
	if _, err := projects.Update(ctx, admin, p.ID, projects.UpdateOpts{Enabled: ptr(false)}).Extract(); err != nil {
		t.Fatal(err)
	}
	if ok, _ := tokensValidate(s, tok); ok {
		t.Fatal("token of disabled project valid")
	}

	// Explicit revocation.
	other := s.Admin(t).Token()
	if err := tokens.Revoke(ctx, admin, other).Err; err != nil {
		t.Fatal(err)
	}
	if ok, _ := tokens.Validate(ctx, admin, other); ok {
		t.Fatal("revoked token valid")
	}
}

func TestTokenExpiry(t *testing.T) {
	t.Parallel()
	s := testenv.StartServer(t)
	tok := s.Admin(t).Token()
	svc := s.App.Identity
	svc.SetClock(func() time.Time { return time.Now().UTC().Add(2 * time.Hour) })
	fresh := s.Admin(t)
	if ok, _ := tokens.Validate(ctx, s.Identity(t, fresh), tok); ok {
		t.Fatal("expired token valid")
	}
	resp, b := s.HTTP(t, "GET", "/identity/v3/auth/tokens", fresh.Token(), "", "X-Subject-Token", tok)
	if resp.StatusCode != 404 || !strings.Contains(string(b), "expired") {
		t.Fatalf("expired token: %d %s", resp.StatusCode, b)
	}
	if ok, code := tokensValidate(s, tok); ok || code != 401 {
		t.Fatalf("expired token as caller: %d", code)
	}
}

func TestLockoutAndRateLimit(t *testing.T) {
	t.Parallel()
	s := testenv.StartServer(t, func(c *config.Config) {
		c.Identity.LockoutFailureAttempts = 3
		c.Identity.AuthFailuresPerMinute = 8
	})
	p := s.CreateProjectUser(t, "p", "eve", "member")
	body := func(pw string) string {
		return `{"auth":{"identity":{"methods":["password"],"password":{"user":{"id":"` + p.UserID + `","password":"` + pw + `"}}}}}`
	}
	for i := 0; i < 3; i++ {
		if resp, _ := s.HTTP(t, "POST", "/identity/v3/auth/tokens", "", body("wrong")); resp.StatusCode != 401 {
			t.Fatalf("attempt %d: %d", i, resp.StatusCode)
		}
	}
	// Locked: even the right password is refused.
	resp, b := s.HTTP(t, "POST", "/identity/v3/auth/tokens", "", body(p.Password))
	if resp.StatusCode != 401 || !strings.Contains(string(b), "locked") {
		t.Fatalf("locked user: %d %s", resp.StatusCode, b)
	}
	// After the lockout duration the right password works again.
	s.App.Identity.SetClock(func() time.Time { return time.Now().UTC().Add(31 * time.Minute) })
	if resp, b := s.HTTP(t, "POST", "/identity/v3/auth/tokens", "", body(p.Password)); resp.StatusCode != 201 {
		t.Fatalf("after lockout: %d %s", resp.StatusCode, b)
	}
	s.App.Identity.SetClock(func() time.Time { return time.Now().UTC() })

	// Failures from one address are limited per minute: 429 + Retry-After,
	// for everyone from that address, whatever the user.
	var last *http.Response
	for i := 0; i < 10; i++ {
		last, _ = s.HTTP(t, "POST", "/identity/v3/auth/tokens", "", `{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"nobody","domain":{"id":"default"},"password":"x"}}}}}`)
	}
	if last.StatusCode != 429 {
		t.Fatalf("want 429, got %d", last.StatusCode)
	}
	if ra, err := strconv.Atoi(last.Header.Get("Retry-After")); err != nil || ra < 1 || ra > 60 {
		t.Fatalf("Retry-After %q", last.Header.Get("Retry-After"))
	}
	if resp, _ := s.HTTP(t, "POST", "/identity/v3/auth/tokens", "", body(p.Password)); resp.StatusCode != 429 {
		t.Fatalf("limited address got %d", resp.StatusCode)
	}
}

func TestRBAC(t *testing.T) {
	t.Parallel()
	s := testenv.StartServer(t)
	admin := s.Identity(t, s.Admin(t))
	p1 := s.CreateProjectUser(t, "p1", "member1", "member")
	p1r := s.CreateProjectUser(t, "p1", "reader1", "reader")
	p2 := s.CreateProjectUser(t, "p2", "padmin2", "admin")
	member := s.Identity(t, s.LoginProject(t, p1))
	reader := s.Identity(t, s.LoginProject(t, p1r))
	padmin := s.Identity(t, s.LoginProject(t, p2))

	// A member cannot list users or create roles; sees its project only.
	wantCode(t, users.List(member, nil).EachPage(ctx, nopPage), 403, "member lists users")
	wantCode(t, roles.Create(ctx, member, roles.CreateOpts{Name: "x"}).Err, 403, "member creates role")
	if _, err := projects.Get(ctx, member, p1.ID).Extract(); err != nil {
		t.Fatalf("member reads own project: %v", err)
	}
	wantCode(t, projects.Get(ctx, member, p2.ID).Err, 403, "member reads other project")
	wantCode(t, projects.Get(ctx, member, "nope").Err, 403, "member probes a missing project")
	if _, err := users.Get(ctx, member, p1.UserID).Extract(); err != nil {
		t.Fatalf("member reads itself: %v", err)
	}
	wantCode(t, users.Get(ctx, member, p2.UserID).Err, 403, "member reads another user")

	// A reader cannot write.
	wantCode(t, projects.Update(ctx, reader, p1.ID, projects.UpdateOpts{Description: ptr("x")}).Err, 403, "reader updates project")
	wantCode(t, users.Create(ctx, reader, users.CreateOpts{Name: "r"}).Err, 403, "reader creates user")

	// A project admin cannot touch another project, nor manage users.
	wantCode(t, projects.Get(ctx, padmin, p1.ID).Err, 403, "project admin reads other project")
	wantCode(t, projects.Delete(ctx, padmin, p1.ID).Err, 403, "project admin deletes other project")
	wantCode(t, projects.Update(ctx, padmin, p1.ID, projects.UpdateOpts{Enabled: ptr(false)}).Err, 403, "project admin disables other project")
	adminRole := roleID(t, admin, "admin")
	wantCode(t, roles.Assign(ctx, padmin, adminRole, roles.AssignOpts{UserID: p2.UserID, ProjectID: p1.ID}).Err, 403, "project admin grants itself another project")
	wantCode(t, users.List(padmin, nil).EachPage(ctx, nopPage), 403, "project admin lists users")
	wantCode(t, domains.Create(ctx, padmin, domains.CreateOpts{Name: "evil"}).Err, 403, "project admin creates domain")
	// ...nor read another user's token.
	resp, b := s.HTTP(t, "GET", "/identity/v3/auth/tokens", s.LoginProject(t, p2).Token(), "", "X-Subject-Token", s.LoginProject(t, p1).Token())
	if resp.StatusCode != 403 {
		t.Fatalf("project admin validates another's token: %d %s", resp.StatusCode, b)
	}

	// A domain admin manages its domain only.
	d1 := must(domains.Create(ctx, admin, domains.CreateOpts{Name: "d1"}).Extract())(t)
	d2 := must(domains.Create(ctx, admin, domains.CreateOpts{Name: "d2"}).Extract())(t)
	da := must(users.Create(ctx, admin, users.CreateOpts{Name: "dadmin", DomainID: d1.ID, Password: "dadmin-pw"}).Extract())(t)
	if err := roles.Assign(ctx, admin, adminRole, roles.AssignOpts{UserID: da.ID, DomainID: d1.ID}).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	other := must(users.Create(ctx, admin, users.CreateOpts{Name: "other", DomainID: d2.ID}).Extract())(t)
	dpc := s.Login(t, gophercloud.AuthOptions{Username: "dadmin", Password: "dadmin-pw", DomainID: d1.ID, Scope: &gophercloud.AuthScope{DomainID: d1.ID}})
	dc := s.Identity(t, dpc)
	u1 := must(users.Create(ctx, dc, users.CreateOpts{Name: "u1", DomainID: d1.ID}).Extract())(t)
	wantCode(t, users.Create(ctx, dc, users.CreateOpts{Name: "u2", DomainID: d2.ID}).Err, 403, "domain admin creates user elsewhere")
	pr := must(projects.Create(ctx, dc, projects.CreateOpts{Name: "dp", DomainID: d1.ID}).Extract())(t)
	wantCode(t, projects.Create(ctx, dc, projects.CreateOpts{Name: "dp", DomainID: d2.ID}).Err, 403, "domain admin creates project elsewhere")
	if err := roles.Assign(ctx, dc, roleID(t, admin, "member"), roles.AssignOpts{UserID: u1.ID, ProjectID: pr.ID}).ExtractErr(); err != nil {
		t.Fatalf("domain admin grants in its domain: %v", err)
	}
	wantCode(t, roles.Assign(ctx, dc, adminRole, roles.AssignOpts{UserID: u1.ID, ProjectID: p1.ID}).Err, 403, "domain admin grants on another domain's project")
	wantCode(t, roles.Assign(ctx, dc, adminRole, roles.AssignOpts{UserID: other.ID, ProjectID: pr.ID}).Err, 403, "domain admin grants to another domain's user")
	wantCode(t, users.Get(ctx, dc, other.ID).Err, 403, "domain admin reads another domain's user")
	wantCode(t, users.Update(ctx, dc, other.ID, users.UpdateOpts{Enabled: ptr(false)}).Err, 403, "domain admin disables another domain's user")
	wantCode(t, domains.Delete(ctx, dc, d2.ID).Err, 403, "domain admin deletes a domain")
	us := must(users.ExtractUsers(must(users.List(dc, nil).AllPages(ctx))(t)))(t)
	for _, u := range us {
		if u.DomainID != d1.ID {
			t.Fatalf("domain admin sees user %s of domain %s", u.Name, u.DomainID)
		}
	}
	if len(us) != 2 {
		t.Fatalf("domain admin's users: %d", len(us))
	}
	ra := must(roles.ExtractRoleAssignments(must(roles.ListAssignments(dc, roles.ListAssignmentsOpts{}).AllPages(ctx))(t)))(t)
	for _, a := range ra {
		if a.Scope.Project.ID != "" && a.Scope.Project.ID != pr.ID || a.Scope.Domain.ID != "" && a.Scope.Domain.ID != d1.ID {
			t.Fatalf("domain admin sees assignment %+v", a)
		}
	}
}

func nopPage(context.Context, pagination.Page) (bool, error) { return true, nil }

func TestInheritedAssignments(t *testing.T) {
	t.Parallel()
	s := testenv.StartServer(t)
	admin := s.Identity(t, s.Admin(t))
	d := must(domains.Create(ctx, admin, domains.CreateOpts{Name: "inh"}).Extract())(t)
	parent := must(projects.Create(ctx, admin, projects.CreateOpts{Name: "parent", DomainID: d.ID}).Extract())(t)
	child := must(projects.Create(ctx, admin, projects.CreateOpts{Name: "child", ParentID: parent.ID}).Extract())(t)
	u := must(users.Create(ctx, admin, users.CreateOpts{Name: "heir", DomainID: d.ID, Password: "heir-pw"}).Extract())(t)
	member := roleID(t, admin, "member")

	if err := osinherit.Assign(ctx, admin, member, osinherit.AssignOpts{UserID: u.ID, ProjectID: parent.ID}).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	if err := osinherit.Validate(ctx, admin, member, osinherit.ValidateOpts{UserID: u.ID, ProjectID: parent.ID}).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	// Inherited to the child, not on the parent itself.
	if _, err := login(s, gophercloud.AuthOptions{Username: "heir", Password: "heir-pw", DomainID: d.ID, TenantID: parent.ID}); err == nil {
		t.Fatal("inherited role applied to its own target")
	}
	pc := s.Login(t, gophercloud.AuthOptions{Username: "heir", Password: "heir-pw", DomainID: d.ID, TenantID: child.ID})
	ra := must(roles.ExtractRoleAssignments(must(roles.ListAssignments(admin, roles.ListAssignmentsOpts{UserID: u.ID, Effective: ptr(true)}).AllPages(ctx))(t)))(t)
	onChild := 0
	for _, a := range ra {
		if a.Scope.Project.ID == child.ID {
			onChild++
		}
	}
	if onChild != 2 { // member, and reader implied by it
		t.Fatalf("effective inherited %+v", ra)
	}
	_, b := s.HTTP(t, "GET", "/identity/v3/role_assignments?scope.OS-INHERIT:inherited_to=projects&user.id="+u.ID, s.Admin(t).Token(), "")
	as := testenv.JSON(t, b)["role_assignments"].([]any)
	if len(as) != 1 || as[0].(map[string]any)["scope"].(map[string]any)["OS-INHERIT:inherited_to"] != "projects" {
		t.Fatalf("inherited listing %s", b)
	}
	// Domain-level inheritance, through a group.
	if err := osinherit.Unassign(ctx, admin, member, osinherit.UnassignOpts{UserID: u.ID, ProjectID: parent.ID}).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	if ok, _ := tokensValidate(s, pc.Token()); ok {
		t.Fatal("token valid after inherited assignment removal")
	}
	if err := osinherit.Assign(ctx, admin, member, osinherit.AssignOpts{UserID: u.ID, DomainID: d.ID}).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	s.Login(t, gophercloud.AuthOptions{Username: "heir", Password: "heir-pw", DomainID: d.ID, TenantID: parent.ID})
}

func TestApplicationCredentials(t *testing.T) {
	t.Parallel()
	s := testenv.StartServer(t)
	p := s.CreateProjectUser(t, "p", "frank", "member")
	pc := s.LoginProject(t, p)
	id := s.Identity(t, pc)

	ac := must(applicationcredentials.Create(ctx, id, p.UserID, applicationcredentials.CreateOpts{Name: "ci", Description: "for CI"}).Extract())(t)
	if ac.Secret == "" || ac.ProjectID != p.ID || len(ac.Roles) != 2 {
		t.Fatalf("created %+v", ac)
	}
	got := must(applicationcredentials.Get(ctx, id, p.UserID, ac.ID).Extract())(t)
	if got.Secret != "" {
		t.Fatal("secret shown twice")
	}
	wantCode(t, applicationcredentials.Create(ctx, id, p.UserID, applicationcredentials.CreateOpts{Name: "ci"}).Err, 409, "duplicate name")
	wantCode(t, applicationcredentials.Create(ctx, id, p.UserID, applicationcredentials.CreateOpts{Name: "adm", Roles: []applicationcredentials.Role{{Name: "admin"}}}).Err, 404, "role the user lacks")
	past := time.Now().Add(-time.Hour)
	wantCode(t, applicationcredentials.Create(ctx, id, p.UserID, applicationcredentials.CreateOpts{Name: "old", ExpiresAt: &past}).Err, 400, "expired at creation")
	// Someone else's user ID: refused.
	other := s.CreateProjectUser(t, "p", "grace", "member")
	wantCode(t, applicationcredentials.Create(ctx, id, other.UserID, applicationcredentials.CreateOpts{Name: "steal"}).Err, 403, "for another user")
	wantCode(t, applicationcredentials.List(id, other.UserID, nil).EachPage(ctx, nopPage), 403, "list another user's")

	// Log in with it: scoped to its project, with only a subset of roles.
	rd := must(applicationcredentials.Create(ctx, id, p.UserID, applicationcredentials.CreateOpts{Name: "ro", Roles: []applicationcredentials.Role{{Name: "reader"}}}).Extract())(t)
	acpc := s.Login(t, gophercloud.AuthOptions{ApplicationCredentialID: rd.ID, ApplicationCredentialSecret: rd.Secret})
	if rs := tokenRoles(t, s, acpc.Token()); len(rs) != 1 || rs[0] != "reader" {
		t.Fatalf("app cred token roles %v", rs)
	}
	// By name with the user.
	s.Login(t, gophercloud.AuthOptions{ApplicationCredentialName: "ci", ApplicationCredentialSecret: ac.Secret, UserID: p.UserID})
	if _, err := login(s, gophercloud.AuthOptions{ApplicationCredentialID: ac.ID, ApplicationCredentialSecret: "wrong"}); err == nil {
		t.Fatal("wrong secret accepted")
	}
	// A restricted credential cannot make more credentials.
	wantCode(t, applicationcredentials.Create(ctx, s.Identity(t, acpc), p.UserID, applicationcredentials.CreateOpts{Name: "more"}).Err, 403, "restricted creates")

	// Deleting it revokes its tokens at once.
	if err := applicationcredentials.Delete(ctx, id, p.UserID, rd.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	if ok, _ := tokensValidate(s, acpc.Token()); ok {
		t.Fatal("token of deleted application credential valid")
	}
	if _, err := login(s, gophercloud.AuthOptions{ApplicationCredentialID: rd.ID, ApplicationCredentialSecret: rd.Secret}); err == nil {
		t.Fatal("deleted credential accepted")
	}
	l := must(applicationcredentials.ExtractApplicationCredentials(must(applicationcredentials.List(id, p.UserID, nil).AllPages(ctx))(t)))(t)
	if len(l) != 1 || l[0].Name != "ci" {
		t.Fatalf("list %+v", l)
	}
	// Unknown fields are refused (keystone's schema is closed).
	resp, b := s.HTTP(t, "POST", "/identity/v3/users/"+p.UserID+"/application_credentials", pc.Token(), `{"application_credential":{"name":"x","bogus":1}}`)
	if resp.StatusCode != 400 {
		t.Fatalf("unknown field: %d %s", resp.StatusCode, b)
	}
}

func TestRestartKeepsTokens(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	withDir := func(c *config.Config) { c.DataDir = dir }
	a := testenv.StartServer(t, withDir)
	p := a.CreateProjectUser(t, "p", "henry", "member")
	tok := a.LoginProject(t, p).Token()
	admin := a.Admin(t).Token()
	a.Stop()

	b := testenv.StartServer(t, withDir)
	resp, body := b.HTTP(t, "GET", "/identity/v3/auth/tokens", admin, "", "X-Subject-Token", tok)
	if resp.StatusCode != 200 {
		t.Fatalf("token after restart: %d %s", resp.StatusCode, body)
	}
	b.LoginProject(t, p)
}

func TestRotateKeys(t *testing.T) {
	t.Parallel()
	s := testenv.StartServer(t)
	tok := s.Admin(t).Token()
	svc := s.App.Identity
	if _, err := svc.RotateKeys(ctx); err != nil {
		t.Fatal(err)
	}
	if ok, _ := tokensValidate(s, tok); !ok {
		t.Fatal("token invalid after one rotation")
	}
	newer := s.Admin(t).Token()
	for i := 0; i < s.Config.Identity.MaxActiveKeys; i++ {
		if _, err := svc.RotateKeys(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if ok, _ := tokensValidate(s, tok); ok {
		t.Fatal("token valid after its key was rotated out")
	}
	if ok, _ := tokensValidate(s, newer); ok {
		t.Fatal("newer token valid after max_active_keys rotations")
	}
	if ok, _ := tokensValidate(s, s.Admin(t).Token()); !ok {
		t.Fatal("token of the new primary key invalid")
	}
}

func TestAuthTargetsAndUserOptions(t *testing.T) {
	t.Parallel()
	s := testenv.StartServer(t, func(c *config.Config) { c.Identity.LockoutFailureAttempts = 2 })
	admin := s.Identity(t, s.Admin(t))
	p := s.CreateProjectUser(t, "p", "ivy", "member")
	pc := s.LoginProject(t, p)
	id := s.Identity(t, pc)

	// /v3/auth/projects lists what the caller may scope to.
	ps := must(projects.ExtractProjects(must(projects.ListAvailable(id).AllPages(ctx))(t)))(t)
	if len(ps) != 1 || ps[0].ID != p.ID {
		t.Fatalf("auth/projects %+v", ps)
	}
	if err := roles.Assign(ctx, admin, roleID(t, admin, "reader"), roles.AssignOpts{UserID: p.UserID, DomainID: "default"}).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	ds := must(domains.ExtractDomains(must(domains.ListAvailable(id).AllPages(ctx))(t)))(t)
	if len(ds) != 1 || ds[0].ID != "default" {
		t.Fatalf("auth/domains %+v", ds)
	}
	_, b := s.HTTP(t, "GET", "/identity/v3/auth/system", pc.Token(), "")
	if sys := testenv.JSON(t, b)["system"].([]any); len(sys) != 0 {
		t.Fatalf("auth/system %s", b)
	}

	// lock_password: the user cannot change its own password.
	if _, err := users.Update(ctx, admin, p.UserID, users.UpdateOpts{Options: map[users.Option]any{users.Option("lock_password"): true}}).Extract(); err != nil {
		t.Fatal(err)
	}
	wantCode(t, users.ChangePassword(ctx, id, p.UserID, users.ChangePasswordOpts{OriginalPassword: p.Password, Password: "other-pw"}).Err, 403, "locked password change")

	// ignore_lockout_failure_attempts: no lockout for this user.
	if _, err := users.Update(ctx, admin, p.UserID, users.UpdateOpts{Options: map[users.Option]any{users.IgnoreLockoutFailureAttempts: true}}).Extract(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if _, err := login(s, gophercloud.AuthOptions{UserID: p.UserID, Password: "wrong"}); err == nil {
			t.Fatal("wrong password accepted")
		}
	}
	s.LoginProject(t, p)

	// A null password leaves the user without one: nothing logs in.
	tok := s.Admin(t).Token()
	if resp, b := s.HTTP(t, "PATCH", "/identity/v3/users/"+p.UserID, tok, `{"user": {"password": null}}`); resp.StatusCode != 200 {
		t.Fatalf("clear password: %d %s", resp.StatusCode, b)
	}
	for _, pw := range []string{"", p.Password} {
		body := `{"auth":{"identity":{"methods":["password"],"password":{"user":{"id":"` + p.UserID + `","password":"` + pw + `"}}}}}`
		if resp, _ := s.HTTP(t, "POST", "/identity/v3/auth/tokens", "", body); resp.StatusCode != 401 {
			t.Fatalf("login with %q after clearing: %d", pw, resp.StatusCode)
		}
	}
}

// TestTwoServers runs two servers on one database, as a multi-server
// install does: a token from one validates on the other, and a removal
// made on one reaches the other within the documented bound (cache entries
// and revocation events are reloaded at least once a second).
func TestTwoServers(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	withDir := func(c *config.Config) { c.DataDir = dir }
	a := testenv.StartServer(t, withDir)
	b := testenv.StartServer(t, withDir)
	p := a.CreateProjectUser(t, "p", "jack", "member")
	tok := a.LoginProject(t, p).Token()
	if ok, code := tokensValidate(b, tok); !ok {
		t.Fatalf("token from A on B: %d", code)
	}
	// A role removal on A.
	admin := a.Identity(t, a.Admin(t))
	if err := roles.Unassign(ctx, admin, roleID(t, admin, "member"), roles.UnassignOpts{UserID: p.UserID, ProjectID: p.ID}).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	if ok, _ := tokensValidate(a, tok); ok {
		t.Fatal("A still accepts the token")
	}
	testenv.Eventually(t, 10*time.Second, "B to see the removal", func() bool {
		ok, _ := tokensValidate(b, tok)
		return !ok
	})
	// An explicit revocation on A.
	other := a.Admin(t).Token()
	if ok, _ := tokensValidate(b, other); !ok {
		t.Fatal("admin token from A invalid on B")
	}
	if err := tokens.Revoke(ctx, admin, other).Err; err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, "B to see the revocation", func() bool {
		ok, _ := tokensValidate(b, other)
		return !ok
	})
}

// TestRotateKeysCommand rotates through app.RotateKeys, what `gureum admin
// rotate-keys` runs, on its own database handle while the server runs: the
// server picks the new keys up within its key refresh (1 s).
func TestRotateKeysCommand(t *testing.T) {
	t.Parallel()
	s := testenv.StartServer(t)
	tok := s.Admin(t).Token()
	if _, err := app.RotateKeys(ctx, s.Config, logging.Discard()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond) // past the key refresh: the server has the new set
	if ok, code := tokensValidate(s, tok); !ok {
		t.Fatalf("token invalid after one rotation: %d", code)
	}
	for i := 0; i < s.Config.Identity.MaxActiveKeys; i++ {
		if _, err := app.RotateKeys(ctx, s.Config, logging.Discard()); err != nil {
			t.Fatal(err)
		}
	}
	testenv.Eventually(t, 10*time.Second, "the rotated-out key to be dropped", func() bool {
		ok, _ := tokensValidate(s, tok)
		return !ok
	})
	s.Admin(t) // new tokens work
}
