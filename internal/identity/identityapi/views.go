package identityapi

import (
	"time"

	"github.com/gureum/gureum/internal/identity"
)

// timeFormat is keystone's timestamp format.
const timeFormat = "2006-01-02T15:04:05.000000Z"

func ts(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(timeFormat)
}

type obj = map[string]any

func link(base, path string) obj { return obj{"self": base + "/identity/v3" + path} }

func projectView(base string, p *identity.Project) obj {
	v := obj{}
	for k, x := range p.Extra {
		v[k] = x
	}
	v["id"] = p.ID
	v["name"] = p.Name
	v["enabled"] = p.Enabled
	v["description"] = p.Description
	v["is_domain"] = p.IsDomain
	v["tags"] = p.Tags
	if v["tags"] == nil {
		v["tags"] = []string{}
	}
	v["options"] = obj{}
	if p.IsDomain {
		v["domain_id"] = nil
		v["parent_id"] = nil
	} else {
		v["domain_id"] = p.DomainID
		v["parent_id"] = p.ParentID
	}
	v["links"] = link(base, "/projects/"+p.ID)
	return v
}

func domainView(base string, d *identity.Project) obj {
	v := obj{}
	for k, x := range d.Extra {
		v[k] = x
	}
	v["id"] = d.ID
	v["name"] = d.Name
	v["enabled"] = d.Enabled
	v["description"] = d.Description
	v["tags"] = d.Tags
	if v["tags"] == nil {
		v["tags"] = []string{}
	}
	v["options"] = obj{}
	v["links"] = link(base, "/domains/"+d.ID)
	return v
}

func userView(base string, u *identity.User) obj {
	v := obj{}
	for k, x := range u.Extra {
		v[k] = x
	}
	v["id"] = u.ID
	v["name"] = u.Name
	v["domain_id"] = u.DomainID
	v["enabled"] = u.Enabled
	v["password_expires_at"] = ts(u.PasswordExpiresAt)
	v["options"] = u.Options
	if u.Options == nil {
		v["options"] = obj{}
	}
	if u.DefaultProjectID != "" {
		v["default_project_id"] = u.DefaultProjectID
	}
	if u.Description != "" {
		v["description"] = u.Description
	}
	v["links"] = link(base, "/users/"+u.ID)
	return v
}

func roleView(base string, r *identity.Role) obj {
	v := obj{}
	for k, x := range r.Extra {
		v[k] = x
	}
	v["id"] = r.ID
	v["name"] = r.Name
	v["description"] = r.Description
	if r.DomainID == "" {
		v["domain_id"] = nil
	} else {
		v["domain_id"] = r.DomainID
	}
	v["options"] = r.Options
	if r.Options == nil {
		v["options"] = obj{}
	}
	v["links"] = link(base, "/roles/"+r.ID)
	return v
}

func catalogView(cat []identity.CatalogService) []obj {
	out := []obj{}
	for _, c := range cat {
		eps := []obj{}
		for _, e := range c.Endpoints {
			eps = append(eps, obj{"id": e.ID, "interface": e.Interface, "region": e.RegionID, "region_id": e.RegionID, "url": e.URL})
		}
		out = append(out, obj{"id": c.Service.ID, "type": c.Service.Type, "name": c.Service.Name, "endpoints": eps})
	}
	return out
}

// tokenView is a token without its catalog (writeToken adds it).
func tokenView(t *identity.Token) obj {
	v := obj{
		"methods":    t.Methods,
		"audit_ids":  t.AuditIDs,
		"expires_at": ts(t.ExpiresAt),
		"issued_at":  ts(t.IssuedAt),
		"user": obj{
			"id":                  t.User.ID,
			"name":                t.User.Name,
			"domain":              obj{"id": t.UserDomain.ID, "name": t.UserDomain.Name},
			"password_expires_at": ts(t.User.PasswordExpiresAt),
		},
	}
	roles := []obj{}
	for _, r := range t.Roles {
		roles = append(roles, obj{"id": r.ID, "name": r.Name})
	}
	switch {
	case t.Project != nil:
		v["project"] = obj{"id": t.Project.ID, "name": t.Project.Name, "domain": obj{"id": t.ProjectDomain.ID, "name": t.ProjectDomain.Name}}
		v["is_domain"] = false
		v["roles"] = roles
	case t.Domain != nil:
		v["domain"] = obj{"id": t.Domain.ID, "name": t.Domain.Name}
		v["roles"] = roles
	case t.System:
		v["system"] = obj{"all": true}
		v["roles"] = roles
	}
	if t.AppCred != nil {
		v["application_credential"] = obj{"id": t.AppCred.ID, "name": t.AppCred.Name, "restricted": !t.AppCred.Unrestricted}
	}
	return obj{"token": v}
}

func groupView(base string, g *identity.Group) obj {
	v := obj{}
	for k, x := range g.Extra {
		v[k] = x
	}
	v["id"] = g.ID
	v["name"] = g.Name
	v["domain_id"] = g.DomainID
	v["description"] = g.Description
	v["links"] = link(base, "/groups/"+g.ID)
	return v
}
