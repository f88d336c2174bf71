package identityapi_test

import (
	"encoding/json"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/gureum/gureum/internal/testenv"
)

// TestBadInput sends what clients get wrong and checks keystone's error
// body and status: never a 500, never a partial write.
func TestBadInput(t *testing.T) {
	t.Parallel()
	s := testenv.StartServer(t)
	tok := s.Admin(t).Token()
	long := strings.Repeat("n", 256)
	cases := []struct {
		name, method, path, body string
		code                     int
	}{
		{"malformed JSON", "POST", "/v3/projects", `{"project":`, 400},
		{"not an object", "POST", "/v3/projects", `[1]`, 400},
		{"entity not an object", "POST", "/v3/projects", `{"project": "x"}`, 400},
		{"missing entity", "POST", "/v3/users", `{"usr": {"name": "x"}}`, 400},
		{"missing name", "POST", "/v3/projects", `{"project": {}}`, 400},
		{"blank name", "POST", "/v3/groups", `{"group": {"name": "  "}}`, 400},
		{"name wrongly typed", "POST", "/v3/projects", `{"project": {"name": 5}}`, 400},
		{"enabled wrongly typed", "POST", "/v3/users", `{"user": {"name": "a", "enabled": "yes"}}`, 400},
		{"tags wrongly typed", "POST", "/v3/projects", `{"project": {"name": "a", "tags": "t"}}`, 400},
		{"project name too long", "POST", "/v3/projects", `{"project": {"name": "` + long[:65] + `"}}`, 400},
		{"user name too long", "POST", "/v3/users", `{"user": {"name": "` + long + `"}}`, 400},
		{"role name too long", "POST", "/v3/roles", `{"role": {"name": "` + long + `"}}`, 400},
		{"domain name too long", "POST", "/v3/domains", `{"domain": {"name": "` + long + `"}}`, 400},
		{"unknown user option", "POST", "/v3/users", `{"user": {"name": "a", "options": {"bogus": true}}}`, 400},
		{"password body unknown field", "POST", "/v3/users/x/password", `{"user": {"password": "a", "original_password": "b", "x": 1}}`, 400},
		{"trailing data", "POST", "/v3/roles", `{"role": {"name": "r"}} {}`, 400},
		{"duplicate project", "POST", "/v3/projects", `{"project": {"name": "admin"}}`, 409},
		{"duplicate role", "POST", "/v3/roles", `{"role": {"name": "admin"}}`, 409},
		{"missing domain", "POST", "/v3/users", `{"user": {"name": "a", "domain_id": "nope"}}`, 404},
		{"missing user", "GET", "/v3/users/nope", ``, 404},
		{"missing group", "PATCH", "/v3/groups/nope", `{"group": {"name": "x"}}`, 404},
		{"missing role in grant", "PUT", "/v3/projects/nope/users/nope/roles/nope", ``, 404},
		{"bad boolean filter", "GET", "/v3/users?enabled=maybe", ``, 400},
		{"bad interface", "POST", "/v3/endpoints", `{"endpoint": {"service_id": "x", "interface": "up", "url": "http://x"}}`, 400},
		{"unknown route", "GET", "/v3/nothing", ``, 404},
		{"wrong method", "PUT", "/v3/users", `{}`, 405},
		{"change of domain_id", "PATCH", "/v3/projects/{admin}", `{"project": {"domain_id": "other"}}`, 400},
	}
	adminProject := ""
	_, b := s.HTTP(t, "GET", "/identity/v3/projects?name=admin", tok, "")
	for _, p := range testenv.JSON(t, b)["projects"].([]any) {
		adminProject = p.(map[string]any)["id"].(string)
	}
	for _, c := range cases {
		path := strings.ReplaceAll(c.path, "{admin}", adminProject)
		resp, body := s.HTTP(t, c.method, "/identity"+path, tok, c.body)
		if resp.StatusCode != c.code {
			t.Errorf("%s: want %d, got %d %s", c.name, c.code, resp.StatusCode, body)
			continue
		}
		var e struct {
			Error struct {
				Code    int    `json:"code"`
				Title   string `json:"title"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := json.Unmarshal(body, &e); err != nil || e.Error.Code != c.code || e.Error.Title == "" || e.Error.Message == "" {
			t.Errorf("%s: error body %s", c.name, body)
		}
	}

	// A body over the limit is 413.
	big := `{"project": {"name": "big", "description": "` + strings.Repeat("x", int(s.Config.API.MaxBodyBytes)) + `"}}`
	if resp, body := s.HTTP(t, "POST", "/identity/v3/projects", tok, big); resp.StatusCode != 413 {
		t.Errorf("oversized body: %d %s", resp.StatusCode, body)
	}
	// Nothing above was written.
	_, b = s.HTTP(t, "GET", "/identity/v3/projects", tok, "")
	if n := len(testenv.JSON(t, b)["projects"].([]any)); n != 1 {
		t.Errorf("bad requests left %d projects", n)
	}
	// A secret in a bad request is not echoed back.
	for _, body := range []string{
		`{"user": {"name": 5, "password": "hunter2-secret"}}`,
		`{"user": {"name": "x", "password": "hunter2-` + strings.Repeat("s", 5000) + `"}}`,
	} {
		_, b = s.HTTP(t, "POST", "/identity/v3/users", tok, body)
		if strings.Contains(string(b), "hunter2") {
			t.Errorf("password echoed: %.200s", b)
		}
	}
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestGoldenShapes compares response bodies with the attribute sets of the
// Keystone API reference's examples (gophercloud decodes leniently, so it
// would not notice a missing or extra attribute).
func TestGoldenShapes(t *testing.T) {
	t.Parallel()
	s := testenv.StartServer(t)
	tok := s.Admin(t).Token()
	post := func(path, body, entity string) map[string]any {
		t.Helper()
		resp, b := s.HTTP(t, "POST", "/identity/v3"+path, tok, body)
		if resp.StatusCode != 201 {
			t.Fatalf("POST %s: %d %s", path, resp.StatusCode, b)
		}
		return testenv.JSON(t, b)[entity].(map[string]any)
	}
	get := func(path, entity string) map[string]any {
		t.Helper()
		resp, b := s.HTTP(t, "GET", "/identity/v3"+path, tok, "")
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
		}
		return testenv.JSON(t, b)[entity].(map[string]any)
	}
	check := func(what string, got map[string]any, want ...string) {
		t.Helper()
		sort.Strings(want)
		if k := keys(got); !slices.Equal(k, want) {
			t.Errorf("%s keys %v, want %v", what, k, want)
		}
	}
	d := post("/domains", `{"domain": {"name": "g", "description": "d"}}`, "domain")
	check("domain", d, "id", "name", "description", "enabled", "links", "tags", "options")
	p := post("/projects", `{"project": {"name": "gp", "domain_id": "`+d["id"].(string)+`"}}`, "project")
	check("project", p, "id", "name", "description", "enabled", "domain_id", "parent_id", "is_domain", "links", "tags", "options")
	if p["parent_id"] != d["id"] || p["is_domain"] != false {
		t.Errorf("project %v", p)
	}
	u := post("/users", `{"user": {"name": "gu", "password": "x", "domain_id": "`+d["id"].(string)+`"}}`, "user")
	check("user", u, "id", "name", "domain_id", "enabled", "links", "options", "password_expires_at")
	g := post("/groups", `{"group": {"name": "gg"}}`, "group")
	check("group", g, "id", "name", "description", "domain_id", "links")
	r := post("/roles", `{"role": {"name": "gr"}}`, "role")
	check("role", r, "id", "name", "description", "domain_id", "links", "options")
	reg := post("/regions", `{"region": {"id": "gre"}}`, "region")
	check("region", reg, "id", "description", "parent_region_id", "links")
	sv := post("/services", `{"service": {"type": "gt", "name": "gs"}}`, "service")
	check("service", sv, "id", "type", "name", "description", "enabled", "links")
	ep := post("/endpoints", `{"endpoint": {"service_id": "`+sv["id"].(string)+`", "interface": "public", "url": "http://x", "region_id": "gre"}}`, "endpoint")
	check("endpoint", ep, "id", "interface", "region", "region_id", "service_id", "url", "enabled", "links")
	check("get project", get("/projects/"+p["id"].(string), "project"), "id", "name", "description", "enabled", "domain_id", "parent_id", "is_domain", "links", "tags", "options")

	// Token: keystone's attribute set for a project-scoped token.
	resp, b := s.HTTP(t, "GET", "/identity/v3/auth/tokens", tok, "", "X-Subject-Token", tok)
	if resp.StatusCode != 200 {
		t.Fatal(resp.StatusCode)
	}
	tk := testenv.JSON(t, b)["token"].(map[string]any)
	check("token", tk, "methods", "user", "audit_ids", "expires_at", "issued_at", "project", "is_domain", "roles", "catalog")
	if links, ok := d["links"].(map[string]any); !ok || !strings.HasSuffix(links["self"].(string), "/identity/v3/domains/"+d["id"].(string)) {
		t.Errorf("links %v", d["links"])
	}
}
