// Package computeapi serves the Nova v2.1 API under /compute, with
// microversions 2.1 to MaxVersion.
package computeapi

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/gureum/gureum/internal/compute"
	"github.com/gureum/gureum/internal/platform/errs"
	"github.com/gureum/gureum/internal/platform/httpx"
	"github.com/gureum/gureum/internal/platform/logging"
	"github.com/gureum/gureum/internal/policy"
)

// Prefix is where the API is mounted.
const Prefix = "/compute"

// MinVersion and MaxVersion bound the microversions served. 2.38 is the
// highest version whose every change up to it is implemented (see
// docs/benchmarks-compute.md and the package tests): key types (2.2),
// extended attributes (2.3), locked (2.9), keypair user_id (2.10), forced
// down services (2.11), group user/project (2.13), soft policies (2.15),
// host_status (2.16), crash dump (2.17), description (2.19), actions of
// deleted servers (2.21), tags (2.26), the OpenStack-API-Version header
// (2.27), cpu_info as an object (2.28), hypervisor and keypair paging
// (2.33, 2.35), proxy APIs gone (2.36), networks auto/none required
// (2.37) and invalid status filters refused (2.38). Versions that only
// change APIs Gureum does not serve (remote consoles, evacuate, live
// migration, volume attachments) change nothing here.
var (
	MinVersion = Version{2, 1}
	MaxVersion = Version{2, 38}
)

// API is the Nova HTTP API.
type API struct {
	svc *compute.Service
}

// New returns the API over the compute service.
func New(svc *compute.Service) *API { return &API{svc: svc} }

// Service returns the routes, rules and error renderer to mount.
func (a *API) Service() httpx.Service {
	return httpx.Service{Name: "compute", Prefix: Prefix, Routes: a.routes(), Errors: renderError, Rules: Rules}
}

// Rules are nova's defaults (nova/policies) in spirit: readers read their
// project, members act on it, admins do everything; admin APIs are
// admin-only. Per-resource checks are Deferred with the resource's project.
var Rules = map[string]string{
	"context_is_admin":            "role:admin",
	"admin_api":                   "role:admin",
	"project_reader_or_admin":     "role:admin or (role:reader and project_id:%(project_id)s)",
	"project_member_or_admin":     "role:admin or (role:member and project_id:%(project_id)s)",
	"project_reader_api":          "role:admin or role:reader",
	"compute:read":                "rule:project_reader_or_admin",
	"compute:write":               "rule:project_member_or_admin",
	"compute:user":                "rule:project_reader_api",
	"compute:admin":               "rule:admin_api",
	"compute:servers:all_tenants": "rule:admin_api",
	"compute:servers:extended":    "rule:admin_api",
	"compute:servers:forced_host": "rule:admin_api",
	// nova/policies/attach_interfaces.py
	"os_compute_api:os-attach-interfaces:list":   "rule:project_reader_or_admin",
	"os_compute_api:os-attach-interfaces:show":   "rule:project_reader_or_admin",
	"os_compute_api:os-attach-interfaces:create": "rule:project_member_or_admin",
	"os_compute_api:os-attach-interfaces:delete": "rule:project_member_or_admin",
	// nova/policies/rescue.py
	"os_compute_api:os-rescue":   "rule:project_member_or_admin",
	"os_compute_api:os-unrescue": "rule:project_member_or_admin",
}

// Version is a microversion.
type Version struct{ Major, Minor int }

func (v Version) String() string { return fmt.Sprintf("%d.%d", v.Major, v.Minor) }

// AtLeast reports v >= major.minor.
func (v Version) AtLeast(major, minor int) bool {
	return v.Major > major || (v.Major == major && v.Minor >= minor)
}

type versionKey struct{}

// requestVersion negotiates the microversion of r and sets the response
// headers.
func requestVersion(w http.ResponseWriter, r *http.Request) (Version, error) {
	raw := ""
	if h := r.Header.Get("OpenStack-API-Version"); h != "" {
		for _, part := range strings.Split(h, ",") {
			f := strings.Fields(strings.TrimSpace(part))
			if len(f) == 2 && strings.EqualFold(f[0], "compute") {
				raw = f[1]
			}
		}
	}
	if raw == "" {
		raw = r.Header.Get("X-OpenStack-Nova-API-Version")
	}
	v := MinVersion
	if raw != "" {
		if strings.EqualFold(raw, "latest") {
			v = MaxVersion
		} else {
			maj, min, ok := strings.Cut(raw, ".")
			a, err1 := strconv.Atoi(maj)
			b, err2 := strconv.Atoi(min)
			if !ok || err1 != nil || err2 != nil {
				return v, errs.BadRequest("Invalid format of the API version %s. API version string must be in format MajorNum.MinorNum.", raw)
			}
			v = Version{a, b}
			if !v.AtLeast(MinVersion.Major, MinVersion.Minor) || !MaxVersion.AtLeast(v.Major, v.Minor) {
				return v, (&errs.Error{Kind: errs.KindBadRequest, Message: fmt.Sprintf("Version %s is not supported by the API. Minimum is %s and maximum is %s.", raw, MinVersion, MaxVersion)}).WithStatus(http.StatusNotAcceptable)
			}
		}
	}
	h := w.Header()
	h.Set("OpenStack-API-Version", "compute "+v.String())
	h.Set("X-OpenStack-Nova-API-Version", v.String())
	h.Add("Vary", "OpenStack-API-Version")
	h.Add("Vary", "X-OpenStack-Nova-API-Version")
	return v, nil
}

// faultNames are nova's error body keys by status.
var faultNames = map[int]string{
	400: "badRequest", 401: "unauthorized", 403: "forbidden", 404: "itemNotFound", 405: "badMethod",
	409: "conflictingRequest", 413: "overLimit", 415: "badMediaType", 429: "overLimit", 501: "notImplemented", 503: "serviceUnavailable",
}

// renderError writes nova's error body {"<faultName>": {"code", "message"}}.
func renderError(w http.ResponseWriter, _ *http.Request, e *errs.Error) {
	code := e.StatusCode()
	name, ok := faultNames[code]
	if !ok {
		name = "computeFault"
	}
	httpx.WriteJSON(w, code, obj{name: obj{"code": code, "message": e.Message}})
}

type obj = map[string]any

// call is the per-request context handlers get.
type call struct {
	w     http.ResponseWriter
	r     *http.Request
	v     Version
	creds *policy.Credentials
	c     compute.Caller
}

// handler adapts a versioned handler to httpx.
func (a *API) h(fn func(*call) error) httpx.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		v, err := requestVersion(w, r)
		if err != nil {
			return err
		}
		cr := httpx.Creds(r)
		c := &call{w: w, r: r, v: v, creds: cr}
		if cr != nil {
			c.c = compute.Caller{UserID: cr.UserID, ProjectID: cr.ProjectID, Admin: cr.IsAdmin(), RequestID: logging.RequestID(r.Context())}
		}
		return fn(c)
	}
}

// authz checks the route's rule against a project (Deferred routes).
func (c *call) authz(projectID string) error {
	return httpx.Authorize(c.r, policy.Target{"project_id": projectID})
}

func (c *call) allowed(rule, projectID string) bool {
	return httpx.Allowed(c.r, rule, policy.Target{"project_id": projectID})
}

func (c *call) json(status int, v any) error {
	httpx.WriteJSON(c.w, status, v)
	return nil
}

func (c *call) noContent(status int) error {
	c.w.WriteHeader(status)
	return nil
}

func (c *call) base() string { return httpx.BaseURL(c.r) + Prefix }

func (a *API) routes() []httpx.Route {
	pub := func(m, p string, h func(*call) error) httpx.Route {
		return httpx.Route{Method: m, Path: p, Rule: httpx.RulePublic, Anonymous: true, Handler: a.h(h)}
	}
	// d: authorized by the handler against the resource's project.
	d := func(m, p, rule string, h func(*call) error) httpx.Route {
		return httpx.Route{Method: m, Path: p, Rule: rule, Deferred: true, Handler: a.h(h)}
	}
	// u: any authenticated project user (rule checked up front).
	u := func(m, p, rule string, h func(*call) error) httpx.Route {
		return httpx.Route{Method: m, Path: p, Rule: rule, Handler: a.h(h)}
	}
	v := "/v2.1"
	return []httpx.Route{
		pub("GET", "/{$}", a.versions),
		pub("GET", v, a.version),
		pub("GET", v+"/{$}", a.version),

		u("GET", v+"/flavors", "compute:user", a.listFlavors),
		u("GET", v+"/flavors/detail", "compute:user", a.listFlavorsDetail),
		u("GET", v+"/flavors/{id}", "compute:user", a.getFlavor),
		u("POST", v+"/flavors", "compute:admin", a.createFlavor),
		u("DELETE", v+"/flavors/{id}", "compute:admin", a.deleteFlavor),
		u("GET", v+"/flavors/{id}/os-extra_specs", "compute:user", a.listExtraSpecs),
		u("POST", v+"/flavors/{id}/os-extra_specs", "compute:admin", a.createExtraSpecs),
		u("GET", v+"/flavors/{id}/os-extra_specs/{key}", "compute:user", a.getExtraSpec),
		u("PUT", v+"/flavors/{id}/os-extra_specs/{key}", "compute:admin", a.updateExtraSpec),
		u("DELETE", v+"/flavors/{id}/os-extra_specs/{key}", "compute:admin", a.deleteExtraSpec),
		u("GET", v+"/flavors/{id}/os-flavor-access", "compute:admin", a.listFlavorAccess),
		u("POST", v+"/flavors/{id}/action", "compute:admin", a.flavorAction),

		u("GET", v+"/os-keypairs", "compute:user", a.listKeyPairs),
		u("POST", v+"/os-keypairs", "compute:user", a.createKeyPair),
		u("GET", v+"/os-keypairs/{name}", "compute:user", a.getKeyPair),
		u("DELETE", v+"/os-keypairs/{name}", "compute:user", a.deleteKeyPair),

		u("GET", v+"/os-availability-zone", "compute:user", a.listAZ),
		u("GET", v+"/os-availability-zone/detail", "compute:admin", a.listAZDetail),
		d("GET", v+"/limits", "compute:read", a.limits),
		d("GET", v+"/os-quota-sets/{project_id}", "compute:read", a.getQuotas),
		d("GET", v+"/os-quota-sets/{project_id}/detail", "compute:read", a.getQuotasDetail),
		d("GET", v+"/os-quota-sets/{project_id}/defaults", "compute:read", a.getQuotaDefaults),
		u("PUT", v+"/os-quota-sets/{project_id}", "compute:admin", a.setQuotas),
		u("DELETE", v+"/os-quota-sets/{project_id}", "compute:admin", a.deleteQuotas),
		u("GET", v+"/os-quota-class-sets/{id}", "compute:user", a.getQuotaClass),

		d("GET", v+"/os-server-groups", "compute:read", a.listGroups),
		d("POST", v+"/os-server-groups", "compute:write", a.createGroup),
		d("GET", v+"/os-server-groups/{id}", "compute:read", a.getGroup),
		d("DELETE", v+"/os-server-groups/{id}", "compute:write", a.deleteGroup),

		u("GET", v+"/os-hypervisors", "compute:admin", a.listHypervisors),
		u("GET", v+"/os-hypervisors/detail", "compute:admin", a.listHypervisorsDetail),
		u("GET", v+"/os-hypervisors/statistics", "compute:admin", a.hypervisorStats),
		u("GET", v+"/os-hypervisors/{id}", "compute:admin", a.getHypervisor),
		u("GET", v+"/os-hypervisors/{id}/uptime", "compute:admin", a.hypervisorUptime),
		u("GET", v+"/os-hypervisors/{id}/servers", "compute:admin", a.hypervisorServers),
		u("GET", v+"/os-services", "compute:admin", a.listServices),
		u("PUT", v+"/os-services/{action}", "compute:admin", a.updateServiceLegacy),
		u("DELETE", v+"/os-services/{id}", "compute:admin", a.deleteService),
		d("GET", v+"/os-simple-tenant-usage", "compute:admin", a.listUsage),
		d("GET", v+"/os-simple-tenant-usage/{project_id}", "compute:read", a.getUsage),

		d("GET", v+"/servers", "compute:read", a.listServers),
		d("GET", v+"/servers/detail", "compute:read", a.listServersDetail),
		d("POST", v+"/servers", "compute:write", a.createServer),
		d("GET", v+"/servers/{id}", "compute:read", a.getServer),
		d("PUT", v+"/servers/{id}", "compute:write", a.updateServer),
		d("DELETE", v+"/servers/{id}", "compute:write", a.deleteServer),
		d("POST", v+"/servers/{id}/action", "compute:write", a.serverAction),
		d("GET", v+"/servers/{id}/metadata", "compute:read", a.getMetadata),
		d("PUT", v+"/servers/{id}/metadata", "compute:write", a.replaceMetadata),
		d("POST", v+"/servers/{id}/metadata", "compute:write", a.mergeMetadata),
		d("GET", v+"/servers/{id}/metadata/{key}", "compute:read", a.getMetadataItem),
		d("PUT", v+"/servers/{id}/metadata/{key}", "compute:write", a.setMetadataItem),
		d("DELETE", v+"/servers/{id}/metadata/{key}", "compute:write", a.deleteMetadataItem),
		d("GET", v+"/servers/{id}/tags", "compute:read", a.listTags),
		d("PUT", v+"/servers/{id}/tags", "compute:write", a.replaceTags),
		d("DELETE", v+"/servers/{id}/tags", "compute:write", a.deleteAllTags),
		d("GET", v+"/servers/{id}/tags/{tag}", "compute:read", a.checkTag),
		d("PUT", v+"/servers/{id}/tags/{tag}", "compute:write", a.addTag),
		d("DELETE", v+"/servers/{id}/tags/{tag}", "compute:write", a.deleteTag),
		d("GET", v+"/servers/{id}/ips", "compute:read", a.listIPs),
		d("GET", v+"/servers/{id}/ips/{network}", "compute:read", a.listIPsNetwork),
		d("GET", v+"/servers/{id}/os-interface", "os_compute_api:os-attach-interfaces:list", a.listInterfaces),
		d("POST", v+"/servers/{id}/os-interface", "os_compute_api:os-attach-interfaces:create", a.createInterface),
		d("GET", v+"/servers/{id}/os-interface/{port_id}", "os_compute_api:os-attach-interfaces:show", a.getInterface),
		d("DELETE", v+"/servers/{id}/os-interface/{port_id}", "os_compute_api:os-attach-interfaces:delete", a.deleteInterface),
		d("GET", v+"/servers/{id}/os-instance-actions", "compute:read", a.listActions),
		d("GET", v+"/servers/{id}/os-instance-actions/{req}", "compute:read", a.getAction),
	}
}

func versionDoc(base string, full bool) obj {
	d := obj{
		"id": "v2.1", "status": "CURRENT", "version": MaxVersion.String(), "min_version": MinVersion.String(), "updated": "2013-07-23T11:33:21Z",
		"links": []obj{{"rel": "self", "href": base + "/v2.1/"}},
	}
	if full {
		d["links"] = []obj{{"rel": "self", "href": base + "/v2.1/"}, {"rel": "describedby", "type": "text/html", "href": "http://docs.openstack.org/"}}
		d["media-types"] = []obj{{"base": "application/json", "type": "application/vnd.openstack.compute+json;version=2.1"}}
	}
	return d
}

func (a *API) versions(c *call) error {
	return c.json(http.StatusOK, obj{"versions": []obj{versionDoc(c.base(), false)}})
}

func (a *API) version(c *call) error {
	return c.json(http.StatusOK, obj{"version": versionDoc(c.base(), true)})
}
