package identity

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Token validation reads a user, its domain, the scope's project and
// domain, group memberships, assignments on the target and its ancestors,
// the implied-role graph and roles: about ten store reads. The readCache
// below answers them from memory while keeping "a removal takes effect at
// once" true:
//
//   - every identity write made through this process's Store (the API,
//     bootstrap, testenv helpers all write through it) bumps a generation
//     counter after it commits, and a cached read is used only while the
//     generation it was read at is still current. A reader takes the
//     generation before it reads the store, so a write racing with the read
//     leaves an entry tagged with the older generation, which is never used.
//   - writes made by another server of a multi-server install do not bump
//     this server's counter; an entry is therefore also dropped once it is
//     older than cacheMaxAge. That bounds how long another server's removal
//     (role unassigned, user disabled, credential deleted) can lag here:
//     cacheMaxAge, the same bound as revocation events (revocationRefresh).
const cacheMaxAge = time.Second

// cacheMaxEntries bounds memory. Entries older than cacheMaxAge are never
// used again, so a full cache first drops those, and is cleared only when
// that is not enough.
const cacheMaxEntries = 8192

// genStore wraps a Store and bumps the generation after every successful
// write that can change what a token means or what the catalog holds.
// Failure counters, Fernet keys and revocation events do not: they are not
// read through the cache.
type genStore struct {
	Store
	gen *atomic.Uint64
}

func (g *genStore) bump(err error) error {
	// Bump even on error: a failed multi-statement write is rolled back,
	// but bumping costs only a few cache misses and is never wrong.
	g.gen.Add(1)
	return err
}

func (g *genStore) CreateProject(ctx context.Context, p *Project) error {
	return g.bump(g.Store.CreateProject(ctx, p))
}
func (g *genStore) UpdateProject(ctx context.Context, p *Project) error {
	return g.bump(g.Store.UpdateProject(ctx, p))
}
func (g *genStore) DeleteProject(ctx context.Context, id string) error {
	return g.bump(g.Store.DeleteProject(ctx, id))
}
func (g *genStore) CreateUser(ctx context.Context, u *User) error {
	return g.bump(g.Store.CreateUser(ctx, u))
}
func (g *genStore) UpdateUser(ctx context.Context, u *User) error {
	return g.bump(g.Store.UpdateUser(ctx, u))
}
func (g *genStore) DeleteUser(ctx context.Context, id string) error {
	return g.bump(g.Store.DeleteUser(ctx, id))
}
func (g *genStore) CreateGroup(ctx context.Context, x *Group) error {
	return g.bump(g.Store.CreateGroup(ctx, x))
}
func (g *genStore) UpdateGroup(ctx context.Context, x *Group) error {
	return g.bump(g.Store.UpdateGroup(ctx, x))
}
func (g *genStore) DeleteGroup(ctx context.Context, id string) error {
	return g.bump(g.Store.DeleteGroup(ctx, id))
}
func (g *genStore) AddUserToGroup(ctx context.Context, u, gr string) error {
	return g.bump(g.Store.AddUserToGroup(ctx, u, gr))
}
func (g *genStore) RemoveUserFromGroup(ctx context.Context, u, gr string) error {
	return g.bump(g.Store.RemoveUserFromGroup(ctx, u, gr))
}
func (g *genStore) CreateRole(ctx context.Context, r *Role) error {
	return g.bump(g.Store.CreateRole(ctx, r))
}
func (g *genStore) UpdateRole(ctx context.Context, r *Role) error {
	return g.bump(g.Store.UpdateRole(ctx, r))
}
func (g *genStore) DeleteRole(ctx context.Context, id string) error {
	return g.bump(g.Store.DeleteRole(ctx, id))
}
func (g *genStore) AddImpliedRole(ctx context.Context, p, i string) error {
	return g.bump(g.Store.AddImpliedRole(ctx, p, i))
}
func (g *genStore) RemoveImpliedRole(ctx context.Context, p, i string) error {
	return g.bump(g.Store.RemoveImpliedRole(ctx, p, i))
}
func (g *genStore) Grant(ctx context.Context, a Assignment) error {
	return g.bump(g.Store.Grant(ctx, a))
}
func (g *genStore) Revoke(ctx context.Context, a Assignment) error {
	return g.bump(g.Store.Revoke(ctx, a))
}
func (g *genStore) CreateRegion(ctx context.Context, r *Region) error {
	return g.bump(g.Store.CreateRegion(ctx, r))
}
func (g *genStore) UpdateRegion(ctx context.Context, r *Region) error {
	return g.bump(g.Store.UpdateRegion(ctx, r))
}
func (g *genStore) DeleteRegion(ctx context.Context, id string) error {
	return g.bump(g.Store.DeleteRegion(ctx, id))
}
func (g *genStore) CreateService(ctx context.Context, v *ServiceRecord) error {
	return g.bump(g.Store.CreateService(ctx, v))
}
func (g *genStore) UpdateService(ctx context.Context, v *ServiceRecord) error {
	return g.bump(g.Store.UpdateService(ctx, v))
}
func (g *genStore) DeleteService(ctx context.Context, id string) error {
	return g.bump(g.Store.DeleteService(ctx, id))
}
func (g *genStore) CreateEndpoint(ctx context.Context, e *Endpoint) error {
	return g.bump(g.Store.CreateEndpoint(ctx, e))
}
func (g *genStore) UpdateEndpoint(ctx context.Context, e *Endpoint) error {
	return g.bump(g.Store.UpdateEndpoint(ctx, e))
}
func (g *genStore) DeleteEndpoint(ctx context.Context, id string) error {
	return g.bump(g.Store.DeleteEndpoint(ctx, id))
}
func (g *genStore) CreateAppCred(ctx context.Context, a *AppCred) error {
	return g.bump(g.Store.CreateAppCred(ctx, a))
}
func (g *genStore) DeleteAppCred(ctx context.Context, id string) error {
	return g.bump(g.Store.DeleteAppCred(ctx, id))
}

type cacheEntry struct {
	gen uint64
	at  time.Time
	val any
	err error
}

// readCache memoizes the store reads of the token path. Values it returns
// are shared: callers must not modify them.
type readCache struct {
	store Store
	gen   *atomic.Uint64
	mu    sync.RWMutex
	m     map[string]cacheEntry
}

func newReadCache(st Store, gen *atomic.Uint64) *readCache {
	return &readCache{store: st, gen: gen, m: map[string]cacheEntry{}}
}

// get returns the cached value for key or loads it. Not-found answers are
// cached too (a deleted user's tokens are looked up again and again).
func (c *readCache) get(key string, load func() (any, error)) (any, error) {
	gen := c.gen.Load()
	now := time.Now()
	c.mu.RLock()
	e, ok := c.m[key]
	c.mu.RUnlock()
	if ok && e.gen == gen && now.Sub(e.at) < cacheMaxAge {
		return e.val, e.err
	}
	v, err := load()
	if err != nil && !isNotFound(err) {
		return nil, err // transient store errors are not cached
	}
	c.mu.Lock()
	c.m = makeRoom(c.m, cacheMaxEntries, now)
	c.m[key] = cacheEntry{gen: gen, at: now, val: v, err: err}
	c.mu.Unlock()
	return v, err
}

func (c *readCache) user(ctx context.Context, id string) (*User, error) {
	v, err := c.get("u\x00"+id, func() (any, error) { return c.store.GetUser(ctx, id) })
	if err != nil {
		return nil, err
	}
	return v.(*User), nil
}

func (c *readCache) project(ctx context.Context, id string) (*Project, error) {
	v, err := c.get("p\x00"+id, func() (any, error) { return c.store.GetProject(ctx, id) })
	if err != nil {
		return nil, err
	}
	return v.(*Project), nil
}

func (c *readCache) projectByName(ctx context.Context, domainID, name string) (*Project, error) {
	v, err := c.get("pn\x00"+domainID+"\x00"+name, func() (any, error) { return c.store.GetProjectByName(ctx, domainID, name) })
	if err != nil {
		return nil, err
	}
	return v.(*Project), nil
}

func (c *readCache) userByName(ctx context.Context, domainID, name string) (*User, error) {
	v, err := c.get("un\x00"+domainID+"\x00"+name, func() (any, error) { return c.store.GetUserByName(ctx, domainID, name) })
	if err != nil {
		return nil, err
	}
	return v.(*User), nil
}

func (c *readCache) role(ctx context.Context, id string) (*Role, error) {
	v, err := c.get("r\x00"+id, func() (any, error) { return c.store.GetRole(ctx, id) })
	if err != nil {
		return nil, err
	}
	return v.(*Role), nil
}

func (c *readCache) appCred(ctx context.Context, id string) (*AppCred, error) {
	v, err := c.get("ac\x00"+id, func() (any, error) { return c.store.GetAppCred(ctx, id) })
	if err != nil {
		return nil, err
	}
	return v.(*AppCred), nil
}

func (c *readCache) userGroups(ctx context.Context, userID string) ([]string, error) {
	v, err := c.get("ug\x00"+userID, func() (any, error) { return c.store.UserGroupIDs(ctx, userID) })
	if err != nil {
		return nil, err
	}
	return v.([]string), nil
}

func (c *readCache) implied(ctx context.Context) (map[string][]string, error) {
	v, err := c.get("implied", func() (any, error) { return c.store.ImpliedRoles(ctx) })
	if err != nil {
		return nil, err
	}
	return v.(map[string][]string), nil
}

func (c *readCache) assignments(ctx context.Context, f AssignmentFilter) ([]Assignment, error) {
	inh := "*"
	if f.Inherited != nil {
		inh = fmt.Sprint(*f.Inherited)
	}
	key := "a\x00" + strings.Join(f.Types, ",") + "\x00" + strings.Join(f.ActorIDs, ",") + "\x00" +
		strings.Join(f.TargetIDs, ",") + "\x00" + strings.Join(f.RoleIDs, ",") + "\x00" + inh
	v, err := c.get(key, func() (any, error) { return c.store.ListAssignments(ctx, f) })
	if err != nil {
		return nil, err
	}
	return v.([]Assignment), nil
}

func (c *readCache) catalog(ctx context.Context) ([]CatalogService, error) {
	v, err := c.get("catalog", func() (any, error) { return loadCatalog(ctx, c.store) })
	if err != nil {
		return nil, err
	}
	return v.([]CatalogService), nil
}

// tokenCacheMax bounds the validated-token cache (about 1 KB an entry);
// only tokens validated in the last cacheMaxAge are worth keeping.
const tokenCacheMax = 1024

// tokenCache keeps validated tokens by ID, tagged like readCache entries:
// a token is re-expanded after any identity write or cacheMaxAge.
type tokenCache struct {
	mu sync.RWMutex
	m  map[string]tokenEntry
}

type tokenEntry struct {
	gen uint64
	at  time.Time
	t   *Token
}

func (c *tokenCache) get(id string, gen uint64) *Token {
	c.mu.RLock()
	e, ok := c.m[id]
	c.mu.RUnlock()
	if !ok || e.gen != gen || time.Since(e.at) >= cacheMaxAge {
		return nil
	}
	return e.t
}

func (c *tokenCache) put(id string, gen uint64, t *Token) {
	now := time.Now()
	c.mu.Lock()
	if c.m == nil {
		c.m = map[string]tokenEntry{}
	}
	c.m = makeRoom(c.m, tokenCacheMax, now)
	c.m[id] = tokenEntry{gen: gen, at: now, t: t}
	c.mu.Unlock()
}

// sweep drops the entries no lookup can use any more (older than
// cacheMaxAge) and reports how many.
func (c *readCache) sweep(now time.Time) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	var dropped int
	c.m, dropped = freshOnly(c.m, now)
	return dropped
}

// sweep is readCache.sweep for validated tokens.
func (c *tokenCache) sweep(now time.Time) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	var dropped int
	c.m, dropped = freshOnly(c.m, now)
	return dropped
}

// stamped is a cache entry with the time it was stored.
type stamped interface{ stamp() time.Time }

func (e cacheEntry) stamp() time.Time { return e.at }
func (e tokenEntry) stamp() time.Time { return e.at }

// makeRoom keeps a full cache from growing: the stale entries go, and if
// it is still three quarters full it starts over empty.
func makeRoom[E stamped](m map[string]E, max int, now time.Time) map[string]E {
	if len(m) < max {
		return m
	}
	for k, e := range m {
		if now.Sub(e.stamp()) >= cacheMaxAge {
			delete(m, k)
		}
	}
	if len(m) >= max*3/4 {
		return map[string]E{}
	}
	return m
}

// freshOnly copies the entries still usable into a new map: Go maps never
// shrink, so after a burst only a new map gives the memory back.
func freshOnly[E stamped](m map[string]E, now time.Time) (map[string]E, int) {
	out := make(map[string]E)
	for k, e := range m {
		if now.Sub(e.stamp()) < cacheMaxAge {
			out[k] = e
		}
	}
	return out, len(m) - len(out)
}
