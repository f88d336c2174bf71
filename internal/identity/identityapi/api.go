package identityapi

import (
	"net/http"

	"github.com/gureum/gureum/internal/identity"
	"github.com/gureum/gureum/internal/platform/httpx"
)

// API is the Keystone v3 HTTP API.
type API struct {
	svc *identity.Service
}

// New returns the API over the identity service.
func New(svc *identity.Service) *API { return &API{svc: svc} }

// Prefix is where the service is mounted.
const Prefix = "/identity"

// Service returns the routes, rules and error renderer to mount.
func (a *API) Service() httpx.Service {
	return httpx.Service{Name: "identity", Prefix: Prefix, Routes: a.routes(), Errors: renderError, Rules: Rules}
}

func (a *API) routes() []httpx.Route {
	pub := func(m, p string, h httpx.HandlerFunc) httpx.Route {
		return httpx.Route{Method: m, Path: p, Rule: httpx.RulePublic, Anonymous: true, Handler: h}
	}
	return []httpx.Route{
		pub("GET", "/{$}", a.versions),
		pub("GET", "/v3", a.version),
		pub("GET", "/v3/{$}", a.version),
		pub("POST", "/v3/auth/tokens", a.issueToken),
		{Method: "GET", Path: "/v3/auth/tokens", Rule: "identity:validate_token", Deferred: true, Handler: a.validateToken},
		{Method: "HEAD", Path: "/v3/auth/tokens", Rule: "identity:check_token", Deferred: true, Handler: a.validateToken},
		{Method: "DELETE", Path: "/v3/auth/tokens", Rule: "identity:revoke_token", Deferred: true, Handler: a.revokeToken},
		{Method: "GET", Path: "/v3/auth/catalog", Rule: "identity:get_auth_catalog", Handler: a.authCatalog},
		{Method: "GET", Path: "/v3/auth/projects", Rule: "identity:get_auth_projects", Handler: a.authProjects},
		{Method: "GET", Path: "/v3/auth/domains", Rule: "identity:get_auth_domains", Handler: a.authDomains},
		{Method: "GET", Path: "/v3/auth/system", Rule: "identity:get_auth_system", Handler: a.authSystem},
	}
}

func versionDoc(base string) obj {
	return obj{
		"id":      "v3.14",
		"status":  "stable",
		"updated": "2020-04-07T00:00:00Z",
		"links":   []obj{{"rel": "self", "href": base + "/identity/v3/"}},
		"media-types": []obj{{
			"base": "application/json",
			"type": "application/vnd.openstack.identity-v3+json",
		}},
	}
}

func (a *API) versions(w http.ResponseWriter, r *http.Request) error {
	httpx.WriteJSON(w, http.StatusMultipleChoices, obj{"versions": obj{"values": []obj{versionDoc(httpx.BaseURL(r))}}})
	return nil
}

func (a *API) version(w http.ResponseWriter, r *http.Request) error {
	httpx.WriteJSON(w, http.StatusOK, obj{"version": versionDoc(httpx.BaseURL(r))})
	return nil
}
