// Package testenv starts real Gureum servers for tests and skips tests whose
// capabilities (root, binaries, PostgreSQL) are missing, saying why.
package testenv

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"

	"github.com/gureum/gureum/internal/app"
	"github.com/gureum/gureum/internal/config"
	"github.com/gureum/gureum/internal/platform/logging"
	"github.com/gureum/gureum/internal/store/storetest"
)

// AdminPassword is the admin password of test servers.
const AdminPassword = "secret-admin-password"

// Server is a running in-process Gureum.
type Server struct {
	URL     string
	DataDir string
	App     *app.App
	Config  config.Config
	cancel  context.CancelFunc
	done    chan struct{}
}

// Option adjusts a test server's configuration.
type Option func(*config.Config)

// WithPostgres runs the server on a fresh PostgreSQL database (skipping the
// test when none is configured).
func WithPostgres(t testing.TB) Option {
	dsn := storetest.PostgresDSN(t)
	return func(c *config.Config) { c.Database = dsn }
}

// StartServer starts a server on 127.0.0.1:0 with a temporary data
// directory; it is stopped when the test ends.
func StartServer(t testing.TB, opts ...Option) *Server {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Listen = "127.0.0.1:0"
	cfg.Identity.BcryptCost = 4 // tests do not need slow hashes
	cfg.Identity.AdminPassword = AdminPassword
	cfg.Log.Level = "warn"
	// The in-process compute agent runs the fake hypervisor unless a test
	// asks for QEMU (compute tests that boot guests set Driver "qemu").
	cfg.Compute.Driver = "fake"
	for _, o := range opts {
		o(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	log := logging.Discard()
	if os.Getenv("GUREUM_TEST_LOG") != "" {
		log = logging.New(os.Stderr, "text", "debug")
	}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, cfg, log)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	s := &Server{URL: a.URL(), DataDir: cfg.DataDir, App: a, Config: a.Config, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		_ = a.Serve(ctx)
	}()
	t.Cleanup(s.Stop)
	return s
}

// Stop shuts the server down (idempotent).
func (s *Server) Stop() {
	if s.cancel == nil {
		return
	}
	s.cancel()
	<-s.done
	s.App.Close()
	s.cancel = nil
}

// AuthURL is the identity endpoint for clients.
func (s *Server) AuthURL() string { return s.URL + "/identity/v3/" }

// Login authenticates with gophercloud and returns the provider client.
func (s *Server) Login(t testing.TB, ao gophercloud.AuthOptions) *gophercloud.ProviderClient {
	t.Helper()
	ao.IdentityEndpoint = s.AuthURL()
	pc, err := openstack.AuthenticatedClient(context.Background(), ao)
	if err != nil {
		t.Fatalf("login %s: %v", ao.Username, err)
	}
	return pc
}

// Admin returns a provider authenticated as the bootstrap admin, scoped to
// the admin project.
func (s *Server) Admin(t testing.TB) *gophercloud.ProviderClient {
	return s.Login(t, gophercloud.AuthOptions{Username: "admin", Password: AdminPassword, DomainName: "Default", TenantName: "admin"})
}

// SystemAdmin returns a provider authenticated as admin with system scope.
func (s *Server) SystemAdmin(t testing.TB) *gophercloud.ProviderClient {
	return s.Login(t, gophercloud.AuthOptions{Username: "admin", Password: AdminPassword, DomainName: "Default", Scope: &gophercloud.AuthScope{System: true}})
}

// Identity returns an identity v3 client.
func (s *Server) Identity(t testing.TB, pc *gophercloud.ProviderClient) *gophercloud.ServiceClient {
	t.Helper()
	c, err := openstack.NewIdentityV3(pc, gophercloud.EndpointOpts{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// ServiceClient returns a client for a catalog service type
// ("network", "image", "compute", ...), found through the catalog as real
// clients do. ResourceBase is set to the versioned root.
func (s *Server) ServiceClient(t testing.TB, pc *gophercloud.ProviderClient, serviceType, version string) *gophercloud.ServiceClient {
	t.Helper()
	url, err := pc.EndpointLocator(gophercloud.EndpointOpts{Type: serviceType, Availability: gophercloud.AvailabilityPublic})
	if err != nil {
		t.Fatalf("catalog has no %s endpoint: %v", serviceType, err)
	}
	sc := &gophercloud.ServiceClient{ProviderClient: pc, Endpoint: gophercloud.NormalizeURL(url), Type: serviceType}
	sc.ResourceBase = sc.Endpoint
	if version != "" {
		sc.ResourceBase = sc.Endpoint + version + "/"
	}
	return sc
}

// HTTP does a raw request with a token, for checks gophercloud cannot make
// (exact JSON, headers, malformed bodies).
func (s *Server) HTTP(t testing.TB, method, path, token string, body string, headers ...string) (*http.Response, []byte) {
	t.Helper()
	return Do(t, method, s.URL+path, token, body, headers...)
}

// RequireRoot skips the test unless it runs as root.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipped: needs root (network namespaces, bridges, nftables); CI runs as root")
	}
}

// RequireBinary skips the test unless every named binary is on PATH.
func RequireBinary(t testing.TB, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			t.Skipf("skipped: %s not installed (CI installs it through .ci/run)", n)
		}
	}
}

// Eventually polls cond until it is true or the timeout passes.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out after %v waiting for %s", timeout, what)
}
