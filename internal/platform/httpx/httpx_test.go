package httpx_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gureum/gureum/internal/platform/errs"
	"github.com/gureum/gureum/internal/platform/httpx"
	"github.com/gureum/gureum/internal/platform/logging"
	"github.com/gureum/gureum/internal/policy"
)

type fakeAuth struct{}

func (fakeAuth) Authenticate(_ context.Context, tok string) (*policy.Credentials, error) {
	switch tok {
	case "member-p1":
		return &policy.Credentials{UserID: "u1", ProjectID: "p1", Roles: []string{"member", "reader"}}, nil
	case "admin":
		return &policy.Credentials{UserID: "a", ProjectID: "p0", Roles: []string{"admin"}}, nil
	}
	return nil, errs.Unauthorized("bad token")
}

func render(w http.ResponseWriter, _ *http.Request, e *errs.Error) {
	httpx.WriteJSON(w, e.StatusCode(), map[string]any{"kind": e.Type, "message": e.Message})
}

func newServer(t *testing.T, routes ...httpx.Route) http.Handler {
	t.Helper()
	pol, _ := policy.New()
	s := httpx.NewServer(httpx.Options{Auth: fakeAuth{}, Policy: pol, Log: logging.Discard(), MaxBody: 1024})
	err := s.Mount(httpx.Service{Name: "test", Prefix: "/svc", Errors: render, Routes: routes, Rules: map[string]string{
		"owner": "project_id:%(project_id)s or role:admin",
		"any":   "",
	}})
	if err != nil {
		t.Fatal(err)
	}
	return s.Handler()
}

func do(h http.Handler, method, path, token, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if token != "" {
		r.Header.Set("X-Auth-Token", token)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestRouteWithoutRuleRefused(t *testing.T) {
	pol, _ := policy.New()
	s := httpx.NewServer(httpx.Options{Policy: pol, Log: logging.Discard()})
	for _, rule := range []string{"", "undefined_rule"} {
		err := s.Mount(httpx.Service{Name: "x", Prefix: "/x" + rule, Errors: render, Routes: []httpx.Route{{Method: "GET", Path: "/a", Rule: rule, Handler: func(http.ResponseWriter, *http.Request) error { return nil }}}})
		if err == nil {
			t.Fatalf("route with rule %q mounted", rule)
		}
	}
}

func TestAuthPolicyAndErrors(t *testing.T) {
	ok := func(w http.ResponseWriter, r *http.Request) error {
		httpx.WriteJSON(w, 200, map[string]string{"project": httpx.Creds(r).ProjectID})
		return nil
	}
	h := newServer(t,
		httpx.Route{Method: "GET", Path: "/projects/{project_id}/things", Rule: "owner", Handler: ok},
		httpx.Route{Method: "POST", Path: "/echo", Rule: "any", Handler: func(w http.ResponseWriter, r *http.Request) error {
			var v struct {
				Name string `json:"name"`
			}
			if err := httpx.DecodeJSON(r, &v); err != nil {
				return err
			}
			httpx.WriteJSON(w, 200, v)
			return nil
		}},
		httpx.Route{Method: "GET", Path: "/deferred/{id}", Rule: "owner", Deferred: true, Handler: func(w http.ResponseWriter, r *http.Request) error {
			if err := httpx.Authorize(r, policy.Target{"project_id": "p1"}); err != nil {
				return err
			}
			return ok(w, r)
		}},
		httpx.Route{Method: "GET", Path: "/forgot/{id}", Rule: "owner", Deferred: true, Handler: ok},
		// Bodies copied with io.Copy (file downloads): the guard must
		// hold there too.
		httpx.Route{Method: "GET", Path: "/copy/{id}", Rule: "owner", Deferred: true, Handler: func(w http.ResponseWriter, r *http.Request) error {
			if err := httpx.Authorize(r, policy.Target{"project_id": "p1"}); err != nil {
				return err
			}
			_, err := io.Copy(w, strings.NewReader("data"))
			return err
		}},
		httpx.Route{Method: "GET", Path: "/forgot-copy/{id}", Rule: "owner", Deferred: true, Handler: func(w http.ResponseWriter, r *http.Request) error {
			_, err := io.Copy(w, strings.NewReader("secret"))
			return err
		}},
		httpx.Route{Method: "GET", Path: "/panic", Rule: "any", Handler: func(http.ResponseWriter, *http.Request) error { panic("boom") }},
	)
	cases := []struct {
		method, path, token, body string
		want                      int
	}{
		{"GET", "/svc/projects/p1/things", "", "", 401},
		{"GET", "/svc/projects/p1/things", "bogus", "", 401},
		{"GET", "/svc/projects/p1/things", "member-p1", "", 200},
		{"GET", "/svc/projects/p2/things", "member-p1", "", 403},
		{"GET", "/svc/projects/p2/things", "admin", "", 200},
		{"GET", "/svc/deferred/x", "member-p1", "", 200},
		{"POST", "/svc/echo", "member-p1", `{"name":"a"}`, 200},
		{"POST", "/svc/echo", "member-p1", `{"name":1}`, 400},
		{"POST", "/svc/echo", "member-p1", `{"nome":"a"}`, 400},
		{"POST", "/svc/echo", "member-p1", `{"name":"a"} {}`, 400},
		{"POST", "/svc/echo", "member-p1", `{`, 400},
		{"POST", "/svc/echo", "member-p1", `{"name":"` + strings.Repeat("a", 2000) + `"}`, 413},
		{"GET", "/svc/nowhere", "member-p1", "", 404},
		{"DELETE", "/svc/echo", "member-p1", "", 405},
		{"GET", "/svc/panic", "member-p1", "", 500},
		{"GET", "/svc/forgot/x", "member-p1", "", 500},
		{"GET", "/svc/copy/x", "member-p1", "", 200},
		{"GET", "/svc/forgot-copy/x", "member-p1", "", 500},
	}
	for _, c := range cases {
		w := do(h, c.method, c.path, c.token, c.body)
		if w.Code != c.want {
			b, _ := io.ReadAll(w.Body)
			t.Errorf("%s %s (%s): %d %s, want %d", c.method, c.path, c.token, w.Code, b, c.want)
		}
		if c.want >= 400 && !strings.Contains(w.Body.String(), `"kind"`) {
			t.Errorf("%s %s: error not in the service's format: %s", c.method, c.path, w.Body.String())
		}
		if strings.Contains(w.Body.String(), "secret") {
			t.Errorf("%s %s: body of an unauthorized deferred route leaked: %s", c.method, c.path, w.Body.String())
		}
		if w.Header().Get("X-Openstack-Request-Id") == "" {
			t.Errorf("%s %s: no request id", c.method, c.path)
		}
	}
}
