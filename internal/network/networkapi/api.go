// Package networkapi serves the Neutron v2.0 API under /networking.
package networkapi

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/gureum/gureum/internal/network"
	"github.com/gureum/gureum/internal/platform/errs"
	"github.com/gureum/gureum/internal/platform/httpx"
	"github.com/gureum/gureum/internal/policy"
)

// API is the Neutron HTTP API.
type API struct {
	svc *network.Service
}

// New returns the API over the network service.
func New(svc *network.Service) *API { return &API{svc: svc} }

// Prefix is where the service is mounted.
const Prefix = "/networking"

type obj = map[string]any

// resDef describes a collection.
type resDef struct {
	kind     network.Kind
	singular string // "security_group"
	path     string // "security-groups"
	// push maps filters the store can apply to its columns.
	push map[string]string
	// noName: the resource has no name attribute.
	noName bool
}

func (d *resDef) plural() string { return string(d.kind) }

var (
	defNetwork = &resDef{kind: network.KindNetwork, singular: "network", path: "networks",
		push: map[string]string{"id": "id", "name": "name", "project_id": "project_id"}}
	defSubnet = &resDef{kind: network.KindSubnet, singular: "subnet", path: "subnets",
		push: map[string]string{"id": "id", "name": "name", "project_id": "project_id", "network_id": "parent_id", "subnetpool_id": "device_id"}}
	defPort = &resDef{kind: network.KindPort, singular: "port", path: "ports",
		push: map[string]string{"id": "id", "name": "name", "project_id": "project_id", "network_id": "parent_id", "device_id": "device_id"}}
	defSG = &resDef{kind: network.KindSecurityGroup, singular: "security_group", path: "security-groups",
		push: map[string]string{"id": "id", "name": "name", "project_id": "project_id"}}
	defRule = &resDef{kind: network.KindSGRule, singular: "security_group_rule", path: "security-group-rules", noName: true,
		push: map[string]string{"id": "id", "project_id": "project_id", "security_group_id": "parent_id", "remote_group_id": "device_id"}}
	defRouter = &resDef{kind: network.KindRouter, singular: "router", path: "routers",
		push: map[string]string{"id": "id", "name": "name", "project_id": "project_id"}}
	defFIP = &resDef{kind: network.KindFloatingIP, singular: "floatingip", path: "floatingips", noName: true,
		push: map[string]string{"id": "id", "project_id": "project_id", "floating_network_id": "parent_id", "port_id": "device_id"}}
	defPool = &resDef{kind: network.KindSubnetPool, singular: "subnetpool", path: "subnetpools",
		push: map[string]string{"id": "id", "name": "name", "project_id": "project_id"}}
	allDefs = []*resDef{defNetwork, defSubnet, defPort, defSG, defRule, defRouter, defFIP, defPool}
)

// Service returns the routes, rules and error renderer to mount.
func (a *API) Service() httpx.Service {
	return httpx.Service{Name: "network", Prefix: Prefix, Routes: a.routes(), Errors: renderError, Rules: Rules}
}

func (a *API) routes() []httpx.Route {
	pub := func(m, p string, h httpx.HandlerFunc) httpx.Route {
		return httpx.Route{Method: m, Path: p, Rule: httpx.RulePublic, Anonymous: true, Handler: h}
	}
	def := func(m, p, rule string, h httpx.HandlerFunc) httpx.Route {
		return httpx.Route{Method: m, Path: p, Rule: rule, Deferred: true, Handler: h}
	}
	rs := []httpx.Route{
		pub("GET", "", a.versions),
		pub("GET", "/{$}", a.versions),
		{Method: "GET", Path: "/v2.0", Rule: "get_extension", Handler: a.root},
		{Method: "GET", Path: "/v2.0/{$}", Rule: "get_extension", Handler: a.root},
		{Method: "GET", Path: "/v2.0/extensions", Rule: "get_extension", Handler: a.extensions},
		{Method: "GET", Path: "/v2.0/extensions/{alias}", Rule: "get_extension", Handler: a.extension},
		{Method: "GET", Path: "/v2.0/availability_zones", Rule: "get_availability_zone", Handler: a.availabilityZones},
		{Method: "GET", Path: "/v2.0/agents", Rule: "get_agent", Handler: a.agents},
		{Method: "GET", Path: "/v2.0/agents/{id}", Rule: "get_agent", Handler: a.agent},
		{Method: "GET", Path: "/v2.0/network-ip-availabilities", Rule: "get_network_ip_availability", Handler: a.ipAvailabilities},
		{Method: "GET", Path: "/v2.0/network-ip-availabilities/{id}", Rule: "get_network_ip_availability", Handler: a.ipAvailability},
		def("GET", "/v2.0/quotas", "get_quota", a.listQuotas),
		{Method: "GET", Path: "/v2.0/quotas/{project_id}", Rule: "get_quota", Handler: a.getQuota},
		{Method: "GET", Path: "/v2.0/quotas/{project_id}/default", Rule: "get_quota", Handler: a.defaultQuota},
		{Method: "GET", Path: "/v2.0/quotas/{project_id}/details", Rule: "get_quota", Handler: a.quotaDetails},
		// gophercloud asks with Neutron's legacy ".json" suffix.
		{Method: "GET", Path: "/v2.0/quotas/{project_id}/details.json", Rule: "get_quota", Handler: a.quotaDetails},
		{Method: "PUT", Path: "/v2.0/quotas/{project_id}", Rule: "update_quota", Handler: a.updateQuota},
		{Method: "DELETE", Path: "/v2.0/quotas/{project_id}", Rule: "delete_quota", Handler: a.deleteQuota},

		def("POST", "/v2.0/networks", "create_network", a.createNetwork),
		def("PUT", "/v2.0/networks/{id}", "update_network", a.updateNetwork),
		def("DELETE", "/v2.0/networks/{id}", "delete_network", a.deleter(defNetwork, a.svc.DeleteNetwork)),
		def("POST", "/v2.0/subnets", "create_subnet", a.createSubnet),
		def("PUT", "/v2.0/subnets/{id}", "update_subnet", a.updateSubnet),
		def("DELETE", "/v2.0/subnets/{id}", "delete_subnet", a.deleter(defSubnet, a.svc.DeleteSubnet)),
		def("POST", "/v2.0/ports", "create_port", a.createPort),
		def("PUT", "/v2.0/ports/{id}", "update_port", a.updatePort),
		def("DELETE", "/v2.0/ports/{id}", "delete_port", a.deleter(defPort, a.svc.DeletePort)),
		def("POST", "/v2.0/security-groups", "create_security_group", a.createSG),
		def("PUT", "/v2.0/security-groups/{id}", "update_security_group", a.updateSG),
		def("DELETE", "/v2.0/security-groups/{id}", "delete_security_group", a.deleter(defSG, a.svc.DeleteSecurityGroup)),
		def("POST", "/v2.0/security-group-rules", "create_security_group_rule", a.createRule),
		def("DELETE", "/v2.0/security-group-rules/{id}", "delete_security_group_rule", a.deleter(defRule, func(ctx context.Context, c network.Caller, id string, _ *int64) error {
			return a.svc.DeleteSGRule(ctx, c, id)
		})),
		def("POST", "/v2.0/routers", "create_router", a.createRouter),
		def("PUT", "/v2.0/routers/{id}", "update_router", a.updateRouter),
		def("DELETE", "/v2.0/routers/{id}", "delete_router", a.deleter(defRouter, a.svc.DeleteRouter)),
		def("PUT", "/v2.0/routers/{id}/add_router_interface", "add_router_interface", a.routerInterface(true)),
		def("PUT", "/v2.0/routers/{id}/remove_router_interface", "remove_router_interface", a.routerInterface(false)),
		def("POST", "/v2.0/floatingips", "create_floatingip", a.createFIP),
		def("PUT", "/v2.0/floatingips/{id}", "update_floatingip", a.updateFIP),
		def("DELETE", "/v2.0/floatingips/{id}", "delete_floatingip", a.deleter(defFIP, a.svc.DeleteFloatingIP)),
		def("POST", "/v2.0/subnetpools", "create_subnetpool", a.createPool),
		def("PUT", "/v2.0/subnetpools/{id}", "update_subnetpool", a.updatePool),
		def("DELETE", "/v2.0/subnetpools/{id}", "delete_subnetpool", a.deleter(defPool, a.svc.DeleteSubnetPool)),
	}
	for _, d := range allDefs {
		rs = append(rs,
			def("GET", "/v2.0/"+d.path, "get_"+d.singular, a.list(d)),
			def("GET", "/v2.0/"+d.path+"/{id}", "get_"+d.singular, a.show(d)),
			def("GET", "/v2.0/"+d.path+"/{id}/tags", "neutron_get_tags", a.tags(d)),
			def("PUT", "/v2.0/"+d.path+"/{id}/tags", "neutron_update_tags", a.replaceTags(d)),
			def("DELETE", "/v2.0/"+d.path+"/{id}/tags", "neutron_update_tags", a.deleteTags(d)),
			def("GET", "/v2.0/"+d.path+"/{id}/tags/{tag}", "neutron_get_tags", a.hasTag(d)),
			def("PUT", "/v2.0/"+d.path+"/{id}/tags/{tag}", "neutron_update_tags", a.addTag(d)),
			def("DELETE", "/v2.0/"+d.path+"/{id}/tags/{tag}", "neutron_update_tags", a.removeTag(d)),
		)
	}
	return rs
}

// caller turns the request's credentials into the service's Caller.
func caller(r *http.Request) network.Caller {
	c := httpx.Creds(r)
	if c == nil {
		return network.Caller{}
	}
	return network.Caller{ProjectID: c.ProjectID, Admin: httpx.Allowed(r, "neutron_context_is_admin", policy.Target{})}
}

func boolStr(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

// targetOf is the policy target of a stored resource.
func targetOf(row *network.Row) policy.Target {
	return policy.Target{"project_id": row.ProjectID, "tenant_id": row.ProjectID, "shared": boolStr(row.Shared), "router:external": boolStr(row.External)}
}

// ifMatch reads "If-Match: revision_number=N".
func ifMatch(r *http.Request) (*int64, error) {
	h := r.Header.Get("If-Match")
	if h == "" {
		return nil, nil
	}
	for _, part := range strings.Split(h, ",") {
		part = strings.Trim(strings.TrimSpace(part), `"`)
		if v, ok := strings.CutPrefix(part, "revision_number="); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return nil, errs.BadRequest("If-Match: invalid revision number %q.", v)
			}
			return &n, nil
		}
	}
	return nil, nil
}

// decodeBody reads {"<key>": {...}} into S, refusing unknown attributes,
// and returns the attributes given (for attribute policies).
func decodeBody[S any](r *http.Request, key string) (S, map[string]json.RawMessage, error) {
	var sp S
	var outer map[string]json.RawMessage
	if err := httpx.DecodeJSON(r, &outer); err != nil {
		return sp, nil, err
	}
	raw, ok := outer[key]
	if !ok || len(outer) != 1 {
		return sp, nil, errs.BadRequest("Resource body required: a single '%s' object.", key)
	}
	var inner map[string]json.RawMessage
	if err := json.Unmarshal(raw, &inner); err != nil || inner == nil {
		return sp, nil, errs.BadRequest("Invalid input: '%s' must be an object.", key)
	}
	if err := checkSizes(inner); err != nil {
		return sp, nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sp); err != nil {
		msg := err.Error()
		if f, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
			return sp, nil, errs.BadRequest("Unrecognized attribute(s) %s", strings.ReplaceAll(f, `"`, "'"))
		}
		var te *json.UnmarshalTypeError
		if ok := asTypeErr(err, &te); ok {
			return sp, nil, errs.BadRequest("Invalid input for %s. Reason: expected %s, got JSON %s.", te.Field, te.Type, te.Value).WithType("InvalidInput")
		}
		return sp, nil, errs.BadRequest("Invalid input: %s.", msg).WithType("InvalidInput")
	}
	return sp, inner, nil
}

func asTypeErr(err error, te **json.UnmarshalTypeError) bool {
	t, ok := err.(*json.UnmarshalTypeError)
	if ok {
		*te = t
	}
	return ok
}

// isDefault says whether a given attribute value is a default, which
// Neutron's attribute policies do not check.
func isDefault(raw json.RawMessage) bool {
	switch strings.TrimSpace(string(raw)) {
	case "false", "null", `""`, "{}", "[]":
		return true
	}
	return false
}

// checkAttrs enforces "<action>_<resource>:<attribute>" rules for each
// attribute set to a non-default value.
func checkAttrs(r *http.Request, action string, d *resDef, inner map[string]json.RawMessage, target policy.Target) error {
	for k, v := range inner {
		rule := action + "_" + d.singular + ":" + k
		if _, ok := Rules[rule]; ok && !isDefault(v) {
			if err := httpx.Check(r, rule, target); err != nil {
				return err
			}
		}
	}
	return nil
}

// writeOne writes {"<singular>": view}.
func (a *API) writeOne(w http.ResponseWriter, r *http.Request, d *resDef, status int, res network.Resource) {
	v := render(d, res, hiddenAttrs(r, d))
	httpx.WriteJSON(w, status, obj{d.singular: selectFields(v, r.URL.Query()["fields"])})
}

// render renders a resource without the hidden attributes.
func render(d *resDef, res network.Resource, hidden []string) obj {
	b, _ := json.Marshal(res)
	var m obj
	_ = json.Unmarshal(b, &m)
	m["tenant_id"] = m["project_id"]
	if d.noName {
		delete(m, "name")
	}
	for _, k := range hidden {
		delete(m, k)
	}
	if rules, ok := m["security_group_rules"].([]any); ok {
		for _, x := range rules {
			if rm, ok := x.(obj); ok {
				rm["tenant_id"] = rm["project_id"]
				delete(rm, "name")
			}
		}
	}
	return m
}

// hiddenAttrs lists the attributes guarded by get_<resource>:<attr> rules
// the caller fails (the rules are about roles, not the resource).
func hiddenAttrs(r *http.Request, d *resDef) []string {
	var out []string
	prefix := "get_" + d.singular + ":"
	for rule := range Rules {
		if attr, ok := strings.CutPrefix(rule, prefix); ok && !httpx.Allowed(r, rule, policy.Target{"project_id": ""}) {
			out = append(out, attr)
		}
	}
	return out
}

func selectFields(v obj, fields []string) obj {
	var want []string
	for _, f := range fields {
		for _, x := range strings.Split(f, ",") {
			if x = strings.TrimSpace(x); x != "" {
				want = append(want, x)
			}
		}
	}
	if len(want) == 0 {
		return v
	}
	out := obj{}
	for _, f := range want {
		if x, ok := v[f]; ok {
			out[f] = x
		}
	}
	return out
}

func (a *API) show(d *resDef) httpx.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		id := r.PathValue("id")
		res, row, err := a.svc.Get(r.Context(), caller(r), d.kind, id)
		if err != nil {
			return err
		}
		if err := httpx.Authorize(r, targetOf(row)); err != nil {
			return notFound(d, id)
		}
		if sg, ok := res.(*network.SecurityGroup); ok {
			if err := a.svc.FillRules(r.Context(), []*network.SecurityGroup{sg}); err != nil {
				return err
			}
		}
		a.writeOne(w, r, d, http.StatusOK, res)
		return nil
	}
}

func notFound(d *resDef, id string) error {
	return errs.NotFound("%s %s could not be found.", d.singular, id).WithType(notFoundTypes[d.kind])
}

var notFoundTypes = map[network.Kind]string{
	network.KindNetwork: "NetworkNotFound", network.KindSubnet: "SubnetNotFound", network.KindPort: "PortNotFound",
	network.KindSecurityGroup: "SecurityGroupNotFound", network.KindSGRule: "SecurityGroupRuleNotFound",
	network.KindRouter: "RouterNotFound", network.KindFloatingIP: "FloatingIPNotFound", network.KindSubnetPool: "SubnetPoolNotFound",
}

// loadFor loads a resource and authorizes the route's rule against it.
func (a *API) loadFor(r *http.Request, d *resDef, extra policy.Target) (network.Resource, *network.Row, error) {
	id := r.PathValue("id")
	res, row, err := a.svc.Get(r.Context(), caller(r), d.kind, id)
	if err != nil {
		return nil, nil, err
	}
	t := targetOf(row)
	for k, v := range extra {
		t[k] = v
	}
	if err := httpx.Authorize(r, t); err != nil {
		return nil, nil, err
	}
	return res, row, nil
}

func (a *API) deleter(d *resDef, del func(ctx context.Context, c network.Caller, id string, rev *int64) error) httpx.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		rev, err := ifMatch(r)
		if err != nil {
			return err
		}
		if _, _, err := a.loadFor(r, d, nil); err != nil {
			return err
		}
		if err := del(r.Context(), caller(r), r.PathValue("id"), rev); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}

// Neutron's limits on the standard attributes.
const (
	maxNameLen = 255
	maxDescLen = 255
)

// checkSizes bounds name, description and tags of any resource body.
func checkSizes(inner map[string]json.RawMessage) error {
	for k, limit := range map[string]int{"name": maxNameLen, "description": maxDescLen} {
		var v string
		if raw, ok := inner[k]; ok && json.Unmarshal(raw, &v) == nil && len(v) > limit {
			return errs.BadRequest("Invalid input for %s. Reason: '%.20s...' exceeds maximum length of %d.", k, v, limit).WithType("InvalidInput")
		}
	}
	var tags []string
	if raw, ok := inner["tags"]; ok && json.Unmarshal(raw, &tags) == nil && len(tags) > network.MaxTags {
		return errs.BadRequest("Invalid input for tags. Reason: at most %d tags.", network.MaxTags).WithType("InvalidInput")
	}
	return nil
}
