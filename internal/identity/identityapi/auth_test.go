package identityapi_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/tokens"

	"github.com/gureum/gureum/internal/testenv"
)

func TestPasswordTokenLifecycle(t *testing.T) {
	s := testenv.StartServer(t)
	pc := s.Admin(t)
	id := s.Identity(t, pc)
	ctx := context.Background()

	tok := pc.Token()
	res := tokens.Get(ctx, id, tok)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	p, err := res.ExtractProject()
	if err != nil || p.Name != "admin" {
		t.Fatalf("project %+v %v", p, err)
	}
	roles, err := res.ExtractRoles()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, r := range roles {
		names[r.Name] = true
	}
	if !names["admin"] || !names["member"] || !names["reader"] {
		t.Fatalf("roles %v: want admin with implied member and reader", names)
	}
	cat, err := res.ExtractServiceCatalog()
	if err != nil || len(cat.Entries) == 0 {
		t.Fatalf("catalog %v %v", cat, err)
	}

	// A second token, revoked, stops working at once.
	other := s.Admin(t)
	if err := tokens.Revoke(ctx, id, other.Token()).Err; err != nil {
		t.Fatal(err)
	}
	if ok, _ := tokens.Validate(ctx, id, other.Token()); ok {
		t.Fatal("revoked token still valid")
	}
	resp, _ := s.HTTP(t, "GET", "/identity/v3/auth/catalog", other.Token(), "")
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("revoked token used: %d", resp.StatusCode)
	}
	if ok, _ := tokens.Validate(ctx, id, tok); !ok {
		t.Fatal("unrelated token revoked")
	}
}

func TestBadCredentials(t *testing.T) {
	s := testenv.StartServer(t)
	resp, body := s.HTTP(t, "POST", "/identity/v3/auth/tokens", "", `{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"admin","domain":{"name":"Default"},"password":"wrong"}}}}}`)
	if resp.StatusCode != 401 {
		t.Fatalf("status %d %s", resp.StatusCode, body)
	}
	e := testenv.JSON(t, body)["error"].(map[string]any)
	if e["code"].(float64) != 401 || e["title"] != "Unauthorized" {
		t.Fatalf("error body %v", e)
	}
	resp, body = s.HTTP(t, "POST", "/identity/v3/auth/tokens", "", `{"auth":`)
	if resp.StatusCode != 400 {
		t.Fatalf("malformed: %d %s", resp.StatusCode, body)
	}
}
