package identityapi_test

import (
	"context"
	"net/http"
	"slices"
	"testing"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/catalog"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/domains"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/endpoints"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/groups"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/projects"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/regions"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/roles"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/services"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/users"

	"github.com/gureum/gureum/internal/testenv"
)

var ctx = context.Background()

func wantCode(t *testing.T, err error, code int, what string) {
	t.Helper()
	if !gophercloud.ResponseCodeIs(err, code) {
		t.Fatalf("%s: want HTTP %d, got %v", what, code, err)
	}
}

// must(v, err)(t) fails the test on err, else returns v.
func must[T any](v T, err error) func(t *testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func ptr[T any](v T) *T { return &v }

func TestDomainsAndProjects(t *testing.T) {
	t.Parallel()
	s := testenv.StartServer(t)
	id := s.Identity(t, s.Admin(t))

	d := must(domains.Create(ctx, id, domains.CreateOpts{Name: "acme", Description: "ACME"}).Extract())(t)
	if !d.Enabled || d.Name != "acme" {
		t.Fatalf("domain %+v", d)
	}
	wantCode(t, domains.Create(ctx, id, domains.CreateOpts{Name: "acme"}).Err, 409, "duplicate domain")
	got := must(domains.Get(ctx, id, d.ID).Extract())(t)
	if got.Description != "ACME" {
		t.Fatalf("get %+v", got)
	}
	all := must(domains.List(id, domains.ListOpts{Name: "acme"}).AllPages(ctx))(t)
	if ds := must(domains.ExtractDomains(all))(t); len(ds) != 1 || ds[0].ID != d.ID {
		t.Fatalf("list %+v", ds)
	}

	top := must(projects.Create(ctx, id, projects.CreateOpts{Name: "top", DomainID: d.ID, Tags: []string{"a", "b"}, Extra: map[string]any{"owner": "ops"}}).Extract())(t)
	if top.ParentID != d.ID || top.DomainID != d.ID || top.Extra["owner"] != "ops" {
		t.Fatalf("project %+v", top)
	}
	child := must(projects.Create(ctx, id, projects.CreateOpts{Name: "child", ParentID: top.ID, Tags: []string{"b"}}).Extract())(t)
	if child.DomainID != d.ID || child.ParentID != top.ID {
		t.Fatalf("child %+v", child)
	}
	wantCode(t, projects.Create(ctx, id, projects.CreateOpts{Name: "top", DomainID: d.ID}).Err, 409, "duplicate project")
	wantCode(t, projects.Create(ctx, id, projects.CreateOpts{Name: "orphan", ParentID: "nope"}).Err, 404, "missing parent")
	wantCode(t, projects.Create(ctx, id, projects.CreateOpts{Name: "lost", DomainID: "nope"}).Err, 404, "missing domain")

	names := func(opts projects.ListOpts) []string {
		pages := must(projects.List(id, opts).AllPages(ctx))(t)
		var out []string
		for _, p := range must(projects.ExtractProjects(pages))(t) {
			out = append(out, p.Name)
		}
		return out
	}
	if n := names(projects.ListOpts{DomainID: d.ID, Tags: "a,b"}); !slices.Equal(n, []string{"top"}) {
		t.Fatalf("tags=a,b: %v", n)
	}
	if n := names(projects.ListOpts{DomainID: d.ID, TagsAny: "b"}); !slices.Equal(n, []string{"child", "top"}) {
		t.Fatalf("tags-any=b: %v", n)
	}
	if n := names(projects.ListOpts{DomainID: d.ID, NotTags: "a,b"}); !slices.Equal(n, []string{"child"}) {
		t.Fatalf("not-tags=a,b: %v", n)
	}
	if n := names(projects.ListOpts{DomainID: d.ID, NotTagsAny: "b"}); len(n) != 0 {
		t.Fatalf("not-tags-any=b: %v", n)
	}
	if n := names(projects.ListOpts{ParentID: top.ID}); !slices.Equal(n, []string{"child"}) {
		t.Fatalf("parent_id: %v", n)
	}

	// Tags API.
	// (gophercloud's ModifyTags result type does not match keystone's
	// {"tags": [...]}; the effect is checked through ListTags.)
	if err := projects.ModifyTags(ctx, id, child.ID, projects.ModifyTagsOpts{Tags: []string{"x", "y"}}).Err; err != nil {
		t.Fatal(err)
	}
	tok := s.Admin(t).Token()
	if resp, b := s.HTTP(t, "PUT", "/identity/v3/projects/"+child.ID+"/tags/z", tok, ""); resp.StatusCode != 201 {
		t.Fatalf("add tag %d %s", resp.StatusCode, b)
	}
	if resp, _ := s.HTTP(t, "GET", "/identity/v3/projects/"+child.ID+"/tags/z", tok, ""); resp.StatusCode != 204 {
		t.Fatalf("check tag %d", resp.StatusCode)
	}
	if resp, _ := s.HTTP(t, "DELETE", "/identity/v3/projects/"+child.ID+"/tags/x", tok, ""); resp.StatusCode != 204 {
		t.Fatalf("delete tag %d", resp.StatusCode)
	}
	if resp, _ := s.HTTP(t, "GET", "/identity/v3/projects/"+child.ID+"/tags/x", tok, ""); resp.StatusCode != 404 {
		t.Fatalf("deleted tag %d", resp.StatusCode)
	}
	lt := must(projects.ListTags(ctx, id, child.ID).Extract())(t)
	if !slices.Equal(lt.Tags, []string{"y", "z"}) {
		t.Fatalf("list tags %v", lt.Tags)
	}
	if err := projects.DeleteTags(ctx, id, child.ID).Err; err != nil {
		t.Fatal(err)
	}

	// Hierarchy views.
	_, b := s.HTTP(t, "GET", "/identity/v3/projects/"+child.ID+"?parents_as_list", tok, "")
	if parents := testenv.JSON(t, b)["project"].(map[string]any)["parents"].([]any); len(parents) != 1 {
		t.Fatalf("parents %v", parents)
	}
	_, b = s.HTTP(t, "GET", "/identity/v3/projects/"+top.ID+"?subtree_as_list", tok, "")
	if sub := testenv.JSON(t, b)["project"].(map[string]any)["subtree"].([]any); len(sub) != 1 {
		t.Fatalf("subtree %v", sub)
	}

	// Update; a non-leaf cannot be deleted; an enabled domain neither.
	up := must(projects.Update(ctx, id, top.ID, projects.UpdateOpts{Description: ptr("new"), Enabled: ptr(false)}).Extract())(t)
	if up.Description != "new" || up.Enabled {
		t.Fatalf("update %+v", up)
	}
	wantCode(t, projects.Delete(ctx, id, top.ID).Err, 403, "delete non-leaf")
	wantCode(t, domains.Delete(ctx, id, d.ID).Err, 403, "delete enabled domain")
	must(domains.Update(ctx, id, d.ID, domains.UpdateOpts{Enabled: ptr(false)}).Extract())(t)
	if err := domains.Delete(ctx, id, d.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	wantCode(t, projects.Get(ctx, id, child.ID).Err, 404, "project of deleted domain")
	wantCode(t, domains.Get(ctx, id, d.ID).Err, 404, "deleted domain")
}

func TestUsersAndGroups(t *testing.T) {
	t.Parallel()
	s := testenv.StartServer(t)
	id := s.Identity(t, s.Admin(t))
	p := must(projects.Create(ctx, id, projects.CreateOpts{Name: "p"}).Extract())(t)

	u := must(users.Create(ctx, id, users.CreateOpts{Name: "bob", Password: "bob-pw-1", DefaultProjectID: p.ID, Extra: map[string]any{"email": "bob@example.org"},
		Options: map[users.Option]any{users.IgnorePasswordExpiry: true}}).Extract())(t)
	if u.DomainID != "default" || u.DefaultProjectID != p.ID || u.Extra["email"] != "bob@example.org" || u.Options["ignore_password_expiry"] != true {
		t.Fatalf("user %+v", u)
	}
	wantCode(t, users.Create(ctx, id, users.CreateOpts{Name: "bob"}).Err, 409, "duplicate user")
	wantCode(t, users.Create(ctx, id, users.CreateOpts{Name: "x", DomainID: "nope"}).Err, 404, "user in missing domain")
	wantCode(t, users.Create(ctx, id, users.CreateOpts{Name: "y", DefaultProjectID: "nope"}).Err, 404, "missing default project")

	pages := must(users.List(id, users.ListOpts{Name: "bob"}).AllPages(ctx))(t)
	if l := must(users.ExtractUsers(pages))(t); len(l) != 1 || l[0].ID != u.ID {
		t.Fatalf("list %+v", l)
	}
	up := must(users.Update(ctx, id, u.ID, users.UpdateOpts{Description: ptr("builder"), Enabled: ptr(false)}).Extract())(t)
	if up.Description != "builder" || up.Enabled || up.Extra["email"] != "bob@example.org" {
		t.Fatalf("update %+v", up)
	}
	must(users.Update(ctx, id, u.ID, users.UpdateOpts{Enabled: ptr(true)}).Extract())(t)

	g := must(groups.Create(ctx, id, groups.CreateOpts{Name: "devs", Description: "developers"}).Extract())(t)
	wantCode(t, groups.Create(ctx, id, groups.CreateOpts{Name: "devs"}).Err, 409, "duplicate group")
	if err := users.AddToGroup(ctx, id, g.ID, u.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	if ok := must(users.IsMemberOfGroup(ctx, id, g.ID, u.ID).Extract())(t); !ok {
		t.Fatal("not a member")
	}
	wantCode(t, users.AddToGroup(ctx, id, g.ID, "nope").Err, 404, "add missing user")
	gp := must(users.ListGroups(id, u.ID).AllPages(ctx))(t)
	if gs := must(groups.ExtractGroups(gp))(t); len(gs) != 1 || gs[0].ID != g.ID {
		t.Fatalf("user groups %+v", gs)
	}
	ip := must(users.ListInGroup(id, g.ID, nil).AllPages(ctx))(t)
	if us := must(users.ExtractUsers(ip))(t); len(us) != 1 || us[0].ID != u.ID {
		t.Fatalf("group users %+v", us)
	}
	gu := must(groups.Update(ctx, id, g.ID, groups.UpdateOpts{Name: "devs2"}).Extract())(t)
	if gu.Name != "devs2" {
		t.Fatalf("group update %+v", gu)
	}

	// /users/{id}/projects lists the projects the user has a role on,
	// including through the group.
	member := roleID(t, id, "member")
	if err := roles.Assign(ctx, id, member, roles.AssignOpts{GroupID: g.ID, ProjectID: p.ID}).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	pp := must(users.ListProjects(id, u.ID).AllPages(ctx))(t)
	if ps := must(projects.ExtractProjects(pp))(t); len(ps) != 1 || ps[0].ID != p.ID {
		t.Fatalf("user projects %+v", ps)
	}

	if err := users.RemoveFromGroup(ctx, id, g.ID, u.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	if ok, _ := users.IsMemberOfGroup(ctx, id, g.ID, u.ID).Extract(); ok {
		t.Fatal("still a member")
	}
	if err := groups.Delete(ctx, id, g.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	if err := users.Delete(ctx, id, u.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	wantCode(t, users.Get(ctx, id, u.ID).Err, 404, "deleted user")
}

func roleID(t *testing.T, id *gophercloud.ServiceClient, name string) string {
	t.Helper()
	pages := must(roles.List(id, roles.ListOpts{Name: name}).AllPages(ctx))(t)
	rs := must(roles.ExtractRoles(pages))(t)
	if len(rs) != 1 {
		t.Fatalf("role %s: %+v", name, rs)
	}
	return rs[0].ID
}

func TestRolesAndAssignments(t *testing.T) {
	t.Parallel()
	s := testenv.StartServer(t)
	id := s.Identity(t, s.Admin(t))

	r := must(roles.Create(ctx, id, roles.CreateOpts{Name: "auditor", Extra: map[string]any{"description": "reads logs"}}).Extract())(t)
	wantCode(t, roles.Create(ctx, id, roles.CreateOpts{Name: "auditor"}).Err, 409, "duplicate role")
	dr := must(roles.Create(ctx, id, roles.CreateOpts{Name: "auditor", DomainID: "default"}).Extract())(t)
	if dr.DomainID != "default" {
		t.Fatalf("domain role %+v", dr)
	}
	r2 := must(roles.Update(ctx, id, r.ID, roles.UpdateOpts{Name: "auditor2"}).Extract())(t)
	if r2.Name != "auditor2" {
		t.Fatalf("update %+v", r2)
	}
	// Bootstrap roles are immutable.
	wantCode(t, roles.Delete(ctx, id, roleID(t, id, "reader")).Err, 403, "delete immutable role")

	// Implied roles.
	reader := roleID(t, id, "reader")
	ir := must(roles.CreateRoleInferenceRule(ctx, id, r.ID, reader).Extract())(t)
	if ir.RoleInference.PriorRole.ID != r.ID || ir.RoleInference.ImpliedRole.ID != reader {
		t.Fatalf("inference %+v", ir)
	}
	must(roles.GetRoleInferenceRule(ctx, id, r.ID, reader).Extract())(t)
	rules := must(roles.ListRoleInferenceRules(ctx, id).Extract())(t)
	if len(rules.RoleInferenceRuleList) < 3 { // admin→member, member→reader, auditor→reader
		t.Fatalf("inference rules %+v", rules)
	}
	wantCode(t, roles.CreateRoleInferenceRule(ctx, id, reader, r.ID).Err, 400, "cycle")
	wantCode(t, roles.CreateRoleInferenceRule(ctx, id, r.ID, dr.ID).Err, 403, "domain role implied")

	// Grants on a project, a domain and the system.
	p := s.CreateProjectUser(t, "p1", "carol")
	p2 := must(projects.Create(ctx, id, projects.CreateOpts{Name: "p1-child", ParentID: p.ID}).Extract())(t)
	for _, o := range []roles.AssignOpts{{UserID: p.UserID, ProjectID: p.ID}, {UserID: p.UserID, DomainID: "default"}, {UserID: p.UserID, System: true}} {
		if err := roles.Assign(ctx, id, r.ID, o).ExtractErr(); err != nil {
			t.Fatalf("assign %+v: %v", o, err)
		}
		if err := roles.Validate(ctx, id, r.ID, roles.ValidateOpts{UserID: o.UserID, ProjectID: o.ProjectID, DomainID: o.DomainID, System: o.System}).ExtractErr(); err != nil {
			t.Fatalf("validate %+v: %v", o, err)
		}
	}
	wantCode(t, roles.Assign(ctx, id, "nope", roles.AssignOpts{UserID: p.UserID, ProjectID: p.ID}).Err, 404, "assign missing role")
	wantCode(t, roles.Assign(ctx, id, r.ID, roles.AssignOpts{UserID: "nope", ProjectID: p.ID}).Err, 404, "assign to missing user")
	wantCode(t, roles.Assign(ctx, id, r.ID, roles.AssignOpts{UserID: p.UserID, ProjectID: "nope"}).Err, 404, "assign on missing project")

	list := func(o roles.ListAssignmentsOpts) []roles.RoleAssignment {
		t.Helper()
		pages := must(roles.ListAssignments(id, o).AllPages(ctx))(t)
		return must(roles.ExtractRoleAssignments(pages))(t)
	}
	if as := list(roles.ListAssignmentsOpts{UserID: p.UserID}); len(as) != 3 {
		t.Fatalf("user assignments %+v", as)
	}
	if as := list(roles.ListAssignmentsOpts{UserID: p.UserID, ScopeProjectID: p.ID}); len(as) != 1 || as[0].Scope.Project.ID != p.ID || as[0].Role.ID != r.ID {
		t.Fatalf("project assignments %+v", as)
	}
	// Effective: the auditor role implies reader.
	eff := list(roles.ListAssignmentsOpts{UserID: p.UserID, ScopeProjectID: p.ID, Effective: ptr(true), IncludeNames: ptr(true)})
	var got []string
	for _, a := range eff {
		got = append(got, a.Role.Name)
	}
	slices.Sort(got)
	if !slices.Equal(got, []string{"auditor2", "reader"}) {
		t.Fatalf("effective %v", got)
	}
	if eff[0].User.Name != "carol" || eff[0].Scope.Project.Name != "p1" {
		t.Fatalf("include_names %+v", eff[0])
	}
	// include_subtree covers the child project.
	if err := roles.Assign(ctx, id, reader, roles.AssignOpts{UserID: p.UserID, ProjectID: p2.ID}).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	if as := list(roles.ListAssignmentsOpts{ScopeProjectID: p.ID, IncludeSubtree: ptr(true), UserID: p.UserID}); len(as) != 2 {
		t.Fatalf("subtree %+v", as)
	}
	if as := list(roles.ListAssignmentsOpts{ScopeSystem: "all", UserID: p.UserID}); len(as) != 1 || !as[0].Scope.System.All {
		t.Fatalf("system %+v", as)
	}
	if as := list(roles.ListAssignmentsOpts{RoleID: r.ID}); len(as) != 3 {
		t.Fatalf("role filter %+v", as)
	}

	// The user's token carries the role, and loses it at once on removal.
	pc := s.LoginProject(t, p)
	if rs := tokenRoles(t, s, pc.Token()); !slices.Contains(rs, "auditor2") {
		t.Fatalf("token roles %v", rs)
	}
	if err := roles.Unassign(ctx, id, r.ID, roles.UnassignOpts{UserID: p.UserID, ProjectID: p.ID}).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	if ok, _ := tokensValidate(s, pc.Token()); ok {
		t.Fatal("token without any role on its project still valid")
	}
	wantCode(t, roles.Validate(ctx, id, r.ID, roles.ValidateOpts{UserID: p.UserID, ProjectID: p.ID}).Err, 404, "validate removed")
	if err := roles.DeleteRoleInferenceRule(ctx, id, r.ID, reader).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	if err := roles.Delete(ctx, id, r.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	if as := list(roles.ListAssignmentsOpts{RoleID: r.ID}); len(as) != 0 {
		t.Fatalf("assignments of deleted role %+v", as)
	}
}

func TestCatalogResources(t *testing.T) {
	t.Parallel()
	s := testenv.StartServer(t)
	pc := s.Admin(t)
	id := s.Identity(t, pc)

	reg := must(regions.Create(ctx, id, regions.CreateOpts{ID: "east", Description: "East"}).Extract())(t)
	must(regions.Create(ctx, id, regions.CreateOpts{ID: "east-1", ParentRegionID: "east"}).Extract())(t)
	wantCode(t, regions.Create(ctx, id, regions.CreateOpts{ID: "east"}).Err, 409, "duplicate region")
	wantCode(t, regions.Create(ctx, id, regions.CreateOpts{ID: "x", ParentRegionID: "nope"}).Err, 404, "missing parent region")
	if r := must(regions.Update(ctx, id, reg.ID, regions.UpdateOpts{Description: ptr("E")}).Extract())(t); r.Description != "E" {
		t.Fatalf("region update %+v", r)
	}
	svc := must(services.Create(ctx, id, services.CreateOpts{Type: "object-store", Extra: map[string]any{"name": "swift"}}).Extract())(t)
	if svc.Type != "object-store" || svc.Extra["name"] != "swift" || !svc.Enabled {
		t.Fatalf("service %+v", svc)
	}
	ep := must(endpoints.Create(ctx, id, endpoints.CreateOpts{Availability: gophercloud.AvailabilityPublic, Region: "east-1", ServiceID: svc.ID, URL: "http://swift.example/v1"}).Extract())(t)
	if ep.Region != "east-1" || ep.ServiceID != svc.ID {
		t.Fatalf("endpoint %+v", ep)
	}
	wantCode(t, endpoints.Create(ctx, id, endpoints.CreateOpts{Availability: "sideways", ServiceID: svc.ID, URL: "http://x"}).Err, 400, "bad interface")
	wantCode(t, endpoints.Create(ctx, id, endpoints.CreateOpts{Availability: "public", ServiceID: "nope", URL: "http://x"}).Err, 400, "missing service")
	ep2 := must(endpoints.Update(ctx, id, ep.ID, endpoints.UpdateOpts{URL: "http://swift.example/v2"}).Extract())(t)
	if ep2.URL != "http://swift.example/v2" {
		t.Fatalf("endpoint update %+v", ep2)
	}
	eps := must(endpoints.ExtractEndpoints(must(endpoints.List(id, endpoints.ListOpts{ServiceID: svc.ID}).AllPages(ctx))(t)))(t)
	if len(eps) != 1 {
		t.Fatalf("endpoints %+v", eps)
	}
	// The catalog shows it at once.
	cat := must(catalog.ExtractServiceCatalog(must(catalog.List(id).AllPages(ctx))(t)))(t)
	found := false
	for _, e := range cat {
		found = found || e.Type == "object-store"
	}
	if !found {
		t.Fatalf("catalog %+v", cat)
	}
	wantCode(t, regions.Delete(ctx, id, "east").Err, 403, "region with children")
	if err := endpoints.Delete(ctx, id, ep.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	if err := services.Delete(ctx, id, svc.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{"east-1", "east"} {
		if err := regions.Delete(ctx, id, r).ExtractErr(); err != nil {
			t.Fatal(err)
		}
	}
	wantCode(t, services.Get(ctx, id, svc.ID).Err, 404, "deleted service")
}

// tokenRoles validates tok as the admin and returns its role names.
func tokenRoles(t *testing.T, s *testenv.Server, tok string) []string {
	t.Helper()
	resp, b := s.HTTP(t, "GET", "/identity/v3/auth/tokens?nocatalog", tok, "", "X-Subject-Token", tok)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("validate: %d %s", resp.StatusCode, b)
	}
	var out []string
	for _, r := range testenv.JSON(t, b)["token"].(map[string]any)["roles"].([]any) {
		out = append(out, r.(map[string]any)["name"].(string))
	}
	return out
}

// tokensValidate checks tok with itself as the caller (HEAD).
func tokensValidate(s *testenv.Server, tok string) (bool, int) {
	req, _ := http.NewRequest("HEAD", s.URL+"/identity/v3/auth/tokens", nil)
	req.Header.Set("X-Auth-Token", tok)
	req.Header.Set("X-Subject-Token", tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false, 0
	}
	resp.Body.Close()
	return resp.StatusCode == 200, resp.StatusCode
}

// TestOnPostgres runs the main identity flow on PostgreSQL (skipped unless
// GUREUM_TEST_POSTGRES is set; CI sets it).
func TestOnPostgres(t *testing.T) {
	t.Parallel()
	s := testenv.StartServer(t, testenv.WithPostgres(t))
	id := s.Identity(t, s.Admin(t))
	d := must(domains.Create(ctx, id, domains.CreateOpts{Name: "pg"}).Extract())(t)
	p := must(projects.Create(ctx, id, projects.CreateOpts{Name: "pgp", DomainID: d.ID, Tags: []string{"x"}}).Extract())(t)
	u := must(users.Create(ctx, id, users.CreateOpts{Name: "pgu", DomainID: d.ID, Password: "pgu-pw"}).Extract())(t)
	member := roleID(t, id, "member")
	if err := roles.Assign(ctx, id, member, roles.AssignOpts{UserID: u.ID, ProjectID: p.ID}).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	pc := s.Login(t, gophercloud.AuthOptions{Username: "pgu", Password: "pgu-pw", DomainID: d.ID, TenantID: p.ID})
	if rs := tokenRoles(t, s, pc.Token()); !slices.Contains(rs, "member") || !slices.Contains(rs, "reader") {
		t.Fatalf("roles %v", rs)
	}
	if err := roles.Unassign(ctx, id, member, roles.UnassignOpts{UserID: u.ID, ProjectID: p.ID}).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	if ok, _ := tokensValidate(s, pc.Token()); ok {
		t.Fatal("token valid after unassignment")
	}
	must(domains.Update(ctx, id, d.ID, domains.UpdateOpts{Enabled: ptr(false)}).Extract())(t)
	if err := domains.Delete(ctx, id, d.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	wantCode(t, users.Get(ctx, id, u.ID).Err, 404, "user of deleted domain")
}
