package networkapi

import (
	"net/http"
	"slices"
	"sort"
	"strconv"

	"github.com/gureum/gureum/internal/network"
	"github.com/gureum/gureum/internal/platform/errs"
	"github.com/gureum/gureum/internal/platform/httpx"
	"github.com/gureum/gureum/internal/policy"
)

func (a *API) versions(w http.ResponseWriter, r *http.Request) error {
	httpx.WriteJSON(w, http.StatusOK, obj{"versions": []obj{{
		"id": "v2.0", "status": "CURRENT",
		"links": []obj{{"rel": "self", "href": httpx.BaseURL(r) + Prefix + "/v2.0/"}},
	}}})
	return nil
}

func (a *API) root(w http.ResponseWriter, r *http.Request) error {
	var res []obj
	for _, d := range allDefs {
		res = append(res, obj{"name": d.singular, "collection": d.plural(),
			"links": []obj{{"rel": "self", "href": httpx.BaseURL(r) + Prefix + "/v2.0/" + d.path}}})
	}
	httpx.WriteJSON(w, http.StatusOK, obj{"resources": res})
	return nil
}

type ext struct{ alias, name, desc string }

// extensions lists exactly what this API implements; clients (the
// openstack CLI, Terraform) decide what to send from it.
var extensions = []ext{
	{"agent", "agent", "The agent management extension (no agents are registered yet)."},
	{"allowed-address-pairs", "Allowed Address Pairs", "Provides allowed address pairs"},
	{"availability_zone", "Availability Zone", "The availability zone extension."},
	{"binding", "Port Binding", "Expose port bindings of a virtual port to external application"},
	{"default-subnetpools", "Default Subnetpools", "Provides ability to mark and use a subnetpool as the default."},
	{"dns-integration", "DNS Integration", "Provides integration with DNS."},
	{"external-net", "Neutron external network", "Adds external network attribute to network resource."},
	{"extra_dhcp_opt", "Neutron Extra DHCP options", "Extra options configuration for DHCP."},
	{"extraroute", "Neutron Extra Route", "Extra routes configuration for L3 router"},
	{"ext-gw-mode", "Neutron L3 Configurable external gateway mode", "Extension of the router abstraction for specifying whether SNAT should occur on the external gateway"},
	{"fip-port-details", "Floating IP Port Details Extension", "Add port_details attribute to Floating IP resource"},
	{"filter-validation", "Filter parameters validation", "Provides validation on filter parameters."},
	{"multi-provider", "Multi Provider Network", "Expose mapping of virtual networks to multiple physical networks"},
	{"net-mtu", "Network MTU", "Provides MTU attribute for a network resource."},
	{"network-ip-availability", "Network IP Availability", "Provides IP availability data for each network and subnet."},
	{"network_availability_zone", "Network Availability Zone", "Availability zone support for network."},
	{"pagination", "Pagination support", "Extension that indicates that pagination is enabled."},
	{"port-security", "Port Security", "Provides port security"},
	{"project-id", "project_id field enabled", "Extension that indicates that project_id field is enabled."},
	{"provider", "Provider Network", "Expose mapping of virtual networks to physical networks"},
	{"quotas", "Quota management support", "Expose functions for quotas management per project"},
	{"quota_details", "Quota details management support", "Expose functions for quotas usage statistics per project"},
	{"revision-if-match", "If-Match constraints based on revision_number", "Extension indicating that If-Match based on revision_number is supported."},
	{"router", "Neutron L3 Router", "Router abstraction for basic L3 forwarding between L2 Neutron networks and access to external networks via a NAT gateway."},
	{"router_availability_zone", "Router Availability Zone", "Availability zone support for router."},
	{"security-group", "security-group", "The security groups extension."},
	{"sorting", "Sorting support", "Extension that indicates that sorting is enabled."},
	{"standard-attr-description", "standard-attr-description", "Extension to add descriptions to standard attributes"},
	{"standard-attr-revisions", "Resource revision numbers", "This extension will display the revision number of neutron resources."},
	{"standard-attr-tag", "Tag support for resources with standard attribute", "Enables to set tag on resources with standard attribute."},
	{"standard-attr-timestamp", "Resource timestamps", "Adds created_at and updated_at fields to all Neutron resources that have Neutron standard attributes."},
	{"stateful-security-group", "Stateful security group", "Indicates if the security group is stateful or not"},
	{"subnet_allocation", "Subnet Allocation", "Enables allocation of subnets from a subnet pool"},
	{"tag-creation", "Tag support for resources during creation", "Enables to set tag on resources during creation."},
}

func init() {
	// filter-validation and fip-port-details are not implemented: keep
	// the list honest.
	extensions = slices.DeleteFunc(extensions, func(e ext) bool { return e.alias == "filter-validation" || e.alias == "fip-port-details" })
}

func extView(e ext) obj {
	return obj{"alias": e.alias, "name": e.name, "description": e.desc, "updated": "2013-01-01T10:00:00-00:00", "links": []obj{}}
}

func (a *API) extensions(w http.ResponseWriter, r *http.Request) error {
	out := make([]obj, 0, len(extensions))
	for _, e := range extensions {
		out = append(out, extView(e))
	}
	httpx.WriteJSON(w, http.StatusOK, obj{"extensions": out})
	return nil
}

func (a *API) extension(w http.ResponseWriter, r *http.Request) error {
	alias := r.PathValue("alias")
	for _, e := range extensions {
		if e.alias == alias {
			httpx.WriteJSON(w, http.StatusOK, obj{"extension": extView(e)})
			return nil
		}
	}
	return errs.NotFound("Extension with alias %s does not exist", alias)
}

func (a *API) availabilityZones(w http.ResponseWriter, r *http.Request) error {
	zones := []obj{
		{"name": network.AvailabilityZone, "resource": "network", "state": "available"},
		{"name": network.AvailabilityZone, "resource": "router", "state": "available"},
	}
	lq, err := parseList(r, defNetwork)
	if err != nil {
		return err
	}
	out := []obj{}
	for _, z := range zones {
		if matches(z, lq) {
			out = append(out, selectFields(z, r.URL.Query()["fields"]))
		}
	}
	httpx.WriteJSON(w, http.StatusOK, obj{"availability_zones": out})
	return nil
}

func (a *API) agents(w http.ResponseWriter, r *http.Request) error {
	httpx.WriteJSON(w, http.StatusOK, obj{"agents": []obj{}})
	return nil
}

func (a *API) agent(w http.ResponseWriter, r *http.Request) error {
	return errs.NotFound("Agent %s could not be found.", r.PathValue("id")).WithType("AgentNotFound")
}

func (a *API) ipAvailabilities(w http.ResponseWriter, r *http.Request) error {
	q := network.Query{Eq: map[string][]string{}}
	for k, col := range map[string]string{"network_id": "id", "network_name": "name", "project_id": "project_id", "tenant_id": "project_id"} {
		if v := r.URL.Query()[k]; len(v) > 0 {
			q.Eq[col] = append(q.Eq[col], v...)
		}
	}
	list, err := a.svc.IPAvailabilities(r.Context(), caller(r), q)
	if err != nil {
		return err
	}
	if v := r.URL.Query()["ip_version"]; len(v) > 0 {
		for i := range list {
			list[i].Subnets = slices.DeleteFunc(list[i].Subnets, func(s network.SubnetAvailability) bool {
				return !slices.Contains(v, itoa(s.IPVersion))
			})
		}
	}
	httpx.WriteJSON(w, http.StatusOK, obj{"network_ip_availabilities": list})
	return nil
}

func itoa(n int) string { return strconv.Itoa(n) }

func atoi(s string) (int, error) { return strconv.Atoi(s) }

func (a *API) ipAvailability(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	list, err := a.svc.IPAvailabilities(r.Context(), caller(r), network.Query{Eq: map[string][]string{"id": {id}}})
	if err != nil {
		return err
	}
	if len(list) == 0 {
		return errs.NotFound("Network %s could not be found.", id).WithType("NetworkNotFound")
	}
	httpx.WriteJSON(w, http.StatusOK, obj{"network_ip_availability": list[0]})
	return nil
}

// Quotas.

func quotaView(project string, limits map[string]int) obj {
	v := obj{}
	for k, l := range limits {
		v[k] = l
	}
	if project != "" {
		v["project_id"], v["tenant_id"] = project, project
	}
	return v
}

func (a *API) listQuotas(w http.ResponseWriter, r *http.Request) error {
	if err := httpx.Authorize(r, policy.Target{"project_id": ""}); err != nil {
		return err
	}
	if err := httpx.Check(r, "neutron_admin_only", policy.Target{}); err != nil {
		return err
	}
	ps, err := a.svc.QuotaProjects(r.Context())
	if err != nil {
		return err
	}
	out := []obj{}
	for _, p := range ps {
		l, err := a.svc.Quotas(r.Context(), p)
		if err != nil {
			return err
		}
		out = append(out, quotaView(p, l))
	}
	httpx.WriteJSON(w, http.StatusOK, obj{"quotas": out})
	return nil
}

func (a *API) getQuota(w http.ResponseWriter, r *http.Request) error {
	l, err := a.svc.Quotas(r.Context(), r.PathValue("project_id"))
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, obj{"quota": quotaView("", l)})
	return nil
}

func (a *API) defaultQuota(w http.ResponseWriter, r *http.Request) error {
	httpx.WriteJSON(w, http.StatusOK, obj{"quota": quotaView(r.PathValue("project_id"), a.svc.DefaultQuotaLimits())})
	return nil
}

func (a *API) quotaDetails(w http.ResponseWriter, r *http.Request) error {
	d, err := a.svc.QuotaDetails(r.Context(), r.PathValue("project_id"))
	if err != nil {
		return err
	}
	v := obj{}
	for k, x := range d {
		v[k] = x
	}
	httpx.WriteJSON(w, http.StatusOK, obj{"quota": v})
	return nil
}

func (a *API) updateQuota(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Quota map[string]any `json:"quota"`
	}
	if err := httpx.DecodeJSON(r, &body); err != nil {
		return err
	}
	if body.Quota == nil {
		return errs.BadRequest("Resource body required: 'quota'.")
	}
	limits := map[string]int{}
	for k, v := range body.Quota {
		if k == "project_id" || k == "tenant_id" || k == "force" || k == "check_limit" {
			continue
		}
		var n int
		switch x := v.(type) {
		case float64:
			n = int(x)
			if float64(n) != x {
				return errs.BadRequest("Invalid input for %s. Reason: '%v' is not an integer.", k, v)
			}
		case string:
			var err error
			if n, err = atoi(x); err != nil {
				return errs.BadRequest("Invalid input for %s. Reason: '%s' is not an integer.", k, x)
			}
		default:
			return errs.BadRequest("Invalid input for %s. Reason: '%v' is not an integer.", k, v)
		}
		limits[k] = n
	}
	l, err := a.svc.SetQuotas(r.Context(), r.PathValue("project_id"), limits)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, obj{"quota": quotaView("", l)})
	return nil
}

func (a *API) deleteQuota(w http.ResponseWriter, r *http.Request) error {
	if err := a.svc.ResetQuotas(r.Context(), r.PathValue("project_id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// Tags.

func (a *API) tagsOf(r *http.Request, d *resDef) ([]string, error) {
	res, _, err := a.loadFor(r, d, nil)
	if err != nil {
		return nil, err
	}
	return tagsOfRes(res), nil
}

func tagsOfRes(res network.Resource) []string {
	b := render(&resDef{}, res, nil)
	var out []string
	if ts, ok := b["tags"].([]any); ok {
		for _, t := range ts {
			out = append(out, t.(string))
		}
	}
	sort.Strings(out)
	if out == nil {
		out = []string{}
	}
	return out
}

func (a *API) tags(d *resDef) httpx.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		tags, err := a.tagsOf(r, d)
		if err != nil {
			return err
		}
		httpx.WriteJSON(w, http.StatusOK, obj{"tags": tags})
		return nil
	}
}

func (a *API) modify(r *http.Request, d *resDef, fn func([]string) ([]string, error)) (network.Resource, error) {
	if _, _, err := a.loadFor(r, d, nil); err != nil {
		return nil, err
	}
	return a.svc.ModifyTags(r.Context(), caller(r), d.kind, r.PathValue("id"), fn)
}

func (a *API) replaceTags(d *resDef) httpx.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		var body struct {
			Tags []string `json:"tags"`
		}
		if err := httpx.DecodeJSON(r, &body); err != nil {
			return err
		}
		if body.Tags == nil {
			return errs.BadRequest("Invalid input: 'tags' is required.")
		}
		res, err := a.modify(r, d, func([]string) ([]string, error) { return body.Tags, nil })
		if err != nil {
			return err
		}
		httpx.WriteJSON(w, http.StatusOK, obj{"tags": tagsOfRes(res)})
		return nil
	}
}

func (a *API) deleteTags(d *resDef) httpx.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if _, err := a.modify(r, d, func([]string) ([]string, error) { return nil, nil }); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}

func tagNotFound(tag string) error {
	return errs.NotFound("Tag %s could not be found.", tag).WithType("TagNotFound")
}

func (a *API) hasTag(d *resDef) httpx.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		tags, err := a.tagsOf(r, d)
		if err != nil {
			return err
		}
		if !slices.Contains(tags, r.PathValue("tag")) {
			return tagNotFound(r.PathValue("tag"))
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}

func (a *API) addTag(d *resDef) httpx.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		tag := r.PathValue("tag")
		if _, err := a.modify(r, d, func(ts []string) ([]string, error) { return append(ts, tag), nil }); err != nil {
			return err
		}
		w.WriteHeader(http.StatusCreated)
		return nil
	}
}

func (a *API) removeTag(d *resDef) httpx.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		tag := r.PathValue("tag")
		_, err := a.modify(r, d, func(ts []string) ([]string, error) {
			if !slices.Contains(ts, tag) {
				return nil, tagNotFound(tag)
			}
			return slices.DeleteFunc(ts, func(x string) bool { return x == tag }), nil
		})
		if err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}
