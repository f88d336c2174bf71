package computeapi

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/gureum/gureum/internal/compute"
	"github.com/gureum/gureum/internal/platform/errs"
	"github.com/gureum/gureum/internal/platform/httpx"
)

func (a *API) listAZ(c *call) error {
	zones, err := a.svc.AvailabilityZones(c.r.Context())
	if err != nil {
		return err
	}
	out := []obj{}
	for _, name := range sortedZoneNames(zones) {
		avail := false
		for _, n := range zones[name] {
			avail = avail || n.Usable()
		}
		out = append(out, obj{"zoneName": name, "zoneState": obj{"available": avail}, "hosts": nil})
	}
	return c.json(http.StatusOK, obj{"availabilityZoneInfo": out})
}

func (a *API) listAZDetail(c *call) error {
	zones, err := a.svc.AvailabilityZones(c.r.Context())
	if err != nil {
		return err
	}
	out := []obj{}
	for _, name := range sortedZoneNames(zones) {
		hosts := obj{}
		avail := false
		for _, n := range zones[name] {
			avail = avail || n.Usable()
			hosts[n.Hostname] = obj{"nova-compute": obj{"available": n.Up && !n.ForcedDown, "active": !n.Disabled, "updated_at": isoMicro(n.LastSeen)}}
		}
		out = append(out, obj{"zoneName": name, "zoneState": obj{"available": avail}, "hosts": hosts})
	}
	return c.json(http.StatusOK, obj{"availabilityZoneInfo": out})
}

func sortedZoneNames(z map[string][]*compute.Node) []string {
	m := map[string]string{}
	for k := range z {
		m[k] = k
	}
	return sortedKeys(m)
}

// targetProject is the project a quota/limits/usage request is about:
// the caller's, or another for admins.
func (c *call) targetProject(requested string) (string, error) {
	if requested == "" {
		requested = c.c.ProjectID
	}
	if err := c.authz(requested); err != nil {
		return "", err
	}
	return requested, nil
}

func (a *API) limits(c *call) error {
	project, err := c.targetProject(c.r.URL.Query().Get("tenant_id"))
	if err != nil {
		return err
	}
	q, err := a.svc.Quotas(c.r.Context(), project)
	if err != nil {
		return err
	}
	used, err := a.svc.Usage(c.r.Context(), project, c.c.UserID)
	if err != nil {
		return err
	}
	abs := obj{
		"maxTotalInstances": q[compute.QInstances], "maxTotalCores": q[compute.QCores], "maxTotalRAMSize": q[compute.QRAM],
		"maxServerMeta": q[compute.QMetadataItems], "maxImageMeta": q[compute.QMetadataItems], "maxPersonality": 5, "maxPersonalitySize": 10240,
		"maxTotalKeypairs": q[compute.QKeyPairs], "maxServerGroups": q[compute.QServerGroups], "maxServerGroupMembers": q[compute.QServerGroupMembers],
		"totalRAMUsed": used[compute.QRAM], "totalCoresUsed": used[compute.QCores], "totalInstancesUsed": used[compute.QInstances],
		"totalServerGroupsUsed": used[compute.QServerGroups],
	}
	if !c.v.AtLeast(2, 36) {
		abs["maxTotalFloatingIps"], abs["maxSecurityGroups"], abs["maxSecurityGroupRules"] = -1, -1, -1
		abs["totalFloatingIpsUsed"], abs["totalSecurityGroupsUsed"] = 0, 0
	}
	return c.json(http.StatusOK, obj{"limits": obj{"rate": []obj{}, "absolute": abs}})
}

func (c *call) quotaView(project string, q map[string]int, used map[string]int, detail bool) obj {
	o := obj{"id": project}
	val := func(r string, limit int) any {
		if detail {
			return obj{"limit": limit, "in_use": used[r], "reserved": 0}
		}
		return limit
	}
	for _, r := range compute.QuotaResources {
		o[r] = val(r, q[r])
	}
	o["injected_files"], o["injected_file_content_bytes"], o["injected_file_path_bytes"] = val("injected_files", 5), val("injected_file_content_bytes", 10240), val("injected_file_path_bytes", 255)
	if !c.v.AtLeast(2, 36) {
		for _, r := range []string{"fixed_ips", "floating_ips", "security_groups", "security_group_rules"} {
			o[r] = val(r, -1)
		}
	}
	return o
}

func (a *API) getQuotasCommon(c *call, detail bool) error {
	project, err := c.targetProject(c.r.PathValue("project_id"))
	if err != nil {
		return err
	}
	q, err := a.svc.Quotas(c.r.Context(), project)
	if err != nil {
		return err
	}
	var used map[string]int
	if detail {
		if used, err = a.svc.Usage(c.r.Context(), project, c.r.URL.Query().Get("user_id")); err != nil {
			return err
		}
	}
	return c.json(http.StatusOK, obj{"quota_set": c.quotaView(project, q, used, detail)})
}

func (a *API) getQuotas(c *call) error       { return a.getQuotasCommon(c, false) }
func (a *API) getQuotasDetail(c *call) error { return a.getQuotasCommon(c, true) }

func (a *API) getQuotaDefaults(c *call) error {
	project, err := c.targetProject(c.r.PathValue("project_id"))
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, obj{"quota_set": c.quotaView(project, a.svc.DefaultQuotas(), nil, false)})
}

func (a *API) getQuotaClass(c *call) error {
	v := c.quotaView(c.r.PathValue("id"), a.svc.DefaultQuotas(), nil, false)
	return c.json(http.StatusOK, obj{"quota_class_set": v})
}

func (a *API) setQuotas(c *call) error {
	var body struct {
		QuotaSet map[string]any `json:"quota_set"`
	}
	if err := httpx.DecodeJSON(c.r, &body); err != nil {
		return err
	}
	if body.QuotaSet == nil {
		return errs.BadRequest("Invalid input for field/attribute quota_set: 'quota_set' is a required property")
	}
	project := c.r.PathValue("project_id")
	force := false
	q := map[string]int{}
	for k, v := range body.QuotaSet {
		if k == "force" {
			b, ok := v.(bool)
			if !ok {
				return errs.BadRequest("Invalid input for field/attribute force.")
			}
			force = b
			continue
		}
		if k == "id" {
			continue
		}
		var n int
		switch x := v.(type) {
		case float64:
			if x != float64(int(x)) {
				return errs.BadRequest("Invalid input for field/attribute %s. Value: %v. is not an integer", k, v)
			}
			n = int(x)
		case string:
			if _, err := fmt.Sscanf(x, "%d", &n); err != nil {
				return errs.BadRequest("Invalid input for field/attribute %s. Value: %v. is not an integer", k, v)
			}
		default:
			return errs.BadRequest("Invalid input for field/attribute %s. Value: %v. is not an integer", k, v)
		}
		legacy := map[string]bool{"injected_files": true, "injected_file_content_bytes": true, "injected_file_path_bytes": true}
		net := map[string]bool{"fixed_ips": true, "floating_ips": true, "security_groups": true, "security_group_rules": true}
		if legacy[k] || (net[k] && !c.v.AtLeast(2, 36)) {
			continue // accepted and ignored: Gureum does not meter them here
		}
		q[k] = n
	}
	out, err := a.svc.SetQuotas(c.r.Context(), project, q, force)
	if err != nil {
		return err
	}
	v := c.quotaView(project, out, nil, false)
	delete(v, "id")
	return c.json(http.StatusOK, obj{"quota_set": v})
}

func (a *API) deleteQuotas(c *call) error {
	if err := a.svc.ResetQuotas(c.r.Context(), c.r.PathValue("project_id")); err != nil {
		return err
	}
	return c.noContent(http.StatusAccepted)
}

// ---- server groups

func (a *API) listGroups(c *call) error {
	project := c.c.ProjectID
	if err := c.authz(project); err != nil {
		return err
	}
	if c.r.URL.Query().Get("all_projects") != "" && c.c.Admin {
		project = ""
	}
	list, err := a.svc.Store().ListServerGroups(c.r.Context(), project)
	if err != nil {
		return err
	}
	offset, err := httpx.QueryInt(c.r, "offset", 0)
	if err != nil {
		return err
	}
	limit, err := httpx.QueryInt(c.r, "limit", 0)
	if err != nil {
		return err
	}
	if offset < len(list) {
		list = list[offset:]
	} else {
		list = nil
	}
	if limit > 0 && len(list) > limit {
		list = list[:limit]
	}
	out := make([]obj, 0, len(list))
	for _, g := range list {
		out = append(out, c.groupView(g))
	}
	return c.json(http.StatusOK, obj{"server_groups": out})
}

func (a *API) createGroup(c *call) error {
	if err := c.authz(c.c.ProjectID); err != nil {
		return err
	}
	var body struct {
		Group *struct {
			Name     string   `json:"name"`
			Policies []string `json:"policies"`
		} `json:"server_group"`
	}
	if err := httpx.DecodeJSON(c.r, &body); err != nil {
		return err
	}
	if body.Group == nil {
		return errs.BadRequest("Invalid input for field/attribute server_group: 'server_group' is a required property")
	}
	g, err := a.svc.CreateServerGroup(c.r.Context(), c.c, body.Group.Name, body.Group.Policies, c.v.AtLeast(2, 15))
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, obj{"server_group": c.groupView(g)})
}

func (a *API) getGroup(c *call) error {
	g, err := a.svc.GetServerGroup(c.r.Context(), c.c, c.r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := c.authz(g.ProjectID); err != nil {
		return err
	}
	return c.json(http.StatusOK, obj{"server_group": c.groupView(g)})
}

func (a *API) deleteGroup(c *call) error {
	g, err := a.svc.GetServerGroup(c.r.Context(), c.c, c.r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := c.authz(g.ProjectID); err != nil {
		return err
	}
	if err := a.svc.DeleteServerGroup(c.r.Context(), c.c, g.ID); err != nil {
		return err
	}
	return c.noContent(http.StatusNoContent)
}

// ---- hypervisors and services

func (a *API) nodesPaged(c *call) ([]*compute.Node, error) {
	nodes, err := a.svc.Nodes(c.r.Context())
	if err != nil {
		return nil, err
	}
	if !c.v.AtLeast(2, 33) {
		return nodes, nil
	}
	if m := c.r.URL.Query().Get("marker"); m != "" {
		i := 0
		for i < len(nodes) && fmt.Sprint(nodes[i].Seq) != m {
			i++
		}
		if i == len(nodes) {
			return nil, errs.BadRequest("marker [%s] not found", m)
		}
		nodes = nodes[i+1:]
	}
	limit, err := httpx.QueryInt(c.r, "limit", 0)
	if err != nil {
		return nil, err
	}
	if limit > 0 && len(nodes) > limit {
		nodes = nodes[:limit]
	}
	return nodes, nil
}

func (a *API) runningVMs(c *call, n *compute.Node) int {
	list, err := a.svc.Store().ListServers(c.r.Context(), compute.ServerFilter{NodeID: n.ID})
	if err != nil {
		return 0
	}
	return len(list)
}

func (a *API) listHypervisorsCommon(c *call, detail bool) error {
	nodes, err := a.nodesPaged(c)
	if err != nil {
		return err
	}
	out := make([]obj, 0, len(nodes))
	for _, n := range nodes {
		v := c.hypervisorView(n, detail)
		if detail {
			v["running_vms"] = a.runningVMs(c, n)
		}
		out = append(out, v)
	}
	body := obj{"hypervisors": out}
	if limit, _ := httpx.QueryInt(c.r, "limit", 0); c.v.AtLeast(2, 33) && limit > 0 && len(nodes) == limit {
		body["hypervisors_links"] = []obj{{"rel": "next", "href": httpx.NextLink(c.r, fmt.Sprint(nodes[len(nodes)-1].Seq))}}
	}
	return c.json(http.StatusOK, body)
}

func (a *API) listHypervisors(c *call) error       { return a.listHypervisorsCommon(c, false) }
func (a *API) listHypervisorsDetail(c *call) error { return a.listHypervisorsCommon(c, true) }

func (a *API) getHypervisor(c *call) error {
	n, err := a.svc.Node(c.r.Context(), c.r.PathValue("id"))
	if err != nil {
		return errs.NotFound("Hypervisor %s could not be found.", c.r.PathValue("id"))
	}
	v := c.hypervisorView(n, true)
	v["running_vms"] = a.runningVMs(c, n)
	return c.json(http.StatusOK, obj{"hypervisor": v})
}

func (a *API) hypervisorUptime(c *call) error {
	n, err := a.svc.Node(c.r.Context(), c.r.PathValue("id"))
	if err != nil {
		return errs.NotFound("Hypervisor %s could not be found.", c.r.PathValue("id"))
	}
	v := c.hypervisorView(n, false)
	up := time.Since(n.CreatedAt).Truncate(time.Second)
	v["uptime"] = fmt.Sprintf(" %s up %s", time.Now().UTC().Format("15:04:05"), up)
	return c.json(http.StatusOK, obj{"hypervisor": v})
}

func (a *API) hypervisorServers(c *call) error {
	pattern := c.r.PathValue("id")
	nodes, err := a.svc.Nodes(c.r.Context())
	if err != nil {
		return err
	}
	out := []obj{}
	for _, n := range nodes {
		if !strings.Contains(n.Hostname, pattern) {
			continue
		}
		v := c.hypervisorView(n, false)
		list, err := a.svc.Store().ListServers(c.r.Context(), compute.ServerFilter{NodeID: n.ID})
		if err != nil {
			return err
		}
		if len(list) > 0 {
			svs := []obj{}
			for _, sv := range list {
				svs = append(svs, obj{"uuid": sv.ID, "name": "instance-" + sv.ID[:8]})
			}
			v["servers"] = svs
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		return errs.NotFound("No hypervisor matching '%s' could be found.", pattern)
	}
	return c.json(http.StatusOK, obj{"hypervisors": out})
}

func (a *API) hypervisorStats(c *call) error {
	nodes, err := a.svc.Nodes(c.r.Context())
	if err != nil {
		return err
	}
	st := map[string]int{}
	for _, n := range nodes {
		st["count"]++
		st["vcpus"] += n.VCPUs
		st["memory_mb"] += n.MemoryMB
		st["local_gb"] += n.DiskGB
		st["vcpus_used"] += n.VCPUsUsed
		st["memory_mb_used"] += n.MemoryMBUsed
		st["local_gb_used"] += n.DiskGBUsed
		st["free_ram_mb"] += n.MemoryMB - n.MemoryMBUsed
		st["free_disk_gb"] += n.DiskGB - n.DiskGBUsed
		st["disk_available_least"] += n.DiskGB - n.DiskGBUsed
		st["running_vms"] += a.runningVMs(c, n)
	}
	st["current_workload"] += 0
	return c.json(http.StatusOK, obj{"hypervisor_statistics": st})
}

func (a *API) listServices(c *call) error {
	nodes, err := a.svc.Nodes(c.r.Context())
	if err != nil {
		return err
	}
	q := c.r.URL.Query()
	out := []obj{}
	for _, n := range nodes {
		if h := q.Get("host"); h != "" && h != n.Hostname {
			continue
		}
		if b := q.Get("binary"); b != "" && b != "nova-compute" {
			continue
		}
		out = append(out, c.serviceView(n))
	}
	return c.json(http.StatusOK, obj{"services": out})
}

// updateServiceLegacy is PUT /os-services/{enable,disable,disable-log-reason,force-down}
// (the form before 2.53).
func (a *API) updateServiceLegacy(c *call) error {
	action := c.r.PathValue("action")
	var body struct {
		Host           string `json:"host"`
		Binary         string `json:"binary"`
		DisabledReason string `json:"disabled_reason"`
		ForcedDown     *bool  `json:"forced_down"`
	}
	if err := httpx.DecodeJSON(c.r, &body); err != nil {
		return err
	}
	if body.Host == "" || body.Binary == "" {
		return errs.BadRequest("Invalid input: 'host' and 'binary' are required properties")
	}
	if body.Binary != "nova-compute" {
		return errs.NotFound("Service %s on host %s not found.", body.Binary, body.Host)
	}
	nodes, err := a.svc.Nodes(c.r.Context())
	if err != nil {
		return err
	}
	var n *compute.Node
	for _, x := range nodes {
		if x.Hostname == body.Host {
			n = x
		}
	}
	if n == nil {
		return errs.NotFound("Compute host %s could not be found.", body.Host)
	}
	resp := obj{"host": body.Host, "binary": body.Binary}
	switch action {
	case "enable":
		if _, err := a.svc.SetService(c.r.Context(), n.ID, false, "", nil); err != nil {
			return err
		}
		resp["status"] = "enabled"
	case "disable":
		if _, err := a.svc.SetService(c.r.Context(), n.ID, true, "", nil); err != nil {
			return err
		}
		resp["status"] = "disabled"
	case "disable-log-reason":
		if body.DisabledReason == "" {
			return errs.BadRequest("Missing disabled reason field")
		}
		if _, err := a.svc.SetService(c.r.Context(), n.ID, true, body.DisabledReason, nil); err != nil {
			return err
		}
		resp["status"], resp["disabled_reason"] = "disabled", body.DisabledReason
	case "force-down":
		if !c.v.AtLeast(2, 11) {
			return errs.NotFound("Unknown action")
		}
		if body.ForcedDown == nil {
			return errs.BadRequest("Invalid input: 'forced_down' is a required property")
		}
		if _, err := a.svc.SetService(c.r.Context(), n.ID, n.Disabled, n.DisabledReason, body.ForcedDown); err != nil {
			return err
		}
		resp["forced_down"] = *body.ForcedDown
	default:
		return errs.NotFound("Unknown action")
	}
	return c.json(http.StatusOK, obj{"service": resp})
}

func (a *API) deleteService(c *call) error {
	return errs.Conflict("Compute services are removed by stopping their agent; Gureum does not delete compute service records.")
}

// ---- simple tenant usage

var usageTime = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z?$`)

func parseUsageTime(s string, def time.Time) (time.Time, error) {
	if s == "" {
		return def, nil
	}
	if !usageTime.MatchString(s) {
		return time.Time{}, errs.BadRequest("Invalid timestamp for date %s", s)
	}
	s = strings.TrimSuffix(s, "Z")
	for _, layout := range []string{"2006-01-02T15:04:05.999999", "2006-01-02T15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, errs.BadRequest("Invalid timestamp for date %s", s)
}

func (a *API) usageWindow(c *call) (time.Time, time.Time, error) {
	now := time.Now().UTC()
	start, err := parseUsageTime(c.r.URL.Query().Get("start"), now.Add(-24*time.Hour))
	if err != nil {
		return start, now, err
	}
	end, err := parseUsageTime(c.r.URL.Query().Get("end"), now)
	return start, end, err
}

func (c *call) usageView(u *compute.TenantUsage, detailed bool) obj {
	o := obj{"tenant_id": u.ProjectID, "total_local_gb_usage": u.LocalGBH, "total_vcpus_usage": u.VCPUHours, "total_memory_mb_usage": u.MemoryMBH,
		"total_hours": u.TotalHours, "start": isoMicro(u.Start), "stop": isoMicro(u.Stop)}
	if detailed {
		svs := []obj{}
		for _, s := range u.Servers {
			svs = append(svs, obj{"instance_id": s.ServerID, "name": s.Name, "hours": s.Hours, "memory_mb": s.MemoryMB, "local_gb": s.LocalGB,
				"vcpus": s.VCPUs, "tenant_id": s.ProjectID, "flavor": s.FlavorName, "started_at": isoMicro(s.StartedAt), "ended_at": isoMicro(s.EndedAt),
				"state": s.State, "uptime": s.Uptime})
		}
		o["server_usages"] = svs
	}
	return o
}

func (a *API) listUsage(c *call) error {
	if err := c.authz(c.c.ProjectID); err != nil {
		return err
	}
	start, end, err := a.usageWindow(c)
	if err != nil {
		return err
	}
	list, err := a.svc.TenantUsages(c.r.Context(), "", start, end)
	if err != nil {
		return err
	}
	detailed := c.r.URL.Query().Get("detailed") == "1"
	out := []obj{}
	for _, u := range list {
		out = append(out, c.usageView(u, detailed))
	}
	return c.json(http.StatusOK, obj{"tenant_usages": out})
}

func (a *API) getUsage(c *call) error {
	project, err := c.targetProject(c.r.PathValue("project_id"))
	if err != nil {
		return err
	}
	start, end, err := a.usageWindow(c)
	if err != nil {
		return err
	}
	list, err := a.svc.TenantUsages(c.r.Context(), project, start, end)
	if err != nil {
		return err
	}
	if len(list) == 0 {
		return c.json(http.StatusOK, obj{"tenant_usage": obj{}})
	}
	return c.json(http.StatusOK, obj{"tenant_usage": c.usageView(list[0], true)})
}
