package identityapi

import (
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/gureum/gureum/internal/identity"
	"github.com/gureum/gureum/internal/platform/httpx"
)

// API is the Keystone v3 HTTP API.
type API struct {
	svc         *identity.Service
	catalogJSON atomic.Pointer[encCatalog]
	bodies      bodyCache
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
	rs := []httpx.Route{
		pub("GET", "/{$}", a.versions),
		// The catalog's identity URL has no trailing slash; clients start
		// their version discovery there.
		pub("GET", "", a.versions),
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
	// The rest authorize in the handler, once they know the object's
	// domain or owner (Deferred).
	d := func(m, p, rule string, h httpx.HandlerFunc) httpx.Route {
		return httpx.Route{Method: m, Path: p, Rule: rule, Deferred: true, Handler: h}
	}
	rs = append(rs,
		d("GET", "/v3/domains", "identity:list_domains", a.listDomains),
		d("POST", "/v3/domains", "identity:create_domain", a.createDomain),
		d("GET", "/v3/domains/{domain_id}", "identity:get_domain", a.getDomain),
		d("PATCH", "/v3/domains/{domain_id}", "identity:update_domain", a.updateDomain),
		d("DELETE", "/v3/domains/{domain_id}", "identity:delete_domain", a.deleteDomain),

		d("GET", "/v3/projects", "identity:list_projects", a.listProjects),
		d("POST", "/v3/projects", "identity:create_project", a.createProject),
		d("GET", "/v3/projects/{project_id}", "identity:get_project", a.getProject),
		d("PATCH", "/v3/projects/{project_id}", "identity:update_project", a.updateProject),
		d("DELETE", "/v3/projects/{project_id}", "identity:delete_project", a.deleteProject),
		d("GET", "/v3/projects/{project_id}/tags", "identity:list_project_tags", a.listTags),
		d("PUT", "/v3/projects/{project_id}/tags", "identity:update_project_tags", a.replaceTags),
		d("DELETE", "/v3/projects/{project_id}/tags", "identity:delete_project_tags", a.deleteTags),
		d("GET", "/v3/projects/{project_id}/tags/{tag}", "identity:get_project_tag", a.checkTag),
		d("HEAD", "/v3/projects/{project_id}/tags/{tag}", "identity:get_project_tag", a.checkTag),
		d("PUT", "/v3/projects/{project_id}/tags/{tag}", "identity:create_project_tag", a.addTag),
		d("DELETE", "/v3/projects/{project_id}/tags/{tag}", "identity:delete_project_tag", a.deleteTag),

		d("GET", "/v3/users", "identity:list_users", a.listUsers),
		d("POST", "/v3/users", "identity:create_user", a.createUser),
		d("GET", "/v3/users/{user_id}", "identity:get_user", a.getUser),
		d("PATCH", "/v3/users/{user_id}", "identity:update_user", a.updateUser),
		d("DELETE", "/v3/users/{user_id}", "identity:delete_user", a.deleteUser),
		httpx.Route{Method: "POST", Path: "/v3/users/{user_id}/password", Rule: httpx.RulePublic, Anonymous: true, Deferred: true, Handler: a.changePassword},
		d("GET", "/v3/users/{user_id}/groups", "identity:list_groups_for_user", a.listUserGroups),
		d("GET", "/v3/users/{user_id}/projects", "identity:list_user_projects", a.listUserProjects),
		d("GET", "/v3/users/{user_id}/application_credentials", "identity:list_application_credentials", a.listAppCreds),
		d("POST", "/v3/users/{user_id}/application_credentials", "identity:create_application_credential", a.createAppCred),
		d("GET", "/v3/users/{user_id}/application_credentials/{application_credential_id}", "identity:get_application_credential", a.getAppCred),
		d("DELETE", "/v3/users/{user_id}/application_credentials/{application_credential_id}", "identity:delete_application_credential", a.deleteAppCred),

		d("GET", "/v3/groups", "identity:list_groups", a.listGroups),
		d("POST", "/v3/groups", "identity:create_group", a.createGroup),
		d("GET", "/v3/groups/{group_id}", "identity:get_group", a.getGroup),
		d("PATCH", "/v3/groups/{group_id}", "identity:update_group", a.updateGroup),
		d("DELETE", "/v3/groups/{group_id}", "identity:delete_group", a.deleteGroup),
		d("GET", "/v3/groups/{group_id}/users", "identity:list_users_in_group", a.listGroupUsers),
		d("PUT", "/v3/groups/{group_id}/users/{user_id}", "identity:add_user_to_group", a.addGroupUser),
		d("HEAD", "/v3/groups/{group_id}/users/{user_id}", "identity:check_user_in_group", a.checkGroupUser),
		d("GET", "/v3/groups/{group_id}/users/{user_id}", "identity:check_user_in_group", a.checkGroupUser),
		d("DELETE", "/v3/groups/{group_id}/users/{user_id}", "identity:remove_user_from_group", a.removeGroupUser),

		d("GET", "/v3/roles", "identity:list_roles", a.listRoles),
		d("POST", "/v3/roles", "identity:create_role", a.createRole),
		d("GET", "/v3/roles/{role_id}", "identity:get_role", a.getRole),
		d("PATCH", "/v3/roles/{role_id}", "identity:update_role", a.updateRole),
		d("DELETE", "/v3/roles/{role_id}", "identity:delete_role", a.deleteRole),
		d("GET", "/v3/roles/{prior_role_id}/implies", "identity:list_implied_roles", a.listImplied),
		d("PUT", "/v3/roles/{prior_role_id}/implies/{implied_role_id}", "identity:create_implied_role", a.createImplied),
		d("GET", "/v3/roles/{prior_role_id}/implies/{implied_role_id}", "identity:get_implied_role", a.getImplied),
		d("HEAD", "/v3/roles/{prior_role_id}/implies/{implied_role_id}", "identity:check_implied_role", a.getImplied),
		d("DELETE", "/v3/roles/{prior_role_id}/implies/{implied_role_id}", "identity:delete_implied_role", a.deleteImplied),
		d("GET", "/v3/role_inferences", "identity:list_role_inference_rules", a.listInferences),
		d("GET", "/v3/role_assignments", "identity:list_role_assignments", a.listRoleAssignments),

		d("GET", "/v3/regions", "identity:list_regions", a.listRegions),
		d("POST", "/v3/regions", "identity:create_region", a.createRegion),
		d("GET", "/v3/regions/{region_id}", "identity:get_region", a.getRegion),
		d("PATCH", "/v3/regions/{region_id}", "identity:update_region", a.updateRegion),
		d("DELETE", "/v3/regions/{region_id}", "identity:delete_region", a.deleteRegion),
		d("GET", "/v3/services", "identity:list_services", a.listServices),
		d("POST", "/v3/services", "identity:create_service", a.createService),
		d("GET", "/v3/services/{service_id}", "identity:get_service", a.getService),
		d("PATCH", "/v3/services/{service_id}", "identity:update_service", a.updateService),
		d("DELETE", "/v3/services/{service_id}", "identity:delete_service", a.deleteService),
		d("GET", "/v3/endpoints", "identity:list_endpoints", a.listEndpoints),
		d("POST", "/v3/endpoints", "identity:create_endpoint", a.createEndpoint),
		d("GET", "/v3/endpoints/{endpoint_id}", "identity:get_endpoint", a.getEndpoint),
		d("PATCH", "/v3/endpoints/{endpoint_id}", "identity:update_endpoint", a.updateEndpoint),
		d("DELETE", "/v3/endpoints/{endpoint_id}", "identity:delete_endpoint", a.deleteEndpoint),
	)
	// Grants: users and groups on projects, domains and the system, and
	// OS-INHERIT's inherited ones.
	for _, target := range []string{"/v3/projects/{project_id}", "/v3/domains/{domain_id}", "/v3/system", "/v3/OS-INHERIT/domains/{domain_id}", "/v3/OS-INHERIT/projects/{project_id}"} {
		sys := target == "/v3/system"
		inh := strings.HasPrefix(target, "/v3/OS-INHERIT")
		suffix := ""
		if inh {
			suffix = "/inherited_to_projects"
		}
		rule := func(op string) string {
			switch {
			case sys:
				return "identity:" + op + "_system_grant_for_actor"
			case inh:
				return "identity:" + op + "_inherited_grant"
			}
			if op == "list" {
				return "identity:list_grants"
			}
			return "identity:" + op + "_grant"
		}
		for _, actor := range []string{"/users/{user_id}", "/groups/{group_id}"} {
			p := target + actor + "/roles/{role_id}" + suffix
			rs = append(rs,
				d("PUT", p, rule("create"), a.putGrant),
				d("HEAD", p, rule("check"), a.checkGrant),
				d("GET", p, rule("check"), a.checkGrant),
				d("DELETE", p, rule("revoke"), a.deleteGrant),
			)
			if !strings.HasPrefix(target, "/v3/OS-INHERIT/projects") {
				rs = append(rs, d("GET", target+actor+"/roles"+suffix, rule("list"), a.listGrants))
			}
		}
	}
	return rs
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
