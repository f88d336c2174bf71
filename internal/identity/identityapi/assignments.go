package identityapi

import (
	"context"
	"net/http"

	"github.com/gureum/gureum/internal/identity"
	"github.com/gureum/gureum/internal/platform/errs"
	"github.com/gureum/gureum/internal/platform/httpx"
	"github.com/gureum/gureum/internal/policy"
)

// listRoleAssignments is GET /v3/role_assignments with keystone's filters.
// Cloud readers see everything; a domain reader sees the assignments on its
// domain and the projects in it.
func (a *API) listRoleAssignments(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	qs := r.URL.Query()
	q := identity.RoleAssignmentQuery{
		UserID: qs.Get("user.id"), GroupID: qs.Get("group.id"), RoleID: qs.Get("role.id"),
		ProjectID: qs.Get("scope.project.id"), DomainID: qs.Get("scope.domain.id"),
	}
	var err error
	if _, ok := qs["scope.system"]; ok {
		q.System = true
	}
	if v := qs.Get("scope.OS-INHERIT:inherited_to"); v != "" {
		if v != "projects" {
			return errs.BadRequest("Invalid value for scope.OS-INHERIT:inherited_to: only 'projects' is supported.")
		}
		q.InheritedOnly = true
	}
	if q.Effective, err = queryFlag(r, "effective"); err != nil {
		return err
	}
	if q.IncludeSubtree, err = queryFlag(r, "include_subtree"); err != nil {
		return err
	}
	names, err := queryFlag(r, "include_names")
	if err != nil {
		return err
	}
	if q.Effective && q.GroupID != "" {
		return errs.BadRequest("Combining effective and group filter will always result in an empty list.")
	}
	if q.IncludeSubtree && q.ProjectID == "" {
		return errs.BadRequest("scope.project.id must be specified if include_subtree is also specified.")
	}
	n := 0
	for _, b := range []bool{q.ProjectID != "", q.DomainID != "", q.System} {
		if b {
			n++
		}
	}
	if n > 1 {
		return errs.BadRequest("Specify at most one of scope.project.id, scope.domain.id and scope.system.")
	}
	// Authorization: the target domain is the scope's domain when given.
	c := httpx.Creds(r)
	t := policy.Target{}
	if q.DomainID != "" {
		t["target.domain_id"] = q.DomainID
	} else if q.ProjectID != "" {
		if p, err := a.svc.Store().GetProject(ctx, q.ProjectID); err == nil {
			t["target.domain_id"] = p.DomainID
			t["target.project.id"] = p.ID
		}
	} else if c != nil {
		t["target.domain_id"] = c.DomainID
	}
	if err := httpx.Authorize(r, t); err != nil {
		return err
	}
	onlyDomain := ""
	if !httpx.Allowed(r, "identity:cloud_reader", nil) {
		onlyDomain = c.DomainID
		if onlyDomain == "" {
			onlyDomain = t["target.domain_id"]
		}
	}
	list, err := a.svc.ListRoleAssignments(ctx, q)
	if err != nil {
		return err
	}
	nm := &namer{a: a, ctx: ctx, projects: map[string]*identity.Project{}, roles: map[string]*identity.Role{}, users: map[string]*identity.User{}, groups: map[string]*identity.Group{}}
	base := httpx.BaseURL(r)
	out := []obj{}
	for _, x := range list {
		if onlyDomain != "" {
			d := x.TargetID
			if x.TargetID == identity.SystemTarget {
				continue
			}
			if p := nm.project(x.TargetID); p != nil && !p.IsDomain {
				d = p.DomainID
			}
			if d != onlyDomain {
				continue
			}
		}
		out = append(out, nm.view(base, x, names))
	}
	httpx.WriteJSON(w, http.StatusOK, obj{"role_assignments": out, "links": listLinks(r)})
	return nil
}

// namer resolves IDs to names once per listing.
type namer struct {
	a        *API
	ctx      context.Context
	projects map[string]*identity.Project
	roles    map[string]*identity.Role
	users    map[string]*identity.User
	groups   map[string]*identity.Group
}

func (n *namer) project(id string) *identity.Project {
	if p, ok := n.projects[id]; ok {
		return p
	}
	p, _ := n.a.svc.Store().GetProject(n.ctx, id)
	n.projects[id] = p
	return p
}

func (n *namer) domainRef(id string, names bool) obj {
	o := obj{"id": id}
	if names {
		if d := n.project(id); d != nil {
			o["name"] = d.Name
		}
	}
	return o
}

func (n *namer) view(base string, x identity.RoleAssignment, names bool) obj {
	v := obj{}
	role := obj{"id": x.RoleID}
	if names {
		ro, ok := n.roles[x.RoleID]
		if !ok {
			ro, _ = n.a.svc.Store().GetRole(n.ctx, x.RoleID)
			n.roles[x.RoleID] = ro
		}
		if ro != nil {
			role["name"] = ro.Name
			if ro.DomainID != "" {
				role["domain"] = n.domainRef(ro.DomainID, true)
			}
		}
	}
	v["role"] = role
	actorPath := ""
	switch x.Type {
	case identity.UserProject, identity.UserDomain, identity.UserSystem:
		u := obj{"id": x.ActorID}
		if names {
			us, ok := n.users[x.ActorID]
			if !ok {
				us, _ = n.a.svc.Store().GetUser(n.ctx, x.ActorID)
				n.users[x.ActorID] = us
			}
			if us != nil {
				u["name"], u["domain"] = us.Name, n.domainRef(us.DomainID, true)
			}
		}
		v["user"] = u
		actorPath = "/users/" + x.ActorID
	default:
		g := obj{"id": x.ActorID}
		if names {
			gr, ok := n.groups[x.ActorID]
			if !ok {
				gr, _ = n.a.svc.Store().GetGroup(n.ctx, x.ActorID)
				n.groups[x.ActorID] = gr
			}
			if gr != nil {
				g["name"], g["domain"] = gr.Name, n.domainRef(gr.DomainID, true)
			}
		}
		v["group"] = g
		actorPath = "/groups/" + x.ActorID
	}
	scope := obj{}
	targetPath := ""
	switch x.Type {
	case identity.UserProject, identity.GroupProject:
		p := obj{"id": x.TargetID}
		if names {
			if pr := n.project(x.TargetID); pr != nil {
				p["name"], p["domain"] = pr.Name, n.domainRef(pr.DomainID, true)
			}
		}
		scope["project"] = p
		targetPath = "/projects/" + x.TargetID
	case identity.UserDomain, identity.GroupDomain:
		scope["domain"] = n.domainRef(x.TargetID, names)
		targetPath = "/domains/" + x.TargetID
	default:
		scope["system"] = obj{"all": true}
		targetPath = "/system"
	}
	if x.Inherited {
		scope["OS-INHERIT:inherited_to"] = "projects"
	}
	v["scope"] = scope
	links := obj{}
	switch {
	case x.InheritedFrom != "":
		// Keystone links the assignment it was inherited from.
		kind := "/projects/"
		if p := n.project(x.InheritedFrom); p != nil && p.IsDomain {
			kind = "/domains/"
		}
		actor := actorPath
		if x.ViaGroupID != "" {
			actor = "/groups/" + x.ViaGroupID
		}
		links["assignment"] = base + "/identity/v3/OS-INHERIT" + kind + x.InheritedFrom + actor + "/roles/" + roleOrPrior(x) + "/inherited_to_projects"
	case x.ViaGroupID != "":
		links["assignment"] = base + "/identity/v3" + targetPath + "/groups/" + x.ViaGroupID + "/roles/" + roleOrPrior(x)
	default:
		links["assignment"] = base + "/identity/v3" + targetPath + actorPath + "/roles/" + roleOrPrior(x)
	}
	if x.ViaGroupID != "" {
		links["membership"] = base + "/identity/v3/groups/" + x.ViaGroupID + "/users/" + x.ActorID
	}
	if x.PriorRoleID != "" {
		links["prior_role"] = base + "/identity/v3/roles/" + x.PriorRoleID
	}
	v["links"] = links
	return v
}

func roleOrPrior(x identity.RoleAssignment) string {
	if x.AssignedRoleID != "" {
		return x.AssignedRoleID
	}
	return x.RoleID
}
