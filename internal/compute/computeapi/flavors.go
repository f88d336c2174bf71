package computeapi

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/gureum/gureum/internal/compute"
	"github.com/gureum/gureum/internal/platform/errs"
	"github.com/gureum/gureum/internal/platform/httpx"
)

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func (a *API) flavors(c *call) ([]*compute.Flavor, error) {
	q := c.r.URL.Query()
	f := compute.FlavorFilter{ProjectID: c.c.ProjectID, Admin: c.c.Admin}
	switch strings.ToLower(q.Get("is_public")) {
	case "", "true", "t", "yes", "y", "1":
		if q.Get("is_public") != "" || !c.c.Admin {
			t := true
			f.IsPublic = &t
			if q.Get("is_public") == "" {
				f.IsPublic = nil
			}
		}
	case "false", "f", "no", "n", "0":
		fl := false
		f.IsPublic = &fl
	case "none":
		if !c.c.Admin {
			f.IsPublic = nil
		}
	default:
		return nil, errs.BadRequest("Invalid is_public filter [%s]", q.Get("is_public"))
	}
	var err error
	if f.MinRAM, err = httpx.QueryInt(c.r, "minRam", 0); err != nil {
		return nil, err
	}
	if f.MinDisk, err = httpx.QueryInt(c.r, "minDisk", 0); err != nil {
		return nil, err
	}
	list, err := a.svc.Store().ListFlavors(c.r.Context(), f)
	if err != nil {
		return nil, err
	}
	if m := q.Get("marker"); m != "" {
		found := -1
		for i, fl := range list {
			if fl.ID == m {
				found = i
			}
		}
		if found < 0 {
			return nil, errs.BadRequest("marker [%s] not found", m)
		}
		list = list[found+1:]
	}
	limit, err := httpx.QueryInt(c.r, "limit", 0)
	if err != nil {
		return nil, err
	}
	if limit > 0 && len(list) > limit {
		list = list[:limit]
	}
	return list, nil
}

func (a *API) listFlavorsCommon(c *call, detail bool) error {
	list, err := a.flavors(c)
	if err != nil {
		return err
	}
	out := make([]obj, 0, len(list))
	for _, f := range list {
		out = append(out, c.flavorView(f, detail))
	}
	body := obj{"flavors": out}
	if limit, _ := httpx.QueryInt(c.r, "limit", 0); limit > 0 && len(list) == limit {
		body["flavors_links"] = []obj{{"rel": "next", "href": httpx.NextLink(c.r, list[len(list)-1].ID)}}
	}
	return c.json(http.StatusOK, body)
}

func (a *API) listFlavors(c *call) error       { return a.listFlavorsCommon(c, false) }
func (a *API) listFlavorsDetail(c *call) error { return a.listFlavorsCommon(c, true) }

func (a *API) getFlavor(c *call) error {
	f, err := a.svc.GetFlavor(c.r.Context(), c.c, c.r.PathValue("id"))
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, obj{"flavor": c.flavorView(f, true)})
}

// intOrString accepts nova's integers-as-strings.
type intOrString struct {
	set bool
	n   int
}

func (v *intOrString) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "null" || s == "" {
		return nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return errs.BadRequest("Invalid input: %s is not an integer.", string(b))
	}
	v.set, v.n = true, n
	return nil
}

type floatOrString struct {
	set bool
	f   float64
}

func (v *floatOrString) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "null" || s == "" {
		return nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return errs.BadRequest("Invalid input: %s is not a number.", string(b))
	}
	v.set, v.f = true, f
	return nil
}

// boolish accepts true/false and nova's strings ("True", "1", ...).
type boolish struct {
	set bool
	b   bool
}

func (v *boolish) UnmarshalJSON(b []byte) error {
	s := strings.ToLower(strings.Trim(string(b), `"`))
	switch s {
	case "null", "":
		return nil
	case "true", "t", "1", "yes", "y", "on":
		v.set, v.b = true, true
	case "false", "f", "0", "no", "n", "off":
		v.set, v.b = true, false
	default:
		return errs.BadRequest("Invalid input: %s is not a boolean.", string(b))
	}
	return nil
}

func (a *API) createFlavor(c *call) error {
	var body struct {
		Flavor *struct {
			Name      string        `json:"name"`
			ID        *string       `json:"id"`
			RAM       intOrString   `json:"ram"`
			VCPUs     intOrString   `json:"vcpus"`
			Disk      intOrString   `json:"disk"`
			Swap      intOrString   `json:"swap"`
			Ephemeral intOrString   `json:"OS-FLV-EXT-DATA:ephemeral"`
			RxTx      floatOrString `json:"rxtx_factor"`
			IsPublic  boolish       `json:"os-flavor-access:is_public"`
		} `json:"flavor"`
	}
	if err := httpx.DecodeJSON(c.r, &body); err != nil {
		return err
	}
	if body.Flavor == nil || !body.Flavor.RAM.set || !body.Flavor.VCPUs.set || !body.Flavor.Disk.set {
		return errs.BadRequest("Invalid input for field/attribute flavor: 'name', 'ram', 'vcpus' and 'disk' are required properties")
	}
	b := body.Flavor
	f := &compute.Flavor{Name: b.Name, RAM: b.RAM.n, VCPUs: b.VCPUs.n, Disk: b.Disk.n, Swap: b.Swap.n, Ephemeral: b.Ephemeral.n, RxTxFactor: 1, IsPublic: true}
	if b.ID != nil {
		f.ID = *b.ID
	}
	if b.RxTx.set {
		f.RxTxFactor = b.RxTx.f
	}
	if b.IsPublic.set {
		f.IsPublic = b.IsPublic.b
	}
	if err := a.svc.CreateFlavor(c.r.Context(), f); err != nil {
		return err
	}
	return c.json(http.StatusOK, obj{"flavor": c.flavorView(f, true)})
}

func (a *API) deleteFlavor(c *call) error {
	if err := a.svc.Store().DeleteFlavor(c.r.Context(), c.r.PathValue("id")); err != nil {
		return err
	}
	return c.noContent(http.StatusAccepted)
}

func (a *API) listExtraSpecs(c *call) error {
	f, err := a.svc.GetFlavor(c.r.Context(), c.c, c.r.PathValue("id"))
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, obj{"extra_specs": f.ExtraSpecs})
}

func (a *API) createExtraSpecs(c *call) error {
	var body struct {
		ExtraSpecs map[string]string `json:"extra_specs"`
	}
	if err := httpx.DecodeJSON(c.r, &body); err != nil {
		return err
	}
	if body.ExtraSpecs == nil {
		return errs.BadRequest("Invalid input for field/attribute extra_specs: 'extra_specs' is a required property")
	}
	if _, err := a.svc.SetExtraSpecs(c.r.Context(), c.r.PathValue("id"), body.ExtraSpecs, false); err != nil {
		return err
	}
	return c.json(http.StatusOK, obj{"extra_specs": body.ExtraSpecs})
}

func (a *API) getExtraSpec(c *call) error {
	f, err := a.svc.GetFlavor(c.r.Context(), c.c, c.r.PathValue("id"))
	if err != nil {
		return err
	}
	k := c.r.PathValue("key")
	v, ok := f.ExtraSpecs[k]
	if !ok {
		return errs.NotFound("Flavor %s has no extra specs with key %s.", f.ID, k)
	}
	return c.json(http.StatusOK, obj{k: v})
}

func (a *API) updateExtraSpec(c *call) error {
	var body map[string]string
	if err := httpx.DecodeJSON(c.r, &body); err != nil {
		return err
	}
	k := c.r.PathValue("key")
	if len(body) != 1 {
		return errs.BadRequest("Request body contains too many items")
	}
	if _, ok := body[k]; !ok {
		return errs.BadRequest("Request body and URI mismatch")
	}
	if _, err := a.svc.SetExtraSpecs(c.r.Context(), c.r.PathValue("id"), body, false); err != nil {
		return err
	}
	return c.json(http.StatusOK, body)
}

func (a *API) deleteExtraSpec(c *call) error {
	if err := a.svc.DeleteExtraSpec(c.r.Context(), c.r.PathValue("id"), c.r.PathValue("key")); err != nil {
		return err
	}
	return c.noContent(http.StatusOK)
}

func accessView(id string, projects []string) obj {
	out := []obj{}
	for _, p := range projects {
		out = append(out, obj{"flavor_id": id, "tenant_id": p})
	}
	return obj{"flavor_access": out}
}

func (a *API) listFlavorAccess(c *call) error {
	id := c.r.PathValue("id")
	ps, err := a.svc.FlavorAccessList(c.r.Context(), id)
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, accessView(id, ps))
}

func (a *API) flavorAction(c *call) error {
	var body struct {
		Add *struct {
			Tenant string `json:"tenant"`
		} `json:"addTenantAccess"`
		Remove *struct {
			Tenant string `json:"tenant"`
		} `json:"removeTenantAccess"`
	}
	if err := httpx.DecodeJSON(c.r, &body); err != nil {
		return err
	}
	id := c.r.PathValue("id")
	var ps []string
	var err error
	switch {
	case body.Add != nil && body.Add.Tenant != "":
		ps, err = a.svc.AddFlavorAccess(c.r.Context(), id, body.Add.Tenant)
	case body.Remove != nil && body.Remove.Tenant != "":
		ps, err = a.svc.RemoveFlavorAccess(c.r.Context(), id, body.Remove.Tenant)
	default:
		return errs.BadRequest("Invalid flavor action: addTenantAccess or removeTenantAccess with a tenant is required.")
	}
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, accessView(id, ps))
}
