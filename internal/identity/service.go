package identity

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gureum/gureum/internal/platform/errs"
)

// Config is what the identity service needs from the configuration.
type Config struct {
	TokenTTL              time.Duration
	BcryptCost            int
	MaxActiveKeys         int
	LockoutAttempts       int
	LockoutDuration       time.Duration
	AuthFailuresPerMinute int
	Region                string
	// AdminProject names the project (in the Default domain) whose admins
	// are cloud admins, as keystone's admin_project_name; "admin" if empty.
	AdminProject string
}

// Service is the identity domain logic.
type Service struct {
	store  Store
	cache  *readCache
	tokens tokenCache
	gen    atomic.Uint64
	cfg    Config
	log    *slog.Logger
	// clock is swapped by SetClock while requests run, hence atomic.
	clock   atomic.Pointer[func() time.Time]
	keys    *keyRing
	revoked *revocations
	limiter *failureLimiter
	// dummyHash makes a login for an unknown user cost as much as one for
	// a known user, so timing does not reveal which names exist.
	dummyHash  string
	dummyReady chan struct{}
}

// dummy returns the dummy hash, waiting for it on the first calls.
func (s *Service) dummy() string {
	<-s.dummyReady
	return s.dummyHash
}

// New returns the identity service.
func New(store Store, cfg Config, log *slog.Logger) *Service {
	if cfg.AdminProject == "" {
		cfg.AdminProject = "admin"
	}
	s := &Service{
		cfg:     cfg,
		log:     log,
		keys:    &keyRing{store: store, maxKeys: cfg.MaxActiveKeys},
		limiter: newFailureLimiter(cfg.AuthFailuresPerMinute),
	}
	s.SetClock(func() time.Time { return time.Now().UTC() })
	s.keys.onChange = func() { s.gen.Add(1) }
	// Every write goes through genStore so cached token reads see it at once.
	s.store = &genStore{Store: store, gen: &s.gen}
	s.cache = newReadCache(store, &s.gen)
	s.revoked = newRevocations(store)
	// The dummy hash costs one bcrypt (~240 ms at cost 12): make it in the
	// background so it does not delay the server's start.
	s.dummyReady = make(chan struct{})
	go func() {
		h, _ := bcrypt.GenerateFromPassword([]byte("not a password"), cfg.BcryptCost)
		s.dummyHash = string(h)
		close(s.dummyReady)
	}()
	return s
}

// SetClock replaces the clock (tests of expiry and lockout).
func (s *Service) SetClock(now func() time.Time) { s.clock.Store(&now) }

func (s *Service) now() time.Time { return (*s.clock.Load())() }

// Now returns the service's current time.
func (s *Service) Now() time.Time { return s.now() }

// Generation counts identity writes made through this server (see cache.go).
func (s *Service) Generation() uint64 { return s.gen.Load() }

func isNotFound(err error) bool { return errs.Is(err, errs.KindNotFound) }

// Store exposes the store to the API layer's read paths. Writes through it
// invalidate the token cache.
func (s *Service) Store() Store { return s.store }

// RotateKeys rotates the Fernet keys and returns the new set.
func (s *Service) RotateKeys(ctx context.Context) ([]FernetKey, error) { return s.keys.rotate(ctx) }

// FernetKeys returns the current keys.
func (s *Service) FernetKeys(ctx context.Context) ([]FernetKey, error) {
	if err := s.keys.load(ctx); err != nil {
		return nil, err
	}
	return s.store.FernetKeys(ctx)
}

// passwordInput makes any password usable by bcrypt, which reads at most
// 72 bytes: longer ones are pre-hashed so no part of them is ignored.
func passwordInput(pw string) []byte {
	if len(pw) <= 72 {
		return []byte(pw)
	}
	sum := sha256.Sum256([]byte(pw))
	return []byte("sha256:" + base64.StdEncoding.EncodeToString(sum[:]))
}

// HashPassword hashes a password with the configured bcrypt cost.
func (s *Service) HashPassword(pw string) (string, error) {
	h, err := bcrypt.GenerateFromPassword(passwordInput(pw), s.cfg.BcryptCost)
	if err != nil {
		return "", errs.Internal(err)
	}
	return string(h), nil
}

func checkPassword(hash, pw string) bool {
	if hash == "" {
		return false
	}
	return bcrypt.CompareHashAndPassword([]byte(hash), passwordInput(pw)) == nil
}

// MaxPasswordLength bounds passwords (keystone's default).
const MaxPasswordLength = 4096

// SweepCaches drops cached reads and tokens that have outlived their use
// (see cacheMaxAge) and reports how many. The server calls it when the API
// has gone quiet, so the memory a burst filled them with can be returned.
func (s *Service) SweepCaches() int {
	now := time.Now()
	return s.cache.sweep(now) + s.tokens.sweep(now)
}

// revocations caches the revocation events in memory. New events written
// by this server are added at once; events written by other servers are
// picked up by an incremental reload at most revocationRefresh later.
// Audit IDs are kept as their 16 bytes with the expiry in Unix seconds
// (24 bytes an event instead of a string and a time.Time): ten thousand
// events cost a few hundred kilobytes.
type revocations struct {
	store  Store
	mu     sync.Mutex
	set    map[auditKey]int64
	other  map[string]int64 // audit IDs not in the 16-byte form
	since  time.Time
	loaded time.Time
	pruned time.Time
}

// auditKey is a decoded audit ID (16 random bytes, base64url on the wire).
type auditKey [16]byte

func newRevocations(store Store) *revocations {
	return &revocations{store: store, set: map[auditKey]int64{}, other: map[string]int64{}}
}

func keyOf(id string) (auditKey, bool) {
	var k auditKey
	if len(id) != 22 {
		return k, false
	}
	n, err := base64.RawURLEncoding.Strict().Decode(k[:], []byte(id))
	return k, err == nil && n == 16
}

// put records an event; the caller holds mu.
func (r *revocations) put(id string, expires time.Time) {
	if k, ok := keyOf(id); ok {
		r.set[k] = expires.Unix()
	} else {
		r.other[id] = expires.Unix()
	}
}

const revocationRefresh = time.Second

func (r *revocations) refresh(ctx context.Context, now time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.loaded.IsZero() && now.Sub(r.loaded) < revocationRefresh && now.After(r.loaded) {
		return nil
	}
	// Overlap a little: clocks of servers differ and rows commit late.
	since := r.since.Add(-5 * time.Second)
	if r.since.IsZero() {
		since = time.Time{}
	}
	evs, err := r.store.RevocationsSince(ctx, since)
	if err != nil {
		return err
	}
	for _, e := range evs {
		r.put(e.AuditID, e.ExpiresAt)
		if e.RevokedAt.After(r.since) {
			r.since = e.RevokedAt
		}
	}
	// Events are kept until the tokens they revoke expire (to the second,
	// rounded up: an event is dropped only once its expiry has passed).
	cut := now.Unix()
	for k, exp := range r.set {
		if exp < cut {
			delete(r.set, k)
		}
	}
	for k, exp := range r.other {
		if exp < cut {
			delete(r.other, k)
		}
	}
	r.loaded = now
	return nil
}

// prunePending reports whether expired events should be pruned now.
func (r *revocations) prunePending(now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now.Sub(r.pruned) < time.Minute && !now.Before(r.pruned) {
		return false
	}
	r.pruned = now
	return true
}

func (r *revocations) add(e Revocation) {
	r.mu.Lock()
	r.put(e.AuditID, e.ExpiresAt)
	r.mu.Unlock()
}

func (r *revocations) revoked(auditIDs []string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range auditIDs {
		var ok bool
		if k, short := keyOf(id); short {
			_, ok = r.set[k]
		} else {
			_, ok = r.other[id]
		}
		if ok {
			return true
		}
	}
	return false
}

// failureLimiter counts failed authentications per source address in a
// sliding minute.
type failureLimiter struct {
	limit int
	mu    sync.Mutex
	hits  map[string][]time.Time
}

func newFailureLimiter(limit int) *failureLimiter {
	return &failureLimiter{limit: limit, hits: map[string][]time.Time{}}
}

// retryAfter returns how long addr must wait, or 0 when it may try.
func (l *failureLimiter) retryAfter(addr string, now time.Time) time.Duration {
	if l.limit <= 0 || addr == "" {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	h := l.prune(addr, now)
	if len(h) < l.limit {
		return 0
	}
	return h[0].Add(time.Minute).Sub(now)
}

func (l *failureLimiter) prune(addr string, now time.Time) []time.Time {
	h := l.hits[addr]
	i := 0
	for i < len(h) && now.Sub(h[i]) >= time.Minute {
		i++
	}
	h = h[i:]
	if len(h) == 0 {
		delete(l.hits, addr)
	} else {
		l.hits[addr] = h
	}
	return h
}

func (l *failureLimiter) fail(addr string, now time.Time) {
	if l.limit <= 0 || addr == "" {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	h := l.prune(addr, now)
	l.hits[addr] = append(h, now)
	if len(l.hits) > 100000 { // bound memory under a spray of addresses
		for k := range l.hits {
			delete(l.hits, k)
			break
		}
	}
}
