package computeapi

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gureum/gureum/internal/compute"
	"github.com/gureum/gureum/internal/platform/errs"
	"github.com/gureum/gureum/internal/platform/httpx"
)

// server loads the server named in the path (404 across projects) and
// authorizes the route against its project.
func (a *API) server(c *call) (*compute.Server, error) {
	sv, err := a.svc.GetServer(c.r.Context(), c.c, c.r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	return sv, c.authz(sv.ProjectID)
}

func (a *API) hostUp(c *call) map[string]bool {
	out := map[string]bool{}
	if !c.c.Admin || !c.v.AtLeast(2, 16) {
		return out
	}
	nodes, err := a.svc.Nodes(c.r.Context())
	if err != nil {
		return out
	}
	for _, n := range nodes {
		out[n.ID] = n.Up && !n.ForcedDown
	}
	return out
}

func parseTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999", "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, errs.BadRequest("Invalid input for field/attribute changes-since. Value: %s. '%s' is not a 'date-time'", s, s)
}

func splitTags(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

func (a *API) serverFilter(c *call) (compute.ServerFilter, string, error) {
	q := c.r.URL.Query()
	f := compute.ServerFilter{ProjectID: c.c.ProjectID, SortKey: q.Get("sort_key"), SortDir: q.Get("sort_dir")}
	if err := c.authz(c.c.ProjectID); err != nil {
		return f, "", err
	}
	if v := q.Get("all_tenants"); v != "" && strings.ToLower(v) != "false" && v != "0" {
		if !c.allowed("compute:servers:all_tenants", c.c.ProjectID) {
			return f, "", errs.Forbidden("Policy doesn't allow os_compute_api:servers:index:get_all_tenants to be performed.")
		}
		f.ProjectID = ""
	}
	if c.c.Admin {
		if p := firstNonEmpty(q.Get("project_id"), q.Get("tenant_id")); p != "" {
			f.ProjectID = p
		}
		f.Host = q.Get("host")
		if u := q.Get("user_id"); u != "" {
			f.UserID = u
		}
	}
	if s := q.Get("status"); s != "" {
		s = strings.ToUpper(s)
		if _, ok := compute.StatusToStates(s); !ok {
			if c.v.AtLeast(2, 38) {
				return f, "", errs.BadRequest("Invalid status value")
			}
			f.VMState = "-none-"
		} else {
			f.Status = s
		}
	}
	if v := q.Get("vm_state"); v != "" {
		f.VMState = v
	}
	if v := q.Get("image"); v != "" {
		f.ImageRef = lastSeg(v)
	}
	if v := q.Get("flavor"); v != "" {
		f.FlavorID = lastSeg(v)
	}
	if v := q.Get("changes-since"); v != "" {
		t, err := parseTime(v)
		if err != nil {
			return f, "", err
		}
		f.ChangesSince = t
	}
	// ip is open to everyone; ip6 to non-admins from 2.5 (nova's rules).
	f.IP = q.Get("ip")
	if c.c.Admin || c.v.AtLeast(2, 5) {
		f.IP6 = q.Get("ip6")
	}
	if v := q.Get("uuid"); v != "" && c.c.Admin {
		f.IDs = []string{v}
	}
	if c.v.AtLeast(2, 26) {
		f.Tags, f.TagsAny, f.NotTags, f.NotTagsAny = splitTags(q.Get("tags")), splitTags(q.Get("tags-any")), splitTags(q.Get("not-tags")), splitTags(q.Get("not-tags-any"))
	}
	limit, err := httpx.QueryInt(c.r, "limit", 0)
	if err != nil {
		return f, "", err
	}
	f.Limit = min(limit, 1000)
	f.Marker = q.Get("marker")
	name := firstNonEmpty(q.Get("name"), q.Get("display_name"))
	return f, name, nil
}

func firstNonEmpty(v ...string) string {
	for _, s := range v {
		if s != "" {
			return s
		}
	}
	return ""
}

func lastSeg(ref string) string {
	ref = strings.TrimRight(ref, "/")
	if i := strings.LastIndex(ref, "/"); i >= 0 {
		return ref[i+1:]
	}
	return ref
}

func (a *API) listServersCommon(c *call, detail bool) error {
	f, name, err := a.serverFilter(c)
	if err != nil {
		return err
	}
	list, err := a.svc.ListServers(c.r.Context(), f, name)
	if err != nil {
		return err
	}
	out := make([]any, 0, len(list))
	var up map[string]bool
	if detail {
		up = a.hostUp(c)
	}
	for _, sv := range list {
		if detail {
			out = append(out, c.serverView(sv, c.c.Admin, up))
		} else {
			out = append(out, obj{"id": sv.ID, "name": sv.Name, "links": links(c.base(), "servers", sv.ID)})
		}
	}
	body := obj{"servers": out}
	if f.Limit > 0 && len(list) == f.Limit {
		body["servers_links"] = []obj{{"rel": "next", "href": httpx.NextLink(c.r, list[len(list)-1].ID)}}
	}
	return c.json(http.StatusOK, body)
}

func (a *API) listServers(c *call) error       { return a.listServersCommon(c, false) }
func (a *API) listServersDetail(c *call) error { return a.listServersCommon(c, true) }

func (a *API) getServer(c *call) error {
	sv, err := a.server(c)
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, obj{"server": c.serverView(sv, c.c.Admin, a.hostUp(c))})
}

type createBody struct {
	Server *struct {
		Name           string            `json:"name"`
		ImageRef       *string           `json:"imageRef"`
		FlavorRef      json.RawMessage   `json:"flavorRef"`
		Networks       json.RawMessage   `json:"networks"`
		KeyName        string            `json:"key_name"`
		UserData       *string           `json:"user_data"`
		Metadata       map[string]string `json:"metadata"`
		SecurityGroups []struct {
			Name string `json:"name"`
		} `json:"security_groups"`
		AvailabilityZone    string          `json:"availability_zone"`
		ConfigDrive         boolish         `json:"config_drive"`
		MinCount            intOrString     `json:"min_count"`
		MaxCount            intOrString     `json:"max_count"`
		AdminPass           string          `json:"adminPass"`
		AccessIPv4          string          `json:"accessIPv4"`
		AccessIPv6          string          `json:"accessIPv6"`
		Description         *string         `json:"description"`
		DiskConfig          string          `json:"OS-DCF:diskConfig"`
		ReturnReservationID boolish         `json:"return_reservation_id"`
		BlockDeviceMapping  json.RawMessage `json:"block_device_mapping_v2"`
		BlockDeviceMapping1 json.RawMessage `json:"block_device_mapping"`
		Personality         json.RawMessage `json:"personality"`
	} `json:"server"`
	Hints    map[string]any `json:"os:scheduler_hints"`
	HintsAlt map[string]any `json:"OS-SCH-HNT:scheduler_hints"`
}

func (a *API) createServer(c *call) error {
	if err := c.authz(c.c.ProjectID); err != nil {
		return err
	}
	var body createBody
	if err := httpx.DecodeJSON(c.r, &body); err != nil {
		return err
	}
	s := body.Server
	if s == nil {
		return errs.BadRequest("Invalid input for field/attribute server: 'server' is a required property")
	}
	if s.Name == "" {
		return errs.BadRequest("Invalid input for field/attribute server: 'name' is a required property")
	}
	if len(s.BlockDeviceMapping) > 0 || len(s.BlockDeviceMapping1) > 0 {
		return errs.BadRequest("Block device mappings are not supported: Gureum boots servers from images.")
	}
	if len(s.Personality) > 0 && string(s.Personality) != "null" && string(s.Personality) != "[]" {
		return errs.BadRequest("Personality files are not supported; use user_data or the config drive.")
	}
	if s.Description != nil && !c.v.AtLeast(2, 19) {
		return errs.BadRequest("Additional properties are not allowed ('description' was unexpected)")
	}
	if s.Description != nil && len(*s.Description) > 255 {
		return errs.BadRequest("Invalid input for field/attribute description.")
	}
	if s.DiskConfig != "" && s.DiskConfig != "AUTO" && s.DiskConfig != "MANUAL" {
		return errs.BadRequest("Invalid input for field/attribute OS-DCF:diskConfig.")
	}
	if s.ImageRef == nil || *s.ImageRef == "" {
		return errs.BadRequest("Invalid input for field/attribute imageRef: an image is required (booting from volume is not supported).")
	}
	var flavorRef string
	if err := json.Unmarshal(s.FlavorRef, &flavorRef); err != nil {
		var n json.Number
		if err := json.Unmarshal(s.FlavorRef, &n); err != nil || len(s.FlavorRef) == 0 {
			return errs.BadRequest("Invalid input for field/attribute flavorRef: 'flavorRef' is a required property")
		}
		flavorRef = n.String()
	}
	req := compute.CreateRequest{Name: s.Name, Description: s.Description, ImageRef: *s.ImageRef, FlavorRef: flavorRef, KeyName: s.KeyName,
		Metadata: s.Metadata, AZ: s.AvailabilityZone, ConfigDrive: s.ConfigDrive.b, AdminPass: s.AdminPass}
	if s.UserData != nil {
		req.UserData = *s.UserData
	}
	if s.MinCount.set {
		req.MinCount = s.MinCount.n
		if req.MinCount < 1 {
			return errs.BadRequest("Invalid input for field/attribute min_count. Value: %d. must be >= 1", req.MinCount)
		}
	}
	if s.MaxCount.set {
		req.MaxCount = s.MaxCount.n
		if req.MaxCount < 1 {
			return errs.BadRequest("Invalid input for field/attribute max_count. Value: %d. must be >= 1", req.MaxCount)
		}
	}
	for _, g := range s.SecurityGroups {
		req.SecurityGroups = append(req.SecurityGroups, g.Name)
	}
	if err := c.networks(s.Networks, &req); err != nil {
		return err
	}
	hints := body.Hints
	if hints == nil {
		hints = body.HintsAlt
	}
	if g, ok := hints["group"]; ok {
		gs, ok := g.(string)
		if !ok {
			return errs.BadRequest("Invalid input for field/attribute group.")
		}
		req.GroupID = gs
	}
	if req.AZ != "" && strings.Contains(req.AZ, ":") && !c.allowed("compute:servers:forced_host", c.c.ProjectID) {
		return errs.Forbidden("Policy doesn't allow os_compute_api:servers:create:forced_host to be performed.")
	}
	res, err := a.svc.CreateServers(c.r.Context(), c.c, req)
	if err != nil {
		return err
	}
	if s.ReturnReservationID.b {
		return c.json(http.StatusAccepted, obj{"reservation_id": res.ReservationID})
	}
	sv := res.Servers[0]
	sgs := []obj{}
	for _, g := range sv.SecurityGroups {
		sgs = append(sgs, obj{"name": g})
	}
	c.w.Header().Set("Location", c.base()+"/v2.1/servers/"+sv.ID)
	return c.json(http.StatusAccepted, obj{"server": obj{"id": sv.ID, "links": links(c.base(), "servers", sv.ID), "OS-DCF:diskConfig": firstNonEmpty(s.DiskConfig, "MANUAL"),
		"security_groups": sgs, "adminPass": res.AdminPass}})
}

// networks parses the networks field: a list of {uuid, port, fixed_ip,
// tag (2.32)} or, from 2.37, "auto" / "none" (then required).
func (c *call) networks(raw json.RawMessage, req *compute.CreateRequest) error {
	if len(raw) == 0 || string(raw) == "null" {
		if c.v.AtLeast(2, 37) {
			return errs.BadRequest("Invalid input for field/attribute server: 'networks' is a required property")
		}
		return nil
	}
	var mode string
	if err := json.Unmarshal(raw, &mode); err == nil {
		if !c.v.AtLeast(2, 37) || (mode != "auto" && mode != "none") {
			return errs.BadRequest("Invalid input for field/attribute networks. Value: %s. is not of type 'array'", mode)
		}
		req.NetworksMode = mode
		return nil
	}
	var list []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		return errs.BadRequest("Invalid input for field/attribute networks: expected a list of objects.")
	}
	for _, m := range list {
		var n compute.NetworkRequest
		for k, v := range m {
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return errs.BadRequest("Invalid input for field/attribute %s: expected a string.", k)
			}
			switch k {
			case "uuid":
				n.UUID = s
			case "port":
				n.Port = s
			case "fixed_ip":
				n.FixedIP = s
			case "tag":
				if !c.v.AtLeast(2, 32) {
					return errs.BadRequest("Additional properties are not allowed ('tag' was unexpected)")
				}
				n.Tag = s
			default:
				return errs.BadRequest("Additional properties are not allowed ('%s' was unexpected)", k)
			}
		}
		if n.UUID == "" && n.Port == "" {
			return errs.BadRequest("Bad networks format: network uuid is not in proper format ()")
		}
		req.Networks = append(req.Networks, n)
	}
	return nil
}

func (a *API) updateServer(c *call) error {
	sv, err := a.server(c)
	if err != nil {
		return err
	}
	var body struct {
		Server *struct {
			Name        *string         `json:"name"`
			Description json.RawMessage `json:"description"`
			AccessIPv4  *string         `json:"accessIPv4"`
			AccessIPv6  *string         `json:"accessIPv6"`
			DiskConfig  *string         `json:"OS-DCF:diskConfig"`
		} `json:"server"`
	}
	if err := httpx.DecodeJSON(c.r, &body); err != nil {
		return err
	}
	if body.Server == nil {
		return errs.BadRequest("Invalid input for field/attribute server: 'server' is a required property")
	}
	var desc **string
	if len(body.Server.Description) > 0 {
		if !c.v.AtLeast(2, 19) {
			return errs.BadRequest("Additional properties are not allowed ('description' was unexpected)")
		}
		var d *string
		if err := json.Unmarshal(body.Server.Description, &d); err != nil || (d != nil && len(*d) > 255) {
			return errs.BadRequest("Invalid input for field/attribute description.")
		}
		desc = &d
	}
	sv, err = a.svc.UpdateServer(c.r.Context(), c.c, sv.ID, body.Server.Name, desc)
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, obj{"server": c.serverView(sv, c.c.Admin, a.hostUp(c))})
}

func (a *API) deleteServer(c *call) error {
	sv, err := a.server(c)
	if err != nil {
		return err
	}
	if err := a.svc.DeleteServer(c.r.Context(), c.c, sv.ID, false); err != nil {
		return err
	}
	return c.noContent(http.StatusNoContent)
}

func (a *API) serverAction(c *call) error {
	sv, err := a.server(c)
	if err != nil {
		return err
	}
	var body map[string]json.RawMessage
	if err := httpx.DecodeJSON(c.r, &body); err != nil {
		return err
	}
	if len(body) != 1 {
		return errs.BadRequest("Exactly one action is required in the request body.")
	}
	ctx := c.r.Context()
	for name, raw := range body {
		decode := func(v any) error {
			if len(raw) == 0 || string(raw) == "null" {
				return errs.BadRequest("Invalid input for action %s: a body is required.", name)
			}
			dec := json.NewDecoder(strings.NewReader(string(raw)))
			dec.DisallowUnknownFields()
			if err := dec.Decode(v); err != nil {
				return errs.BadRequest("Invalid input for action %s: %s", name, err.Error())
			}
			return nil
		}
		switch name {
		case "os-start", "os-stop", "pause", "unpause", "suspend", "resume":
			action := map[string]string{"os-start": "start", "os-stop": "stop"}[name]
			if action == "" {
				action = name
			}
			if err := a.svc.Power(ctx, c.c, sv.ID, action, false); err != nil {
				return err
			}
			return c.noContent(http.StatusAccepted)
		case "trigger_crash_dump":
			if !c.v.AtLeast(2, 17) {
				return errs.BadRequest("There is no such action: %s", name)
			}
			if err := a.svc.Power(ctx, c.c, sv.ID, "crashdump", false); err != nil {
				return err
			}
			return c.noContent(http.StatusAccepted)
		case "reboot":
			var r struct {
				Type string `json:"type"`
			}
			if err := decode(&r); err != nil {
				return err
			}
			t := strings.ToUpper(r.Type)
			if t != "SOFT" && t != "HARD" {
				return errs.BadRequest("Invalid input for field/attribute type. Value: %s. '%s' is not one of ['HARD', 'Hard', 'SOFT', 'Soft']", r.Type, r.Type)
			}
			if err := a.svc.Power(ctx, c.c, sv.ID, "reboot", t == "HARD"); err != nil {
				return err
			}
			return c.noContent(http.StatusAccepted)
		case "lock", "unlock":
			if err := a.svc.Lock(ctx, c.c, sv.ID, name == "lock", ""); err != nil {
				return err
			}
			return c.noContent(http.StatusAccepted)
		case "forceDelete":
			if err := a.svc.DeleteServer(ctx, c.c, sv.ID, true); err != nil {
				return err
			}
			return c.noContent(http.StatusAccepted)
		case "rebuild":
			var r struct {
				ImageRef          string            `json:"imageRef"`
				Name              *string           `json:"name"`
				Metadata          map[string]string `json:"metadata"`
				AdminPass         string            `json:"adminPass"`
				AccessIPv4        string            `json:"accessIPv4"`
				AccessIPv6        string            `json:"accessIPv6"`
				DiskConfig        string            `json:"OS-DCF:diskConfig"`
				PreserveEphemeral bool              `json:"preserve_ephemeral"`
				Description       *string           `json:"description"`
			}
			if err := decode(&r); err != nil {
				return err
			}
			if r.ImageRef == "" {
				return errs.BadRequest("Invalid input for field/attribute rebuild: 'imageRef' is a required property")
			}
			if r.Description != nil && !c.v.AtLeast(2, 19) {
				return errs.BadRequest("Additional properties are not allowed ('description' was unexpected)")
			}
			nsv, pass, err := a.svc.Rebuild(ctx, c.c, sv.ID, compute.RebuildRequest{ImageRef: r.ImageRef, Name: r.Name, Metadata: r.Metadata, AdminPass: r.AdminPass})
			if err != nil {
				return err
			}
			v := c.serverView(nsv, c.c.Admin, a.hostUp(c))
			v.AdminPass = pass
			return c.json(http.StatusAccepted, obj{"server": v})
		case "resize":
			var r struct {
				FlavorRef  json.RawMessage `json:"flavorRef"`
				DiskConfig string          `json:"OS-DCF:diskConfig"`
			}
			if err := decode(&r); err != nil {
				return err
			}
			var ref string
			if err := json.Unmarshal(r.FlavorRef, &ref); err != nil {
				var n json.Number
				if err := json.Unmarshal(r.FlavorRef, &n); err != nil {
					return errs.BadRequest("Invalid input for field/attribute resize: 'flavorRef' is a required property")
				}
				ref = n.String()
			}
			if err := a.svc.Resize(ctx, c.c, sv.ID, ref); err != nil {
				return err
			}
			return c.noContent(http.StatusAccepted)
		case "confirmResize":
			if err := a.svc.ConfirmResize(ctx, c.c, sv.ID); err != nil {
				return err
			}
			return c.noContent(http.StatusNoContent)
		case "revertResize":
			if err := a.svc.RevertResize(ctx, c.c, sv.ID); err != nil {
				return err
			}
			return c.noContent(http.StatusAccepted)
		case "createImage":
			var r struct {
				Name     string            `json:"name"`
				Metadata map[string]string `json:"metadata"`
			}
			if err := decode(&r); err != nil {
				return err
			}
			id, err := a.svc.CreateImage(ctx, c.c, sv.ID, r.Name, r.Metadata)
			if err != nil {
				return err
			}
			c.w.Header().Set("Location", httpx.BaseURL(c.r)+"/image/v2/images/"+id)
			return c.noContent(http.StatusAccepted)
		case "os-getConsoleOutput":
			var r struct {
				Length json.RawMessage `json:"length"`
			}
			if err := decode(&r); err != nil {
				return err
			}
			length := 0
			if len(r.Length) > 0 && string(r.Length) != "null" {
				var li intOrString
				if err := li.UnmarshalJSON(r.Length); err != nil || (li.set && li.n < -1) {
					return errs.BadRequest("Invalid input for field/attribute length.")
				}
				if li.n > 0 {
					length = li.n
				}
			}
			out, err := a.svc.Console(ctx, c.c, sv.ID, length)
			if err != nil {
				return err
			}
			return c.json(http.StatusOK, obj{"output": out})
		case "rescue":
			return a.rescue(c, sv, raw)
		case "unrescue":
			return a.unrescue(c, sv)
		}
		return errs.BadRequest("There is no such action: %s", name)
	}
	return nil
}

// ---- metadata

func (a *API) getMetadata(c *call) error {
	sv, err := a.server(c)
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, obj{"metadata": sv.Metadata})
}

func (a *API) setMetadataCommon(c *call, replace bool) error {
	sv, err := a.server(c)
	if err != nil {
		return err
	}
	var body struct {
		Metadata map[string]string `json:"metadata"`
	}
	if err := httpx.DecodeJSON(c.r, &body); err != nil {
		return err
	}
	if body.Metadata == nil {
		return errs.BadRequest("Invalid input for field/attribute metadata: 'metadata' is a required property")
	}
	sv, err = a.svc.SetMetadata(c.r.Context(), c.c, sv.ID, body.Metadata, replace)
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, obj{"metadata": sv.Metadata})
}

func (a *API) replaceMetadata(c *call) error { return a.setMetadataCommon(c, true) }
func (a *API) mergeMetadata(c *call) error   { return a.setMetadataCommon(c, false) }

func (a *API) getMetadataItem(c *call) error {
	sv, err := a.server(c)
	if err != nil {
		return err
	}
	k := c.r.PathValue("key")
	v, ok := sv.Metadata[k]
	if !ok {
		return errs.NotFound("Metadata item was not found")
	}
	return c.json(http.StatusOK, obj{"meta": obj{k: v}})
}

func (a *API) setMetadataItem(c *call) error {
	sv, err := a.server(c)
	if err != nil {
		return err
	}
	var body struct {
		Meta map[string]string `json:"meta"`
	}
	if err := httpx.DecodeJSON(c.r, &body); err != nil {
		return err
	}
	k := c.r.PathValue("key")
	if len(body.Meta) != 1 {
		return errs.BadRequest("Request body contains too many items")
	}
	v, ok := body.Meta[k]
	if !ok {
		return errs.BadRequest("Request body and URI mismatch")
	}
	if _, err := a.svc.SetMetadata(c.r.Context(), c.c, sv.ID, map[string]string{k: v}, false); err != nil {
		return err
	}
	return c.json(http.StatusOK, obj{"meta": obj{k: v}})
}

func (a *API) deleteMetadataItem(c *call) error {
	sv, err := a.server(c)
	if err != nil {
		return err
	}
	if err := a.svc.DeleteMetadata(c.r.Context(), c.c, sv.ID, c.r.PathValue("key")); err != nil {
		return err
	}
	return c.noContent(http.StatusNoContent)
}

// ---- tags (2.26)

func (a *API) tagServer(c *call) (*compute.Server, error) {
	if !c.v.AtLeast(2, 26) {
		return nil, errs.NotFound("The resource could not be found.")
	}
	return a.server(c)
}

func (a *API) listTags(c *call) error {
	sv, err := a.tagServer(c)
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, obj{"tags": sv.Tags})
}

func (a *API) replaceTags(c *call) error {
	sv, err := a.tagServer(c)
	if err != nil {
		return err
	}
	var body struct {
		Tags []string `json:"tags"`
	}
	if err := httpx.DecodeJSON(c.r, &body); err != nil {
		return err
	}
	if body.Tags == nil {
		return errs.BadRequest("Invalid input for field/attribute tags: 'tags' is a required property")
	}
	sv, err = a.svc.SetTags(c.r.Context(), c.c, sv.ID, body.Tags, "replace")
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, obj{"tags": sv.Tags})
}

func (a *API) deleteAllTags(c *call) error {
	sv, err := a.tagServer(c)
	if err != nil {
		return err
	}
	if _, err := a.svc.SetTags(c.r.Context(), c.c, sv.ID, nil, "replace"); err != nil {
		return err
	}
	return c.noContent(http.StatusNoContent)
}

func (a *API) checkTag(c *call) error {
	sv, err := a.tagServer(c)
	if err != nil {
		return err
	}
	t := c.r.PathValue("tag")
	for _, x := range sv.Tags {
		if x == t {
			return c.noContent(http.StatusNoContent)
		}
	}
	return errs.NotFound("Tag %s could not be found.", t)
}

func (a *API) addTag(c *call) error {
	sv, err := a.tagServer(c)
	if err != nil {
		return err
	}
	t := c.r.PathValue("tag")
	for _, x := range sv.Tags {
		if x == t {
			return c.noContent(http.StatusNoContent)
		}
	}
	if _, err := a.svc.SetTags(c.r.Context(), c.c, sv.ID, []string{t}, "add"); err != nil {
		return err
	}
	c.w.Header().Set("Location", c.base()+"/v2.1/servers/"+sv.ID+"/tags/"+url.PathEscape(t))
	return c.noContent(http.StatusCreated)
}

func (a *API) deleteTag(c *call) error {
	sv, err := a.tagServer(c)
	if err != nil {
		return err
	}
	if _, err := a.svc.SetTags(c.r.Context(), c.c, sv.ID, []string{c.r.PathValue("tag")}, "remove"); err != nil {
		return err
	}
	return c.noContent(http.StatusNoContent)
}

// ---- ips and actions

func (a *API) listIPs(c *call) error {
	sv, err := a.server(c)
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, obj{"addresses": addresses(sv)})
}

func (a *API) listIPsNetwork(c *call) error {
	sv, err := a.server(c)
	if err != nil {
		return err
	}
	n := c.r.PathValue("network")
	addrs := addresses(sv)
	v, ok := addrs[n]
	if !ok {
		return errs.NotFound("Instance is not a member of specified network")
	}
	return c.json(http.StatusOK, obj{n: v})
}

// actionServer authorizes an instance-action request; from 2.21 the
// actions of deleted servers stay readable.
func (a *API) actionServer(c *call) (string, error) {
	id := c.r.PathValue("id")
	sv, err := a.svc.GetServer(c.r.Context(), c.c, id)
	if err == nil {
		return id, c.authz(sv.ProjectID)
	}
	if !errs.Is(err, errs.KindNotFound) || !c.v.AtLeast(2, 21) {
		return "", err
	}
	acts, aerr := a.svc.Actions(c.r.Context(), c.c, id)
	if aerr != nil || len(acts) == 0 {
		return "", err
	}
	return id, c.authz(acts[0].ProjectID)
}

func (a *API) listActions(c *call) error {
	id, err := a.actionServer(c)
	if err != nil {
		return err
	}
	acts, err := a.svc.Actions(c.r.Context(), c.c, id)
	if err != nil {
		return err
	}
	out := make([]obj, 0, len(acts))
	for _, act := range acts {
		out = append(out, c.actionView(act, false, c.c.Admin))
	}
	return c.json(http.StatusOK, obj{"instanceActions": out})
}

func (a *API) getAction(c *call) error {
	id, err := a.actionServer(c)
	if err != nil {
		return err
	}
	act, err := a.svc.Action(c.r.Context(), c.c, id, c.r.PathValue("req"))
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, obj{"instanceAction": c.actionView(act, true, c.c.Admin)})
}
