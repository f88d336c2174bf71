package identity

import (
	"context"
	"testing"
	"time"
)

// revStore serves only what the revocation cache reads.
type revStore struct {
	Store
	evs []Revocation
}

func (s *revStore) RevocationsSince(context.Context, time.Time) ([]Revocation, error) {
	return s.evs, nil
}

func TestRevocationCache(t *testing.T) {
	now := time.Now()
	short := newAuditID()
	// Not the canonical 16-byte form (the last character's spare bits
	// differ): kept by its string, never confused with the canonical ID.
	odd := short[:21] + string(short[21]^1)
	st := &revStore{evs: []Revocation{
		{AuditID: short, RevokedAt: now, ExpiresAt: now.Add(time.Hour)},
		{AuditID: odd, RevokedAt: now, ExpiresAt: now.Add(time.Hour)},
		{AuditID: newAuditID(), RevokedAt: now, ExpiresAt: now.Add(-time.Hour)},
	}}
	r := newRevocations(st)
	if err := r.refresh(context.Background(), now); err != nil {
		t.Fatal(err)
	}
	if !r.revoked([]string{newAuditID(), short}) || !r.revoked([]string{odd}) {
		t.Fatal("a revoked audit ID is not seen")
	}
	if r.revoked([]string{newAuditID(), "x"}) {
		t.Fatal("an audit ID never revoked is seen as revoked")
	}
	if len(r.set) != 1 || len(r.other) != 1 {
		t.Fatalf("expired event kept: %d + %d events", len(r.set), len(r.other))
	}
	local := newAuditID()
	r.add(Revocation{AuditID: local, ExpiresAt: now.Add(time.Minute)})
	if !r.revoked([]string{local}) {
		t.Fatal("an event added by this server is not seen at once")
	}
	// Once the tokens they revoke have expired, events are dropped.
	st.evs = nil
	if err := r.refresh(context.Background(), now.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if len(r.set)+len(r.other) != 0 || r.revoked([]string{short}) {
		t.Fatalf("events kept after expiry: %d + %d", len(r.set), len(r.other))
	}
}

func TestCacheSweep(t *testing.T) {
	now := time.Now()
	var tc tokenCache
	tc.put("old", 1, &Token{})
	tc.m["old"] = tokenEntry{gen: 1, at: now.Add(-2 * cacheMaxAge)}
	tc.put("new", 1, &Token{})
	if n := tc.sweep(now); n != 1 || tc.get("new", 1) == nil || len(tc.m) != 1 {
		t.Fatalf("token cache sweep dropped %d, kept %d", n, len(tc.m))
	}
	rc := &readCache{m: map[string]cacheEntry{"old": {at: now.Add(-2 * cacheMaxAge)}, "new": {at: now}}}
	if n := rc.sweep(now); n != 1 || len(rc.m) != 1 {
		t.Fatalf("read cache sweep dropped %d, kept %d", n, len(rc.m))
	}
}
