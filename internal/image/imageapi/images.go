package imageapi

import (
	"bytes"
	"encoding/json"
	"mime"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gureum/gureum/internal/image"
	"github.com/gureum/gureum/internal/platform/errs"
	"github.com/gureum/gureum/internal/platform/httpx"
	"github.com/gureum/gureum/internal/policy"
)

func caller(r *http.Request) image.Caller {
	c := httpx.Creds(r)
	if c == nil {
		return image.Caller{}
	}
	return image.Caller{Project: c.ProjectID, User: c.UserID, Admin: httpx.Allowed(r, "image_admin", policy.Target{})}
}

func target(img *image.Image, m *image.Member) policy.Target {
	t := policy.Target{"project_id": img.Owner, "visibility": img.Visibility, "image_id": img.ID}
	if m != nil {
		t["member_id"] = m.MemberID
	}
	return t
}

// load returns the image the route is about, hiding it (404) from callers
// who may not see it and checking the route's rule against it.
func (a *API) load(r *http.Request) (*image.Image, policy.Target, error) {
	id := r.PathValue("image_id")
	img, err := a.svc.Get(r.Context(), id)
	if err != nil {
		return nil, nil, err
	}
	m, err := a.svc.Member(r.Context(), img.ID, caller(r).Project)
	if err != nil {
		return nil, nil, err
	}
	t := target(img, m)
	if !httpx.Allowed(r, "get_image", t) {
		return nil, nil, errs.NotFound("No image found with ID %s", id)
	}
	if err := httpx.Authorize(r, t); err != nil {
		return nil, nil, err
	}
	return img, t, nil
}

func (a *API) getImage(w http.ResponseWriter, r *http.Request) error {
	img, _, err := a.load(r)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, imageView(img))
	return nil
}

// Attributes nobody sets, and names glance reserves.
var (
	readOnly = []string{"id", "status", "checksum", "os_hash_algo", "os_hash_value", "size", "virtual_size", "created_at",
		"updated_at", "self", "file", "schema", "direct_url", "stores", "locations", "location"}
	reserved = []string{"deleted", "deleted_at"}
	core     = []string{"name", "visibility", "protected", "os_hidden", "min_disk", "min_ram", "disk_format",
		"container_format", "tags", "owner"}
)

func isReserved(k string) bool {
	return slices.Contains(reserved, k) || strings.HasPrefix(k, "os_glance")
}

// setAttr sets one attribute from its JSON value (create, patch add and
// replace), checking types as glance's schema does.
func setAttr(r *http.Request, img *image.Image, key string, raw json.RawMessage, creating bool) error {
	if isReserved(key) {
		return errs.Forbidden("Attribute '%s' is reserved.", key)
	}
	if slices.Contains(readOnly, key) && !(creating && key == "id") {
		return errs.Forbidden("Attribute '%s' is read-only.", key)
	}
	bad := func(want string) error {
		return errs.BadRequest("Provided object does not match schema 'image': %s is not of type '%s'.", compact(raw), want)
	}
	isNull := string(bytes.TrimSpace(raw)) == "null"
	str := func(nullable bool) (string, error) {
		if isNull && nullable {
			return "", nil
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", bad("string")
		}
		return s, nil
	}
	switch key {
	case "id":
		s, err := str(false)
		img.ID = s
		return err
	case "name":
		s, err := str(true)
		img.Name = s
		return err
	case "visibility":
		s, err := str(false)
		if err != nil {
			return err
		}
		if !slices.Contains([]string{image.Public, image.Private, image.Shared, image.Community}, s) {
			return errs.BadRequest("Invalid visibility value: %s", s)
		}
		switch s {
		case image.Public:
			if err := httpx.Check(r, "publicize_image", target(img, nil)); err != nil {
				return err
			}
		case image.Community:
			if err := httpx.Check(r, "communitize_image", target(img, nil)); err != nil {
				return err
			}
		}
		img.Visibility = s
	case "protected", "os_hidden":
		var b bool
		if err := json.Unmarshal(raw, &b); err != nil || isNull {
			return bad("boolean")
		}
		if key == "protected" {
			img.Protected = b
		} else {
			img.Hidden = b
		}
	case "min_disk", "min_ram":
		var n int
		if err := json.Unmarshal(raw, &n); err != nil || isNull {
			return bad("integer")
		}
		if n < 0 {
			return errs.BadRequest("Provided object does not match schema 'image': %d is less than the minimum of 0.", n)
		}
		if key == "min_disk" {
			img.MinDisk = n
		} else {
			img.MinRAM = n
		}
	case "disk_format", "container_format":
		s, err := str(true)
		if err != nil {
			return err
		}
		if !creating && img.Status != image.StatusQueued {
			return errs.Forbidden("Attribute %s can be only replaced for a queued image.", key)
		}
		if key == "disk_format" {
			img.DiskFormat = s
		} else {
			img.ContainerFormat = s
		}
	case "tags":
		var tags []string
		if err := json.Unmarshal(raw, &tags); err != nil || isNull {
			return bad("array")
		}
		seen := map[string]bool{}
		img.Tags = img.Tags[:0]
		for _, t := range tags {
			if !seen[t] {
				seen[t] = true
				img.Tags = append(img.Tags, t)
			}
		}
	case "owner":
		s, err := str(true)
		if err != nil {
			return err
		}
		if !creating && s != img.Owner && !caller(r).Admin {
			return errs.Forbidden("You are not permitted to modify 'owner' on this image.")
		}
		img.Owner = s
	default:
		var s string
		if err := json.Unmarshal(raw, &s); err != nil || isNull {
			return bad("string")
		}
		if img.Properties == nil {
			img.Properties = map[string]string{}
		}
		img.Properties[key] = s
	}
	return nil
}

func compact(raw json.RawMessage) string {
	s := string(bytes.TrimSpace(raw))
	if len(s) > 40 {
		s = s[:40] + "..."
	}
	return s
}

func (a *API) createImage(w http.ResponseWriter, r *http.Request) error {
	var body map[string]json.RawMessage
	if err := httpx.DecodeJSON(r, &body); err != nil {
		return err
	}
	if body == nil {
		return errs.BadRequest("Malformed request body: an object is required.")
	}
	c := caller(r)
	img := &image.Image{Owner: c.Project, Visibility: image.Shared, Properties: map[string]string{}, Tags: []string{}}
	keys := make([]string, 0, len(body))
	for k := range body {
		keys = append(keys, k)
	}
	// owner first: the visibility checks need the final owner.
	sort.Slice(keys, func(i, j int) bool { return keys[i] == "owner" || (keys[j] != "owner" && keys[i] < keys[j]) })
	for _, k := range keys {
		if err := setAttr(r, img, k, body[k], true); err != nil {
			return err
		}
	}
	if err := httpx.Authorize(r, target(img, nil)); err != nil {
		return err
	}
	img, err := a.svc.Create(r.Context(), c, img)
	if err != nil {
		return err
	}
	importHeaders(w)
	w.Header().Set("Location", httpx.BaseURL(r)+Prefix+"/v2/images/"+img.ID)
	httpx.WriteJSON(w, http.StatusCreated, imageView(img))
	return nil
}

func importHeaders(w http.ResponseWriter) {
	w.Header().Set("OpenStack-image-import-methods", strings.Join(image.ImportMethods, ","))
	w.Header().Set("OpenStack-image-store-ids", image.StoreID)
}

type patchOp struct {
	op, path string
	value    json.RawMessage
}

// parsePatch reads a JSON patch in the v2.1 form ({"op","path","value"})
// or the older v2.0 form ({"replace": "/name", "value"}).
func parsePatch(r *http.Request) ([]patchOp, error) {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "application/openstack-images-v2.1-json-patch", "application/openstack-images-v2.0-json-patch":
	default:
		return nil, errs.UnsupportedMedia("Unsupported Content-Type: %q; use application/openstack-images-v2.1-json-patch.", ct)
	}
	var raw []map[string]json.RawMessage
	if err := httpx.DecodeJSON(r, &raw); err != nil {
		return nil, err
	}
	var ops []patchOp
	for _, m := range raw {
		var p patchOp
		if o, ok := m["op"]; ok {
			_ = json.Unmarshal(o, &p.op)
			_ = json.Unmarshal(m["path"], &p.path)
		} else {
			for _, name := range []string{"add", "replace", "remove"} {
				if v, ok := m[name]; ok {
					p.op = name
					_ = json.Unmarshal(v, &p.path)
				}
			}
		}
		p.value = m["value"]
		switch p.op {
		case "add", "replace":
			if p.value == nil {
				return nil, errs.BadRequest("Operation objects must contain exactly one member named \"value\" for %s.", p.op)
			}
		case "remove":
		default:
			return nil, errs.BadRequest("Operation objects must contain exactly one member named \"add\", \"remove\", or \"replace\".")
		}
		if !strings.HasPrefix(p.path, "/") || len(p.path) < 2 {
			return nil, errs.BadRequest("Json path should start with a '/', end with no '/', no 2 subsequent '/' are allowed.")
		}
		seg := p.path[1:]
		if strings.Contains(seg, "/") {
			return nil, errs.BadRequest("Nested paths are not allowed: %s.", p.path)
		}
		p.path = strings.NewReplacer("~1", "/", "~0", "~").Replace(seg)
		ops = append(ops, p)
	}
	return ops, nil
}

func (a *API) updateImage(w http.ResponseWriter, r *http.Request) error {
	cur, _, err := a.load(r)
	if err != nil {
		return err
	}
	ops, err := parsePatch(r)
	if err != nil {
		return err
	}
	img, err := a.svc.Update(r.Context(), cur.ID, func(img *image.Image) error {
		for _, p := range ops {
			k := p.path
			_, isProp := img.Properties[k]
			isCore := slices.Contains(core, k) || slices.Contains(readOnly, k) || isReserved(k)
			switch p.op {
			case "replace":
				if !isCore && !isProp {
					return errs.Conflict("Property %s does not exist.", k)
				}
				fallthrough
			case "add":
				if err := setAttr(r, img, k, p.value, false); err != nil {
					return err
				}
			case "remove":
				if isReserved(k) {
					return errs.Forbidden("Attribute '%s' is reserved.", k)
				}
				if isCore {
					return errs.Forbidden("Attribute '%s' cannot be removed.", k)
				}
				if !isProp {
					return errs.Conflict("Property %s does not exist.", k)
				}
				delete(img.Properties, k)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, imageView(img))
	return nil
}

func (a *API) deleteImage(w http.ResponseWriter, r *http.Request) error {
	img, _, err := a.load(r)
	if err != nil {
		return err
	}
	if err := a.svc.Delete(r.Context(), img); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) setActive(w http.ResponseWriter, r *http.Request, active bool) error {
	img, _, err := a.load(r)
	if err != nil {
		return err
	}
	if _, err := a.svc.SetActive(r.Context(), img.ID, active); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) deactivate(w http.ResponseWriter, r *http.Request) error {
	return a.setActive(w, r, false)
}
func (a *API) reactivate(w http.ResponseWriter, r *http.Request) error {
	return a.setActive(w, r, true)
}

func (a *API) addTag(w http.ResponseWriter, r *http.Request) error {
	img, _, err := a.load(r)
	if err != nil {
		return err
	}
	if err := a.svc.AddTag(r.Context(), img.ID, r.PathValue("tag")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) deleteTag(w http.ResponseWriter, r *http.Request) error {
	img, _, err := a.load(r)
	if err != nil {
		return err
	}
	if err := a.svc.DeleteTag(r.Context(), img.ID, r.PathValue("tag")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// List limits: glance's limit_param_default and api_limit_max.
const (
	defaultLimit = 25
	maxLimit     = 1000
)

// listKeys are the query parameters that are not property filters.
var listKeys = []string{"limit", "marker", "sort", "sort_key", "sort_dir", "name", "status", "visibility", "owner",
	"tag", "member_status", "container_format", "disk_format", "size_min", "size_max", "created_at", "updated_at",
	"os_hidden", "protected", "id", "os_hash_value"}

// inList parses glance's "in:a,b" operator (or a plain value).
func inList(v string) []string {
	if rest, ok := strings.CutPrefix(v, "in:"); ok {
		var out []string
		for _, p := range strings.Split(rest, ",") {
			out = append(out, strings.Trim(p, `"`))
		}
		return out
	}
	return []string{v}
}

func parseBool(name, v string) (*bool, error) {
	b, err := strconv.ParseBool(v)
	if err != nil {
		return nil, errs.BadRequest("Invalid value '%s' for parameter '%s': must be a boolean.", v, name)
	}
	return &b, nil
}

func parseTimeFilter(name, v string) (image.TimeFilter, error) {
	op, at, ok := strings.Cut(v, ":")
	if !ok || !slices.Contains([]string{"gt", "gte", "lt", "lte", "eq", "neq"}, op) {
		op, at = "eq", v
	}
	t, err := time.Parse(time.RFC3339, at)
	if err != nil {
		if t2, err2 := time.Parse("2006-01-02T15:04:05", at); err2 == nil {
			t, err = t2, nil
		}
	}
	if err != nil {
		return image.TimeFilter{}, errs.BadRequest("Unable to filter on a range with a nonsensical value for %s: %s.", name, v)
	}
	return image.TimeFilter{Op: op, At: t.UTC()}, nil
}

func parseList(r *http.Request, c image.Caller) (image.ListFilter, int, string, error) {
	q := r.URL.Query()
	f := image.ListFilter{Project: c.Project, Admin: c.Admin, Properties: map[string]string{}}
	limit, err := httpx.QueryInt(r, "limit", defaultLimit)
	if err != nil {
		return f, 0, "", err
	}
	limit = min(limit, maxLimit)
	for k, vs := range q {
		if len(vs) == 0 || slices.Contains(listKeys, k) {
			continue
		}
		f.Properties[k] = vs[0]
	}
	if v := q.Get("name"); v != "" {
		f.Names = inList(v)
	}
	if v := q.Get("id"); v != "" {
		f.IDs = inList(v)
	}
	if v := q.Get("status"); v != "" {
		f.Statuses = inList(v)
	}
	if v := q.Get("disk_format"); v != "" {
		f.DiskFormats = inList(v)
	}
	if v := q.Get("container_format"); v != "" {
		f.ContainerFormats = inList(v)
	}
	if v := q.Get("os_hash_value"); v != "" {
		f.HashValues = inList(v)
	}
	f.Owner = q.Get("owner")
	f.Tags = q["tag"]
	f.Visibility = q.Get("visibility")
	if v := f.Visibility; v != "" && !slices.Contains([]string{"public", "private", "shared", "community", "all"}, v) {
		return f, 0, "", errs.BadRequest("Invalid visibility value: %s", v)
	}
	f.MemberStatus = q.Get("member_status")
	if v := f.MemberStatus; v != "" && !slices.Contains([]string{"pending", "accepted", "rejected", "all"}, v) {
		return f, 0, "", errs.BadRequest("Invalid status value: %s", v)
	}
	for _, name := range []string{"size_min", "size_max"} {
		if v := q.Get(name); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return f, 0, "", errs.BadRequest("Invalid value '%s' for parameter '%s': must be a non-negative integer.", v, name)
			}
			if name == "size_min" {
				f.SizeMin = &n
			} else {
				f.SizeMax = &n
			}
		}
	}
	if v := q.Get("os_hidden"); v != "" {
		if f.Hidden, err = parseBool("os_hidden", v); err != nil {
			return f, 0, "", err
		}
	} else {
		no := false
		f.Hidden = &no // hidden images are listed only when asked for
	}
	if v := q.Get("protected"); v != "" {
		if f.Protected, err = parseBool("protected", v); err != nil {
			return f, 0, "", err
		}
	}
	for _, name := range []string{"created_at", "updated_at"} {
		for _, v := range q[name] {
			tf, err := parseTimeFilter(name, v)
			if err != nil {
				return f, 0, "", err
			}
			if name == "created_at" {
				f.CreatedAt = append(f.CreatedAt, tf)
			} else {
				f.UpdatedAt = append(f.UpdatedAt, tf)
			}
		}
	}
	// Sorting: sort=k1:dir,k2 or sort_key=k1&sort_key=k2&sort_dir=...
	if v := q.Get("sort"); v != "" {
		if len(q["sort_key"]) > 0 || len(q["sort_dir"]) > 0 {
			return f, 0, "", errs.BadRequest("The 'sort' parameter cannot be combined with 'sort_key' or 'sort_dir'.")
		}
		for _, part := range strings.Split(v, ",") {
			k, d, _ := strings.Cut(strings.TrimSpace(part), ":")
			if d == "" {
				d = "desc"
			}
			if d != "asc" && d != "desc" {
				return f, 0, "", errs.BadRequest("Invalid sort direction: %s", d)
			}
			f.Sort = append(f.Sort, image.SortKey{Key: k, Desc: d == "desc"})
		}
	} else {
		dirs := q["sort_dir"]
		keys := q["sort_key"]
		if len(dirs) > 1 && len(dirs) != len(keys) {
			return f, 0, "", errs.BadRequest("Number of sort dirs does not match the number of sort keys.")
		}
		for i, k := range keys {
			d := "desc"
			if len(dirs) == 1 {
				d = dirs[0]
			} else if i < len(dirs) {
				d = dirs[i]
			}
			if d != "asc" && d != "desc" {
				return f, 0, "", errs.BadRequest("Invalid sort direction: %s", d)
			}
			f.Sort = append(f.Sort, image.SortKey{Key: k, Desc: d == "desc"})
		}
		if len(keys) == 0 && len(dirs) == 1 {
			if d := dirs[0]; d != "asc" && d != "desc" {
				return f, 0, "", errs.BadRequest("Invalid sort direction: %s", d)
			}
			f.Sort = []image.SortKey{{Key: "created_at", Desc: dirs[0] == "desc"}}
		}
	}
	return f, limit, q.Get("marker"), nil
}

func (a *API) listImages(w http.ResponseWriter, r *http.Request) error {
	c := caller(r)
	if err := httpx.Authorize(r, policy.Target{"project_id": c.Project}); err != nil {
		return err
	}
	f, limit, marker, err := parseList(r, c)
	if err != nil {
		return err
	}
	if marker != "" {
		m, err := a.svc.Get(r.Context(), marker)
		if err != nil {
			return errs.BadRequest("Invalid marker. Image %s could not be found.", marker)
		}
		f.Marker = m
	}
	f.Limit = limit + 1 // one more tells whether there is a next page
	imgs, err := a.svc.List(r.Context(), f)
	if err != nil {
		return err
	}
	more := len(imgs) > limit
	if more {
		imgs = imgs[:limit]
	}
	out := make([]obj, 0, len(imgs))
	for _, img := range imgs {
		out = append(out, imageView(img))
	}
	body := obj{"images": out, "first": "/v2/images", "schema": "/v2/schemas/images"}
	if q := r.URL.Query(); len(q) > 0 {
		q.Del("marker")
		if enc := q.Encode(); enc != "" {
			body["first"] = "/v2/images?" + enc
		}
	}
	if more && len(imgs) > 0 {
		q := r.URL.Query()
		q.Set("marker", imgs[len(imgs)-1].ID)
		body["next"] = "/v2/images?" + q.Encode()
	}
	httpx.WriteJSON(w, http.StatusOK, body)
	return nil
}
