package identityapi

import (
	"net"
	"net/http"

	"github.com/gureum/gureum/internal/identity"
	"github.com/gureum/gureum/internal/platform/errs"
	"github.com/gureum/gureum/internal/platform/httpx"
	"github.com/gureum/gureum/internal/policy"
)

func userTarget(u *identity.User) policy.Target {
	return policy.Target{"target.user.id": u.ID, "target.user.domain_id": u.DomainID, "target.domain_id": u.DomainID}
}

// loadUser reads the path's user and authorizes the route on it; callers
// who could not see it anyway get 403 rather than learning it is missing.
func (a *API) loadUser(r *http.Request) (*identity.User, error) {
	id := r.PathValue("user_id")
	u, err := a.svc.Store().GetUser(r.Context(), id)
	if err != nil {
		if errs.Is(err, errs.KindNotFound) && !httpx.Allowed(r, "identity:cloud_reader", nil) {
			if aerr := httpx.Authorize(r, policy.Target{"target.user.id": id}); aerr != nil {
				return nil, aerr
			}
		}
		return nil, err
	}
	if err := httpx.Authorize(r, userTarget(u)); err != nil {
		return nil, err
	}
	return u, nil
}

func (a *API) listUsers(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f := identity.UserFilter{Name: q.Get("name")}
	var err error
	if f.DomainID, err = listDomain(r, q.Get("domain_id")); err != nil {
		return err
	}
	if f.Enabled, err = queryBool(r, "enabled"); err != nil {
		return err
	}
	us, err := a.svc.Store().ListUsers(r.Context(), f)
	if err != nil {
		return err
	}
	base := httpx.BaseURL(r)
	out := []obj{}
	for _, u := range us {
		out = append(out, userView(base, u))
	}
	httpx.WriteJSON(w, http.StatusOK, obj{"users": out, "links": listLinks(r)})
	return nil
}

func (a *API) getUser(w http.ResponseWriter, r *http.Request) error {
	u, err := a.loadUser(r)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, obj{"user": userView(httpx.BaseURL(r), u)})
	return nil
}

// readUser picks a user's fields; password is set when one was given.
func readUser(b *body, u *identity.User, create bool) (password *string) {
	b.name(&u.Name, maxName, create)
	b.str("description", &u.Description, 0, maxDescription, true)
	b.boolean("enabled", &u.Enabled)
	b.str("default_project_id", &u.DefaultProjectID, 0, maxID, true)
	var pw string
	if b.str("password", &pw, 0, identity.MaxPasswordLength, true) {
		password = &pw
	}
	var opts map[string]any
	if b.object("options", &opts) {
		if u.Options == nil {
			u.Options = map[string]any{}
		}
		for k, v := range opts {
			if !knownUserOption[k] {
				b.fail("Invalid input for field 'options': '%s' is not a valid option.", k)
			}
			if v == nil {
				delete(u.Options, k)
			} else {
				u.Options[k] = v
			}
		}
	}
	if create {
		b.str("domain_id", &u.DomainID, 0, maxID, true)
	} else {
		var d string
		if b.str("domain_id", &d, 0, maxID, true) && d != u.DomainID {
			b.fail("Update of `domain_id` is not allowed.")
		}
	}
	b.raw("federated") // accepted and ignored: no federation
	extra := b.rest()
	if u.Extra == nil {
		u.Extra = map[string]any{}
	}
	for k, v := range extra {
		u.Extra[k] = v
	}
	return password
}

// knownUserOption lists keystone's user options.
var knownUserOption = map[string]bool{
	"ignore_change_password_upon_first_use": true,
	"ignore_password_expiry":                true,
	"ignore_lockout_failure_attempts":       true,
	"lock_password":                         true,
	"ignore_user_inactivity":                true,
	"multi_factor_auth_rules":               true,
	"multi_factor_auth_enabled":             true,
}

func (a *API) createUser(w http.ResponseWriter, r *http.Request) error {
	b, err := readBody(r, "user")
	if err != nil {
		if aerr := httpx.Authorize(r, policy.Target{}); aerr != nil {
			return aerr
		}
		return err
	}
	u := &identity.User{Enabled: true}
	pw := readUser(b, u, true)
	if u.DomainID == "" {
		if c := httpx.Creds(r); c.DomainID != "" {
			u.DomainID = c.DomainID
		} else {
			u.DomainID = identity.DefaultDomainID
		}
	}
	if err := httpx.Authorize(r, policy.Target{"target.user.domain_id": u.DomainID, "target.domain_id": u.DomainID}); err != nil {
		return err
	}
	if b.err != nil {
		return b.err
	}
	if err := a.svc.CreateUser(r.Context(), u, pw); err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusCreated, obj{"user": userView(httpx.BaseURL(r), u)})
	return nil
}

func (a *API) updateUser(w http.ResponseWriter, r *http.Request) error {
	u, err := a.loadUser(r)
	if err != nil {
		return err
	}
	b, err := readBody(r, "user")
	if err != nil {
		return err
	}
	pw := readUser(b, u, false)
	if b.err != nil {
		return b.err
	}
	if err := a.svc.UpdateUser(r.Context(), u, pw); err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, obj{"user": userView(httpx.BaseURL(r), u)})
	return nil
}

func (a *API) deleteUser(w http.ResponseWriter, r *http.Request) error {
	u, err := a.loadUser(r)
	if err != nil {
		return err
	}
	if err := a.svc.DeleteUser(r.Context(), u.ID); err != nil {
		return err
	}
	return noContent(w)
}

// changePassword is POST /v3/users/{user_id}/password. As in keystone it
// needs no token (an expired password can be changed): the original
// password is the credential, checked like a login.
func (a *API) changePassword(w http.ResponseWriter, r *http.Request) error {
	if err := httpx.Authorize(r, nil); err != nil {
		return err
	}
	b, err := readBody(r, "user")
	if err != nil {
		return err
	}
	var orig, pw string
	if !b.str("original_password", &orig, 0, identity.MaxPasswordLength, false) {
		b.fail("'original_password' is a required property.")
	}
	if !b.str("password", &pw, 1, identity.MaxPasswordLength, false) {
		b.fail("'password' is a required property.")
	}
	b.strict()
	if b.err != nil {
		return b.err
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if err := a.svc.ChangePassword(r.Context(), r.PathValue("user_id"), orig, pw, host); err != nil {
		return err
	}
	return noContent(w)
}

func (a *API) listUserGroups(w http.ResponseWriter, r *http.Request) error {
	u, err := a.loadUser(r)
	if err != nil {
		return err
	}
	gids, err := a.svc.Store().UserGroupIDs(r.Context(), u.ID)
	if err != nil {
		return err
	}
	base := httpx.BaseURL(r)
	out := []obj{}
	for _, id := range gids {
		g, err := a.svc.Store().GetGroup(r.Context(), id)
		if err != nil {
			continue
		}
		out = append(out, groupView(base, g))
	}
	httpx.WriteJSON(w, http.StatusOK, obj{"groups": out, "links": listLinks(r)})
	return nil
}

func (a *API) listUserProjects(w http.ResponseWriter, r *http.Request) error {
	u, err := a.loadUser(r)
	if err != nil {
		return err
	}
	ps, err := a.svc.ScopeTargets(r.Context(), u.ID, false)
	if err != nil {
		return err
	}
	base := httpx.BaseURL(r)
	out := []obj{}
	for _, p := range ps {
		out = append(out, projectView(base, p))
	}
	httpx.WriteJSON(w, http.StatusOK, obj{"projects": out, "links": listLinks(r)})
	return nil
}

// ---- groups ----

func groupTarget(g *identity.Group) policy.Target {
	return policy.Target{"target.group.id": g.ID, "target.group.domain_id": g.DomainID, "target.domain_id": g.DomainID}
}

func (a *API) loadGroup(r *http.Request) (*identity.Group, error) {
	id := r.PathValue("group_id")
	g, err := a.svc.Store().GetGroup(r.Context(), id)
	if err != nil {
		if errs.Is(err, errs.KindNotFound) && !httpx.Allowed(r, "identity:cloud_reader", nil) {
			if aerr := httpx.Authorize(r, policy.Target{"target.group.id": id}); aerr != nil {
				return nil, aerr
			}
		}
		return nil, err
	}
	if err := httpx.Authorize(r, groupTarget(g)); err != nil {
		return nil, err
	}
	return g, nil
}

func (a *API) listGroups(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	d, err := listDomain(r, q.Get("domain_id"))
	if err != nil {
		return err
	}
	gs, err := a.svc.Store().ListGroups(r.Context(), d, q.Get("name"))
	if err != nil {
		return err
	}
	base := httpx.BaseURL(r)
	out := []obj{}
	for _, g := range gs {
		out = append(out, groupView(base, g))
	}
	httpx.WriteJSON(w, http.StatusOK, obj{"groups": out, "links": listLinks(r)})
	return nil
}

func (a *API) getGroup(w http.ResponseWriter, r *http.Request) error {
	g, err := a.loadGroup(r)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, obj{"group": groupView(httpx.BaseURL(r), g)})
	return nil
}

func readGroup(b *body, g *identity.Group, create bool) {
	b.name(&g.Name, maxProjectName, create)
	b.str("description", &g.Description, 0, maxDescription, true)
	if create {
		b.str("domain_id", &g.DomainID, 0, maxID, true)
	} else {
		var d string
		if b.str("domain_id", &d, 0, maxID, true) && d != g.DomainID {
			b.fail("Update of `domain_id` is not allowed.")
		}
	}
	extra := b.rest()
	if g.Extra == nil {
		g.Extra = map[string]any{}
	}
	for k, v := range extra {
		g.Extra[k] = v
	}
}

func (a *API) createGroup(w http.ResponseWriter, r *http.Request) error {
	b, err := readBody(r, "group")
	if err != nil {
		if aerr := httpx.Authorize(r, policy.Target{}); aerr != nil {
			return aerr
		}
		return err
	}
	g := &identity.Group{}
	readGroup(b, g, true)
	if g.DomainID == "" {
		if c := httpx.Creds(r); c.DomainID != "" {
			g.DomainID = c.DomainID
		} else {
			g.DomainID = identity.DefaultDomainID
		}
	}
	if err := httpx.Authorize(r, policy.Target{"target.group.domain_id": g.DomainID, "target.domain_id": g.DomainID}); err != nil {
		return err
	}
	if b.err != nil {
		return b.err
	}
	if err := a.svc.CreateGroup(r.Context(), g); err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusCreated, obj{"group": groupView(httpx.BaseURL(r), g)})
	return nil
}

func (a *API) updateGroup(w http.ResponseWriter, r *http.Request) error {
	g, err := a.loadGroup(r)
	if err != nil {
		return err
	}
	b, err := readBody(r, "group")
	if err != nil {
		return err
	}
	readGroup(b, g, false)
	if b.err != nil {
		return b.err
	}
	if err := a.svc.UpdateGroup(r.Context(), g); err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, obj{"group": groupView(httpx.BaseURL(r), g)})
	return nil
}

func (a *API) deleteGroup(w http.ResponseWriter, r *http.Request) error {
	g, err := a.loadGroup(r)
	if err != nil {
		return err
	}
	if err := a.svc.DeleteGroup(r.Context(), g.ID); err != nil {
		return err
	}
	return noContent(w)
}

func (a *API) listGroupUsers(w http.ResponseWriter, r *http.Request) error {
	g, err := a.loadGroup(r)
	if err != nil {
		return err
	}
	us, err := a.svc.Store().ListUsers(r.Context(), identity.UserFilter{GroupID: g.ID})
	if err != nil {
		return err
	}
	base := httpx.BaseURL(r)
	out := []obj{}
	for _, u := range us {
		out = append(out, userView(base, u))
	}
	httpx.WriteJSON(w, http.StatusOK, obj{"users": out, "links": listLinks(r)})
	return nil
}

// membership loads and authorizes the group and user of a membership
// route: the caller must be allowed on the group's and the user's domain.
func (a *API) membership(r *http.Request) (*identity.Group, *identity.User, error) {
	ctx := r.Context()
	g, gerr := a.svc.Store().GetGroup(ctx, r.PathValue("group_id"))
	u, uerr := a.svc.Store().GetUser(ctx, r.PathValue("user_id"))
	t := policy.Target{}
	if gerr == nil {
		t["target.group.domain_id"], t["target.domain_id"] = g.DomainID, g.DomainID
	}
	if uerr == nil {
		t["target.user.domain_id"] = u.DomainID
	}
	if err := httpx.Authorize(r, t); err != nil {
		return nil, nil, err
	}
	if gerr != nil {
		return nil, nil, gerr
	}
	if uerr != nil {
		return nil, nil, uerr
	}
	return g, u, nil
}

func (a *API) addGroupUser(w http.ResponseWriter, r *http.Request) error {
	g, u, err := a.membership(r)
	if err != nil {
		return err
	}
	if err := a.svc.AddUserToGroup(r.Context(), u.ID, g.ID); err != nil {
		return err
	}
	return noContent(w)
}

func (a *API) checkGroupUser(w http.ResponseWriter, r *http.Request) error {
	g, u, err := a.membership(r)
	if err != nil {
		return err
	}
	gids, err := a.svc.Store().UserGroupIDs(r.Context(), u.ID)
	if err != nil {
		return err
	}
	for _, id := range gids {
		if id == g.ID {
			return noContent(w)
		}
	}
	return errs.NotFound("User %s is not a member of group %s.", u.ID, g.ID)
}

func (a *API) removeGroupUser(w http.ResponseWriter, r *http.Request) error {
	g, u, err := a.membership(r)
	if err != nil {
		return err
	}
	if err := a.svc.RemoveUserFromGroup(r.Context(), u.ID, g.ID); err != nil {
		return err
	}
	return noContent(w)
}
