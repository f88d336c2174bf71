package computeapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/instanceactions"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/keypairs"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/limits"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/quotasets"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servergroups"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/tags"

	"github.com/gureum/gureum/internal/config"
	"github.com/gureum/gureum/internal/testenv"
)

func createServer(t *testing.T, sc *gophercloud.ServiceClient, name string, md map[string]string) string {
	t.Helper()
	sv, err := servers.Create(ctx, sc, servers.CreateOpts{Name: name, ImageRef: testImage, FlavorRef: "1", Metadata: md}, nil).Extract()
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	return sv.ID
}

func listServers(t *testing.T, sc *gophercloud.ServiceClient, opts servers.ListOpts) []servers.Server {
	t.Helper()
	pages, err := servers.List(sc, opts).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	list, err := servers.ExtractServers(pages)
	if err != nil {
		t.Fatal(err)
	}
	return list
}

func waitGone(t *testing.T, sc *gophercloud.ServiceClient, id string) {
	t.Helper()
	testenv.Eventually(t, 20*time.Second, "server "+id+" to be deleted", func() bool {
		_, err := servers.Get(ctx, sc, id).Extract()
		return gophercloud.ResponseCodeIs(err, http.StatusNotFound)
	})
}

func TestServerLifecycle(t *testing.T) {
	t.Parallel()
	s := start(t)
	p := s.CreateProjectUser(t, "life-p", "life-alice", "member")
	pc := s.LoginProject(t, p)
	sc := computeClient(t, s, pc, "2.26")
	kp, err := keypairs.Create(ctx, sc, keypairs.CreateOpts{Name: "k"}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	created, err := servers.Create(ctx, sc, keypairs.CreateOptsExt{CreateOptsBuilder: servers.CreateOpts{Name: "web 1", ImageRef: testImage, FlavorRef: "1",
		Metadata: map[string]string{"role": "web"}, UserData: []byte("#!/bin/sh\necho hi\n")}, KeyName: kp.Name}, nil).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if created.AdminPass == "" {
		t.Fatal("no adminPass")
	}
	sv := waitStatus(t, sc, created.ID, "ACTIVE")
	if sv.Name != "web 1" || sv.KeyName != "k" || sv.Metadata["role"] != "web" || sv.TenantID != p.ID || sv.UserID != p.UserID || sv.PowerState != servers.RUNNING {
		t.Fatalf("server %+v", sv)
	}
	if sv.AvailabilityZone != "nova" || sv.HostID == "" || sv.LaunchedAt.IsZero() {
		t.Fatalf("server az/host/launched %+v", sv)
	}

	step := func(what string, err error, status string) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		waitStatus(t, sc, sv.ID, status)
	}
	step("stop", servers.Stop(ctx, sc, sv.ID).ExtractErr(), "SHUTOFF")
	if err := servers.Stop(ctx, sc, sv.ID).ExtractErr(); !gophercloud.ResponseCodeIs(err, 409) {
		t.Fatalf("stop while SHUTOFF: %v", err)
	}
	if err := servers.Pause(ctx, sc, sv.ID).ExtractErr(); !gophercloud.ResponseCodeIs(err, 409) {
		t.Fatalf("pause while SHUTOFF: %v", err)
	}
	step("start", servers.Start(ctx, sc, sv.ID).ExtractErr(), "ACTIVE")
	step("reboot soft", servers.Reboot(ctx, sc, sv.ID, servers.RebootOpts{Type: servers.SoftReboot}).ExtractErr(), "ACTIVE")
	step("reboot hard", servers.Reboot(ctx, sc, sv.ID, servers.RebootOpts{Type: servers.HardReboot}).ExtractErr(), "ACTIVE")
	step("pause", servers.Pause(ctx, sc, sv.ID).ExtractErr(), "PAUSED")
	step("unpause", servers.Unpause(ctx, sc, sv.ID).ExtractErr(), "ACTIVE")
	step("suspend", servers.Suspend(ctx, sc, sv.ID).ExtractErr(), "SUSPENDED")
	step("resume", servers.Resume(ctx, sc, sv.ID).ExtractErr(), "ACTIVE")

	// Console output with length.
	out, err := servers.ShowConsoleOutput(ctx, sc, sv.ID, servers.ShowConsoleOutputOpts{Length: 1}).Extract()
	if err != nil || strings.Count(out, "\n") != 1 {
		t.Fatalf("console %q %v", out, err)
	}
	full, _ := servers.ShowConsoleOutput(ctx, sc, sv.ID, servers.ShowConsoleOutputOpts{}).Extract()
	if !strings.Contains(full, "reboot (hard=true)") {
		t.Fatalf("console %q", full)
	}

	// Update name and description (2.19).
	sc19 := computeClient(t, s, pc, "2.19")
	upd, err := servers.Update(ctx, sc19, sv.ID, servers.UpdateOpts{Name: "web-1"}).Extract()
	if err != nil || upd.Name != "web-1" {
		t.Fatalf("update %+v %v", upd, err)
	}
	resp, body := s.HTTP(t, "PUT", "/compute/v2.1/servers/"+sv.ID, pc.Token(), `{"server": {"description": "front end"}}`, "OpenStack-API-Version", "compute 2.19")
	if resp.StatusCode != 200 {
		t.Fatalf("update description: %d %s", resp.StatusCode, body)
	}
	resp, body = s.HTTP(t, "GET", "/compute/v2.1/servers/"+sv.ID, pc.Token(), "", "OpenStack-API-Version", "compute 2.19")
	if !strings.Contains(string(body), `"description":"front end"`) {
		t.Fatalf("description: %d %s", resp.StatusCode, body)
	}
	if _, err := servers.Update(ctx, sc, sv.ID, servers.UpdateOpts{Name: " padded "}).Extract(); !gophercloud.ResponseCodeIs(err, 400) {
		t.Fatalf("bad name: %v", err)
	}

	// Metadata.
	md, err := servers.UpdateMetadata(ctx, sc, sv.ID, servers.MetadataOpts{"tier": "1"}).Extract()
	if err != nil || md["tier"] != "1" || md["role"] != "web" {
		t.Fatalf("merge metadata %v %v", md, err)
	}
	md, err = servers.ResetMetadata(ctx, sc, sv.ID, servers.MetadataOpts{"only": "this"}).Extract()
	if err != nil || len(md) != 1 {
		t.Fatalf("reset metadata %v %v", md, err)
	}
	if err := servers.DeleteMetadatum(ctx, sc, sv.ID, "only").ExtractErr(); err != nil {
		t.Fatal(err)
	}
	if err := servers.DeleteMetadatum(ctx, sc, sv.ID, "only").ExtractErr(); !gophercloud.ResponseCodeIs(err, 404) {
		t.Fatalf("delete missing metadatum: %v", err)
	}
	big := map[string]string{}
	for i := 0; i < 129; i++ {
		big[fmt.Sprint("k", i)] = "v"
	}
	if _, err := servers.ResetMetadata(ctx, sc, sv.ID, servers.MetadataOpts(big)).Extract(); !gophercloud.ResponseCodeIs(err, 403) {
		t.Fatalf("metadata over quota: %v", err)
	}

	// Tags (2.26).
	if _, err := tags.ReplaceAll(ctx, sc, sv.ID, tags.ReplaceAllOpts{Tags: []string{"a", "b"}}).Extract(); err != nil {
		t.Fatal(err)
	}
	if err := tags.Add(ctx, sc, sv.ID, "c").ExtractErr(); err != nil {
		t.Fatal(err)
	}
	if ok, err := tags.Check(ctx, sc, sv.ID, "c").Extract(); err != nil || !ok {
		t.Fatalf("check tag %v %v", ok, err)
	}
	if err := tags.Delete(ctx, sc, sv.ID, "a").ExtractErr(); err != nil {
		t.Fatal(err)
	}
	tl, _ := tags.List(ctx, sc, sv.ID).Extract()
	sort.Strings(tl)
	if strings.Join(tl, ",") != "b,c" {
		t.Fatalf("tags %v", tl)
	}
	if got := listServers(t, sc, servers.ListOpts{Tags: "b,c"}); len(got) != 1 {
		t.Fatalf("tags filter %d", len(got))
	}
	if got := listServers(t, sc, servers.ListOpts{NotTagsAny: "c"}); len(got) != 0 {
		t.Fatalf("not-tags-any filter %d", len(got))
	}

	// Lock: the owner cannot stop a locked server... but nova lets the
	// owner act on its own lock? No: locked servers refuse actions by
	// non-admins.
	if err := servers.Lock(ctx, sc, sv.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	if err := servers.Stop(ctx, sc, sv.ID).ExtractErr(); !gophercloud.ResponseCodeIs(err, 409) {
		t.Fatalf("stop locked: %v", err)
	}
	if err := servers.Delete(ctx, sc, sv.ID).ExtractErr(); !gophercloud.ResponseCodeIs(err, 409) {
		t.Fatalf("delete locked: %v", err)
	}
	if err := servers.Unlock(ctx, sc, sv.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}

	// Resize and revert, resize and confirm.
	step("resize", servers.Resize(ctx, sc, sv.ID, servers.ResizeOpts{FlavorRef: "2"}).ExtractErr(), "VERIFY_RESIZE")
	step("revert", servers.RevertResize(ctx, sc, sv.ID).ExtractErr(), "ACTIVE")
	got, _ := servers.Get(ctx, sc, sv.ID).Extract()
	if got.Flavor["id"] != "1" {
		t.Fatalf("flavor after revert %v", got.Flavor)
	}
	lim, _ := limits.Get(ctx, sc, nil).Extract()
	if lim.Absolute.TotalRAMUsed != 512 || lim.Absolute.TotalCoresUsed != 1 {
		t.Fatalf("usage after revert %+v", lim.Absolute)
	}
	step("resize", servers.Resize(ctx, sc, sv.ID, servers.ResizeOpts{FlavorRef: "2"}).ExtractErr(), "VERIFY_RESIZE")
	if err := servers.ConfirmResize(ctx, sc, sv.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	got = waitStatus(t, sc, sv.ID, "ACTIVE")
	if got.Flavor["id"] != "2" {
		t.Fatalf("flavor after confirm %v", got.Flavor)
	}
	lim, _ = limits.Get(ctx, sc, nil).Extract()
	if lim.Absolute.TotalRAMUsed != 2048 {
		t.Fatalf("usage after confirm %+v", lim.Absolute)
	}
	if err := servers.Resize(ctx, sc, sv.ID, servers.ResizeOpts{FlavorRef: "2"}).ExtractErr(); !gophercloud.ResponseCodeIs(err, 400) {
		t.Fatalf("resize to same flavor: %v", err)
	}

	// Rebuild.
	const other = otherImage
	rb, err := servers.Rebuild(ctx, sc, sv.ID, servers.RebuildOpts{ImageRef: other}).Extract()
	if err != nil || rb.AdminPass == "" {
		t.Fatalf("rebuild %+v %v", rb, err)
	}
	got = waitStatus(t, sc, sv.ID, "ACTIVE")
	if got.Image["id"] != other {
		t.Fatalf("image after rebuild %v", got.Image)
	}

	// Instance actions with events.
	pages, err := instanceactions.List(sc, sv.ID, nil).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	acts, _ := instanceactions.ExtractInstanceActions(pages)
	var names []string
	for _, a := range acts {
		names = append(names, a.Action)
	}
	for _, want := range []string{"create", "stop", "start", "reboot", "pause", "resize", "confirmResize", "revertResize", "rebuild", "lock", "unlock"} {
		if !strings.Contains(","+strings.Join(names, ",")+",", ","+want+",") {
			t.Fatalf("action %s missing from %v", want, names)
		}
	}
	var createReq string
	for _, a := range acts {
		if a.Action == "create" {
			createReq = a.RequestID
		}
	}
	act, err := instanceactions.Get(ctx, sc, sv.ID, createReq).Extract()
	if err != nil || act.Events == nil || len(*act.Events) != 1 || (*act.Events)[0].Result != "Success" {
		t.Fatalf("create action %+v %v", act, err)
	}

	// Delete: gone, usage released.
	if err := servers.Delete(ctx, sc, sv.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	waitGone(t, sc, sv.ID)
	lim, _ = limits.Get(ctx, sc, nil).Extract()
	if lim.Absolute.TotalInstancesUsed != 0 || lim.Absolute.TotalRAMUsed != 0 || lim.Absolute.TotalCoresUsed != 0 {
		t.Fatalf("usage after delete %+v", lim.Absolute)
	}
	// 2.21: actions of a deleted server stay readable.
	sc21 := computeClient(t, s, pc, "2.21")
	if pages, err := instanceactions.List(sc21, sv.ID, nil).AllPages(ctx); err != nil {
		t.Fatalf("actions of deleted server: %v", err)
	} else if acts, _ := instanceactions.ExtractInstanceActions(pages); len(acts) == 0 {
		t.Fatal("no actions for deleted server")
	}
}

func TestServerIsolationAndFilters(t *testing.T) {
	t.Parallel()
	s := start(t)
	p1 := s.CreateProjectUser(t, "iso-p1", "iso-alice", "member")
	p2 := s.CreateProjectUser(t, "iso-p2", "iso-bob", "member")
	sc1 := computeClient(t, s, s.LoginProject(t, p1), "")
	sc2 := computeClient(t, s, s.LoginProject(t, p2), "")
	adminPC := s.Admin(t)
	admin := computeClient(t, s, adminPC, "")
	a1 := createServer(t, sc1, "alpha-1", nil)
	a2 := createServer(t, sc1, "alpha-2", nil)
	b1 := createServer(t, sc2, "beta-1", nil)
	for _, id := range []string{a1, a2} {
		waitStatus(t, sc1, id, "ACTIVE")
	}
	waitStatus(t, sc2, b1, "ACTIVE")

	if got := listServers(t, sc1, servers.ListOpts{}); len(got) != 2 {
		t.Fatalf("p1 sees %d servers", len(got))
	}
	if got := listServers(t, sc2, servers.ListOpts{}); len(got) != 1 || got[0].ID != b1 {
		t.Fatalf("p2 sees %+v", got)
	}
	if _, err := servers.Get(ctx, sc2, a1).Extract(); !gophercloud.ResponseCodeIs(err, 404) {
		t.Fatalf("p2 got p1's server: %v", err)
	}
	if err := servers.Delete(ctx, sc2, a1).ExtractErr(); !gophercloud.ResponseCodeIs(err, 404) {
		t.Fatalf("p2 deleted p1's server: %v", err)
	}
	if err := servers.Stop(ctx, sc2, a1).ExtractErr(); !gophercloud.ResponseCodeIs(err, 404) {
		t.Fatalf("p2 stopped p1's server: %v", err)
	}
	if _, err := servers.List(sc1, servers.ListOpts{AllTenants: true}).AllPages(ctx); !gophercloud.ResponseCodeIs(err, 403) {
		t.Fatalf("member all_tenants: %v", err)
	}
	if got := listServers(t, admin, servers.ListOpts{}); len(got) != 0 {
		t.Fatalf("admin without all_tenants sees %d", len(got))
	}
	if got := listServers(t, admin, servers.ListOpts{AllTenants: true}); len(got) != 3 {
		t.Fatalf("admin all_tenants sees %d", len(got))
	}
	if got := listServers(t, admin, servers.ListOpts{AllTenants: true, TenantID: p2.ID}); len(got) != 1 {
		t.Fatalf("admin project filter sees %d", len(got))
	}
	// A reader can look but not act.
	r := s.CreateProjectUser(t, "iso-p1", "iso-reader", "reader")
	rc := computeClient(t, s, s.LoginProject(t, r), "")
	if got := listServers(t, rc, servers.ListOpts{}); len(got) != 2 {
		t.Fatalf("reader sees %d", len(got))
	}
	if err := servers.Stop(ctx, rc, a1).ExtractErr(); !gophercloud.ResponseCodeIs(err, 403) {
		t.Fatalf("reader stopped: %v", err)
	}

	// Filters: name regex, status, flavor, changes-since, limit/marker.
	if got := listServers(t, sc1, servers.ListOpts{Name: "^alpha-[2]$"}); len(got) != 1 || got[0].ID != a2 {
		t.Fatalf("name regex %+v", got)
	}
	if err := servers.Stop(ctx, sc1, a2).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, sc1, a2, "SHUTOFF")
	if got := listServers(t, sc1, servers.ListOpts{Status: "SHUTOFF"}); len(got) != 1 || got[0].ID != a2 {
		t.Fatalf("status filter %+v", got)
	}
	if got := listServers(t, sc1, servers.ListOpts{Flavor: "2"}); len(got) != 0 {
		t.Fatalf("flavor filter %+v", got)
	}
	if got := listServers(t, sc1, servers.ListOpts{ChangesSince: time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}); len(got) != 0 {
		t.Fatalf("changes-since future %+v", got)
	}
	if got := listServers(t, sc1, servers.ListOpts{ChangesSince: "2000-01-01T00:00:00Z"}); len(got) != 2 {
		t.Fatalf("changes-since past %+v", got)
	}
	resp, body := s.HTTP(t, "GET", "/compute/v2.1/servers?changes-since=yesterday", sc1.TokenID, "")
	if resp.StatusCode != 400 {
		t.Fatalf("bad changes-since: %d %s", resp.StatusCode, body)
	}
	resp, body = s.HTTP(t, "GET", "/compute/v2.1/servers?status=BOGUS", sc1.TokenID, "", "OpenStack-API-Version", "compute 2.38")
	if resp.StatusCode != 400 {
		t.Fatalf("bad status at 2.38: %d %s", resp.StatusCode, body)
	}
	resp, body = s.HTTP(t, "GET", "/compute/v2.1/servers?status=BOGUS", sc1.TokenID, "")
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"servers":[]`) {
		t.Fatalf("bad status at 2.1: %d %s", resp.StatusCode, body)
	}
	resp, body = s.HTTP(t, "GET", "/compute/v2.1/servers?limit=1", sc1.TokenID, "")
	m := testenv.JSON(t, body)
	if len(m["servers"].([]any)) != 1 || m["servers_links"] == nil {
		t.Fatalf("paging %s", body)
	}
	// gophercloud follows servers_links through every page.
	if got := listServers(t, sc1, servers.ListOpts{Limit: 1}); len(got) != 2 {
		t.Fatalf("paged list %d", len(got))
	}
}

func TestServerBadInput(t *testing.T) {
	t.Parallel()
	s := start(t)
	p := s.CreateProjectUser(t, "bad-p", "bad-alice", "member")
	pc := s.LoginProject(t, p)
	sc := computeClient(t, s, pc, "")
	cases := []struct {
		opts   servers.CreateOptsBuilder
		status int
	}{
		{servers.CreateOpts{Name: "x", ImageRef: testImage, FlavorRef: "999"}, 400},
		{servers.CreateOpts{Name: "x", ImageRef: "not-a-uuid", FlavorRef: "1"}, 400},
		{keypairs.CreateOptsExt{CreateOptsBuilder: servers.CreateOpts{Name: "x", ImageRef: testImage, FlavorRef: "1"}, KeyName: "missing"}, 400},
		{servers.CreateOpts{Name: "x", ImageRef: testImage, FlavorRef: "1", Networks: []servers.Network{{UUID: "3f8f3a8e-0000-4000-8000-000000000000"}}}, 400},
		{servers.CreateOpts{Name: "x", ImageRef: testImage, FlavorRef: "1", AvailabilityZone: "nowhere"}, 400},
		{servers.CreateOpts{Name: "x", ImageRef: testImage, FlavorRef: "1", Min: 3, Max: 2}, 400},
	}
	for i, c := range cases {
		if _, err := servers.Create(ctx, sc, c.opts, nil).Extract(); !gophercloud.ResponseCodeIs(err, c.status) {
			t.Fatalf("case %d: %v", i, err)
		}
	}
	tok := pc.Token()
	for _, body := range []string{
		`{"server": {"name": "x", "imageRef": "` + testImage + `", "flavorRef": "1", "user_data": "not base64!!"}}`,
		`{"server": {"name": "x", "imageRef": "` + testImage + `", "flavorRef": "1", "user_data": "` + strings.Repeat("A", 65536) + `"}}`,
		`{"server": {"name": "x", "imageRef": "` + testImage + `", "flavorRef": "1", "metadata": {"` + strings.Repeat("k", 256) + `": "v"}}}`,
		`{"server": {"name": "x", "imageRef": "` + testImage + `", "flavorRef": "1", "networks": "auto"}}`,
		`{"server": {"name": "x", "imageRef": "` + testImage + `", "flavorRef": "1", "description": "too early"}}`,
		`{"server": {"name": "", "imageRef": "` + testImage + `", "flavorRef": "1"}}`,
	} {
		resp, rb := s.HTTP(t, "POST", "/compute/v2.1/servers", tok, body)
		if resp.StatusCode != 400 || !strings.Contains(string(rb), "badRequest") {
			t.Fatalf("body %.80s: %d %s", body, resp.StatusCode, rb)
		}
	}
	// 2.37: networks is required; "none" boots without NICs.
	resp, rb := s.HTTP(t, "POST", "/compute/v2.1/servers", tok, `{"server": {"name": "x", "imageRef": "`+testImage+`", "flavorRef": "1"}}`, "OpenStack-API-Version", "compute 2.37")
	if resp.StatusCode != 400 {
		t.Fatalf("2.37 without networks: %d %s", resp.StatusCode, rb)
	}
	resp, rb = s.HTTP(t, "POST", "/compute/v2.1/servers", tok, `{"server": {"name": "nonet", "imageRef": "`+testImage+`", "flavorRef": "1", "networks": "none"}}`, "OpenStack-API-Version", "compute 2.37")
	if resp.StatusCode != 202 {
		t.Fatalf("2.37 networks none: %d %s", resp.StatusCode, rb)
	}
	// Unknown action; action in a wrong state.
	id := testenv.JSON(t, rb)["server"].(map[string]any)["id"].(string)
	waitStatus(t, sc, id, "ACTIVE")
	resp, rb = s.HTTP(t, "POST", "/compute/v2.1/servers/"+id+"/action", tok, `{"os-frobnicate": null}`)
	if resp.StatusCode != 400 {
		t.Fatalf("unknown action: %d %s", resp.StatusCode, rb)
	}
	resp, rb = s.HTTP(t, "POST", "/compute/v2.1/servers/"+id+"/action", tok, `{"reboot": {"type": "GENTLE"}}`)
	if resp.StatusCode != 400 {
		t.Fatalf("bad reboot type: %d %s", resp.StatusCode, rb)
	}
	resp, rb = s.HTTP(t, "POST", "/compute/v2.1/servers/"+id+"/action", tok, `{"confirmResize": null}`)
	if resp.StatusCode != 409 || !strings.Contains(string(rb), "conflictingRequest") {
		t.Fatalf("confirm without resize: %d %s", resp.StatusCode, rb)
	}
}

// TestQuotaAndFailuresRelease checks that quota is enforced and that
// every failure path (driver error, task timeout, no valid host) leaves
// the server ERROR with a fault and nothing held.
func TestQuotaAndFailuresRelease(t *testing.T) {
	t.Parallel()
	s := start(t, fake(4, 4096, 100), func(c *config.Config) { c.Compute.TaskTimeout = 2 * time.Second })
	adminPC := s.Admin(t)
	admin := computeClient(t, s, adminPC, "")
	p := s.CreateProjectUser(t, "quota-p", "quota-alice", "member")
	sc := computeClient(t, s, s.LoginProject(t, p), "")
	if _, err := quotasets.Update(ctx, admin, p.ID, quotasets.UpdateOpts{Instances: gophercloud.IntToPointer(2)}).Extract(); err != nil {
		t.Fatal(err)
	}
	a := createServer(t, sc, "q1", nil)
	b := createServer(t, sc, "q2", nil)
	_, err := servers.Create(ctx, sc, servers.CreateOpts{Name: "q3", ImageRef: testImage, FlavorRef: "1"}, nil).Extract()
	if !gophercloud.ResponseCodeIs(err, 403) || !strings.Contains(err.Error(), "Quota exceeded") {
		t.Fatalf("over quota: %v", err)
	}
	waitStatus(t, sc, a, "ACTIVE")
	waitStatus(t, sc, b, "ACTIVE")
	for _, id := range []string{a, b} {
		if err := servers.Delete(ctx, sc, id).ExtractErr(); err != nil {
			t.Fatal(err)
		}
		waitGone(t, sc, id)
	}
	usage := func() limits.Absolute {
		l, err := limits.Get(ctx, sc, nil).Extract()
		if err != nil {
			t.Fatal(err)
		}
		return l.Absolute
	}
	// Driver failure.
	f := createServer(t, sc, "fails", map[string]string{"fake:fail": "spawn"})
	sv := waitStatus(t, sc, f, "ERROR")
	if sv.Fault.Code != 500 || !strings.Contains(sv.Fault.Message, "failed as asked") {
		t.Fatalf("fault %+v", sv.Fault)
	}
	if u := usage(); u.TotalInstancesUsed != 0 || u.TotalCoresUsed != 0 {
		t.Fatalf("usage after failed build %+v", u)
	}
	// Timeout.
	h := createServer(t, sc, "hangs", map[string]string{"fake:hang": "spawn"})
	sv = waitStatus(t, sc, h, "ERROR")
	if !strings.Contains(sv.Fault.Message, "timed out") {
		t.Fatalf("timeout fault %+v", sv.Fault)
	}
	// Too big for the node: no valid host, naming the filter.
	_, err = servers.Create(ctx, sc, servers.CreateOpts{Name: "huge", ImageRef: testImage, FlavorRef: "4"}, nil).Extract()
	if err != nil {
		t.Fatal(err)
	}
	hostsAfter := usage()
	if hostsAfter.TotalInstancesUsed > 1 {
		t.Fatalf("usage %+v", hostsAfter)
	}
	// ERROR servers can be deleted; deletion does not double-release.
	for _, id := range []string{f, h} {
		if err := servers.Delete(ctx, sc, id).ExtractErr(); err != nil {
			t.Fatal(err)
		}
		waitGone(t, sc, id)
	}
	_, body := s.HTTP(t, "GET", "/compute/v2.1/servers/detail?name=huge", sc.TokenID, "")
	var out struct {
		Servers []map[string]any `json:"servers"`
	}
	_ = json.Unmarshal(body, &out)
	testenv.Eventually(t, 10*time.Second, "huge to fail", func() bool {
		_, body := s.HTTP(t, "GET", "/compute/v2.1/servers/detail?name=huge", adminPC.Token(), "", "X-OpenStack-Nova-API-Version", "2.1")
		_ = body
		_, body = s.HTTP(t, "GET", "/compute/v2.1/servers/detail?name=huge", sc.TokenID, "")
		return strings.Contains(string(body), "No valid host")
	})
	if u := usage(); u.TotalInstancesUsed != 0 || u.TotalRAMUsed != 0 {
		t.Fatalf("usage after all failures %+v", u)
	}
}

// TestConcurrentCreatesNoOvercommit boots ten servers at once on a node
// that fits exactly eight: eight become ACTIVE, two fail with no valid
// host, and placement never hands out more than the node has.
func TestConcurrentCreatesNoOvercommit(t *testing.T) {
	t.Parallel()
	s := start(t, fake(8, 8*512, 100))
	adminPC := s.Admin(t)
	admin := computeClient(t, s, adminPC, "")
	p := s.CreateProjectUser(t, "conc-p", "conc-alice", "member")
	if _, err := quotasets.Update(ctx, admin, p.ID, quotasets.UpdateOpts{Instances: gophercloud.IntToPointer(20), Cores: gophercloud.IntToPointer(20)}).Extract(); err != nil {
		t.Fatal(err)
	}
	sc := computeClient(t, s, s.LoginProject(t, p), "")
	var wg sync.WaitGroup
	ids := make([]string, 10)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sv, err := servers.Create(ctx, sc, servers.CreateOpts{Name: fmt.Sprint("c", i), ImageRef: testImage, FlavorRef: "1"}, nil).Extract()
			if err != nil {
				t.Errorf("create %d: %v", i, err)
				return
			}
			ids[i] = sv.ID
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	statuses := map[string]int{}
	for _, id := range ids {
		var st string
		testenv.Eventually(t, 20*time.Second, "server to settle", func() bool {
			sv, err := servers.Get(ctx, sc, id).Extract()
			if err != nil {
				t.Fatal(err)
			}
			st = sv.Status
			return st == "ACTIVE" || st == "ERROR"
		})
		statuses[st]++
	}
	if statuses["ACTIVE"] != 8 || statuses["ERROR"] != 2 {
		t.Fatalf("statuses %v", statuses)
	}
	n := s.App.Compute
	nodes, _ := n.Nodes(ctx)
	if nodes[0].VCPUsUsed != 8 || nodes[0].MemoryMBUsed != 8*512 {
		t.Fatalf("node usage %+v", nodes[0])
	}
}

// TestTenServersActive is the acceptance: ten at once, all ACTIVE.
func TestTenServersActive(t *testing.T) {
	t.Parallel()
	s := start(t)
	sc := computeClient(t, s, s.Admin(t), "")
	res, err := servers.Create(ctx, sc, servers.CreateOpts{Name: "ten", ImageRef: testImage, FlavorRef: "1", Min: 10, Max: 10}, nil).Extract()
	if err != nil {
		t.Fatal(err)
	}
	_ = res
	testenv.Eventually(t, 30*time.Second, "ten servers ACTIVE", func() bool {
		list := listServers(t, sc, servers.ListOpts{Name: "^ten-"})
		active := 0
		for _, sv := range list {
			if sv.Status == "ACTIVE" {
				active++
			}
		}
		return len(list) == 10 && active == 10
	})
}

func TestServerGroupPolicies(t *testing.T) {
	t.Parallel()
	s := start(t)
	sc := computeClient(t, s, s.Admin(t), "")
	anti, _ := servergroups.Create(ctx, sc, servergroups.CreateOpts{Name: "anti", Policies: []string{"anti-affinity"}}).Extract()
	aff, _ := servergroups.Create(ctx, sc, servergroups.CreateOpts{Name: "aff", Policies: []string{"affinity"}}).Extract()
	create := func(name, group string) string {
		sv, err := servers.Create(ctx, sc, servers.CreateOpts{Name: name, ImageRef: testImage, FlavorRef: "1"}, servers.SchedulerHintOpts{Group: group}).Extract()
		if err != nil {
			t.Fatal(err)
		}
		return sv.ID
	}
	waitStatus(t, sc, create("anti-1", anti.ID), "ACTIVE")
	sv := waitStatus(t, sc, create("anti-2", anti.ID), "ERROR")
	if !strings.Contains(sv.Fault.Message, "No valid host") {
		t.Fatalf("anti-affinity fault %+v", sv.Fault)
	}
	waitStatus(t, sc, create("aff-1", aff.ID), "ACTIVE")
	waitStatus(t, sc, create("aff-2", aff.ID), "ACTIVE")
	g, _ := servergroups.Get(ctx, sc, aff.ID).Extract()
	if len(g.Members) != 2 {
		t.Fatalf("members %v", g.Members)
	}
	if _, err := servers.Create(ctx, sc, servers.CreateOpts{Name: "x", ImageRef: testImage, FlavorRef: "1"}, servers.SchedulerHintOpts{Group: "00000000-0000-4000-8000-000000000000"}).Extract(); !gophercloud.ResponseCodeIs(err, 400) {
		t.Fatalf("unknown group: %v", err)
	}
}

// TestPostgres runs the placement race and a server's life on PostgreSQL
// (skipped unless GUREUM_TEST_POSTGRES is set; CI sets it).
func TestPostgres(t *testing.T) {
	t.Parallel()
	s := start(t, testenv.WithPostgres(t), fake(4, 4*512, 100))
	adminPC := s.Admin(t)
	admin := computeClient(t, s, adminPC, "2.26")
	p := s.CreateProjectUser(t, "pg-p", "pg-alice", "member")
	if _, err := quotasets.Update(ctx, admin, p.ID, quotasets.UpdateOpts{Instances: gophercloud.IntToPointer(20)}).Extract(); err != nil {
		t.Fatal(err)
	}
	sc := computeClient(t, s, s.LoginProject(t, p), "2.26")
	var wg sync.WaitGroup
	ids := make([]string, 6)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sv, err := servers.Create(ctx, sc, servers.CreateOpts{Name: fmt.Sprint("pg", i), ImageRef: testImage, FlavorRef: "1"}, nil).Extract()
			if err != nil {
				t.Errorf("create: %v", err)
				return
			}
			ids[i] = sv.ID
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	st := map[string]int{}
	for _, id := range ids {
		var status string
		testenv.Eventually(t, 20*time.Second, "settle", func() bool {
			sv, err := servers.Get(ctx, sc, id).Extract()
			if err != nil {
				t.Fatal(err)
			}
			status = sv.Status
			return status == "ACTIVE" || status == "ERROR"
		})
		st[status]++
	}
	if st["ACTIVE"] != 4 || st["ERROR"] != 2 {
		t.Fatalf("statuses %v on a 4-vCPU node", st)
	}
	var active string
	for _, id := range ids {
		if sv, _ := servers.Get(ctx, sc, id).Extract(); sv.Status == "ACTIVE" {
			active = id
		}
	}
	if _, err := tags.ReplaceAll(ctx, sc, active, tags.ReplaceAllOpts{Tags: []string{"pg"}}).Extract(); err != nil {
		t.Fatal(err)
	}
	if got := listServers(t, sc, servers.ListOpts{Tags: "pg", Limit: 1}); len(got) != 1 {
		t.Fatalf("tag filter on postgres: %d", len(got))
	}
	if err := servers.Stop(ctx, sc, active).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, sc, active, "SHUTOFF")
	for _, id := range ids {
		if err := servers.Delete(ctx, sc, id).ExtractErr(); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range ids {
		waitGone(t, sc, id)
	}
	l, _ := limits.Get(ctx, sc, nil).Extract()
	if l.Absolute.TotalInstancesUsed != 0 || l.Absolute.TotalCoresUsed != 0 {
		t.Fatalf("usage after deletes %+v", l.Absolute)
	}
}
