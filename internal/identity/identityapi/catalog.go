package identityapi

import (
	"net/http"

	"github.com/gureum/gureum/internal/identity"
	"github.com/gureum/gureum/internal/platform/errs"
	"github.com/gureum/gureum/internal/platform/httpx"
	"github.com/gureum/gureum/internal/platform/ids"
)

func withExtra(extra map[string]any, v obj) obj {
	out := obj{}
	for k, x := range extra {
		out[k] = x
	}
	for k, x := range v {
		out[k] = x
	}
	return out
}

func mergeExtra(dst *map[string]any, extra map[string]any) {
	if *dst == nil {
		*dst = map[string]any{}
	}
	for k, v := range extra {
		(*dst)[k] = v
	}
}

// ---- regions ----

func regionView(base string, x *identity.Region) obj {
	var parent any
	if x.ParentRegionID != "" {
		parent = x.ParentRegionID
	}
	return withExtra(x.Extra, obj{"id": x.ID, "description": x.Description, "parent_region_id": parent, "links": link(base, "/regions/"+x.ID)})
}

func (a *API) listRegions(w http.ResponseWriter, r *http.Request) error {
	if err := httpx.Authorize(r, nil); err != nil {
		return err
	}
	rs, err := a.svc.Store().ListRegions(r.Context())
	if err != nil {
		return err
	}
	parent := r.URL.Query().Get("parent_region_id")
	base := httpx.BaseURL(r)
	out := []obj{}
	for _, x := range rs {
		if parent == "" || x.ParentRegionID == parent {
			out = append(out, regionView(base, x))
		}
	}
	httpx.WriteJSON(w, http.StatusOK, obj{"regions": out, "links": listLinks(r)})
	return nil
}

func (a *API) getRegion(w http.ResponseWriter, r *http.Request) error {
	if err := httpx.Authorize(r, nil); err != nil {
		return err
	}
	x, err := a.svc.Store().GetRegion(r.Context(), r.PathValue("region_id"))
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, obj{"region": regionView(httpx.BaseURL(r), x)})
	return nil
}

func readRegion(b *body, x *identity.Region) {
	b.str("description", &x.Description, 0, maxDescription, true)
	b.str("parent_region_id", &x.ParentRegionID, 0, 255, true)
	mergeExtra(&x.Extra, b.rest())
}

func (a *API) createRegion(w http.ResponseWriter, r *http.Request) error {
	if err := httpx.Authorize(r, nil); err != nil {
		return err
	}
	b, err := readBody(r, "region")
	if err != nil {
		return err
	}
	x := &identity.Region{}
	b.str("id", &x.ID, 1, 255, false)
	readRegion(b, x)
	if b.err != nil {
		return b.err
	}
	if x.ID == "" {
		x.ID = ids.Hex()
	}
	if x.ParentRegionID == x.ID {
		return errs.BadRequest("A region cannot be its own parent.")
	}
	if err := a.svc.CreateRegion(r.Context(), x); err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusCreated, obj{"region": regionView(httpx.BaseURL(r), x)})
	return nil
}

func (a *API) updateRegion(w http.ResponseWriter, r *http.Request) error {
	if err := httpx.Authorize(r, nil); err != nil {
		return err
	}
	x, err := a.svc.Store().GetRegion(r.Context(), r.PathValue("region_id"))
	if err != nil {
		return err
	}
	b, err := readBody(r, "region")
	if err != nil {
		return err
	}
	readRegion(b, x)
	if b.err != nil {
		return b.err
	}
	// Refuse a parent chain that loops back.
	for cur, i := x.ParentRegionID, 0; cur != "" && i < 64; i++ {
		if cur == x.ID {
			return errs.BadRequest("The parent region %s would create a cycle.", x.ParentRegionID)
		}
		p, err := a.svc.Store().GetRegion(r.Context(), cur)
		if err != nil {
			break
		}
		cur = p.ParentRegionID
	}
	if err := a.svc.UpdateRegion(r.Context(), x); err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, obj{"region": regionView(httpx.BaseURL(r), x)})
	return nil
}

func (a *API) deleteRegion(w http.ResponseWriter, r *http.Request) error {
	if err := httpx.Authorize(r, nil); err != nil {
		return err
	}
	if err := a.svc.DeleteRegion(r.Context(), r.PathValue("region_id")); err != nil {
		return err
	}
	return noContent(w)
}

// ---- services ----

func serviceView(base string, x *identity.ServiceRecord) obj {
	return withExtra(x.Extra, obj{"id": x.ID, "type": x.Type, "name": x.Name, "description": x.Description, "enabled": x.Enabled, "links": link(base, "/services/"+x.ID)})
}

func (a *API) listServices(w http.ResponseWriter, r *http.Request) error {
	if err := httpx.Authorize(r, nil); err != nil {
		return err
	}
	ss, err := a.svc.Store().ListServices(r.Context())
	if err != nil {
		return err
	}
	typ, name := r.URL.Query().Get("type"), r.URL.Query().Get("name")
	base := httpx.BaseURL(r)
	out := []obj{}
	for _, x := range ss {
		if (typ == "" || x.Type == typ) && (name == "" || x.Name == name) {
			out = append(out, serviceView(base, x))
		}
	}
	httpx.WriteJSON(w, http.StatusOK, obj{"services": out, "links": listLinks(r)})
	return nil
}

func (a *API) getService(w http.ResponseWriter, r *http.Request) error {
	if err := httpx.Authorize(r, nil); err != nil {
		return err
	}
	x, err := a.svc.Store().GetService(r.Context(), r.PathValue("service_id"))
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, obj{"service": serviceView(httpx.BaseURL(r), x)})
	return nil
}

func readService(b *body, x *identity.ServiceRecord, create bool) {
	if !b.str("type", &x.Type, 1, 255, false) && create {
		b.fail("'type' is a required property.")
	}
	b.str("name", &x.Name, 0, 255, true)
	b.str("description", &x.Description, 0, maxDescription, true)
	b.boolean("enabled", &x.Enabled)
	mergeExtra(&x.Extra, b.rest())
}

func (a *API) createService(w http.ResponseWriter, r *http.Request) error {
	if err := httpx.Authorize(r, nil); err != nil {
		return err
	}
	b, err := readBody(r, "service")
	if err != nil {
		return err
	}
	x := &identity.ServiceRecord{ID: ids.Hex(), Enabled: true}
	readService(b, x, true)
	if b.err != nil {
		return b.err
	}
	if err := a.svc.CreateService(r.Context(), x); err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusCreated, obj{"service": serviceView(httpx.BaseURL(r), x)})
	return nil
}

func (a *API) updateService(w http.ResponseWriter, r *http.Request) error {
	if err := httpx.Authorize(r, nil); err != nil {
		return err
	}
	x, err := a.svc.Store().GetService(r.Context(), r.PathValue("service_id"))
	if err != nil {
		return err
	}
	b, err := readBody(r, "service")
	if err != nil {
		return err
	}
	readService(b, x, false)
	if b.err != nil {
		return b.err
	}
	if err := a.svc.UpdateService(r.Context(), x); err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, obj{"service": serviceView(httpx.BaseURL(r), x)})
	return nil
}

func (a *API) deleteService(w http.ResponseWriter, r *http.Request) error {
	if err := httpx.Authorize(r, nil); err != nil {
		return err
	}
	if err := a.svc.DeleteService(r.Context(), r.PathValue("service_id")); err != nil {
		return err
	}
	return noContent(w)
}

// ---- endpoints ----

func endpointView(base string, x *identity.Endpoint) obj {
	var region any
	if x.RegionID != "" {
		region = x.RegionID
	}
	return withExtra(x.Extra, obj{"id": x.ID, "interface": x.Interface, "region": region, "region_id": region, "service_id": x.ServiceID, "url": x.URL, "enabled": x.Enabled, "links": link(base, "/endpoints/"+x.ID)})
}

func (a *API) listEndpoints(w http.ResponseWriter, r *http.Request) error {
	if err := httpx.Authorize(r, nil); err != nil {
		return err
	}
	es, err := a.svc.Store().ListEndpoints(r.Context())
	if err != nil {
		return err
	}
	q := r.URL.Query()
	iface, svc, region := q.Get("interface"), q.Get("service_id"), q.Get("region_id")
	base := httpx.BaseURL(r)
	out := []obj{}
	for _, x := range es {
		if (iface == "" || x.Interface == iface) && (svc == "" || x.ServiceID == svc) && (region == "" || x.RegionID == region) {
			out = append(out, endpointView(base, x))
		}
	}
	httpx.WriteJSON(w, http.StatusOK, obj{"endpoints": out, "links": listLinks(r)})
	return nil
}

func (a *API) getEndpoint(w http.ResponseWriter, r *http.Request) error {
	if err := httpx.Authorize(r, nil); err != nil {
		return err
	}
	x, err := a.svc.Store().GetEndpoint(r.Context(), r.PathValue("endpoint_id"))
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, obj{"endpoint": endpointView(httpx.BaseURL(r), x)})
	return nil
}

func (a *API) readEndpoint(r *http.Request, b *body, x *identity.Endpoint, create bool) error {
	if !b.str("service_id", &x.ServiceID, 1, maxID, false) && create {
		b.fail("'service_id' is a required property.")
	}
	if !b.str("interface", &x.Interface, 1, 64, false) && create {
		b.fail("'interface' is a required property.")
	}
	if !b.str("url", &x.URL, 1, 225, false) && create {
		b.fail("'url' is a required property.")
	}
	// "region" is the pre-regions-API name of region_id; keystone accepts
	// both.
	var legacy string
	if b.str("region", &legacy, 0, 255, true) && legacy != "" {
		x.RegionID = legacy
	}
	b.str("region_id", &x.RegionID, 0, 255, true)
	b.boolean("enabled", &x.Enabled)
	mergeExtra(&x.Extra, b.rest())
	if b.err != nil {
		return b.err
	}
	switch x.Interface {
	case "public", "internal", "admin":
	default:
		return errs.BadRequest("Invalid input for field 'interface': '%s' is not one of ['admin', 'internal', 'public'].", truncate(x.Interface, 32))
	}
	if _, err := a.svc.Store().GetService(r.Context(), x.ServiceID); err != nil {
		return errs.BadRequest("Could not find service: %s.", x.ServiceID)
	}
	if x.RegionID != "" {
		if _, err := a.svc.Store().GetRegion(r.Context(), x.RegionID); err != nil {
			return errs.BadRequest("Could not find region: %s.", x.RegionID)
		}
	}
	return nil
}

func (a *API) createEndpoint(w http.ResponseWriter, r *http.Request) error {
	if err := httpx.Authorize(r, nil); err != nil {
		return err
	}
	b, err := readBody(r, "endpoint")
	if err != nil {
		return err
	}
	x := &identity.Endpoint{ID: ids.Hex(), Enabled: true}
	if err := a.readEndpoint(r, b, x, true); err != nil {
		return err
	}
	if err := a.svc.CreateEndpoint(r.Context(), x); err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusCreated, obj{"endpoint": endpointView(httpx.BaseURL(r), x)})
	return nil
}

func (a *API) updateEndpoint(w http.ResponseWriter, r *http.Request) error {
	if err := httpx.Authorize(r, nil); err != nil {
		return err
	}
	x, err := a.svc.Store().GetEndpoint(r.Context(), r.PathValue("endpoint_id"))
	if err != nil {
		return err
	}
	b, err := readBody(r, "endpoint")
	if err != nil {
		return err
	}
	if err := a.readEndpoint(r, b, x, false); err != nil {
		return err
	}
	if err := a.svc.UpdateEndpoint(r.Context(), x); err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, obj{"endpoint": endpointView(httpx.BaseURL(r), x)})
	return nil
}

func (a *API) deleteEndpoint(w http.ResponseWriter, r *http.Request) error {
	if err := httpx.Authorize(r, nil); err != nil {
		return err
	}
	if err := a.svc.DeleteEndpoint(r.Context(), r.PathValue("endpoint_id")); err != nil {
		return err
	}
	return noContent(w)
}
