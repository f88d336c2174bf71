package identity

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"time"

	"github.com/gureum/gureum/internal/platform/errs"
	"github.com/gureum/gureum/internal/platform/ids"
)

// The operations below are the write side of the admin API. They check
// what the store cannot (references, keystone's rules on domains and
// hierarchies) and go through s.store, whose every write invalidates the
// token cache, so a removal takes effect on the next validation.

// GetDomain returns a domain (a project with IsDomain).
func (s *Service) GetDomain(ctx context.Context, id string) (*Project, error) {
	d, err := s.store.GetProject(ctx, id)
	if err != nil || !d.IsDomain {
		return nil, errs.NotFound("Could not find domain: %s.", id)
	}
	return d, nil
}

// CreateDomain creates a domain.
func (s *Service) CreateDomain(ctx context.Context, d *Project) error {
	if d.ID == "" {
		d.ID = ids.Hex()
	}
	d.DomainID, d.ParentID, d.IsDomain = RootDomainID, "", true
	d.CreatedAt = s.now()
	return s.store.CreateProject(ctx, d)
}

// DeleteDomain deletes a disabled domain with everything in it.
func (s *Service) DeleteDomain(ctx context.Context, id string) error {
	d, err := s.GetDomain(ctx, id)
	if err != nil {
		return err
	}
	if d.Enabled {
		return errs.Forbidden("Cannot delete a domain that is enabled, please disable it first.")
	}
	return s.store.DeleteProject(ctx, id)
}

// CreateProject creates a project under a domain or a parent project.
func (s *Service) CreateProject(ctx context.Context, p *Project) error {
	if p.IsDomain {
		return s.CreateDomain(ctx, p)
	}
	if p.ID == "" {
		p.ID = ids.Hex()
	}
	p.CreatedAt = s.now()
	if p.ParentID != "" {
		parent, err := s.store.GetProject(ctx, p.ParentID)
		if err != nil {
			return errs.NotFound("Could not find project: %s.", p.ParentID)
		}
		pd := parent.DomainID
		if parent.IsDomain {
			pd = parent.ID
		}
		if p.DomainID != "" && p.DomainID != pd {
			return errs.BadRequest("Cannot create project, the parent (%s) and the project must be in the same domain.", p.ParentID)
		}
		p.DomainID = pd
	} else {
		if p.DomainID == "" {
			p.DomainID = DefaultDomainID
		}
		p.ParentID = p.DomainID
	}
	if _, err := s.GetDomain(ctx, p.DomainID); err != nil {
		return errs.NotFound("Could not find domain: %s.", p.DomainID)
	}
	return s.store.CreateProject(ctx, p)
}

// UpdateProject saves a project or domain.
func (s *Service) UpdateProject(ctx context.Context, p *Project) error {
	return s.store.UpdateProject(ctx, p)
}

// DeleteProject deletes a leaf project.
func (s *Service) DeleteProject(ctx context.Context, id string) error {
	p, err := s.store.GetProject(ctx, id)
	if err != nil {
		return err
	}
	if p.IsDomain {
		return s.DeleteDomain(ctx, id)
	}
	return s.store.DeleteProject(ctx, id)
}

// Ancestors returns a project's parents, nearest first, up to its domain
// (excluded).
func (s *Service) Ancestors(ctx context.Context, p *Project) ([]*Project, error) {
	var out []*Project
	cur := p
	for i := 0; i < 64 && cur.ParentID != "" && cur.ParentID != cur.DomainID; i++ {
		parent, err := s.store.GetProject(ctx, cur.ParentID)
		if err != nil {
			return nil, err
		}
		out = append(out, parent)
		cur = parent
	}
	return out, nil
}

// Subtree returns every project below p (p excluded), breadth first.
func (s *Service) Subtree(ctx context.Context, p *Project) ([]*Project, error) {
	domainID := p.DomainID
	if p.IsDomain {
		domainID = p.ID
	}
	f := false
	all, err := s.store.ListProjects(ctx, ProjectFilter{DomainID: domainID, IsDomain: &f})
	if err != nil {
		return nil, err
	}
	children := map[string][]*Project{}
	for _, x := range all {
		children[x.ParentID] = append(children[x.ParentID], x)
	}
	var out []*Project
	queue := []string{p.ID}
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		for _, c := range children[id] {
			out = append(out, c)
			queue = append(queue, c.ID)
		}
	}
	return out, nil
}

// CreateUser creates a user, hashing its password.
func (s *Service) CreateUser(ctx context.Context, u *User, password *string) error {
	if u.ID == "" {
		u.ID = ids.Hex()
	}
	if u.DomainID == "" {
		u.DomainID = DefaultDomainID
	}
	if _, err := s.GetDomain(ctx, u.DomainID); err != nil {
		return err
	}
	if err := s.checkDefaultProject(ctx, u.DefaultProjectID); err != nil {
		return err
	}
	now := s.now()
	u.CreatedAt = now
	if password != nil {
		if err := s.setPassword(u, *password, now); err != nil {
			return err
		}
	}
	return s.store.CreateUser(ctx, u)
}

func (s *Service) checkDefaultProject(ctx context.Context, id string) error {
	if id == "" {
		return nil
	}
	p, err := s.store.GetProject(ctx, id)
	if err != nil {
		return errs.NotFound("Could not find project: %s.", id)
	}
	if p.IsDomain {
		return errs.BadRequest("Invalid input for field 'default_project_id': %s is a domain.", id)
	}
	return nil
}

func (s *Service) setPassword(u *User, pw string, now time.Time) error {
	if len(pw) > MaxPasswordLength {
		return errs.BadRequest("Invalid input for field 'password': too long.")
	}
	if pw == "" {
		// null or "": the user has no password and cannot log in with one
		// (an empty hash never matches).
		u.PasswordHash, u.PasswordCreatedAt = "", now
		return nil
	}
	h, err := s.HashPassword(pw)
	if err != nil {
		return err
	}
	u.PasswordHash, u.PasswordCreatedAt = h, now
	u.FailedAuthCount, u.FailedAuthAt = 0, time.Time{}
	return nil
}

// UpdateUser saves a user. A new password (nil: unchanged) invalidates the
// user's existing tokens, as keystone does on a password reset.
func (s *Service) UpdateUser(ctx context.Context, u *User, password *string) error {
	if err := s.checkDefaultProject(ctx, u.DefaultProjectID); err != nil {
		return err
	}
	if password != nil {
		now := s.now()
		if err := s.setPassword(u, *password, now); err != nil {
			return err
		}
		u.TokensValidAfter = now
	}
	return s.store.UpdateUser(ctx, u)
}

// ChangePassword is the user's own password change: the original password
// is checked like a login (lockout and per-address rate limits apply) and
// every token the user holds stops working.
func (s *Service) ChangePassword(ctx context.Context, userID, original, password, remoteAddr string) error {
	now := s.now()
	if wait := s.limiter.retryAfter(remoteAddr, now); wait > 0 {
		return errs.TooManyRequests(wait, "Too many failed authentication attempts from this address; retry later.")
	}
	u, err := s.authPassword(ctx, &PasswordAuth{UserID: userID, Password: original}, now)
	if err != nil {
		if errs.Is(err, errs.KindUnauthorized) {
			s.limiter.fail(remoteAddr, now)
		}
		return err
	}
	if v, _ := u.Options["lock_password"].(bool); v {
		return errs.Forbidden("The password of user %s is locked and cannot be changed by the user.", u.ID)
	}
	if err := s.setPassword(u, password, now); err != nil {
		return err
	}
	u.TokensValidAfter = now
	return s.store.UpdateUser(ctx, u)
}

// DeleteUser deletes a user with its assignments, memberships and
// application credentials.
func (s *Service) DeleteUser(ctx context.Context, id string) error {
	return s.store.DeleteUser(ctx, id)
}

// CreateGroup creates a group.
func (s *Service) CreateGroup(ctx context.Context, g *Group) error {
	if g.ID == "" {
		g.ID = ids.Hex()
	}
	if g.DomainID == "" {
		g.DomainID = DefaultDomainID
	}
	if _, err := s.GetDomain(ctx, g.DomainID); err != nil {
		return err
	}
	g.CreatedAt = s.now()
	return s.store.CreateGroup(ctx, g)
}

// AddUserToGroup adds a member after checking both exist.
func (s *Service) AddUserToGroup(ctx context.Context, userID, groupID string) error {
	if _, err := s.store.GetGroup(ctx, groupID); err != nil {
		return err
	}
	if _, err := s.store.GetUser(ctx, userID); err != nil {
		return err
	}
	return s.store.AddUserToGroup(ctx, userID, groupID)
}

// CreateRole creates a global or domain-specific role.
func (s *Service) CreateRole(ctx context.Context, r *Role) error {
	if r.ID == "" {
		r.ID = ids.Hex()
	}
	if r.DomainID != "" {
		if _, err := s.GetDomain(ctx, r.DomainID); err != nil {
			return err
		}
	}
	r.CreatedAt = s.now()
	return s.store.CreateRole(ctx, r)
}

func immutable(opts map[string]any) bool {
	v, _ := opts["immutable"].(bool)
	return v
}

// UpdateRole saves a role unless it is immutable (the options change that
// lifts immutability is allowed, as in keystone).
func (s *Service) UpdateRole(ctx context.Context, old, r *Role) error {
	if immutable(old.Options) && immutable(r.Options) {
		return errs.Forbidden("Role %s is immutable and cannot be modified.", old.ID)
	}
	return s.store.UpdateRole(ctx, r)
}

// DeleteRole deletes a role with its assignments and inferences.
func (s *Service) DeleteRole(ctx context.Context, id string) error {
	r, err := s.store.GetRole(ctx, id)
	if err != nil {
		return err
	}
	if immutable(r.Options) {
		return errs.Forbidden("Role %s is immutable and cannot be deleted.", id)
	}
	return s.store.DeleteRole(ctx, id)
}

// AddImpliedRole records that prior implies implied.
func (s *Service) AddImpliedRole(ctx context.Context, prior, implied string) (*Role, *Role, error) {
	pr, err := s.store.GetRole(ctx, prior)
	if err != nil {
		return nil, nil, err
	}
	im, err := s.store.GetRole(ctx, implied)
	if err != nil {
		return nil, nil, err
	}
	if prior == implied {
		return nil, nil, errs.BadRequest("A role cannot imply itself.")
	}
	if im.DomainID != "" {
		return nil, nil, errs.Forbidden("%s is not an allowed implied role: it is domain-specific.", implied)
	}
	// Refuse cycles: keystone's expansion would loop or surprise.
	graph, err := s.store.ImpliedRoles(ctx)
	if err != nil {
		return nil, nil, err
	}
	seen := map[string]bool{}
	queue := []string{implied}
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		if id == prior {
			return nil, nil, errs.BadRequest("Implying %s from %s would create a cycle.", implied, prior)
		}
		if !seen[id] {
			seen[id] = true
			queue = append(queue, graph[id]...)
		}
	}
	return pr, im, s.store.AddImpliedRole(ctx, prior, implied)
}

// GrantTarget is what a grant is made on.
type GrantTarget struct {
	ProjectID, DomainID string
	System              bool
}

// CheckGrant resolves and checks the parts of an assignment: the actor
// (user or group), the target and the role, returning the assignment and
// the target's domain ("" for system).
func (s *Service) CheckGrant(ctx context.Context, userID, groupID string, t GrantTarget, roleID string, inherited bool) (Assignment, string, error) {
	a := Assignment{RoleID: roleID, Inherited: inherited}
	var kind, domain string
	switch {
	case t.System:
		kind, a.TargetID = "System", SystemTarget
	case t.ProjectID != "":
		p, err := s.store.GetProject(ctx, t.ProjectID)
		if err != nil || p.IsDomain {
			return a, "", errs.NotFound("Could not find project: %s.", t.ProjectID)
		}
		kind, a.TargetID, domain = "Project", p.ID, p.DomainID
	default:
		d, err := s.GetDomain(ctx, t.DomainID)
		if err != nil {
			return a, "", err
		}
		kind, a.TargetID, domain = "Domain", d.ID, d.ID
	}
	if userID != "" {
		if _, err := s.store.GetUser(ctx, userID); err != nil {
			return a, "", err
		}
		a.Type, a.ActorID = "User"+kind, userID
	} else {
		if _, err := s.store.GetGroup(ctx, groupID); err != nil {
			return a, "", err
		}
		a.Type, a.ActorID = "Group"+kind, groupID
	}
	r, err := s.store.GetRole(ctx, roleID)
	if err != nil {
		return a, "", err
	}
	if r.DomainID != "" && r.DomainID != domain {
		return a, "", errs.Forbidden("Role %s is specific to domain %s and cannot be assigned outside it.", roleID, r.DomainID)
	}
	return a, domain, nil
}

// ActorDomain returns the domain of a user or group.
func (s *Service) ActorDomain(ctx context.Context, userID, groupID string) (string, error) {
	if userID != "" {
		u, err := s.store.GetUser(ctx, userID)
		if err != nil {
			return "", err
		}
		return u.DomainID, nil
	}
	g, err := s.store.GetGroup(ctx, groupID)
	if err != nil {
		return "", err
	}
	return g.DomainID, nil
}

// HasGrant reports whether exactly this assignment exists.
func (s *Service) HasGrant(ctx context.Context, a Assignment) (bool, error) {
	inh := a.Inherited
	as, err := s.store.ListAssignments(ctx, AssignmentFilter{Types: []string{a.Type}, ActorIDs: []string{a.ActorID}, TargetIDs: []string{a.TargetID}, RoleIDs: []string{a.RoleID}, Inherited: &inh})
	return len(as) > 0, err
}

// AppCredRequest is a new application credential.
type AppCredRequest struct {
	Name, Description, Secret string
	ExpiresAt                 time.Time
	Unrestricted              bool
	// Roles are role IDs or names; empty means all the token's roles.
	RoleIDs, RoleNames []string
	AccessRules        []map[string]any
}

// CreateAppCred creates an application credential for the caller's token
// (tok): its project, and a subset of its roles. The secret is returned in
// clear once; only its hash is stored.
func (s *Service) CreateAppCred(ctx context.Context, tok *Token, req AppCredRequest) (*AppCred, string, error) {
	if tok.Project == nil {
		return nil, "", errs.Forbidden("An application credential needs a project-scoped token.")
	}
	if tok.AppCred != nil && !tok.AppCred.Unrestricted {
		return nil, "", errs.Forbidden("A restricted application credential cannot create application credentials.")
	}
	if !req.ExpiresAt.IsZero() && !req.ExpiresAt.After(s.now()) {
		return nil, "", errs.BadRequest("Invalid input for field 'expires_at': the expiration time is in the past.")
	}
	have := map[string]*Role{}
	byName := map[string]*Role{}
	for _, r := range tok.Roles {
		have[r.ID] = r
		byName[r.Name] = r
	}
	var roles []string
	seen := map[string]bool{}
	add := func(r *Role) {
		if !seen[r.ID] {
			seen[r.ID] = true
			roles = append(roles, r.ID)
		}
	}
	for _, id := range req.RoleIDs {
		r, ok := have[id]
		if !ok {
			return nil, "", errs.NotFound("Could not find role assignment with role: %s, user or group: %s, project, domain, or system: %s.", id, tok.User.ID, tok.Project.ID)
		}
		add(r)
	}
	for _, n := range req.RoleNames {
		r, ok := byName[n]
		if !ok {
			return nil, "", errs.NotFound("Could not find role assignment with role: %s, user or group: %s, project, domain, or system: %s.", n, tok.User.ID, tok.Project.ID)
		}
		add(r)
	}
	if len(req.RoleIDs)+len(req.RoleNames) == 0 {
		for _, r := range tok.Roles {
			add(r)
		}
	}
	secret := req.Secret
	if secret == "" {
		b := make([]byte, 64)
		if _, err := rand.Read(b); err != nil {
			return nil, "", errs.Internal(err)
		}
		secret = base64.RawURLEncoding.EncodeToString(b)
	}
	if len(secret) > MaxPasswordLength {
		return nil, "", errs.BadRequest("Invalid input for field 'secret': too long.")
	}
	h, err := s.HashPassword(secret)
	if err != nil {
		return nil, "", err
	}
	ac := &AppCred{
		ID: ids.Hex(), Name: req.Name, UserID: tok.User.ID, ProjectID: tok.Project.ID, SecretHash: h,
		Description: req.Description, ExpiresAt: req.ExpiresAt, Unrestricted: req.Unrestricted, Roles: roles,
		AccessRules: req.AccessRules, CreatedAt: s.now(),
	}
	if err := s.store.CreateAppCred(ctx, ac); err != nil {
		return nil, "", err
	}
	return ac, secret, nil
}
