package imageapi_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"

	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/imagedata"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/imageimport"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/images"

	"github.com/gureum/gureum/internal/testenv"
)

// sameShape compares a response with a sample of glance's API reference
// (testdata/, taken from api-ref/source/v2/samples): every key of the
// sample must be present with the same JSON type (null matches anything);
// extra keys are allowed only when listed.
func sameShape(t *testing.T, name, path string, want, got any, extra []string) {
	t.Helper()
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			t.Errorf("%s%s: want an object, got %T", name, path, got)
			return
		}
		for k, wv := range w {
			gv, ok := g[k]
			if !ok {
				t.Errorf("%s%s: missing key %q", name, path, k)
				continue
			}
			if k == "input" || k == "result" {
				continue // free-form task data
			}
			sameShape(t, name, path+"."+k, wv, gv, extra)
		}
		var more []string
		for k := range g {
			if _, ok := w[k]; !ok && !slices.Contains(extra, k) {
				more = append(more, k)
			}
		}
		sort.Strings(more)
		if len(more) > 0 {
			t.Errorf("%s%s: unexpected keys %v", name, path, more)
		}
	case []any:
		g, ok := got.([]any)
		if !ok {
			t.Errorf("%s%s: want an array, got %T", name, path, got)
			return
		}
		if len(w) > 0 && len(g) > 0 {
			sameShape(t, name, path+"[0]", w[0], g[0], extra)
		}
	case nil:
	default:
		if got != nil && jsonType(want) != jsonType(got) {
			t.Errorf("%s%s: want %s, got %s (%v)", name, path, jsonType(want), jsonType(got), got)
		}
	}
}

func jsonType(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "boolean"
	}
	return "other"
}

func golden(t *testing.T, file string) any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return v
}

func TestGoldenJSON(t *testing.T) {
	t.Parallel()
	s := testenv.StartServer(t)
	c := imageClient(t, s, s.Admin(t))
	tok := c.TokenID
	img := rawImage(t, c, "golden", []byte("golden data"))
	get := func(path string) any {
		t.Helper()
		resp, b := s.HTTP(t, "GET", "/image"+path, tok, "")
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
		}
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	// os_hidden and stores are newer than the reference's samples.
	imgExtra := []string{"os_hidden", "stores"}
	sameShape(t, "image-show", "", golden(t, "image-show-response.json"), get("/v2/images/"+img.ID), imgExtra)
	sameShape(t, "images-list", "", golden(t, "images-list-response.json"), get("/v2/images"), imgExtra)
	p := s.CreateProjectUser(t, "gp", "gu", "member")
	resp, b := s.HTTP(t, "POST", "/image/v2/images/"+img.ID+"/members", tok, `{"member":"`+p.ID+`"}`)
	var m any
	_ = json.Unmarshal(b, &m)
	if resp.StatusCode != 200 {
		t.Fatalf("member: %d %s", resp.StatusCode, b)
	}
	sameShape(t, "member", "", golden(t, "image-member-create-response.json"), m, nil)
	sameShape(t, "info-import", "", golden(t, "image-info-import-response.json"), get("/v2/info/import"), nil)
	sameShape(t, "usage", "", golden(t, "usage-response.json"), get("/v2/info/usage"), nil)

	imp := create(t, c, images.CreateOpts{Name: "imp", DiskFormat: "raw", ContainerFormat: "bare"})
	if err := imagedata.Stage(ctx, c, imp.ID, bytes.NewReader([]byte("x"))).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	if err := imageimport.Create(ctx, c, imp.ID, imageimport.CreateOpts{Name: imageimport.GlanceDirectMethod}).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	its := get("/v2/images/" + imp.ID + "/tasks")
	sameShape(t, "image-tasks", "", golden(t, "image-tasks-show-response.json"), its, nil)
	id := its.(map[string]any)["tasks"].([]any)[0].(map[string]any)["id"].(string)
	// image_id, request_id and user_id came with glance's 2.12 task view.
	sameShape(t, "task-show", "", golden(t, "task-show-success-response.json"), get("/v2/tasks/"+id), []string{"image_id", "request_id", "user_id"})
}
