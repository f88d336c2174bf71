package identity

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"sort"
	"time"

	"github.com/gureum/gureum/internal/platform/errs"
	"github.com/gureum/gureum/internal/policy"
)

// payload is what a token carries, encrypted. Roles are not in it: they
// are read at validation, so a removed assignment takes effect at once.
type payload struct {
	V int      `json:"v"`
	U string   `json:"u"`
	M []string `json:"m"`
	P string   `json:"p,omitempty"`
	D string   `json:"d,omitempty"`
	S bool     `json:"s,omitempty"`
	I int64    `json:"i"`
	E int64    `json:"e"`
	A []string `json:"a"`
	C string   `json:"c,omitempty"`
}

// Token is a validated token with everything a response shows.
type Token struct {
	ID            string
	Methods       []string
	User          *User
	UserDomain    *Project
	Project       *Project
	ProjectDomain *Project
	Domain        *Project
	System        bool
	Roles         []*Role
	AuditIDs      []string
	IssuedAt      time.Time
	ExpiresAt     time.Time
	AppCred       *AppCred
	// IsAdminProject marks a token scoped to the cloud's admin project.
	IsAdminProject bool
}

// Credentials converts a token into policy credentials.
func (t *Token) Credentials() *policy.Credentials {
	c := &policy.Credentials{
		UserID:         t.User.ID,
		UserName:       t.User.Name,
		UserDomainID:   t.User.DomainID,
		AuditIDs:       t.AuditIDs,
		Methods:        t.Methods,
		IsAdminProject: t.IsAdminProject,
	}
	if t.Project != nil {
		c.ProjectID, c.ProjectName, c.ProjectDomainID = t.Project.ID, t.Project.Name, t.Project.DomainID
	}
	if t.Domain != nil {
		c.DomainID = t.Domain.ID
	}
	if t.System {
		c.System = "all"
	}
	if t.AppCred != nil {
		c.AppCredID = t.AppCred.ID
	}
	for _, r := range t.Roles {
		c.Roles = append(c.Roles, r.Name)
		c.RoleIDs = append(c.RoleIDs, r.ID)
	}
	return c
}

// PasswordAuth identifies a user by ID or by name and domain.
type PasswordAuth struct {
	UserID, UserName, DomainID, DomainName, Password string
}

// AppCredAuth identifies an application credential.
type AppCredAuth struct {
	ID, Name, Secret                       string
	UserID, UserName, DomainID, DomainName string
}

// Scope is the requested scope; the zero value asks for the default
// (the user's default project, or unscoped).
type Scope struct {
	ProjectID, ProjectName, ProjectDomainID, ProjectDomainName string
	DomainID, DomainName                                       string
	System                                                     bool
	Unscoped                                                   bool
}

func (s Scope) empty() bool {
	return s == Scope{}
}

// AuthRequest is a parsed POST /v3/auth/tokens.
type AuthRequest struct {
	Methods    []string
	Password   *PasswordAuth
	Token      string
	AppCred    *AppCredAuth
	Scope      Scope
	RemoteAddr string
}

var errUnauthenticated = errs.Unauthorized("The request you have made requires authentication.")

// Issue authenticates req and returns a new token.
func (s *Service) Issue(ctx context.Context, req AuthRequest) (*Token, error) {
	now := s.now()
	if wait := s.limiter.retryAfter(req.RemoteAddr, now); wait > 0 {
		return nil, errs.TooManyRequests(wait, "Too many failed authentication attempts from this address; retry later.")
	}
	tok, err := s.issue(ctx, req, now)
	if err != nil && errs.Is(err, errs.KindUnauthorized) {
		s.limiter.fail(req.RemoteAddr, now)
	}
	return tok, err
}

func (s *Service) issue(ctx context.Context, req AuthRequest, now time.Time) (*Token, error) {
	if len(req.Methods) == 0 {
		return nil, errs.BadRequest("Invalid input for field 'identity/methods': at least one method is required.")
	}
	var user *User
	var methods []string
	auditChain := []string{newAuditID()}
	expires := now.Add(s.cfg.TokenTTL)
	var appCred *AppCred
	var parent *payload
	for _, m := range req.Methods {
		switch m {
		case "password":
			if req.Password == nil {
				return nil, errs.BadRequest("Invalid input for field 'identity/password': missing.")
			}
			u, err := s.authPassword(ctx, req.Password, now)
			if err != nil {
				return nil, err
			}
			user = u
		case "token":
			if req.Token == "" {
				return nil, errs.BadRequest("Invalid input for field 'identity/token/id': missing.")
			}
			p, err := s.decode(ctx, req.Token, now)
			if err != nil {
				return nil, err
			}
			if p.C != "" {
				return nil, errs.Forbidden("Cannot rescope a token issued for an application credential.")
			}
			u, err := s.cache.user(ctx, p.U)
			if err != nil {
				return nil, errUnauthenticated
			}
			if err := s.checkUser(ctx, u, time.UnixMicro(p.I)); err != nil {
				return nil, err
			}
			user, parent = u, p
			// A rescoped token keeps the original's expiry and audit chain.
			expires = time.UnixMicro(p.E).UTC()
			auditChain = append(auditChain, p.A[0])
		case "application_credential":
			if req.AppCred == nil {
				return nil, errs.BadRequest("Invalid input for field 'identity/application_credential': missing.")
			}
			ac, u, err := s.authAppCred(ctx, req.AppCred, now)
			if err != nil {
				return nil, err
			}
			user, appCred = u, ac
			if !ac.ExpiresAt.IsZero() && ac.ExpiresAt.Before(expires) {
				expires = ac.ExpiresAt
			}
		default:
			return nil, errs.Unauthorized("Attempted to authenticate with an unsupported method.")
		}
		methods = append(methods, m)
	}
	p := &payload{V: 1, U: user.ID, M: methods, I: now.UnixMicro(), E: expires.UnixMicro(), A: auditChain}
	if parent != nil {
		p.M = appendUnique(parent.M, methods...)
	}
	if appCred != nil {
		// An application credential always scopes to its project.
		if !req.Scope.empty() && req.Scope.ProjectID != appCred.ProjectID {
			return nil, errs.Forbidden("Application credentials cannot request a scope.")
		}
		p.P, p.C = appCred.ProjectID, appCred.ID
	} else if err := s.resolveScope(ctx, user, req.Scope, p); err != nil {
		return nil, err
	}
	return s.mint(ctx, p)
}

func appendUnique(base []string, more ...string) []string {
	out := append([]string{}, base...)
	for _, m := range more {
		found := false
		for _, b := range out {
			found = found || b == m
		}
		if !found {
			out = append(out, m)
		}
	}
	return out
}

func newAuditID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (s *Service) mint(ctx context.Context, p *payload) (*Token, error) {
	msg, err := json.Marshal(p)
	if err != nil {
		return nil, errs.Internal(err)
	}
	id, err := s.keys.encrypt(ctx, msg, time.UnixMicro(p.I))
	if err != nil {
		return nil, errs.Internal(err)
	}
	return s.expand(ctx, id, p)
}

// resolveScope fills the payload's scope from the request, defaulting to
// the user's default project when it is usable.
func (s *Service) resolveScope(ctx context.Context, u *User, sc Scope, p *payload) error {
	switch {
	case sc.Unscoped:
		return nil
	case sc.System:
		p.S = true
	case sc.ProjectID != "" || sc.ProjectName != "":
		pr, err := s.findProject(ctx, sc)
		if err != nil {
			return err
		}
		p.P = pr.ID
	case sc.DomainID != "" || sc.DomainName != "":
		d, err := s.findDomain(ctx, sc.DomainID, sc.DomainName)
		if err != nil {
			return errs.Unauthorized("%s", err.Error())
		}
		p.D = d.ID
	default:
		if u.DefaultProjectID == "" {
			return nil
		}
		pr, err := s.cache.project(ctx, u.DefaultProjectID)
		if err != nil || !pr.Enabled {
			return nil // keystone falls back to unscoped
		}
		roles, err := s.effectiveRoles(ctx, u.ID, pr, false)
		if err != nil || len(roles) == 0 {
			return nil
		}
		p.P = pr.ID
	}
	return nil
}

func (s *Service) findProject(ctx context.Context, sc Scope) (*Project, error) {
	if sc.ProjectID != "" {
		p, err := s.cache.project(ctx, sc.ProjectID)
		if err != nil || p.IsDomain {
			return nil, errs.Unauthorized("Could not find project: %s.", sc.ProjectID)
		}
		return p, nil
	}
	if sc.ProjectDomainID == "" && sc.ProjectDomainName == "" {
		return nil, errs.BadRequest("Invalid input for field 'scope/project/domain': a project name needs its domain.")
	}
	d, err := s.findDomain(ctx, sc.ProjectDomainID, sc.ProjectDomainName)
	if err != nil {
		return nil, errs.Unauthorized("%s", err.Error())
	}
	p, err := s.cache.projectByName(ctx, d.ID, sc.ProjectName)
	if err != nil || p.IsDomain {
		return nil, errs.Unauthorized("Could not find project: %s.", sc.ProjectName)
	}
	return p, nil
}

// findDomain looks a domain up by ID or name.
func (s *Service) findDomain(ctx context.Context, id, name string) (*Project, error) {
	var d *Project
	var err error
	if id != "" {
		d, err = s.cache.project(ctx, id)
	} else {
		d, err = s.cache.projectByName(ctx, RootDomainID, name)
	}
	if err != nil || !d.IsDomain {
		ref := id
		if ref == "" {
			ref = name
		}
		return nil, errs.NotFound("Could not find domain: %s.", ref)
	}
	return d, nil
}

func (s *Service) authPassword(ctx context.Context, pa *PasswordAuth, now time.Time) (*User, error) {
	if len(pa.Password) > MaxPasswordLength {
		return nil, errs.BadRequest("Invalid input for field 'password': too long.")
	}
	var u *User
	var err error
	switch {
	case pa.UserID != "":
		u, err = s.store.GetUser(ctx, pa.UserID)
	case pa.UserName != "" && (pa.DomainID != "" || pa.DomainName != ""):
		var d *Project
		if d, err = s.findDomain(ctx, pa.DomainID, pa.DomainName); err == nil {
			u, err = s.store.GetUserByName(ctx, d.ID, pa.UserName)
		}
	case pa.UserName != "":
		return nil, errs.BadRequest("Invalid input for field 'identity/password/user/domain': a user name needs its domain.")
	default:
		return nil, errs.BadRequest("Invalid input for field 'identity/password/user': id or name is required.")
	}
	if err != nil {
		_ = checkPassword(s.dummy(), pa.Password)
		return nil, errUnauthenticated
	}
	lockout := s.cfg.LockoutAttempts > 0
	if v, _ := u.Options["ignore_lockout_failure_attempts"].(bool); v {
		lockout = false // keystone's per-user exemption (service accounts)
	}
	if lockout && u.FailedAuthCount >= s.cfg.LockoutAttempts {
		if now.Before(u.FailedAuthAt.Add(s.cfg.LockoutDuration)) {
			return nil, errs.Unauthorized("The account is locked for user: %s.", u.ID)
		}
		// The lockout has passed: start counting afresh.
		if err := s.store.ResetAuthFailures(ctx, u.ID); err != nil {
			return nil, err
		}
	}
	if !checkPassword(u.PasswordHash, pa.Password) {
		if lockout {
			if _, err := s.store.RecordAuthFailure(ctx, u.ID, now); err != nil {
				return nil, err
			}
		}
		return nil, errUnauthenticated
	}
	if u.FailedAuthCount > 0 {
		if err := s.store.ResetAuthFailures(ctx, u.ID); err != nil {
			return nil, err
		}
	}
	if err := s.checkUser(ctx, u, now); err != nil {
		return nil, err
	}
	if !u.PasswordExpiresAt.IsZero() && u.PasswordExpiresAt.Before(now) {
		return nil, errs.Unauthorized("The password is expired and needs to be changed for user: %s.", u.ID)
	}
	return u, nil
}

// checkUser verifies the user and its domain are enabled and that tokens
// issued at issued are still valid for it.
func (s *Service) checkUser(ctx context.Context, u *User, issued time.Time) error {
	if !u.Enabled {
		return errUnauthenticated
	}
	if !u.TokensValidAfter.IsZero() && issued.Before(u.TokensValidAfter) {
		return errs.Unauthorized("The token has been revoked.")
	}
	d, err := s.cache.project(ctx, u.DomainID)
	if err != nil || !d.Enabled {
		return errUnauthenticated
	}
	return nil
}

func (s *Service) authAppCred(ctx context.Context, a *AppCredAuth, now time.Time) (*AppCred, *User, error) {
	var ac *AppCred
	var err error
	if a.ID != "" {
		ac, err = s.store.GetAppCred(ctx, a.ID)
	} else if a.Name != "" {
		var u *User
		switch {
		case a.UserID != "":
			u, err = s.store.GetUser(ctx, a.UserID)
		case a.UserName != "":
			var d *Project
			if d, err = s.findDomain(ctx, a.DomainID, a.DomainName); err == nil {
				u, err = s.store.GetUserByName(ctx, d.ID, a.UserName)
			}
		default:
			return nil, nil, errs.BadRequest("Invalid input for field 'application_credential/user': required with a name.")
		}
		if err == nil {
			var list []*AppCred
			if list, err = s.store.ListAppCreds(ctx, u.ID); err == nil {
				err = errs.NotFound("no such credential")
				for _, c := range list {
					if c.Name == a.Name {
						ac, err = c, nil
					}
				}
			}
		}
	} else {
		return nil, nil, errs.BadRequest("Invalid input for field 'application_credential': id or name is required.")
	}
	if err != nil || !checkPassword(ac.SecretHash, a.Secret) {
		if err != nil {
			_ = checkPassword(s.dummy(), a.Secret)
		}
		return nil, nil, errUnauthenticated
	}
	if !ac.ExpiresAt.IsZero() && !now.Before(ac.ExpiresAt) {
		return nil, nil, errUnauthenticated
	}
	u, err := s.store.GetUser(ctx, ac.UserID)
	if err != nil {
		return nil, nil, errUnauthenticated
	}
	if err := s.checkUser(ctx, u, now); err != nil {
		return nil, nil, err
	}
	return ac, u, nil
}

// decode decrypts a token and checks its expiry and explicit revocation.
func (s *Service) decode(ctx context.Context, id string, now time.Time) (*payload, error) {
	if len(id) > 1024 {
		return nil, errs.NotFound("Could not recognize Fernet token")
	}
	msg, err := s.keys.decrypt(ctx, id)
	if err != nil {
		if errors.Is(err, errBadToken) {
			return nil, errs.NotFound("Could not recognize Fernet token")
		}
		return nil, errs.Internal(err)
	}
	var p payload
	if err := json.Unmarshal(msg, &p); err != nil || p.V != 1 || p.U == "" || len(p.A) == 0 {
		return nil, errs.NotFound("Could not recognize Fernet token")
	}
	if !now.Before(time.UnixMicro(p.E)) {
		return nil, errs.NotFound("The token has expired.")
	}
	if err := s.revoked.refresh(ctx, now); err != nil {
		return nil, errs.Internal(err)
	}
	if s.revoked.revoked(p.A) {
		return nil, errs.NotFound("The token has been revoked.")
	}
	return &p, nil
}

// Validate returns the token's current meaning, or NotFound when it is not
// valid (as keystone answers GET /v3/auth/tokens).
func (s *Service) Validate(ctx context.Context, id string) (*Token, error) {
	t, err := s.check(ctx, id)
	if err != nil && errs.Is(err, errs.KindUnauthorized) {
		return nil, errs.NotFound("%s", err.(*errs.Error).Message)
	}
	return t, err
}

// Authenticate implements httpx.Authenticator: an invalid token is 401.
func (s *Service) Authenticate(ctx context.Context, id string) (*policy.Credentials, error) {
	t, err := s.check(ctx, id)
	if err != nil {
		if errs.Is(err, errs.KindNotFound) || errs.Is(err, errs.KindUnauthorized) {
			return nil, errs.Unauthorized("The request you have made requires authentication.")
		}
		return nil, err
	}
	return t.Credentials(), nil
}

// check validates a token: from the token cache while nothing it depends
// on has changed (see cache.go), else by decrypting and expanding it.
// Expiry and explicit revocation are checked on every call.
func (s *Service) check(ctx context.Context, id string) (*Token, error) {
	now := s.now()
	gen := s.gen.Load()
	if t := s.tokens.get(id, gen); t != nil {
		if !now.Before(t.ExpiresAt) {
			return nil, errs.NotFound("The token has expired.")
		}
		if err := s.revoked.refresh(ctx, now); err != nil {
			return nil, errs.Internal(err)
		}
		if s.revoked.revoked(t.AuditIDs) {
			return nil, errs.NotFound("The token has been revoked.")
		}
		return t, nil
	}
	p, err := s.decode(ctx, id, now)
	if err != nil {
		return nil, err
	}
	t, err := s.expand(ctx, id, p)
	if err != nil {
		return nil, err
	}
	s.tokens.put(id, gen, t)
	return t, nil
}

// expand loads what a payload refers to and checks it is all still valid.
func (s *Service) expand(ctx context.Context, id string, p *payload) (*Token, error) {
	t := &Token{ID: id, Methods: p.M, AuditIDs: p.A, IssuedAt: time.UnixMicro(p.I).UTC(), ExpiresAt: time.UnixMicro(p.E).UTC(), System: p.S}
	u, err := s.cache.user(ctx, p.U)
	if err != nil {
		return nil, errUnauthenticated
	}
	if err := s.checkUser(ctx, u, t.IssuedAt); err != nil {
		return nil, err
	}
	t.User = u
	if t.UserDomain, err = s.cache.project(ctx, u.DomainID); err != nil {
		return nil, errUnauthenticated
	}
	if p.C != "" {
		ac, err := s.cache.appCred(ctx, p.C)
		if err != nil {
			return nil, errs.Unauthorized("The application credential was deleted.")
		}
		t.AppCred = ac
	}
	switch {
	case p.P != "":
		pr, err := s.cache.project(ctx, p.P)
		if err != nil || !pr.Enabled {
			return nil, errs.Unauthorized("Project %s is not available.", p.P)
		}
		d, err := s.cache.project(ctx, pr.DomainID)
		if err != nil || !d.Enabled {
			return nil, errs.Unauthorized("Domain %s is not available.", pr.DomainID)
		}
		t.Project, t.ProjectDomain = pr, d
		t.IsAdminProject = pr.DomainID == DefaultDomainID && pr.Name == s.cfg.AdminProject
		if t.Roles, err = s.effectiveRoles(ctx, u.ID, pr, false); err != nil {
			return nil, err
		}
	case p.D != "":
		d, err := s.cache.project(ctx, p.D)
		if err != nil || !d.Enabled || !d.IsDomain {
			return nil, errs.Unauthorized("Domain %s is not available.", p.D)
		}
		t.Domain = d
		if t.Roles, err = s.effectiveRoles(ctx, u.ID, d, false); err != nil {
			return nil, err
		}
	case p.S:
		if t.Roles, err = s.effectiveRoles(ctx, u.ID, nil, true); err != nil {
			return nil, err
		}
	}
	if t.AppCred != nil {
		// An application credential carries a subset of its user's roles.
		allowed := map[string]bool{}
		for _, r := range t.AppCred.Roles {
			allowed[r] = true
		}
		var kept []*Role
		for _, r := range t.Roles {
			if allowed[r.ID] {
				kept = append(kept, r)
			}
		}
		t.Roles = kept
	}
	if (p.P != "" || p.D != "" || p.S) && len(t.Roles) == 0 {
		return nil, errs.Unauthorized("User %s has no access to the requested scope.", u.ID)
	}
	return t, nil
}

// EffectiveRoles returns the roles a user holds on a project or domain
// (target), or on the system: direct, through groups, inherited from
// parents and domains, and implied.
func (s *Service) EffectiveRoles(ctx context.Context, userID string, target *Project, system bool) ([]*Role, error) {
	return s.effectiveRoles(ctx, userID, target, system)
}

func (s *Service) effectiveRoles(ctx context.Context, userID string, target *Project, system bool) ([]*Role, error) {
	groups, err := s.cache.userGroups(ctx, userID)
	if err != nil {
		return nil, err
	}
	actors := append([]string{userID}, groups...)
	roleIDs := map[string]bool{}
	add := func(as []Assignment) {
		for _, a := range as {
			roleIDs[a.RoleID] = true
		}
	}
	f, t := false, true
	if system {
		as, err := s.cache.assignments(ctx, AssignmentFilter{ActorIDs: actors, TargetIDs: []string{SystemTarget}, Types: []string{UserSystem, GroupSystem}})
		if err != nil {
			return nil, err
		}
		add(as)
	} else {
		as, err := s.cache.assignments(ctx, AssignmentFilter{ActorIDs: actors, TargetIDs: []string{target.ID}, Inherited: &f})
		if err != nil {
			return nil, err
		}
		add(as)
		if !target.IsDomain {
			// Inherited assignments on the domain and on every ancestor.
			anc := []string{target.DomainID}
			cur := target
			for i := 0; i < 64 && cur.ParentID != "" && cur.ParentID != cur.DomainID; i++ {
				parent, err := s.cache.project(ctx, cur.ParentID)
				if err != nil {
					break
				}
				anc = append(anc, parent.ID)
				cur = parent
			}
			as, err := s.cache.assignments(ctx, AssignmentFilter{ActorIDs: actors, TargetIDs: anc, Inherited: &t})
			if err != nil {
				return nil, err
			}
			add(as)
		}
	}
	if len(roleIDs) == 0 {
		return nil, nil
	}
	implied, err := s.cache.implied(ctx)
	if err != nil {
		return nil, err
	}
	queue := make([]string, 0, len(roleIDs))
	for id := range roleIDs {
		queue = append(queue, id)
	}
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		for _, im := range implied[id] {
			if !roleIDs[im] {
				roleIDs[im] = true
				queue = append(queue, im)
			}
		}
	}
	var out []*Role
	for id := range roleIDs {
		r, err := s.cache.role(ctx, id)
		if err != nil {
			continue
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Revoke revokes a token (and every token rescoped from it) at once.
func (s *Service) Revoke(ctx context.Context, id string) error {
	p, err := s.decode(ctx, id, s.now())
	if err != nil {
		return err
	}
	// A token's own audit ID is first in its chain; tokens rescoped from
	// it carry that ID second, so they are revoked with it.
	ev := Revocation{AuditID: p.A[0], RevokedAt: s.now(), ExpiresAt: time.UnixMicro(p.E).UTC().Add(time.Minute)}
	if err := s.store.AddRevocation(ctx, ev); err != nil {
		return err
	}
	s.revoked.add(ev)
	// Expired events are pruned at most once a minute, not on every revoke.
	if now := s.now(); s.revoked.prunePending(now) {
		return s.store.PruneRevocations(ctx, now)
	}
	return nil
}

// Catalog returns the enabled services with their enabled endpoints.
func (s *Service) Catalog(ctx context.Context) ([]CatalogService, error) {
	return s.cache.catalog(ctx)
}

func loadCatalog(ctx context.Context, st Store) ([]CatalogService, error) {
	svcs, err := st.ListServices(ctx)
	if err != nil {
		return nil, err
	}
	eps, err := st.ListEndpoints(ctx)
	if err != nil {
		return nil, err
	}
	by := map[string][]*Endpoint{}
	for _, e := range eps {
		if e.Enabled {
			by[e.ServiceID] = append(by[e.ServiceID], e)
		}
	}
	var out []CatalogService
	for _, sv := range svcs {
		if !sv.Enabled {
			continue
		}
		out = append(out, CatalogService{Service: sv, Endpoints: by[sv.ID]})
	}
	return out, nil
}

// CatalogService is a service with its endpoints.
type CatalogService struct {
	Service   *ServiceRecord
	Endpoints []*Endpoint
}

// ScopeTargets lists the enabled projects (or domains) on which the user
// holds at least one role, directly, through a group or by inheritance.
func (s *Service) ScopeTargets(ctx context.Context, userID string, domains bool) ([]*Project, error) {
	isDomain := domains
	enabled := true
	all, err := s.store.ListProjects(ctx, ProjectFilter{IsDomain: &isDomain, Enabled: &enabled})
	if err != nil {
		return nil, err
	}
	var out []*Project
	for _, p := range all {
		roles, err := s.effectiveRoles(ctx, userID, p, false)
		if err != nil {
			return nil, err
		}
		if len(roles) > 0 {
			out = append(out, p)
		}
	}
	return out, nil
}
