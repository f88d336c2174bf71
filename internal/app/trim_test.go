package app

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gureum/gureum/internal/config"
	"github.com/gureum/gureum/internal/platform/logging"
)

// TestTrimOncePerQuietSpell: memory is given back once the API has been
// quiet for the set time, and not again until a request comes.
func TestTrimOncePerQuietSpell(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Listen = "127.0.0.1:0"
	cfg.Identity.BcryptCost = 4
	cfg.Compute.Driver = "fake"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := New(ctx, cfg, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	const quiet = time.Minute
	if a.trimIfIdle(quiet, time.Now().Add(time.Hour), time.Time{}) {
		t.Fatal("trimmed before any request")
	}
	a.Handler().ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/identity/v3", nil))
	last := a.http.LastRequest()
	if last.IsZero() {
		t.Fatal("request not recorded")
	}
	if a.trimIfIdle(quiet, last.Add(quiet/2), time.Time{}) {
		t.Fatal("trimmed while the API was busy")
	}
	trimmed := last.Add(quiet + time.Second)
	if !a.trimIfIdle(quiet, trimmed, time.Time{}) {
		t.Fatal("not trimmed after a quiet minute")
	}
	if a.trimIfIdle(quiet, trimmed.Add(time.Hour), trimmed) {
		t.Fatal("trimmed twice in one quiet spell")
	}
}
