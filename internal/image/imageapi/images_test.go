package imageapi_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/imagedata"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/images"
	"github.com/gophercloud/gophercloud/v2/pagination"

	"github.com/gureum/gureum/internal/testenv"
)

func TestImageLifecycle(t *testing.T) { t.Parallel(); imageLifecycle(t) }

// TestImageLifecyclePostgres runs the same against PostgreSQL (skipped unless
// GUREUM_TEST_POSTGRES is set, as in CI).
func TestImageLifecyclePostgres(t *testing.T) {
	t.Parallel()
	imageLifecycle(t, testenv.WithPostgres(t))
}

func imageLifecycle(t *testing.T, opts ...testenv.Option) {
	s := testenv.StartServer(t, opts...)
	c := imageClient(t, s, s.Admin(t))

	data := bytes.Repeat([]byte("gureum image data "), 10000)
	img := create(t, c, images.CreateOpts{Name: "cirros", DiskFormat: "raw", ContainerFormat: "bare", Tags: []string{"a", "b"},
		Properties: map[string]string{"os_distro": "cirros"}, MinDisk: 1})
	if img.Status != images.ImageStatusQueued || img.Visibility != images.ImageVisibilityShared || img.Properties["os_distro"] != "cirros" {
		t.Fatalf("created: %+v", img)
	}
	if err := imagedata.Upload(ctx, c, img.ID, bytes.NewReader(data)).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	got, err := images.Get(ctx, c, img.ID).Extract()
	if err != nil {
		t.Fatal(err)
	}
	md := md5.Sum(data)
	sh := sha512.Sum512(data)
	if got.Status != images.ImageStatusActive || got.SizeBytes != int64(len(data)) || got.Checksum != hex.EncodeToString(md[:]) ||
		got.Properties["os_hash_value"] != hex.EncodeToString(sh[:]) || got.Properties["os_hash_algo"] != "sha512" || got.VirtualSize != int64(len(data)) {
		t.Fatalf("after upload: %+v", got)
	}
	body, hdr := download(t, c, img.ID)
	if !bytes.Equal(body, data) || hdr.Get("Content-MD5") != got.Checksum {
		t.Fatalf("download: %d bytes, Content-MD5 %q", len(body), hdr.Get("Content-MD5"))
	}
	// Range
	resp, b := s.HTTP(t, "GET", "/image/v2/images/"+img.ID+"/file", c.TokenID, "", "Range", "bytes=5-9")
	if resp.StatusCode != 206 || string(b) != string(data[5:10]) {
		t.Fatalf("range: %d %q", resp.StatusCode, b)
	}
	resp, _ = s.HTTP(t, "GET", "/image/v2/images/"+img.ID+"/file", c.TokenID, "", "Range", fmt.Sprintf("bytes=%d-", len(data)+10))
	if resp.StatusCode != 416 {
		t.Fatalf("unsatisfiable range: %d", resp.StatusCode)
	}

	// Upload to an active image: 409.
	err = imagedata.Upload(ctx, c, img.ID, strings.NewReader("x")).ExtractErr()
	wantStatus(t, "upload to active", err, 409)

	// PATCH: name, custom property add/replace/remove.
	up, err := images.Update(ctx, c, img.ID, images.UpdateOpts{
		images.ReplaceImageName{NewName: "cirros-2"},
		images.UpdateImageProperty{Op: images.AddOp, Name: "hw_disk_bus", Value: "virtio"},
		images.UpdateImageProperty{Op: images.RemoveOp, Name: "os_distro"},
	}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if up.Name != "cirros-2" || up.Properties["hw_disk_bus"] != "virtio" || up.Properties["os_distro"] != nil {
		t.Fatalf("patched: %+v", up)
	}
	// Read-only attribute: 403; replace a missing property: 409.
	_, err = images.Update(ctx, c, img.ID, images.UpdateOpts{images.ReplaceImageChecksum{Checksum: "abc"}}).Extract()
	wantStatus(t, "patch checksum", err, 403)
	_, err = images.Update(ctx, c, img.ID, images.UpdateOpts{images.UpdateImageProperty{Op: images.ReplaceOp, Name: "nope", Value: "x"}}).Extract()
	wantStatus(t, "replace missing property", err, 409)
	// Wrong content type: 415.
	resp, b = s.HTTP(t, "PATCH", "/image/v2/images/"+img.ID, c.TokenID, `[{"op":"replace","path":"/name","value":"x"}]`)
	if resp.StatusCode != 415 {
		t.Fatalf("patch with application/json: %d %s", resp.StatusCode, b)
	}

	// Tags.
	if err := tagReq(t, s, c.TokenID, "PUT", img.ID, "c"); err != 204 {
		t.Fatalf("add tag: %d", err)
	}
	if err := tagReq(t, s, c.TokenID, "DELETE", img.ID, "a"); err != 204 {
		t.Fatalf("delete tag: %d", err)
	}
	if err := tagReq(t, s, c.TokenID, "DELETE", img.ID, "zz"); err != 404 {
		t.Fatalf("delete missing tag: %d", err)
	}
	got, _ = images.Get(ctx, c, img.ID).Extract()
	sort.Strings(got.Tags)
	if strings.Join(got.Tags, ",") != "b,c" {
		t.Fatalf("tags %v", got.Tags)
	}

	// Deactivate / reactivate.
	resp, _ = s.HTTP(t, "POST", "/image/v2/images/"+img.ID+"/actions/deactivate", c.TokenID, "")
	if resp.StatusCode != 204 {
		t.Fatalf("deactivate: %d", resp.StatusCode)
	}
	got, _ = images.Get(ctx, c, img.ID).Extract()
	if got.Status != images.ImageStatusDeactivated {
		t.Fatalf("status %s", got.Status)
	}
	resp, _ = s.HTTP(t, "POST", "/image/v2/images/"+img.ID+"/actions/reactivate", c.TokenID, "")
	if resp.StatusCode != 204 {
		t.Fatalf("reactivate: %d", resp.StatusCode)
	}

	// Protected images cannot be deleted.
	if _, err := images.Update(ctx, c, img.ID, images.UpdateOpts{images.ReplaceImageProtected{NewProtected: true}}).Extract(); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, "delete protected", images.Delete(ctx, c, img.ID).ExtractErr(), 403)
	if _, err := images.Update(ctx, c, img.ID, images.UpdateOpts{images.ReplaceImageProtected{NewProtected: false}}).Extract(); err != nil {
		t.Fatal(err)
	}

	// Delete removes the data.
	path := s.App.Image.Files().Path(img.ID)
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
	if err := images.Delete(ctx, c, img.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("data left after delete: %v", err)
	}
	wantStatus(t, "get deleted", images.Get(ctx, c, img.ID).Err, 404)
}

func tagReq(t *testing.T, s *testenv.Server, tok, method, id, tag string) int {
	resp, _ := testenv.Do(t, method, s.URL+"/image/v2/images/"+id+"/tags/"+tag, tok, "")
	return resp.StatusCode
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	s := testenv.StartServer(t)
	c := imageClient(t, s, s.Admin(t))

	_, err := images.Create(ctx, c, images.CreateOpts{Name: "x", DiskFormat: "floppy"}).Extract()
	wantStatus(t, "bad disk format", err, 400)
	_, err = images.Create(ctx, c, images.CreateOpts{Name: "x", ContainerFormat: "zip"}).Extract()
	wantStatus(t, "bad container format", err, 400)
	resp, b := s.HTTP(t, "POST", "/image/v2/images", c.TokenID, `{"name":"x","size":12}`)
	if resp.StatusCode != 403 {
		t.Fatalf("read-only size on create: %d %s", resp.StatusCode, b)
	}
	resp, b = s.HTTP(t, "POST", "/image/v2/images", c.TokenID, `{"name":"x","os_distro":5}`)
	if resp.StatusCode != 400 {
		t.Fatalf("non-string property: %d %s", resp.StatusCode, b)
	}
	resp, _ = s.HTTP(t, "GET", "/image/v2/images/not-a-uuid", c.TokenID, "")
	if resp.StatusCode != 404 {
		t.Fatalf("bad id: %d", resp.StatusCode)
	}

	// Upload without formats: 400.
	img := create(t, c, images.CreateOpts{Name: "noformat"})
	wantStatus(t, "upload without formats", imagedata.Upload(ctx, c, img.ID, strings.NewReader("abc")).ExtractErr(), 400)

	// Content-MD5 mismatch: 400, back to queued, nothing left.
	img = create(t, c, images.CreateOpts{Name: "md5", DiskFormat: "raw", ContainerFormat: "bare"})
	resp, b = s.HTTP(t, "PUT", "/image/v2/images/"+img.ID+"/file", c.TokenID, "hello", "Content-Type", "application/octet-stream", "Content-MD5", "00000000000000000000000000000000")
	if resp.StatusCode != 400 {
		t.Fatalf("md5 mismatch: %d %s", resp.StatusCode, b)
	}
	got, _ := images.Get(ctx, c, img.ID).Extract()
	if got.Status != images.ImageStatusQueued || len(tmpFiles(t, s)) != 0 {
		t.Fatalf("after mismatch: %s, tmp %v", got.Status, tmpFiles(t, s))
	}
	if _, err := os.Stat(s.App.Image.Files().Path(img.ID)); !os.IsNotExist(err) {
		t.Fatal("data stored after a failed upload")
	}
	// Right Content-MD5 (base64) passes.
	sum := md5.Sum([]byte("hello"))
	resp, b = s.HTTP(t, "PUT", "/image/v2/images/"+img.ID+"/file", c.TokenID, "hello", "Content-Type", "application/octet-stream", "Content-MD5", b64(sum[:]))
	if resp.StatusCode != 204 {
		t.Fatalf("md5 match: %d %s", resp.StatusCode, b)
	}
	// Wrong upload content type: 415.
	img = create(t, c, images.CreateOpts{Name: "ct", DiskFormat: "raw", ContainerFormat: "bare"})
	resp, _ = s.HTTP(t, "PUT", "/image/v2/images/"+img.ID+"/file", c.TokenID, "hello", "Content-Type", "text/plain")
	if resp.StatusCode != 415 {
		t.Fatalf("upload text/plain: %d", resp.StatusCode)
	}
	// Disk format cannot change once active.
	act := rawImage(t, c, "act", []byte("data"))
	resp, b = s.HTTP(t, "PATCH", "/image/v2/images/"+act.ID, c.TokenID, `[{"op":"replace","path":"/disk_format","value":"qcow2"}]`, "Content-Type", "application/openstack-images-v2.1-json-patch")
	if resp.StatusCode != 403 {
		t.Fatalf("disk_format on active: %d %s", resp.StatusCode, b)
	}
	// Bad list parameters.
	for _, q := range []string{"sort_key=bogus", "sort_dir=up", "limit=-1", "size_min=x", "created_at=gt:yesterday", "marker=" + "3fa85f64-5717-4562-b3fc-2c963f66afa6", "visibility=everyone"} {
		resp, _ = s.HTTP(t, "GET", "/image/v2/images?"+q, c.TokenID, "")
		if resp.StatusCode != 400 {
			t.Fatalf("list ?%s: %d", q, resp.StatusCode)
		}
	}
}

func b64(b []byte) string {
	const enc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	var out strings.Builder
	for i := 0; i < len(b); i += 3 {
		var n uint32
		k := min(3, len(b)-i)
		for j := 0; j < 3; j++ {
			n <<= 8
			if j < k {
				n |= uint32(b[i+j])
			}
		}
		for j := 0; j < 4; j++ {
			if j <= k {
				out.WriteByte(enc[(n>>(18-6*j))&63])
			} else {
				out.WriteByte('=')
			}
		}
	}
	return out.String()
}

// TestErrorBody checks glance's (webob's) error formats.
func TestErrorBody(t *testing.T) {
	t.Parallel()
	s := testenv.StartServer(t)
	tok := imageClient(t, s, s.Admin(t)).TokenID
	path := "/image/v2/images/3fa85f64-5717-4562-b3fc-2c963f66afa6"
	resp, b := s.HTTP(t, "GET", path, tok, "", "Accept", "application/json")
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil || resp.StatusCode != 404 {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	if m["code"] != "404 Not Found" || m["title"] != "Not Found" || !strings.HasPrefix(m["message"].(string), "No image found with ID 3fa85f64") {
		t.Fatalf("json error body %s", b)
	}
	resp, b = s.HTTP(t, "GET", path, tok, "")
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(string(b), "<h1>404 Not Found</h1>") {
		t.Fatalf("html error body %s", b)
	}
	if !strings.Contains(string(b), "<br /><br />") {
		t.Fatalf("webob keeps its <br /> in JSON messages: %s", b)
	}
	resp, b = s.HTTP(t, "GET", path, tok, "", "Accept", "text/plain")
	if !strings.HasPrefix(string(b), "404 Not Found\n\nNo image found") {
		t.Fatalf("plain error body %q", b)
	}
	_ = resp
	// Versions: 300 at the root, 200 at /versions (glanceclient asks there).
	for p, code := range map[string]int{"/image": 300, "/image/": 300, "/image/versions": 200} {
		resp, b := s.HTTP(t, "GET", p, "", "")
		if resp.StatusCode != code || !strings.Contains(string(b), `"id":"v2.16","links"`) || !strings.Contains(string(b), `"CURRENT"`) {
			t.Fatalf("%s: %d %s", p, resp.StatusCode, b)
		}
	}
}

func TestListFiltersAndPaging(t *testing.T) { t.Parallel(); listFiltersAndPaging(t) }

// TestListFiltersAndPagingPostgres runs the same against PostgreSQL (skipped unless
// GUREUM_TEST_POSTGRES is set, as in CI).
func TestListFiltersAndPagingPostgres(t *testing.T) {
	t.Parallel()
	listFiltersAndPaging(t, testenv.WithPostgres(t))
}

func listFiltersAndPaging(t *testing.T, opts ...testenv.Option) {
	s := testenv.StartServer(t, opts...)
	c := imageClient(t, s, s.Admin(t))
	start := time.Now().UTC().Add(-2 * time.Second)
	for i := 0; i < 7; i++ {
		props := map[string]string{"batch": "x"}
		if i%2 == 0 {
			props["parity"] = "even"
		}
		create(t, c, images.CreateOpts{Name: fmt.Sprintf("img-%d", i), DiskFormat: "qcow2", ContainerFormat: "bare", Properties: props, Tags: []string{fmt.Sprintf("t%d", i%3)}})
	}
	rawImage(t, c, "with-data", make([]byte, 1000))
	hidden := true
	create(t, c, images.CreateOpts{Name: "hidden", Hidden: &hidden})

	var names []string
	err := images.List(c, images.ListOpts{Limit: 2, SortKey: "name", SortDir: "asc", DiskFormat: "qcow2"}).EachPage(ctx, func(_ context.Context, p pagination.Page) (bool, error) {
		is, err := images.ExtractImages(p)
		for _, i := range is {
			names = append(names, i.Name)
		}
		return true, err
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(names, ",") != "img-0,img-1,img-2,img-3,img-4,img-5,img-6" {
		t.Fatalf("paged names %v", names)
	}
	count := func(q string) int {
		t.Helper()
		resp, b := s.HTTP(t, "GET", "/image/v2/images?"+q, c.TokenID, "")
		if resp.StatusCode != 200 {
			t.Fatalf("?%s: %d %s", q, resp.StatusCode, b)
		}
		var body struct{ Images []map[string]any }
		_ = json.Unmarshal(b, &body)
		return len(body.Images)
	}
	for q, want := range map[string]int{
		"parity=even":                4,
		"batch=x&parity=even":        4,
		"tag=t0":                     3,
		"tag=t0&tag=t1":              0,
		"status=active":              1,
		"size_min=500&size_max=2000": 1,
		"size_min=2000":              0,
		"name=in:img-1,img-2,nope":   2,
		"os_hidden=true":             1,
		"sort=name:desc&limit=3":     3,
		"created_at=gte:" + start.Format(time.RFC3339):                          8, // the hidden image is not listed
		"created_at=lt:" + start.Format(time.RFC3339):                           0,
		"updated_at=gt:" + time.Now().Add(time.Hour).UTC().Format(time.RFC3339): 0,
		"visibility=shared":        8,
		"visibility=public":        0,
		"container_format=bare":    8,
		"disk_format=in:raw,qcow2": 8,
	} {
		if got := count(q); got != want {
			t.Errorf("?%s: want %d, got %d", q, want, got)
		}
	}
	// gophercloud's date filter.
	n := 0
	_ = images.List(c, images.ListOpts{CreatedAtQuery: &images.ImageDateQuery{Date: start, Filter: images.FilterGTE}, Tags: []string{"t2"}}).EachPage(ctx, func(_ context.Context, p pagination.Page) (bool, error) {
		is, _ := images.ExtractImages(p)
		n += len(is)
		return true, nil
	})
	if n != 2 {
		t.Fatalf("created_at gte + tag t2: %d", n)
	}
}
