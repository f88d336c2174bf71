package computeapi_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
)

// kind names a JSON value's type for shape comparisons.
func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "bool"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// sameShape checks that got has every key of want with the same JSON type,
// recursively (arrays by their first element); exact also refuses extra
// keys. Values may differ: they come from this run. Nova's nullable
// fields may be null where the sample has a value.
func sameShape(t *testing.T, path string, want, got any, exact bool, nullable map[string]bool) {
	t.Helper()
	if kind(want) != kind(got) {
		if nullable[path] && (kind(got) == "null" || kind(want) == "null") {
			return
		}
		t.Errorf("%s: %s, want %s", path, kind(got), kind(want))
		return
	}
	switch w := want.(type) {
	case map[string]any:
		g := got.(map[string]any)
		for k, wv := range w {
			gv, ok := g[k]
			if !ok {
				if strings.HasSuffix(path, ".addresses") || strings.HasSuffix(path, ".metadata") {
					continue // keyed by network or user data
				}
				t.Errorf("%s.%s missing", path, k)
				continue
			}
			sameShape(t, path+"."+k, wv, gv, exact, nullable)
		}
		if exact {
			var extra []string
			for k := range g {
				if _, ok := w[k]; !ok {
					extra = append(extra, k)
				}
			}
			sort.Strings(extra)
			if len(extra) > 0 {
				t.Errorf("%s: unexpected keys %v", path, extra)
			}
		}
	case []any:
		g := got.([]any)
		if len(w) > 0 && len(g) > 0 {
			sameShape(t, path+"[0]", w[0], g[0], exact, nullable)
		}
	}
}

func golden(t *testing.T, name string) any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestGoldenJSON(t *testing.T) {
	t.Parallel()
	s := start(t)
	pc := s.Admin(t)
	tok := pc.Token()
	get := func(path string, body string, hdr ...string) any {
		method := "GET"
		if body != "" {
			method = "POST"
		}
		resp, raw := s.HTTP(t, method, path, tok, body, hdr...)
		if resp.StatusCode >= 300 {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, raw)
		}
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	sameShape(t, "versions", golden(t, "versions.json"), get("/compute/", ""), true, nil)
	sameShape(t, "flavor", golden(t, "flavor-get.json"), get("/compute/v2.1/flavors/1", ""), true, nil)
	sameShape(t, "keypair", golden(t, "keypair-create-2.2.json"), get("/compute/v2.1/os-keypairs", `{"keypair": {"name": "golden"}}`, "OpenStack-API-Version", "compute 2.2"), true, nil)
	created := get("/compute/v2.1/servers", `{"server": {"name": "golden", "imageRef": "`+testImage+`", "flavorRef": "1"}}`)
	sameShape(t, "create", golden(t, "server-create-2.1.json"), created, true, nil)
	id := created.(map[string]any)["server"].(map[string]any)["id"].(string)
	waitStatus(t, computeClient(t, s, pc, ""), id, "ACTIVE")
	// The admin view at 2.1: the sample's keys and no others.
	sameShape(t, "server", golden(t, "server-get-2.1.json"), get("/compute/v2.1/servers/"+id, ""), true,
		map[string]bool{"server.key_name": true, "server.OS-EXT-SRV-ATTR:host": true})
	_ = servers.Server{}
}
