package networkapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/networks"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/subnets"

	"github.com/gureum/gureum/internal/testenv"
)

var ctx = context.Background()

type ctxT = context.Context

// env is a server with an admin and two member projects.
type env struct {
	s              *testenv.Server
	admin, p1, p2  *gophercloud.ServiceClient
	adminTok       string
	p1Tok, p2Tok   string
	p1ID, p2ID     string
	adminProjectID string
}

// newEnv starts a server; GUREUM_TEST_NETWORK_POSTGRES=1 runs every API
// test on PostgreSQL (GUREUM_TEST_POSTGRES names the server) instead of
// SQLite.
func newEnv(t *testing.T, opts ...testenv.Option) *env {
	t.Helper()
	if os.Getenv("GUREUM_TEST_NETWORK_POSTGRES") != "" {
		opts = append(opts, testenv.WithPostgres(t))
	}
	s := testenv.StartServer(t, opts...)
	e := &env{s: s}
	apc := s.Admin(t)
	e.admin = s.ServiceClient(t, apc, "network", "v2.0")
	e.adminTok = apc.Token()
	for i, name := range []string{"proj-one", "proj-two"} {
		p := s.CreateProjectUser(t, name, "user-"+name, "member")
		pc := s.LoginProject(t, p)
		c := s.ServiceClient(t, pc, "network", "v2.0")
		if i == 0 {
			e.p1, e.p1Tok, e.p1ID = c, pc.Token(), p.ID
		} else {
			e.p2, e.p2Tok, e.p2ID = c, pc.Token(), p.ID
		}
	}
	return e
}

// raw does a request under /networking and decodes the JSON answer.
func (e *env) raw(t *testing.T, method, path, token, body string, headers ...string) (int, map[string]any) {
	t.Helper()
	resp, b := e.s.HTTP(t, method, "/networking"+path, token, body, headers...)
	if len(b) == 0 {
		return resp.StatusCode, nil
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s %s: bad JSON %q", method, path, b)
	}
	return resp.StatusCode, m
}

// neutronError checks an error body's status and type.
func neutronError(t *testing.T, what string, status int, m map[string]any, wantStatus int, wantType string) {
	t.Helper()
	if status != wantStatus {
		t.Fatalf("%s: status %d, want %d (%v)", what, status, wantStatus, m)
	}
	ne, ok := m["NeutronError"].(map[string]any)
	if !ok {
		t.Fatalf("%s: no NeutronError in %v", what, m)
	}
	for _, k := range []string{"type", "message", "detail"} {
		if _, ok := ne[k]; !ok {
			t.Fatalf("%s: NeutronError lacks %s: %v", what, k, ne)
		}
	}
	if wantType != "" && ne["type"] != wantType {
		t.Fatalf("%s: type %v, want %s (%v)", what, ne["type"], wantType, ne["message"])
	}
}

// wantStatus checks a gophercloud error's status code.
func wantStatus(t *testing.T, what string, err error, code int) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: succeeded, want %d", what, code)
	}
	var ue gophercloud.ErrUnexpectedResponseCode
	if !errors.As(err, &ue) || ue.Actual != code {
		t.Fatalf("%s: %v, want status %d", what, err, code)
	}
}

func wantType(t *testing.T, what string, err error, code int, typ string) {
	t.Helper()
	wantStatus(t, what, err, code)
	var ue gophercloud.ErrUnexpectedResponseCode
	errors.As(err, &ue)
	if !strings.Contains(string(ue.Body), `"type":"`+typ+`"`) {
		t.Fatalf("%s: body %s lacks type %s", what, ue.Body, typ)
	}
}

func mustNetwork(t *testing.T, c *gophercloud.ServiceClient, name string) *networks.Network {
	t.Helper()
	n, err := networks.Create(ctx, c, networks.CreateOpts{Name: name}).Extract()
	if err != nil {
		t.Fatalf("create network %s: %v", name, err)
	}
	return n
}

func mustSubnet(t *testing.T, c *gophercloud.ServiceClient, netID, cidr string) *subnets.Subnet {
	t.Helper()
	sn, err := subnets.Create(ctx, c, subnets.CreateOpts{NetworkID: netID, CIDR: cidr, IPVersion: gophercloud.IPv4}).Extract()
	if err != nil {
		t.Fatalf("create subnet %s: %v", cidr, err)
	}
	return sn
}

func ptr[T any](v T) *T { return &v }
