package identityapi

import (
	"net/http"
	"strings"

	"github.com/gureum/gureum/internal/identity"
	"github.com/gureum/gureum/internal/platform/errs"
	"github.com/gureum/gureum/internal/platform/httpx"
	"github.com/gureum/gureum/internal/policy"
)

// ---- roles ----

func (a *API) listRoles(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	d := q.Get("domain_id")
	t := policy.Target{"target.domain_id": d}
	if d == "" {
		// Global roles are readable by any domain reader.
		if c := httpx.Creds(r); c != nil {
			t["target.domain_id"] = c.DomainID
		}
	}
	if err := httpx.Authorize(r, t); err != nil {
		return err
	}
	rs, err := a.svc.Store().ListRoles(r.Context(), d, q.Get("name"))
	if err != nil {
		return err
	}
	base := httpx.BaseURL(r)
	out := []obj{}
	for _, x := range rs {
		out = append(out, roleView(base, x))
	}
	httpx.WriteJSON(w, http.StatusOK, obj{"roles": out, "links": listLinks(r)})
	return nil
}

func (a *API) loadRole(r *http.Request, path string) (*identity.Role, error) {
	id := r.PathValue(path)
	x, err := a.svc.Store().GetRole(r.Context(), id)
	t := policy.Target{"target.role.id": id}
	if err == nil {
		d := x.DomainID
		if d == "" {
			if c := httpx.Creds(r); c != nil {
				d = c.DomainID
			}
		}
		t["target.role.domain_id"], t["target.domain_id"] = x.DomainID, d
	}
	if aerr := httpx.Authorize(r, t); aerr != nil {
		return nil, aerr
	}
	return x, err
}

func (a *API) getRole(w http.ResponseWriter, r *http.Request) error {
	x, err := a.loadRole(r, "role_id")
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, obj{"role": roleView(httpx.BaseURL(r), x)})
	return nil
}

func readRole(b *body, x *identity.Role, create bool) {
	b.name(&x.Name, maxName, create)
	b.str("description", &x.Description, 0, maxDescription, true)
	var opts map[string]any
	if b.object("options", &opts) {
		if x.Options == nil {
			x.Options = map[string]any{}
		}
		for k, v := range opts {
			if k != "immutable" {
				b.fail("Invalid input for field 'options': '%s' is not a valid option.", k)
				continue
			}
			if v == nil {
				delete(x.Options, k)
			} else if bv, ok := v.(bool); ok {
				x.Options[k] = bv
			} else {
				b.fail("Invalid input for field 'options/immutable': expected a boolean.")
			}
		}
	}
	if create {
		b.str("domain_id", &x.DomainID, 0, maxID, true)
	} else {
		var d string
		if b.str("domain_id", &d, 0, maxID, true) && d != x.DomainID {
			b.fail("Update of `domain_id` is not allowed.")
		}
	}
	extra := b.rest()
	if x.Extra == nil {
		x.Extra = map[string]any{}
	}
	for k, v := range extra {
		x.Extra[k] = v
	}
}

func (a *API) createRole(w http.ResponseWriter, r *http.Request) error {
	if err := httpx.Authorize(r, nil); err != nil {
		return err
	}
	b, err := readBody(r, "role")
	if err != nil {
		return err
	}
	x := &identity.Role{}
	readRole(b, x, true)
	if b.err != nil {
		return b.err
	}
	if err := a.svc.CreateRole(r.Context(), x); err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusCreated, obj{"role": roleView(httpx.BaseURL(r), x)})
	return nil
}

func (a *API) updateRole(w http.ResponseWriter, r *http.Request) error {
	old, err := a.loadRole(r, "role_id")
	if err != nil {
		return err
	}
	x := *old
	x.Options = map[string]any{}
	for k, v := range old.Options {
		x.Options[k] = v
	}
	b, err := readBody(r, "role")
	if err != nil {
		return err
	}
	readRole(b, &x, false)
	if b.err != nil {
		return b.err
	}
	if err := a.svc.UpdateRole(r.Context(), old, &x); err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, obj{"role": roleView(httpx.BaseURL(r), &x)})
	return nil
}

func (a *API) deleteRole(w http.ResponseWriter, r *http.Request) error {
	x, err := a.loadRole(r, "role_id")
	if err != nil {
		return err
	}
	if err := a.svc.DeleteRole(r.Context(), x.ID); err != nil {
		return err
	}
	return noContent(w)
}

// ---- implied roles ----

func roleRef(base string, x *identity.Role) obj {
	return obj{"id": x.ID, "name": x.Name, "links": link(base, "/roles/"+x.ID)}
}

func (a *API) impliedPair(r *http.Request) (*identity.Role, *identity.Role, error) {
	if err := httpx.Authorize(r, nil); err != nil {
		return nil, nil, err
	}
	prior, err := a.svc.Store().GetRole(r.Context(), r.PathValue("prior_role_id"))
	if err != nil {
		return nil, nil, err
	}
	implied, err := a.svc.Store().GetRole(r.Context(), r.PathValue("implied_role_id"))
	if err != nil {
		return nil, nil, err
	}
	return prior, implied, nil
}

func (a *API) implies(r *http.Request, prior, implied string) (bool, error) {
	g, err := a.svc.Store().ImpliedRoles(r.Context())
	if err != nil {
		return false, err
	}
	for _, x := range g[prior] {
		if x == implied {
			return true, nil
		}
	}
	return false, nil
}

func (a *API) createImplied(w http.ResponseWriter, r *http.Request) error {
	if err := httpx.Authorize(r, nil); err != nil {
		return err
	}
	prior, implied, err := a.svc.AddImpliedRole(r.Context(), r.PathValue("prior_role_id"), r.PathValue("implied_role_id"))
	if err != nil {
		return err
	}
	base := httpx.BaseURL(r)
	httpx.WriteJSON(w, http.StatusCreated, obj{
		"role_inference": obj{"prior_role": roleRef(base, prior), "implies": roleRef(base, implied)},
		"links":          obj{"self": base + "/identity/v3/roles/" + prior.ID + "/implies/" + implied.ID},
	})
	return nil
}

func (a *API) getImplied(w http.ResponseWriter, r *http.Request) error {
	prior, implied, err := a.impliedPair(r)
	if err != nil {
		return err
	}
	ok, err := a.implies(r, prior.ID, implied.ID)
	if err != nil {
		return err
	}
	if !ok {
		return errs.NotFound("%s does not imply %s.", prior.ID, implied.ID)
	}
	if r.Method == http.MethodHead {
		return noContent(w)
	}
	base := httpx.BaseURL(r)
	httpx.WriteJSON(w, http.StatusOK, obj{
		"role_inference": obj{"prior_role": roleRef(base, prior), "implies": roleRef(base, implied)},
		"links":          obj{"self": base + "/identity/v3/roles/" + prior.ID + "/implies/" + implied.ID},
	})
	return nil
}

func (a *API) deleteImplied(w http.ResponseWriter, r *http.Request) error {
	prior, implied, err := a.impliedPair(r)
	if err != nil {
		return err
	}
	if err := a.svc.RemoveImpliedRole(r.Context(), prior.ID, implied.ID); err != nil {
		return err
	}
	return noContent(w)
}

func (a *API) listImplied(w http.ResponseWriter, r *http.Request) error {
	if err := httpx.Authorize(r, nil); err != nil {
		return err
	}
	prior, err := a.svc.Store().GetRole(r.Context(), r.PathValue("prior_role_id"))
	if err != nil {
		return err
	}
	g, err := a.svc.Store().ImpliedRoles(r.Context())
	if err != nil {
		return err
	}
	base := httpx.BaseURL(r)
	imps := []obj{}
	for _, id := range g[prior.ID] {
		if x, err := a.svc.Store().GetRole(r.Context(), id); err == nil {
			imps = append(imps, roleRef(base, x))
		}
	}
	httpx.WriteJSON(w, http.StatusOK, obj{
		"role_inference": obj{"prior_role": roleRef(base, prior), "implies": imps},
		"links":          obj{"self": base + "/identity/v3/roles/" + prior.ID + "/implies"},
	})
	return nil
}

func (a *API) listInferences(w http.ResponseWriter, r *http.Request) error {
	if err := httpx.Authorize(r, nil); err != nil {
		return err
	}
	g, err := a.svc.Store().ImpliedRoles(r.Context())
	if err != nil {
		return err
	}
	base := httpx.BaseURL(r)
	roles := map[string]*identity.Role{}
	get := func(id string) *identity.Role {
		if x, ok := roles[id]; ok {
			return x
		}
		x, _ := a.svc.Store().GetRole(r.Context(), id)
		roles[id] = x
		return x
	}
	out := []obj{}
	for prior, imps := range g {
		p := get(prior)
		if p == nil {
			continue
		}
		l := []obj{}
		for _, id := range imps {
			if x := get(id); x != nil {
				l = append(l, roleRef(base, x))
			}
		}
		out = append(out, obj{"prior_role": roleRef(base, p), "implies": l})
	}
	httpx.WriteJSON(w, http.StatusOK, obj{"role_inferences": out, "links": obj{"self": base + "/identity/v3/role_inferences"}})
	return nil
}

// ---- grants ----

// grant resolves a grant route's path into an assignment and authorizes
// it: the target's domain and the actor's domain are both in the target,
// so a domain admin can grant only within its domain.
func (a *API) grant(r *http.Request, withRole bool) (identity.Assignment, error) {
	ctx := r.Context()
	userID, groupID := r.PathValue("user_id"), r.PathValue("group_id")
	inherited := strings.HasSuffix(r.URL.Path, "/inherited_to_projects")
	t := identity.GrantTarget{ProjectID: r.PathValue("project_id"), DomainID: r.PathValue("domain_id"), System: strings.Contains(r.URL.Path, "/v3/system/")}
	target := policy.Target{"target.project.id": t.ProjectID, "target.domain.id": t.DomainID}
	if t.ProjectID != "" {
		if p, err := a.svc.Store().GetProject(ctx, t.ProjectID); err == nil {
			target["target.project.domain_id"], target["target.domain_id"] = p.DomainID, p.DomainID
		}
	} else if t.DomainID != "" {
		target["target.domain_id"] = t.DomainID
	}
	if d, err := a.svc.ActorDomain(ctx, userID, groupID); err == nil {
		target["target.actor.domain_id"] = d
		if userID != "" {
			target["target.user.domain_id"] = d
		} else {
			target["target.group.domain_id"] = d
		}
	}
	target["target.user.id"], target["target.group.id"] = userID, groupID
	if err := httpx.Authorize(r, target); err != nil {
		return identity.Assignment{}, err
	}
	if !withRole {
		// Listing: only the actor and target must exist.
		as, _, err := a.svc.CheckGrant(ctx, userID, groupID, t, "", inherited)
		if err != nil && !errs.Is(err, errs.KindNotFound) {
			return as, err
		}
		if err != nil && !strings.HasPrefix(err.(*errs.Error).Message, "Could not find role") {
			return as, err
		}
		return as, nil
	}
	as, _, err := a.svc.CheckGrant(ctx, userID, groupID, t, r.PathValue("role_id"), inherited)
	return as, err
}

func (a *API) putGrant(w http.ResponseWriter, r *http.Request) error {
	as, err := a.grant(r, true)
	if err != nil {
		return err
	}
	if err := a.svc.GrantRole(r.Context(), as); err != nil {
		return err
	}
	return noContent(w)
}

func (a *API) checkGrant(w http.ResponseWriter, r *http.Request) error {
	as, err := a.grant(r, true)
	if err != nil {
		return err
	}
	ok, err := a.svc.HasGrant(r.Context(), as)
	if err != nil {
		return err
	}
	if !ok {
		return errs.NotFound("Could not find role assignment with role: %s, actor: %s, target: %s.", as.RoleID, as.ActorID, as.TargetID)
	}
	return noContent(w)
}

func (a *API) deleteGrant(w http.ResponseWriter, r *http.Request) error {
	as, err := a.grant(r, true)
	if err != nil {
		return err
	}
	if err := a.svc.RevokeGrant(r.Context(), as); err != nil {
		return err
	}
	return noContent(w)
}

func (a *API) listGrants(w http.ResponseWriter, r *http.Request) error {
	as, err := a.grant(r, false)
	if err != nil {
		return err
	}
	inh := as.Inherited
	list, err := a.svc.Store().ListAssignments(r.Context(), identity.AssignmentFilter{Types: []string{as.Type}, ActorIDs: []string{as.ActorID}, TargetIDs: []string{as.TargetID}, Inherited: &inh})
	if err != nil {
		return err
	}
	base := httpx.BaseURL(r)
	out := []obj{}
	for _, x := range list {
		if ro, err := a.svc.Store().GetRole(r.Context(), x.RoleID); err == nil {
			out = append(out, roleView(base, ro))
		}
	}
	httpx.WriteJSON(w, http.StatusOK, obj{"roles": out, "links": listLinks(r)})
	return nil
}
