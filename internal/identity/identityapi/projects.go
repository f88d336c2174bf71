package identityapi

import (
	"net/http"
	"net/url"
	"sort"

	"github.com/gureum/gureum/internal/identity"
	"github.com/gureum/gureum/internal/platform/errs"
	"github.com/gureum/gureum/internal/platform/httpx"
	"github.com/gureum/gureum/internal/policy"
)

// listDomain authorizes a list guarded by "cloud reader or reader of the
// domain" and returns the domain filter to apply: a domain-scoped reader
// sees its own domain only, whatever it asked for.
func listDomain(r *http.Request, requested string) (string, error) {
	c := httpx.Creds(r)
	d := requested
	if d == "" && c != nil {
		d = c.DomainID
	}
	if err := httpx.Authorize(r, policy.Target{"target.domain_id": d}); err != nil {
		return "", err
	}
	if !httpx.Allowed(r, "identity:cloud_reader", nil) {
		return d, nil
	}
	return requested, nil
}

// ---- domains ----

func (a *API) listDomains(w http.ResponseWriter, r *http.Request) error {
	if err := httpx.Authorize(r, nil); err != nil {
		return err
	}
	t := true
	f := identity.ProjectFilter{IsDomain: &t, Name: r.URL.Query().Get("name")}
	var err error
	if f.Enabled, err = queryBool(r, "enabled"); err != nil {
		return err
	}
	ds, err := a.svc.Store().ListProjects(r.Context(), f)
	if err != nil {
		return err
	}
	base := httpx.BaseURL(r)
	out := []obj{}
	for _, d := range ds {
		out = append(out, domainView(base, d))
	}
	httpx.WriteJSON(w, http.StatusOK, obj{"domains": out, "links": listLinks(r)})
	return nil
}

func domainTarget(id string) policy.Target {
	return policy.Target{"target.domain.id": id, "target.domain_id": id}
}

func (a *API) getDomain(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("domain_id")
	d, err := a.svc.GetDomain(r.Context(), id)
	if err := httpx.Authorize(r, domainTarget(id)); err != nil {
		return err
	}
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, obj{"domain": domainView(httpx.BaseURL(r), d)})
	return nil
}

func readDomain(b *body, d *identity.Project, create bool) {
	b.name(&d.Name, maxProjectName, create)
	b.str("description", &d.Description, 0, maxDescription, true)
	b.boolean("enabled", &d.Enabled)
	b.strList("tags", &d.Tags, maxTags, maxTag)
	var opts map[string]any
	b.object("options", &opts)
	if create {
		var id string
		if b.str("explicit_domain_id", &id, 1, maxID, false) {
			d.ID = id
		}
	}
	extra := b.rest()
	if d.Extra == nil {
		d.Extra = map[string]any{}
	}
	for k, v := range extra {
		d.Extra[k] = v
	}
}

func (a *API) createDomain(w http.ResponseWriter, r *http.Request) error {
	if err := httpx.Authorize(r, nil); err != nil {
		return err
	}
	b, err := readBody(r, "domain")
	if err != nil {
		return err
	}
	d := &identity.Project{Enabled: true}
	readDomain(b, d, true)
	if b.err != nil {
		return b.err
	}
	if err := a.svc.CreateDomain(r.Context(), d); err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusCreated, obj{"domain": domainView(httpx.BaseURL(r), d)})
	return nil
}

func (a *API) updateDomain(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("domain_id")
	if err := httpx.Authorize(r, domainTarget(id)); err != nil {
		return err
	}
	d, err := a.svc.GetDomain(r.Context(), id)
	if err != nil {
		return err
	}
	b, err := readBody(r, "domain")
	if err != nil {
		return err
	}
	readDomain(b, d, false)
	if b.err != nil {
		return b.err
	}
	if err := a.svc.UpdateProject(r.Context(), d); err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, obj{"domain": domainView(httpx.BaseURL(r), d)})
	return nil
}

func (a *API) deleteDomain(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("domain_id")
	if err := httpx.Authorize(r, domainTarget(id)); err != nil {
		return err
	}
	if err := a.svc.DeleteDomain(r.Context(), id); err != nil {
		return err
	}
	return noContent(w)
}

// ---- projects ----

func projectTarget(p *identity.Project) policy.Target {
	d := p.DomainID
	if p.IsDomain {
		d = p.ID
	}
	return policy.Target{"target.project.id": p.ID, "target.project.domain_id": d, "target.domain_id": d}
}

func (a *API) listProjects(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f := identity.ProjectFilter{Name: q.Get("name"), ParentID: q.Get("parent_id")}
	var err error
	if f.DomainID, err = listDomain(r, q.Get("domain_id")); err != nil {
		return err
	}
	if f.Enabled, err = queryBool(r, "enabled"); err != nil {
		return err
	}
	if f.IsDomain, err = queryBool(r, "is_domain"); err != nil {
		return err
	}
	if f.IsDomain == nil {
		no := false
		f.IsDomain = &no // keystone lists domains only when asked
	}
	f.Tags, f.TagsAny, f.NotTags, f.NotTagsAny = queryList(r, "tags"), queryList(r, "tags-any"), queryList(r, "not-tags"), queryList(r, "not-tags-any")
	ps, err := a.svc.Store().ListProjects(r.Context(), f)
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

// loadProject reads the path's project and authorizes the route on it.
// Callers who may not see the project get 403 whether or not it exists,
// except cloud readers, who learn 404.
func (a *API) loadProject(r *http.Request) (*identity.Project, error) {
	id := r.PathValue("project_id")
	p, err := a.svc.Store().GetProject(r.Context(), id)
	if err != nil {
		if errs.Is(err, errs.KindNotFound) && !httpx.Allowed(r, "identity:cloud_reader", nil) {
			if aerr := httpx.Authorize(r, policy.Target{"target.project.id": id}); aerr != nil {
				return nil, aerr
			}
		}
		return nil, err
	}
	if err := httpx.Authorize(r, projectTarget(p)); err != nil {
		return nil, err
	}
	return p, nil
}

func (a *API) getProject(w http.ResponseWriter, r *http.Request) error {
	p, err := a.loadProject(r)
	if err != nil {
		return err
	}
	base := httpx.BaseURL(r)
	v := projectView(base, p)
	if ok, err := queryFlag(r, "parents_as_list"); err != nil {
		return err
	} else if ok {
		anc, err := a.svc.Ancestors(r.Context(), p)
		if err != nil {
			return err
		}
		l := []obj{}
		for _, x := range anc {
			l = append(l, obj{"project": projectView(base, x)})
		}
		v["parents"] = l
	}
	if ok, err := queryFlag(r, "subtree_as_list"); err != nil {
		return err
	} else if ok {
		sub, err := a.svc.Subtree(r.Context(), p)
		if err != nil {
			return err
		}
		l := []obj{}
		for _, x := range sub {
			l = append(l, obj{"project": projectView(base, x)})
		}
		v["subtree"] = l
	}
	httpx.WriteJSON(w, http.StatusOK, obj{"project": v})
	return nil
}

func readProject(b *body, p *identity.Project, create bool) {
	b.name(&p.Name, maxProjectName, create)
	b.str("description", &p.Description, 0, maxDescription, true)
	b.boolean("enabled", &p.Enabled)
	b.strList("tags", &p.Tags, maxTags, maxTag)
	var opts map[string]any
	b.object("options", &opts)
	if create {
		b.str("domain_id", &p.DomainID, 0, maxID, true)
		b.str("parent_id", &p.ParentID, 0, maxID, true)
		b.boolean("is_domain", &p.IsDomain)
	} else {
		var x string
		if b.str("domain_id", &x, 0, maxID, true) && x != p.DomainID {
			b.err = errs.BadRequest("Update of `domain_id` is not allowed.")
		}
		if b.str("parent_id", &x, 0, maxID, true) && x != p.ParentID {
			b.err = errs.Forbidden("Update of `parent_id` is not allowed.")
		}
		var isd bool
		if b.boolean("is_domain", &isd) && isd != p.IsDomain {
			b.err = errs.BadRequest("Update of `is_domain` is not allowed.")
		}
	}
	if b.err == nil {
		seen := map[string]bool{}
		for _, t := range p.Tags {
			if seen[t] {
				b.fail("Invalid input for field 'tags': duplicate tag %s.", t)
			}
			seen[t] = true
		}
	}
	extra := b.rest()
	if p.Extra == nil {
		p.Extra = map[string]any{}
	}
	for k, v := range extra {
		p.Extra[k] = v
	}
}

func (a *API) createProject(w http.ResponseWriter, r *http.Request) error {
	b, err := readBody(r, "project")
	if err != nil {
		// Authorize first so an anonymous-ish caller learns nothing.
		if aerr := httpx.Authorize(r, policy.Target{}); aerr != nil {
			return aerr
		}
		return err
	}
	p := &identity.Project{Enabled: true}
	readProject(b, p, true)
	// The target domain is the one asked for, the parent's, or the
	// caller's (keystone defaults a domain-scoped caller's projects to its
	// domain).
	d := p.DomainID
	if d == "" && p.ParentID != "" {
		if parent, err := a.svc.Store().GetProject(r.Context(), p.ParentID); err == nil {
			d = parent.DomainID
			if parent.IsDomain {
				d = parent.ID
			}
		}
	}
	if d == "" {
		if c := httpx.Creds(r); c.DomainID != "" {
			d = c.DomainID
		} else {
			d = identity.DefaultDomainID
		}
	}
	if p.DomainID == "" && p.ParentID == "" {
		p.DomainID = d
	}
	if err := httpx.Authorize(r, policy.Target{"target.project.domain_id": d, "target.domain_id": d}); err != nil {
		return err
	}
	if b.err != nil {
		return b.err
	}
	if p.IsDomain {
		if err := httpx.Check(r, "identity:create_domain", nil); err != nil {
			return err
		}
		p.DomainID, p.ParentID = "", ""
	}
	if err := a.svc.CreateProject(r.Context(), p); err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusCreated, obj{"project": projectView(httpx.BaseURL(r), p)})
	return nil
}

func (a *API) updateProject(w http.ResponseWriter, r *http.Request) error {
	p, err := a.loadProject(r)
	if err != nil {
		return err
	}
	b, err := readBody(r, "project")
	if err != nil {
		return err
	}
	readProject(b, p, false)
	if b.err != nil {
		return b.err
	}
	if err := a.svc.UpdateProject(r.Context(), p); err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, obj{"project": projectView(httpx.BaseURL(r), p)})
	return nil
}

func (a *API) deleteProject(w http.ResponseWriter, r *http.Request) error {
	p, err := a.loadProject(r)
	if err != nil {
		return err
	}
	if err := a.svc.DeleteProject(r.Context(), p.ID); err != nil {
		return err
	}
	return noContent(w)
}

// ---- project tags ----

func (a *API) listTags(w http.ResponseWriter, r *http.Request) error {
	p, err := a.loadProject(r)
	if err != nil {
		return err
	}
	tags := p.Tags
	if tags == nil {
		tags = []string{}
	}
	httpx.WriteJSON(w, http.StatusOK, obj{"tags": tags, "links": listLinks(r)})
	return nil
}

func validTag(t string) error {
	if t == "" || len([]rune(t)) > maxTag {
		return errs.BadRequest("Invalid input for field 'tags': a tag must have 1 to %d characters.", maxTag)
	}
	for _, c := range t {
		if c == '/' || c == ',' {
			return errs.BadRequest("Invalid input for field 'tags': '%s' contains '/' or ','.", truncate(t, 32))
		}
	}
	return nil
}

func (a *API) replaceTags(w http.ResponseWriter, r *http.Request) error {
	p, err := a.loadProject(r)
	if err != nil {
		return err
	}
	var in struct {
		Tags []string `json:"tags"`
	}
	if err := httpx.DecodeJSON(r, &in); err != nil {
		return err
	}
	if len(in.Tags) > maxTags {
		return errs.BadRequest("Invalid input for field 'tags': at most %d tags.", maxTags)
	}
	seen := map[string]bool{}
	var tags []string
	for _, t := range in.Tags {
		if err := validTag(t); err != nil {
			return err
		}
		if !seen[t] {
			seen[t] = true
			tags = append(tags, t)
		}
	}
	sort.Strings(tags)
	p.Tags = tags
	if err := a.svc.UpdateProject(r.Context(), p); err != nil {
		return err
	}
	if p.Tags == nil {
		p.Tags = []string{}
	}
	httpx.WriteJSON(w, http.StatusOK, obj{"tags": p.Tags, "links": listLinks(r)})
	return nil
}

func (a *API) deleteTags(w http.ResponseWriter, r *http.Request) error {
	p, err := a.loadProject(r)
	if err != nil {
		return err
	}
	p.Tags = nil
	if err := a.svc.UpdateProject(r.Context(), p); err != nil {
		return err
	}
	return noContent(w)
}

func pathTag(r *http.Request) string {
	t := r.PathValue("tag")
	if u, err := url.PathUnescape(t); err == nil {
		return u
	}
	return t
}

func (a *API) checkTag(w http.ResponseWriter, r *http.Request) error {
	p, err := a.loadProject(r)
	if err != nil {
		return err
	}
	tag := pathTag(r)
	for _, t := range p.Tags {
		if t == tag {
			return noContent(w)
		}
	}
	return errs.NotFound("Tag %s not found for project %s.", truncate(tag, 64), p.ID)
}

func (a *API) addTag(w http.ResponseWriter, r *http.Request) error {
	p, err := a.loadProject(r)
	if err != nil {
		return err
	}
	tag := pathTag(r)
	if err := validTag(tag); err != nil {
		return err
	}
	for _, t := range p.Tags {
		if t == tag {
			w.Header().Set("Location", httpx.SelfLink(r))
			w.WriteHeader(http.StatusCreated)
			return nil
		}
	}
	if len(p.Tags) >= maxTags {
		return errs.BadRequest("Invalid input for field 'tags': at most %d tags.", maxTags)
	}
	p.Tags = append(p.Tags, tag)
	if err := a.svc.UpdateProject(r.Context(), p); err != nil {
		return err
	}
	w.Header().Set("Location", httpx.SelfLink(r))
	w.WriteHeader(http.StatusCreated)
	return nil
}

func (a *API) deleteTag(w http.ResponseWriter, r *http.Request) error {
	p, err := a.loadProject(r)
	if err != nil {
		return err
	}
	tag := pathTag(r)
	kept := []string{}
	for _, t := range p.Tags {
		if t != tag {
			kept = append(kept, t)
		}
	}
	if len(kept) == len(p.Tags) {
		return errs.NotFound("Tag %s not found for project %s.", truncate(tag, 64), p.ID)
	}
	p.Tags = kept
	if err := a.svc.UpdateProject(r.Context(), p); err != nil {
		return err
	}
	return noContent(w)
}
