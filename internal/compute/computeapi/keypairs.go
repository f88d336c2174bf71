package computeapi

import (
	"net/http"

	"github.com/gureum/gureum/internal/platform/errs"
	"github.com/gureum/gureum/internal/platform/httpx"
)

// keyUser is the user whose keys are addressed: the caller, or (2.10,
// admins) the user_id query parameter.
func (c *call) keyUser(requested string) (string, error) {
	if requested == "" || requested == c.c.UserID {
		return c.c.UserID, nil
	}
	if !c.v.AtLeast(2, 10) {
		return c.c.UserID, nil
	}
	if !c.c.Admin {
		return "", errs.Forbidden("Policy doesn't allow os_compute_api:os-keypairs to be performed for another user.")
	}
	return requested, nil
}

func (a *API) listKeyPairs(c *call) error {
	user, err := c.keyUser(c.r.URL.Query().Get("user_id"))
	if err != nil {
		return err
	}
	list, err := a.svc.Store().ListKeyPairs(c.r.Context(), user)
	if err != nil {
		return err
	}
	if c.v.AtLeast(2, 35) {
		if m := c.r.URL.Query().Get("marker"); m != "" {
			i := 0
			for i < len(list) && list[i].Name != m {
				i++
			}
			if i == len(list) {
				return errs.BadRequest("marker [%s] not found", m)
			}
			list = list[i+1:]
		}
		limit, err := httpx.QueryInt(c.r, "limit", 0)
		if err != nil {
			return err
		}
		if limit > 0 && len(list) > limit {
			list = list[:limit]
		}
	}
	out := make([]obj, 0, len(list))
	for _, k := range list {
		out = append(out, obj{"keypair": c.keyPairView(k, false)})
	}
	body := obj{"keypairs": out}
	if limit, _ := httpx.QueryInt(c.r, "limit", 0); c.v.AtLeast(2, 35) && limit > 0 && len(list) == limit {
		body["keypairs_links"] = []obj{{"rel": "next", "href": httpx.NextLink(c.r, list[len(list)-1].Name)}}
	}
	return c.json(http.StatusOK, body)
}

func (a *API) createKeyPair(c *call) error {
	var body struct {
		KeyPair *struct {
			Name      string `json:"name"`
			PublicKey string `json:"public_key"`
			Type      string `json:"type"`
			UserID    string `json:"user_id"`
		} `json:"keypair"`
	}
	if err := httpx.DecodeJSON(c.r, &body); err != nil {
		return err
	}
	if body.KeyPair == nil || body.KeyPair.Name == "" {
		return errs.BadRequest("Invalid input for field/attribute keypair: 'name' is a required property")
	}
	k := body.KeyPair
	if k.Type != "" && !c.v.AtLeast(2, 2) {
		return errs.BadRequest("Additional properties are not allowed ('type' was unexpected)")
	}
	if k.UserID != "" && !c.v.AtLeast(2, 10) {
		return errs.BadRequest("Additional properties are not allowed ('user_id' was unexpected)")
	}
	user, err := c.keyUser(k.UserID)
	if err != nil {
		return err
	}
	kp, private, err := a.svc.CreateKeyPair(c.r.Context(), c.c, user, k.Name, k.Type, k.PublicKey)
	if err != nil {
		return err
	}
	v := c.keyPairView(kp, false)
	v["user_id"] = kp.UserID
	if private != "" {
		v["private_key"] = private
	}
	status := http.StatusOK
	if c.v.AtLeast(2, 2) {
		status = http.StatusCreated
	}
	return c.json(status, obj{"keypair": v})
}

func (a *API) getKeyPair(c *call) error {
	user, err := c.keyUser(c.r.URL.Query().Get("user_id"))
	if err != nil {
		return err
	}
	kp, err := a.svc.Store().GetKeyPair(c.r.Context(), user, c.r.PathValue("name"))
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, obj{"keypair": c.keyPairView(kp, true)})
}

func (a *API) deleteKeyPair(c *call) error {
	user, err := c.keyUser(c.r.URL.Query().Get("user_id"))
	if err != nil {
		return err
	}
	if err := a.svc.Store().DeleteKeyPair(c.r.Context(), user, c.r.PathValue("name")); err != nil {
		return err
	}
	if c.v.AtLeast(2, 2) {
		return c.noContent(http.StatusNoContent)
	}
	return c.noContent(http.StatusAccepted)
}
