package computeapi

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/gureum/gureum/internal/compute"
	"github.com/gureum/gureum/internal/platform/errs"
)

// rescue is the server action {"rescue": {"adminPass"?, "rescue_image_ref"?}}
// (or {"rescue": null}): 200 with the admin password, as nova answers.
func (a *API) rescue(c *call, sv *compute.Server, raw json.RawMessage) error {
	if !c.allowed("os_compute_api:os-rescue", sv.ProjectID) {
		return errs.Forbidden("Policy doesn't allow os_compute_api:os-rescue to be performed.")
	}
	var r struct {
		AdminPass      *string `json:"adminPass"`
		RescueImageRef *string `json:"rescue_image_ref"`
	}
	if len(raw) > 0 && string(raw) != "null" {
		dec := json.NewDecoder(strings.NewReader(string(raw)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&r); err != nil {
			return errs.BadRequest("Invalid input for action rescue: %s", err.Error())
		}
	}
	pass, ref := "", ""
	if r.AdminPass != nil {
		pass = *r.AdminPass
	}
	if r.RescueImageRef != nil {
		if *r.RescueImageRef == "" {
			return errs.BadRequest("Invalid input for field/attribute rescue_image_ref. Value: . '' is not a 'uuid'")
		}
		ref = *r.RescueImageRef
	}
	pass, err := a.svc.Rescue(c.r.Context(), c.c, sv.ID, pass, ref)
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, obj{"adminPass": pass})
}

// unrescue is the server action {"unrescue": null}: 202.
func (a *API) unrescue(c *call, sv *compute.Server) error {
	if !c.allowed("os_compute_api:os-unrescue", sv.ProjectID) {
		return errs.Forbidden("Policy doesn't allow os_compute_api:os-unrescue to be performed.")
	}
	if err := a.svc.Unrescue(c.r.Context(), c.c, sv.ID); err != nil {
		return err
	}
	return c.noContent(http.StatusAccepted)
}
