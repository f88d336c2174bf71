// Package app is the composition root: it opens the store, builds every
// service, mounts their APIs on one listener and bootstraps a new cloud.
// It is the only package that imports everything.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/gureum/gureum/internal/agent"
	"github.com/gureum/gureum/internal/bus"
	"github.com/gureum/gureum/internal/compute"
	"github.com/gureum/gureum/internal/config"
	"github.com/gureum/gureum/internal/identity"
	"github.com/gureum/gureum/internal/identity/identityapi"
	"github.com/gureum/gureum/internal/image"
	"github.com/gureum/gureum/internal/image/imageapi"
	"github.com/gureum/gureum/internal/network"
	"github.com/gureum/gureum/internal/network/networkapi"
	"github.com/gureum/gureum/internal/platform/httpx"
	"github.com/gureum/gureum/internal/platform/ids"
	"github.com/gureum/gureum/internal/policy"
	"github.com/gureum/gureum/internal/store"
)

// App is a running Gureum server.
type App struct {
	Config   config.Config
	Log      *slog.Logger
	DB       *store.DB
	Identity *identity.Service
	Image    *image.Service
	Network  *network.Service
	// Compute is nova with its controller; Bus and Agent its message bus
	// and the in-process node agent (nil with compute.agent off).
	Compute *compute.Service
	Bus     *bus.Bus
	Agent   *agent.Agent

	http     *httpx.Server
	server   *http.Server
	listener net.Listener
	closers  []func()
	// AdminPassword is set when this start bootstrapped a new cloud.
	AdminPassword string
}

// catalogDefs lists the catalog entry of every mounted service.
func catalogDefs(base string) []identity.CatalogDef {
	return []identity.CatalogDef{
		{Type: "identity", Name: "keystone", URL: base + "/identity"},
		{Type: "image", Name: "glance", URL: base + "/image"},
		{Type: "network", Name: "neutron", URL: base + "/networking"},
		{Type: "compute", Name: "nova", URL: base + "/compute/v2.1"},
	}
}

// New builds the app: store, services, routes. It listens on cfg.Listen
// (":0" picks a port; the advertised URL is then fixed up to match).
func New(ctx context.Context, cfg config.Config, log *slog.Logger) (*App, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	a := &App{Config: cfg, Log: log, listener: ln}
	ok := false
	defer func() {
		if !ok {
			a.Close()
		}
	}()
	a.closers = append(a.closers, func() { ln.Close() })
	// With port 0 the advertised URL learns the real port.
	if _, port, _ := net.SplitHostPort(cfg.Listen); port == "0" {
		a.Config.AdvertiseURL = "http://" + ln.Addr().String()
	}
	db, err := store.Open(ctx, cfg.Database, cfg.DataDir)
	if err != nil {
		return nil, err
	}
	a.DB = db
	a.closers = append(a.closers, func() { db.Close() })

	overrides := map[string]string{}
	if cfg.API.PolicyFile != "" {
		b, err := os.ReadFile(cfg.API.PolicyFile)
		if err != nil {
			return nil, fmt.Errorf("policy file: %w", err)
		}
		if err := yaml.Unmarshal(b, &overrides); err != nil {
			return nil, fmt.Errorf("policy file %s: %w", cfg.API.PolicyFile, err)
		}
	}
	enforcer, err := policy.New(overrides)
	if err != nil {
		return nil, err
	}
	a.http = httpx.NewServer(httpx.Options{Policy: enforcer, Log: log, MaxBody: cfg.API.MaxBodyBytes, BaseURL: a.Config.AdvertiseURL})

	a.Identity = identityFor(db, cfg, log)
	a.http.SetAuth(a.Identity)
	if a.Image, err = image.New(ctx, store.NewImage(db), image.Config{Dir: cfg.Image.Dir, QuotaImages: cfg.Image.QuotaImages,
		QuotaBytes: cfg.Image.QuotaBytes, MaxImageSize: cfg.Image.MaxImageSize, MaxVirtualSize: cfg.Image.MaxVirtualSize, HashAlgo: cfg.Image.HashAlgo}, log); err != nil {
		return nil, err
	}

	if a.Network, err = networkFor(db, cfg, log); err != nil {
		return nil, err
	}

	novaAPI, err := a.startCompute(ctx, db)
	if err != nil {
		return nil, err
	}

	// One line per service: its API. Catalog entries are in catalogDefs.
	apis := []httpx.Service{
		identityapi.New(a.Identity).Service(),
		imageapi.New(a.Image).Service(),
		networkapi.New(a.Network).Service(),
		novaAPI.Service(),
	}
	for _, api := range apis {
		if err := a.http.Mount(api); err != nil {
			return nil, err
		}
	}
	if err := a.bootstrap(ctx, catalogDefs(a.Config.AdvertiseURL)); err != nil {
		return nil, err
	}
	a.server = &http.Server{
		Handler:           a.http.Handler(),
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	ok = true
	return a, nil
}

// bootstrap initialises a new cloud and keeps the catalog in step with the
// advertised URL and the mounted services on every start.
func (a *App) bootstrap(ctx context.Context, defs []identity.CatalogDef) error {
	pw := a.Config.Identity.AdminPassword
	if pw == "" {
		pw = ids.Random(12)
	}
	created, err := a.Identity.Bootstrap(ctx, identity.BootstrapOptions{
		AdminUser: "admin", AdminPassword: pw, AdminProject: "admin", Region: a.Config.Region, Services: defs,
	})
	if err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	if created {
		a.AdminPassword = pw
		path := filepath.Join(a.Config.DataDir, "clouds.yaml")
		if err := WriteCloudsYAML(path, a.Config.AdvertiseURL, a.Config.Region, "admin", pw, "admin"); err != nil {
			return err
		}
		a.Log.Info("bootstrapped a new cloud", "clouds_yaml", path)
	}
	return nil
}

// WriteCloudsYAML writes a clouds.yaml with a cloud named "gureum".
func WriteCloudsYAML(path, baseURL, region, user, password, project string) error {
	doc := map[string]any{"clouds": map[string]any{"gureum": map[string]any{
		"auth": map[string]any{
			"auth_url":            baseURL + "/identity/v3",
			"username":            user,
			"password":            password,
			"project_name":        project,
			"user_domain_name":    "Default",
			"project_domain_name": "Default",
		},
		"region_name":          region,
		"interface":            "public",
		"identity_api_version": 3,
	}}}
	b, err := yaml.Marshal(doc)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}

// URL is the advertised base URL.
func (a *App) URL() string { return a.Config.AdvertiseURL }

// Handler returns the HTTP handler (tests, benchmarks).
func (a *App) Handler() http.Handler { return a.server.Handler }

// Serve serves until ctx is done, then shuts down gracefully.
func (a *App) Serve(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- a.server.Serve(a.listener) }()
	go a.trimWhenIdle(ctx, idleTrimAfter)
	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return a.server.Shutdown(sctx)
}

// Close releases everything New acquired, in reverse order.
func (a *App) Close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i]()
	}
	a.closers = nil
}

// networkFor builds the networking service from its configuration.
func networkFor(db *store.DB, cfg config.Config, log *slog.Logger) (*network.Service, error) {
	first, last, err := network.ParseVXLANRange(cfg.Network.VXLANRange)
	if err != nil {
		return nil, fmt.Errorf("network: %w", err)
	}
	ncfg := network.Config{
		UnderlayMTU: cfg.Network.UnderlayMTU, VXLANFirst: first, VXLANLast: last,
		TenantNetworkType: cfg.Network.TenantNetworkType, PhysicalNetworks: cfg.Network.PhysicalNetworks,
	}
	if err := ncfg.Validate(); err != nil {
		return nil, fmt.Errorf("network: %w", err)
	}
	return network.New(store.NewNetwork(db), ncfg, log), nil
}

// idleTrimAfter is how long the API must be quiet before the memory a burst
// of traffic left behind is given back: long enough for the store to have
// closed the connections the burst opened (store's idle time, 20 s).
const idleTrimAfter = time.Minute

// trimWhenIdle keeps an idle server small. After a burst, the identity
// caches hold entries no lookup can use any more, and the Go runtime keeps
// freed heap for minutes; once the API has been quiet for a while the
// stale entries are swept and the freed pages returned to the OS
// (debug.FreeOSMemory: one forced GC), once per quiet spell.
func (a *App) trimWhenIdle(ctx context.Context, quiet time.Duration) {
	t := time.NewTicker(quiet / 3)
	defer t.Stop()
	var trimmedAt time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if now := time.Now(); a.trimIfIdle(quiet, now, trimmedAt) {
			trimmedAt = now
		}
	}
}

// trimIfIdle trims when the last request is older than quiet and came
// after the previous trim.
func (a *App) trimIfIdle(quiet time.Duration, now, trimmedAt time.Time) bool {
	last := a.http.LastRequest()
	if last.IsZero() || now.Sub(last) < quiet || !last.After(trimmedAt) {
		return false
	}
	swept := a.Identity.SweepCaches()
	debug.FreeOSMemory()
	a.Log.Debug("idle: memory returned", "cache_entries_swept", swept)
	return true
}
