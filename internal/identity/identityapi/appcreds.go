package identityapi

import (
	"encoding/json"
	"net/http"

	"github.com/gureum/gureum/internal/identity"
	"github.com/gureum/gureum/internal/platform/errs"
	"github.com/gureum/gureum/internal/platform/httpx"
	"github.com/gureum/gureum/internal/policy"
)

func (a *API) appCredView(r *http.Request, x *identity.AppCred) obj {
	base := httpx.BaseURL(r)
	roles := []obj{}
	for _, id := range x.Roles {
		ro, err := a.svc.Store().GetRole(r.Context(), id)
		if err != nil {
			continue // the role was deleted; the credential no longer carries it
		}
		var d any
		if ro.DomainID != "" {
			d = ro.DomainID
		}
		roles = append(roles, obj{"id": ro.ID, "name": ro.Name, "domain_id": d})
	}
	rules := x.AccessRules
	if rules == nil {
		rules = []map[string]any{}
	}
	return obj{
		"id":           x.ID,
		"name":         x.Name,
		"description":  x.Description,
		"user_id":      x.UserID,
		"project_id":   x.ProjectID,
		"expires_at":   ts(x.ExpiresAt),
		"unrestricted": x.Unrestricted,
		"roles":        roles,
		"access_rules": rules,
		"system":       nil,
		"links":        link(base, "/users/"+x.UserID+"/application_credentials/"+x.ID),
	}
}

// appCredOwner authorizes a route on /users/{user_id}/application_credentials.
func appCredOwner(r *http.Request) error {
	return httpx.Authorize(r, policy.Target{"target.user.id": r.PathValue("user_id"), "user_id": r.PathValue("user_id")})
}

func (a *API) listAppCreds(w http.ResponseWriter, r *http.Request) error {
	if err := appCredOwner(r); err != nil {
		return err
	}
	list, err := a.svc.Store().ListAppCreds(r.Context(), r.PathValue("user_id"))
	if err != nil {
		return err
	}
	name := r.URL.Query().Get("name")
	out := []obj{}
	for _, x := range list {
		if name == "" || x.Name == name {
			out = append(out, a.appCredView(r, x))
		}
	}
	httpx.WriteJSON(w, http.StatusOK, obj{"application_credentials": out, "links": listLinks(r)})
	return nil
}

func (a *API) loadAppCred(r *http.Request) (*identity.AppCred, error) {
	if err := appCredOwner(r); err != nil {
		return nil, err
	}
	x, err := a.svc.Store().GetAppCred(r.Context(), r.PathValue("application_credential_id"))
	if err != nil {
		return nil, err
	}
	if x.UserID != r.PathValue("user_id") {
		return nil, errs.NotFound("Could not find Application Credential: %s.", x.ID)
	}
	return x, nil
}

func (a *API) getAppCred(w http.ResponseWriter, r *http.Request) error {
	x, err := a.loadAppCred(r)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, obj{"application_credential": a.appCredView(r, x)})
	return nil
}

func (a *API) deleteAppCred(w http.ResponseWriter, r *http.Request) error {
	x, err := a.loadAppCred(r)
	if err != nil {
		return err
	}
	// Tokens issued with it stop validating at once: validation looks the
	// credential up (through the cache this write invalidates).
	if err := a.svc.DeleteAppCred(r.Context(), x.ID); err != nil {
		return err
	}
	return noContent(w)
}

func (a *API) createAppCred(w http.ResponseWriter, r *http.Request) error {
	if err := appCredOwner(r); err != nil {
		return err
	}
	if httpx.Creds(r).UserID != r.PathValue("user_id") {
		return errs.Forbidden("Application credentials can only be created for the authenticated user.")
	}
	b, err := readBody(r, "application_credential")
	if err != nil {
		return err
	}
	var req identity.AppCredRequest
	b.name(&req.Name, maxName, true)
	b.str("description", &req.Description, 0, maxDescription, true)
	b.str("secret", &req.Secret, 0, identity.MaxPasswordLength, true)
	b.timeField("expires_at", &req.ExpiresAt)
	b.boolean("unrestricted", &req.Unrestricted)
	if v, ok := b.raw("roles"); ok && !isNull(v) {
		var roles []struct {
			ID     string `json:"id"`
			Name   string `json:"name"`
			Domain any    `json:"domain"`
		}
		if err := json.Unmarshal(v, &roles); err != nil {
			b.fail("Invalid input for field 'roles': expected a list of {id} or {name} objects.")
		}
		for _, ro := range roles {
			switch {
			case ro.ID != "":
				req.RoleIDs = append(req.RoleIDs, ro.ID)
			case ro.Name != "":
				req.RoleNames = append(req.RoleNames, ro.Name)
			default:
				b.fail("Invalid input for field 'roles': each role needs an id or a name.")
			}
		}
	}
	if v, ok := b.raw("access_rules"); ok && !isNull(v) {
		if err := json.Unmarshal(v, &req.AccessRules); err != nil {
			b.fail("Invalid input for field 'access_rules': expected a list of objects.")
		}
		if len(req.AccessRules) > 0 {
			b.fail("Invalid input for field 'access_rules': access rules are not supported.")
		}
	}
	b.strict()
	if b.err != nil {
		return b.err
	}
	tok, err := a.svc.Validate(r.Context(), httpx.Token(r))
	if err != nil {
		return err
	}
	x, secret, err := a.svc.CreateAppCred(r.Context(), tok, req)
	if err != nil {
		return err
	}
	v := a.appCredView(r, x)
	v["secret"] = secret
	httpx.WriteJSON(w, http.StatusCreated, obj{"application_credential": v})
	return nil
}
