// Package identity is Gureum's keystone: domains, projects, users, groups,
// roles and their assignments, the service catalog, application
// credentials, and stateless Fernet tokens whose revocation needs no token
// table.
package identity

import (
	"context"
	"time"
)

// RootDomainID is the domain_id of domains (keystone's marker), so domain
// and project names share one uniqueness rule.
const RootDomainID = "<<keystone.domain.root>>"

// DefaultDomainID is the ID of the Default domain.
const DefaultDomainID = "default"

// SystemTarget is the target ID of system role assignments.
const SystemTarget = "system"

// Project is a project or, when IsDomain, a domain.
type Project struct {
	ID          string
	Name        string
	DomainID    string
	ParentID    string
	IsDomain    bool
	Enabled     bool
	Description string
	Tags        []string
	Extra       map[string]any
	CreatedAt   time.Time
}

// User is a local user with an optional password.
type User struct {
	ID                string
	Name              string
	DomainID          string
	Enabled           bool
	DefaultProjectID  string
	Description       string
	PasswordHash      string
	PasswordCreatedAt time.Time
	PasswordExpiresAt time.Time
	Options           map[string]any
	Extra             map[string]any
	FailedAuthCount   int
	FailedAuthAt      time.Time
	// TokensValidAfter invalidates every token issued before it.
	TokensValidAfter time.Time
	CreatedAt        time.Time
}

// Group is a set of users.
type Group struct {
	ID          string
	Name        string
	DomainID    string
	Description string
	Extra       map[string]any
	CreatedAt   time.Time
}

// Role is a global role (DomainID "") or a domain-specific one.
type Role struct {
	ID          string
	Name        string
	DomainID    string
	Description string
	Options     map[string]any
	Extra       map[string]any
	CreatedAt   time.Time
}

// Assignment types.
const (
	UserProject  = "UserProject"
	GroupProject = "GroupProject"
	UserDomain   = "UserDomain"
	GroupDomain  = "GroupDomain"
	UserSystem   = "UserSystem"
	GroupSystem  = "GroupSystem"
)

// Assignment grants a role to a user or group on a project, a domain or
// the system. Inherited assignments apply to the target's subtree instead
// of the target itself (OS-INHERIT).
type Assignment struct {
	Type      string
	ActorID   string
	TargetID  string
	RoleID    string
	Inherited bool
}

// AssignmentFilter selects assignments; empty fields match anything.
type AssignmentFilter struct {
	Types     []string
	ActorIDs  []string
	TargetIDs []string
	RoleIDs   []string
	Inherited *bool
}

// Region is a catalog region.
type Region struct {
	ID             string
	Description    string
	ParentRegionID string
	Extra          map[string]any
}

// ServiceRecord is a catalog service (keystone's "service").
type ServiceRecord struct {
	ID          string
	Type        string
	Name        string
	Description string
	Enabled     bool
	Extra       map[string]any
}

// Endpoint is a catalog endpoint.
type Endpoint struct {
	ID        string
	ServiceID string
	Interface string
	RegionID  string
	URL       string
	Enabled   bool
	Extra     map[string]any
}

// AppCred is an application credential; the secret is stored hashed.
type AppCred struct {
	ID           string
	Name         string
	UserID       string
	ProjectID    string
	SecretHash   string
	Description  string
	ExpiresAt    time.Time
	Unrestricted bool
	Roles        []string // role IDs
	AccessRules  []map[string]any
	CreatedAt    time.Time
}

// FernetKey is one key of the repository; index 0 is staged, the highest
// index is primary.
type FernetKey struct {
	Index     int
	Key       string // base64url, 32 bytes
	CreatedAt time.Time
}

// Revocation is an explicitly revoked audit ID.
type Revocation struct {
	AuditID   string
	RevokedAt time.Time
	ExpiresAt time.Time
}

// ProjectFilter selects projects.
type ProjectFilter struct {
	DomainID string
	ParentID string
	Name     string
	IsDomain *bool
	Enabled  *bool
	IDs      []string
	// Tags: all of; TagsAny: any of; NotTags: none of all; NotTagsAny: none of any.
	Tags, TagsAny, NotTags, NotTagsAny []string
}

// UserFilter selects users.
type UserFilter struct {
	DomainID string
	Name     string
	Enabled  *bool
	GroupID  string
	IDs      []string
}

// Store is the persistence identity needs. Implementations return
// errs.NotFound / errs.Conflict kinds for missing rows and duplicates.
type Store interface {
	CreateProject(ctx context.Context, p *Project) error
	GetProject(ctx context.Context, id string) (*Project, error)
	GetProjectByName(ctx context.Context, domainID, name string) (*Project, error)
	ListProjects(ctx context.Context, f ProjectFilter) ([]*Project, error)
	UpdateProject(ctx context.Context, p *Project) error
	// DeleteProject removes a project (or domain) with its assignments and,
	// for a domain, its users, groups and domain roles.
	DeleteProject(ctx context.Context, id string) error

	CreateUser(ctx context.Context, u *User) error
	GetUser(ctx context.Context, id string) (*User, error)
	GetUserByName(ctx context.Context, domainID, name string) (*User, error)
	ListUsers(ctx context.Context, f UserFilter) ([]*User, error)
	UpdateUser(ctx context.Context, u *User) error
	DeleteUser(ctx context.Context, id string) error
	// RecordAuthFailure increments the failure count atomically and
	// returns the new count.
	RecordAuthFailure(ctx context.Context, userID string, at time.Time) (int, error)
	ResetAuthFailures(ctx context.Context, userID string) error

	CreateGroup(ctx context.Context, g *Group) error
	GetGroup(ctx context.Context, id string) (*Group, error)
	ListGroups(ctx context.Context, domainID, name string) ([]*Group, error)
	UpdateGroup(ctx context.Context, g *Group) error
	DeleteGroup(ctx context.Context, id string) error
	AddUserToGroup(ctx context.Context, userID, groupID string) error
	RemoveUserFromGroup(ctx context.Context, userID, groupID string) error
	UserGroupIDs(ctx context.Context, userID string) ([]string, error)

	CreateRole(ctx context.Context, r *Role) error
	GetRole(ctx context.Context, id string) (*Role, error)
	ListRoles(ctx context.Context, domainID, name string) ([]*Role, error)
	UpdateRole(ctx context.Context, r *Role) error
	DeleteRole(ctx context.Context, id string) error
	AddImpliedRole(ctx context.Context, prior, implied string) error
	RemoveImpliedRole(ctx context.Context, prior, implied string) error
	// ImpliedRoles maps prior role ID to implied role IDs.
	ImpliedRoles(ctx context.Context) (map[string][]string, error)

	Grant(ctx context.Context, a Assignment) error
	Revoke(ctx context.Context, a Assignment) error
	ListAssignments(ctx context.Context, f AssignmentFilter) ([]Assignment, error)

	CreateRegion(ctx context.Context, r *Region) error
	GetRegion(ctx context.Context, id string) (*Region, error)
	ListRegions(ctx context.Context) ([]*Region, error)
	UpdateRegion(ctx context.Context, r *Region) error
	DeleteRegion(ctx context.Context, id string) error
	CreateService(ctx context.Context, s *ServiceRecord) error
	GetService(ctx context.Context, id string) (*ServiceRecord, error)
	ListServices(ctx context.Context) ([]*ServiceRecord, error)
	UpdateService(ctx context.Context, s *ServiceRecord) error
	DeleteService(ctx context.Context, id string) error
	CreateEndpoint(ctx context.Context, e *Endpoint) error
	GetEndpoint(ctx context.Context, id string) (*Endpoint, error)
	ListEndpoints(ctx context.Context) ([]*Endpoint, error)
	UpdateEndpoint(ctx context.Context, e *Endpoint) error
	DeleteEndpoint(ctx context.Context, id string) error

	CreateAppCred(ctx context.Context, a *AppCred) error
	GetAppCred(ctx context.Context, id string) (*AppCred, error)
	ListAppCreds(ctx context.Context, userID string) ([]*AppCred, error)
	DeleteAppCred(ctx context.Context, id string) error

	FernetKeys(ctx context.Context) ([]FernetKey, error)
	// ReplaceFernetKeys swaps the whole key set atomically; expect is the
	// set the caller read, so two concurrent rotations cannot both win.
	ReplaceFernetKeys(ctx context.Context, expect, keys []FernetKey) error

	AddRevocation(ctx context.Context, r Revocation) error
	// RevocationsSince lists revocations recorded at or after t.
	RevocationsSince(ctx context.Context, t time.Time) ([]Revocation, error)
	PruneRevocations(ctx context.Context, now time.Time) error
}
