package computeapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/availabilityzones"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/flavors"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/hypervisors"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/keypairs"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/limits"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/quotasets"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servergroups"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/services"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/usage"
	"github.com/gophercloud/gophercloud/v2/pagination"

	"github.com/gureum/gureum/internal/agent"
	"github.com/gureum/gureum/internal/agentapi"
	"github.com/gureum/gureum/internal/app"
	"github.com/gureum/gureum/internal/bus"
	"github.com/gureum/gureum/internal/compute"
	"github.com/gureum/gureum/internal/config"
	"github.com/gureum/gureum/internal/testenv"
)

var ctx = context.Background()

func TestVersionsAndMicroversions(t *testing.T) {
	t.Parallel()
	s := start(t)
	resp, body := s.HTTP(t, "GET", "/compute/", "", "")
	if resp.StatusCode != 200 {
		t.Fatalf("versions: %d %s", resp.StatusCode, body)
	}
	v := testenv.JSON(t, body)["versions"].([]any)[0].(map[string]any)
	if v["id"] != "v2.1" || v["version"] != "2.38" || v["min_version"] != "2.1" || v["status"] != "CURRENT" {
		t.Fatalf("version doc %v", v)
	}
	tok := s.Admin(t).Token()
	for _, tc := range []struct {
		hdr, val, want string
		status         int
	}{
		{"", "", "2.1", 200},
		{"OpenStack-API-Version", "compute 2.26", "2.26", 200},
		{"X-OpenStack-Nova-API-Version", "2.15", "2.15", 200},
		{"OpenStack-API-Version", "compute latest", "2.38", 200},
		{"OpenStack-API-Version", "compute 2.90", "", 406},
		{"OpenStack-API-Version", "compute 3.0", "", 406},
		{"X-OpenStack-Nova-API-Version", "two", "", 400},
	} {
		var hs []string
		if tc.hdr != "" {
			hs = []string{tc.hdr, tc.val}
		}
		resp, body := s.HTTP(t, "GET", "/compute/v2.1/flavors", tok, "", hs...)
		if resp.StatusCode != tc.status {
			t.Fatalf("%s=%s: status %d %s", tc.hdr, tc.val, resp.StatusCode, body)
		}
		if tc.status == 200 {
			if got := resp.Header.Get("OpenStack-API-Version"); got != "compute "+tc.want {
				t.Fatalf("%s=%s: header %q", tc.hdr, tc.val, got)
			}
			if got := resp.Header.Get("X-OpenStack-Nova-API-Version"); got != tc.want {
				t.Fatalf("legacy header %q", got)
			}
		}
	}
	// gophercloud's own microversion discovery reads the version document.
	resp, body = s.HTTP(t, "GET", "/compute/v2.1/", "", "")
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"version":"2.38"`) {
		t.Fatalf("v2.1 root: %d %s", resp.StatusCode, body)
	}
}

// TestErrorBodies compares nova's error bodies byte for byte in shape.
func TestErrorBodies(t *testing.T) {
	t.Parallel()
	s := start(t)
	tok := s.Admin(t).Token()
	cases := []struct {
		method, path, body string
		status             int
		key                string
	}{
		{"GET", "/compute/v2.1/servers/00000000-0000-0000-0000-000000000000", "", 404, "itemNotFound"},
		{"GET", "/compute/v2.1/flavors/nope", "", 404, "itemNotFound"},
		{"POST", "/compute/v2.1/servers", `{"server": {"name": "x"`, 400, "badRequest"},
		{"POST", "/compute/v2.1/servers", `{"server": {"name": "x", "imageRef": "` + testImage + `", "flavorRef": "1", "bogus": 1}}`, 400, "badRequest"},
		{"POST", "/compute/v2.1/os-keypairs", `{"keypair": {"name": "k", "public_key": "not a key"}}`, 400, "badRequest"},
		{"DELETE", "/compute/v2.1/os-keypairs/none", "", 404, "itemNotFound"},
		{"PATCH", "/compute/v2.1/servers", "", 405, "badMethod"},
	}
	for _, c := range cases {
		resp, body := s.HTTP(t, c.method, c.path, tok, c.body)
		if resp.StatusCode != c.status {
			t.Fatalf("%s %s: %d %s", c.method, c.path, resp.StatusCode, body)
		}
		m := testenv.JSON(t, body)
		inner, ok := m[c.key].(map[string]any)
		if !ok || len(m) != 1 {
			t.Fatalf("%s %s: body %s, want key %s", c.method, c.path, body, c.key)
		}
		if int(inner["code"].(float64)) != c.status || inner["message"] == "" {
			t.Fatalf("%s %s: inner %v", c.method, c.path, inner)
		}
	}
	// Without a token: 401 in nova's shape.
	resp, body := s.HTTP(t, "GET", "/compute/v2.1/servers", "", "")
	if resp.StatusCode != 401 || !strings.Contains(string(body), `"unauthorized"`) {
		t.Fatalf("no token: %d %s", resp.StatusCode, body)
	}
}

func TestFlavors(t *testing.T) {
	t.Parallel()
	s := start(t)
	admin := computeClient(t, s, s.Admin(t), "")
	pages, err := flavors.ListDetail(admin, flavors.ListOpts{}).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	all, _ := flavors.ExtractFlavors(pages)
	names := map[string]bool{}
	for _, f := range all {
		names[f.Name] = true
	}
	for _, n := range []string{"m1.tiny", "m1.small", "m1.medium", "m1.large"} {
		if !names[n] {
			t.Fatalf("default flavor %s missing from %v", n, names)
		}
	}
	tiny, err := flavors.Get(ctx, admin, "1").Extract()
	if err != nil || tiny.Name != "m1.tiny" || tiny.RAM != 512 || tiny.VCPUs != 1 || tiny.Disk != 1 || !tiny.IsPublic {
		t.Fatalf("m1.tiny: %+v %v", tiny, err)
	}
	isPublic := false
	priv, err := flavors.Create(ctx, admin, flavors.CreateOpts{Name: "private.one", RAM: 256, VCPUs: 1, Disk: gophercloud.IntToPointer(1), IsPublic: &isPublic}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := flavors.Create(ctx, admin, flavors.CreateOpts{Name: "private.one", RAM: 256, VCPUs: 1, Disk: gophercloud.IntToPointer(1)}).Extract(); !gophercloud.ResponseCodeIs(err, http.StatusConflict) {
		t.Fatalf("duplicate flavor: %v", err)
	}
	specs, err := flavors.CreateExtraSpecs(ctx, admin, priv.ID, flavors.ExtraSpecsOpts{"hw:cpu_policy": "shared", "quota:disk_read_bytes_sec": "1000"}).Extract()
	if err != nil || specs["hw:cpu_policy"] != "shared" {
		t.Fatalf("extra specs: %v %v", specs, err)
	}
	one, err := flavors.GetExtraSpec(ctx, admin, priv.ID, "hw:cpu_policy").Extract()
	if err != nil || one["hw:cpu_policy"] != "shared" {
		t.Fatalf("extra spec: %v %v", one, err)
	}
	if err := flavors.DeleteExtraSpec(ctx, admin, priv.ID, "hw:cpu_policy").ExtractErr(); err != nil {
		t.Fatal(err)
	}
	if _, err := flavors.GetExtraSpec(ctx, admin, priv.ID, "hw:cpu_policy").Extract(); !gophercloud.ResponseCodeIs(err, 404) {
		t.Fatalf("deleted extra spec: %v", err)
	}

	p1 := s.CreateProjectUser(t, "flavor-p1", "flavor-alice", "member")
	user := computeClient(t, s, s.LoginProject(t, p1), "")
	if _, err := flavors.Get(ctx, user, priv.ID).Extract(); !gophercloud.ResponseCodeIs(err, 404) {
		t.Fatalf("private flavor visible without access: %v", err)
	}
	if _, err := flavors.AddAccess(ctx, admin, priv.ID, flavors.AddAccessOpts{Tenant: p1.ID}).Extract(); err != nil {
		t.Fatal(err)
	}
	if _, err := flavors.AddAccess(ctx, admin, "1", flavors.AddAccessOpts{Tenant: p1.ID}).Extract(); !gophercloud.ResponseCodeIs(err, 409) {
		t.Fatalf("access to public flavor: %v", err)
	}
	if f, err := flavors.Get(ctx, user, priv.ID).Extract(); err != nil || f.Name != "private.one" {
		t.Fatalf("private flavor with access: %v %v", f, err)
	}
	pages, _ = flavors.ListAccesses(admin, priv.ID).AllPages(ctx)
	acc, _ := flavors.ExtractAccesses(pages)
	if len(acc) != 1 || acc[0].TenantID != p1.ID {
		t.Fatalf("accesses %v", acc)
	}
	// Members may not manage flavors.
	if _, err := flavors.Create(ctx, user, flavors.CreateOpts{Name: "mine", RAM: 1, VCPUs: 1, Disk: gophercloud.IntToPointer(0)}).Extract(); !gophercloud.ResponseCodeIs(err, 403) {
		t.Fatalf("member created flavor: %v", err)
	}
	if _, err := flavors.Create(ctx, admin, flavors.CreateOpts{Name: "bad", RAM: 0, VCPUs: 1, Disk: gophercloud.IntToPointer(0)}).Extract(); !gophercloud.ResponseCodeIs(err, 400) {
		t.Fatalf("ram 0: %v", err)
	}
	if err := flavors.Delete(ctx, admin, priv.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	if _, err := flavors.Get(ctx, admin, priv.ID).Extract(); !gophercloud.ResponseCodeIs(err, 404) {
		t.Fatalf("deleted flavor: %v", err)
	}
}

func TestKeyPairs(t *testing.T) {
	t.Parallel()
	s := start(t)
	p := s.CreateProjectUser(t, "kp-p", "kp-alice", "member")
	sc := computeClient(t, s, s.LoginProject(t, p), "2.2")
	gen, err := keypairs.Create(ctx, sc, keypairs.CreateOpts{Name: "gen"}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(gen.PrivateKey, "PRIVATE KEY") || !strings.HasPrefix(gen.PublicKey, "ssh-rsa ") || gen.Type != "ssh" || len(gen.Fingerprint) != 47 {
		t.Fatalf("generated key: %+v", gen)
	}
	const ed = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB0Z7Bv2qZ7iIUPLl7W9k4mZ6d8t8bQZp0y0Qh9yW0wY test@gureum"
	imp, err := keypairs.Create(ctx, sc, keypairs.CreateOpts{Name: "ed", PublicKey: ed}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if imp.PrivateKey != "" || imp.PublicKey != ed {
		t.Fatalf("imported: %+v", imp)
	}
	if _, err := keypairs.Create(ctx, sc, keypairs.CreateOpts{Name: "ed", PublicKey: ed}).Extract(); !gophercloud.ResponseCodeIs(err, 409) {
		t.Fatalf("duplicate: %v", err)
	}
	if _, err := keypairs.Create(ctx, sc, keypairs.CreateOpts{Name: "bad", PublicKey: "ssh-rsa notbase64"}).Extract(); !gophercloud.ResponseCodeIs(err, 400) {
		t.Fatalf("bad key: %v", err)
	}
	if _, err := keypairs.Create(ctx, sc, keypairs.CreateOpts{Name: "bad/name"}).Extract(); !gophercloud.ResponseCodeIs(err, 400) {
		t.Fatalf("bad name: %v", err)
	}
	pages, err := keypairs.List(sc, nil).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	list, _ := keypairs.ExtractKeyPairs(pages)
	if len(list) != 2 {
		t.Fatalf("list: %+v", list)
	}
	got, err := keypairs.Get(ctx, sc, "ed", nil).Extract()
	if err != nil || got.Fingerprint != imp.Fingerprint || got.UserID != p.UserID {
		t.Fatalf("get: %+v %v", got, err)
	}
	// Another user does not see them.
	q := s.CreateProjectUser(t, "kp-q", "kp-bob", "member")
	other := computeClient(t, s, s.LoginProject(t, q), "2.2")
	if _, err := keypairs.Get(ctx, other, "ed", nil).Extract(); !gophercloud.ResponseCodeIs(err, 404) {
		t.Fatalf("other user's key: %v", err)
	}
	if err := keypairs.Delete(ctx, sc, "ed", nil).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	// 2.1: no key type in the body, 200 on create.
	sc21 := computeClient(t, s, s.LoginProject(t, p), "")
	resp, body := s.HTTP(t, "POST", "/compute/v2.1/os-keypairs", sc21.TokenID, `{"keypair": {"name": "old", "public_key": "`+ed+`"}}`)
	if resp.StatusCode != 200 || strings.Contains(string(body), `"type"`) {
		t.Fatalf("2.1 create: %d %s", resp.StatusCode, body)
	}
}

func TestAZLimitsQuotas(t *testing.T) {
	t.Parallel()
	s := start(t)
	adminPC := s.Admin(t)
	admin := computeClient(t, s, adminPC, "")
	pages, err := availabilityzones.List(admin).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	zones, _ := availabilityzones.ExtractAvailabilityZones(pages)
	if len(zones) != 1 || zones[0].ZoneName != "nova" || !zones[0].ZoneState.Available {
		t.Fatalf("zones %+v", zones)
	}
	p := s.CreateProjectUser(t, "q-p", "q-alice", "member")
	user := computeClient(t, s, s.LoginProject(t, p), "")
	lim, err := limits.Get(ctx, user, nil).Extract()
	if err != nil || lim.Absolute.MaxTotalInstances != 10 || lim.Absolute.MaxTotalCores != 20 || lim.Absolute.TotalInstancesUsed != 0 {
		t.Fatalf("limits %+v %v", lim, err)
	}
	qs, err := quotasets.Get(ctx, user, p.ID).Extract()
	if err != nil || qs.Instances != 10 || qs.KeyPairs != 100 {
		t.Fatalf("quota %+v %v", qs, err)
	}
	// Members cannot change quotas nor read another project's.
	if _, err := quotasets.Update(ctx, user, p.ID, quotasets.UpdateOpts{Instances: gophercloud.IntToPointer(50)}).Extract(); !gophercloud.ResponseCodeIs(err, 403) {
		t.Fatalf("member quota update: %v", err)
	}
	if _, err := quotasets.Get(ctx, user, "someone-else").Extract(); !gophercloud.ResponseCodeIs(err, 403) {
		t.Fatalf("other project's quota: %v", err)
	}
	up, err := quotasets.Update(ctx, admin, p.ID, quotasets.UpdateOpts{Instances: gophercloud.IntToPointer(1), Cores: gophercloud.IntToPointer(2)}).Extract()
	if err != nil || up.Instances != 1 || up.Cores != 2 {
		t.Fatalf("update %+v %v", up, err)
	}
	det, err := quotasets.GetDetail(ctx, admin, p.ID).Extract()
	if err != nil || det.Instances.Limit != 1 || det.Instances.InUse != 0 {
		t.Fatalf("detail %+v %v", det, err)
	}
	if _, err := quotasets.Delete(ctx, admin, p.ID).Extract(); err != nil {
		t.Fatal(err)
	}
	if qs, _ := quotasets.Get(ctx, admin, p.ID).Extract(); qs.Instances != 10 {
		t.Fatalf("after reset %+v", qs)
	}
	resp, body := s.HTTP(t, "PUT", "/compute/v2.1/os-quota-sets/"+p.ID, adminPC.Token(), `{"quota_set": {"instances": -5}}`)
	if resp.StatusCode != 400 {
		t.Fatalf("negative quota: %d %s", resp.StatusCode, body)
	}
}

func TestServerGroups(t *testing.T) {
	t.Parallel()
	s := start(t)
	p := s.CreateProjectUser(t, "sg-p", "sg-alice", "member")
	pc := s.LoginProject(t, p)
	sc := computeClient(t, s, pc, "")
	g, err := servergroups.Create(ctx, sc, servergroups.CreateOpts{Name: "anti", Policies: []string{"anti-affinity"}}).Extract()
	if err != nil || g.Policies[0] != "anti-affinity" {
		t.Fatalf("create %+v %v", g, err)
	}
	// Soft policies need 2.15.
	if _, err := servergroups.Create(ctx, sc, servergroups.CreateOpts{Name: "soft", Policies: []string{"soft-affinity"}}).Extract(); !gophercloud.ResponseCodeIs(err, 400) {
		t.Fatalf("soft at 2.1: %v", err)
	}
	sc15 := computeClient(t, s, pc, "2.15")
	soft, err := servergroups.Create(ctx, sc15, servergroups.CreateOpts{Name: "soft", Policies: []string{"soft-anti-affinity"}}).Extract()
	if err != nil || soft.Policies[0] != "soft-anti-affinity" || soft.ProjectID != p.ID {
		t.Fatalf("soft %+v %v", soft, err)
	}
	pages, _ := servergroups.List(sc, nil).AllPages(ctx)
	list, _ := servergroups.ExtractServerGroups(pages)
	if len(list) != 2 {
		t.Fatalf("list %+v", list)
	}
	q := s.CreateProjectUser(t, "sg-q", "sg-bob", "member")
	other := computeClient(t, s, s.LoginProject(t, q), "")
	if _, err := servergroups.Get(ctx, other, g.ID).Extract(); !gophercloud.ResponseCodeIs(err, 404) {
		t.Fatalf("other project's group: %v", err)
	}
	if err := servergroups.Delete(ctx, other, g.ID).ExtractErr(); !gophercloud.ResponseCodeIs(err, 404) {
		t.Fatalf("other project deleted group: %v", err)
	}
	if err := servergroups.Delete(ctx, sc, g.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
}

func TestHypervisorsAndServices(t *testing.T) {
	t.Parallel()
	s := start(t, fake(8, 16384, 100))
	adminPC := s.Admin(t)
	admin := computeClient(t, s, adminPC, "2.28")
	pages, err := hypervisors.List(admin, nil).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	hs, err := hypervisors.ExtractHypervisors(pages)
	if err != nil || len(hs) != 1 {
		t.Fatalf("hypervisors %+v %v", hs, err)
	}
	h := hs[0]
	if h.VCPUs != 8 || h.MemoryMB != 16384 || h.LocalGB != 100 || h.HypervisorType != "fake" || h.State != "up" || h.Status != "enabled" {
		t.Fatalf("hypervisor %+v", h)
	}
	st, err := hypervisors.GetStatistics(ctx, admin).Extract()
	if err != nil || st.Count != 1 || st.VCPUs != 8 {
		t.Fatalf("stats %+v %v", st, err)
	}
	p := s.CreateProjectUser(t, "hv-p", "hv-alice", "member")
	if _, err := hypervisors.List(computeClient(t, s, s.LoginProject(t, p), ""), nil).AllPages(ctx); !gophercloud.ResponseCodeIs(err, 403) {
		t.Fatalf("member listed hypervisors: %v", err)
	}
	pages, err = services.List(admin, nil).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	svcs, _ := services.ExtractServices(pages)
	if len(svcs) != 1 || svcs[0].Binary != "nova-compute" || svcs[0].State != "up" || svcs[0].Zone != "nova" {
		t.Fatalf("services %+v", svcs)
	}
	host := svcs[0].Host
	// Disabling the only compute service leaves no valid host.
	resp, body := s.HTTP(t, "PUT", "/compute/v2.1/os-services/disable-log-reason", adminPC.Token(), `{"host": "`+host+`", "binary": "nova-compute", "disabled_reason": "maintenance"}`)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"disabled"`) {
		t.Fatalf("disable: %d %s", resp.StatusCode, body)
	}
	sc := computeClient(t, s, adminPC, "")
	id := createServer(t, sc, "nohost", nil)
	sv := waitStatus(t, sc, id, "ERROR")
	if !strings.Contains(sv.Fault.Message, "No valid host") {
		t.Fatalf("fault %+v", sv.Fault)
	}
	resp, body = s.HTTP(t, "GET", "/compute/v2.1/servers/"+id, adminPC.Token(), "")
	if !strings.Contains(string(body), "ComputeFilter rejected "+host) {
		t.Fatalf("fault does not name the filter: %s", body)
	}
	resp, _ = s.HTTP(t, "PUT", "/compute/v2.1/os-services/enable", adminPC.Token(), `{"host": "`+host+`", "binary": "nova-compute"}`)
	if resp.StatusCode != 200 {
		t.Fatalf("enable: %d", resp.StatusCode)
	}
	waitStatus(t, sc, createServer(t, sc, "hashost", nil), "ACTIVE")
	// Forced down (2.11) also keeps servers away.
	resp, body = s.HTTP(t, "PUT", "/compute/v2.1/os-services/force-down", adminPC.Token(), `{"host": "`+host+`", "binary": "nova-compute", "forced_down": true}`, "OpenStack-API-Version", "compute 2.11")
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"forced_down":true`) {
		t.Fatalf("force-down: %d %s", resp.StatusCode, body)
	}
	var out struct {
		Services []map[string]any `json:"services"`
	}
	_, body = s.HTTP(t, "GET", "/compute/v2.1/os-services", adminPC.Token(), "", "OpenStack-API-Version", "compute 2.11")
	_ = json.Unmarshal(body, &out)
	if out.Services[0]["state"] != "down" || out.Services[0]["forced_down"] != true {
		t.Fatalf("forced down service %v", out.Services[0])
	}
	_ = pagination.Pager{}
}

// TestAgentDownAndBack: a silent agent is marked down (its service too),
// gets no servers, and is up again when it registers anew.
func TestAgentDownAndBack(t *testing.T) {
	t.Parallel()
	s := start(t, fake(8, 8192, 100), func(c *config.Config) {
		c.Compute.HeartbeatInterval = 50 * time.Millisecond
		c.Compute.AgentDownTime = 300 * time.Millisecond
	})
	adminPC := s.Admin(t)
	sc := computeClient(t, s, adminPC, "2.11")
	state := func() string {
		pages, err := services.List(sc, nil).AllPages(ctx)
		if err != nil {
			t.Fatal(err)
		}
		svcs, _ := services.ExtractServices(pages)
		return svcs[0].State
	}
	// Heartbeats keep it up well past the down time.
	time.Sleep(time.Second)
	if st := state(); st != "up" {
		t.Fatalf("state with heartbeats %s", st)
	}
	s.App.Agent.Stop()
	testenv.Eventually(t, 10*time.Second, "service down", func() bool { return state() == "down" })
	sv := waitStatus(t, sc, createServer(t, sc, "while-down", nil), "ERROR")
	if !strings.Contains(sv.Fault.Message, "No valid host") {
		t.Fatalf("fault %+v", sv.Fault)
	}
	restartAgent(t, s)
	testenv.Eventually(t, 10*time.Second, "service up", func() bool { return state() == "up" })
	waitStatus(t, sc, createServer(t, sc, "after", nil), "ACTIVE")
}

// TestDriftReported: a guest that vanishes from its node (outside the
// API) is reported as NOSTATE by the heartbeat reconciliation.
func TestDriftReported(t *testing.T) {
	t.Parallel()
	s := start(t, fake(8, 8192, 100), func(c *config.Config) { c.Compute.HeartbeatInterval = 50 * time.Millisecond })
	sc := computeClient(t, s, s.Admin(t), "")
	id := createServer(t, sc, "drifty", nil)
	waitStatus(t, sc, id, "ACTIVE")
	// Remove the guest behind the controller's back, through the bus as
	// an operator's mistake on the node would.
	var res agentapi.TaskResult
	if err := bus.Request(ctx, s.App.Bus.Conn(), agentapi.TaskSubject(app.NodeName(s.App.Config)), agentapi.Task{ID: "oops", ServerID: id, Op: agentapi.OpDestroy}, &res); err != nil || !res.OK {
		t.Fatalf("destroy on node: %v %+v", err, res)
	}
	testenv.Eventually(t, 10*time.Second, "drift reported", func() bool {
		sv, err := servers.Get(ctx, sc, id).Extract()
		return err == nil && sv.PowerState == servers.NOSTATE
	})
}

// TestNoServerErrorsOnBadInput throws malformed bodies and parameters at
// every writable route: answers are 4xx, never 5xx.
func TestNoServerErrorsOnBadInput(t *testing.T) {
	t.Parallel()
	s := start(t)
	tok := s.Admin(t).Token()
	sc := computeClient(t, s, s.Admin(t), "")
	id := createServer(t, sc, "target", nil)
	waitStatus(t, sc, id, "ACTIVE")
	paths := []struct{ method, path string }{
		{"POST", "/servers"}, {"PUT", "/servers/" + id}, {"POST", "/servers/" + id + "/action"},
		{"PUT", "/servers/" + id + "/metadata"}, {"POST", "/servers/" + id + "/metadata"}, {"PUT", "/servers/" + id + "/metadata/k"},
		{"PUT", "/servers/" + id + "/tags"}, {"POST", "/flavors"}, {"POST", "/flavors/1/os-extra_specs"}, {"PUT", "/flavors/1/os-extra_specs/k"},
		{"POST", "/flavors/1/action"}, {"POST", "/os-keypairs"}, {"PUT", "/os-quota-sets/p"}, {"POST", "/os-server-groups"},
		{"PUT", "/os-services/disable"}, {"PUT", "/os-services/force-down"},
	}
	bodies := []string{"", "null", "[]", "{}", `"x"`, "{", `{"server": 1}`, `{"server": {"name": 7}}`, `{"keypair": []}`,
		`{"flavor": {"name": "x", "ram": "big", "vcpus": 1, "disk": 1}}`, `{"quota_set": {"instances": "many"}}`, `{"reboot": {"type": 1}}`,
		`{"resize": {"flavorRef": {}}}`, `{"os-getConsoleOutput": {"length": "x"}}`, `{"createImage": {"name": ""}}`, `{"metadata": {"k": 1}}`,
		`{"server": {"name": "x", "imageRef": "` + testImage + `", "flavorRef": "1", "min_count": "lots"}}`, `{"server_group": {"name": "g", "policies": "affinity"}}`,
		`{"server": {"name": "x", "imageRef": "` + testImage + `", "flavorRef": "1", "networks": [{"uuid": 5}]}}`, `{"tags": ["a,b"]}`, `{"meta": {"k": "v", "j": "w"}}`}
	for _, p := range paths {
		for _, b := range bodies {
			resp, raw := s.HTTP(t, p.method, "/compute/v2.1"+p.path, tok, b, "OpenStack-API-Version", "compute 2.26")
			if resp.StatusCode >= 500 {
				t.Errorf("%s %s %q: %d %s", p.method, p.path, b, resp.StatusCode, raw)
			}
		}
	}
	for _, q := range []string{"limit=-1", "limit=x", "marker=nope", "changes-since=x", "sort_key=evil;drop", "sort_dir=sideways", "status=WHAT", "tags=" + strings.Repeat("x", 5000)} {
		resp, raw := s.HTTP(t, "GET", "/compute/v2.1/servers/detail?"+q, tok, "")
		if resp.StatusCode >= 500 {
			t.Errorf("list %s: %d %s", q, resp.StatusCode, raw)
		}
	}
	for _, p := range []string{"/os-hypervisors/xyz", "/os-hypervisors/99999", "/os-simple-tenant-usage?start=bad", "/os-quota-sets/x/detail", "/servers/" + id + "/os-instance-actions/nope", "/servers/" + id + "/ips/nonet", "/flavors?minRam=-4", "/os-keypairs?limit=x"} {
		resp, raw := s.HTTP(t, "GET", "/compute/v2.1"+p, tok, "", "OpenStack-API-Version", "compute 2.35")
		if resp.StatusCode >= 500 {
			t.Errorf("GET %s: %d %s", p, resp.StatusCode, raw)
		}
	}
}

func TestSimpleTenantUsageAndHypervisorDetails(t *testing.T) {
	t.Parallel()
	s := start(t)
	adminPC := s.Admin(t)
	admin := computeClient(t, s, adminPC, "2.28")
	p := s.CreateProjectUser(t, "use-p", "use-alice", "member")
	sc := computeClient(t, s, s.LoginProject(t, p), "")
	id := createServer(t, sc, "metered", nil)
	waitStatus(t, sc, id, "ACTIVE")
	from := time.Now().Add(-time.Hour)
	to := time.Now().Add(time.Hour)
	var u *usage.TenantUsage
	err := usage.SingleTenant(sc, p.ID, usage.SingleTenantOpts{Start: &from, End: &to}).EachPage(ctx, func(_ context.Context, page pagination.Page) (bool, error) {
		var err error
		u, err = usage.ExtractSingleTenant(page)
		return false, err
	})
	if err != nil || u == nil || u.TenantID != p.ID || len(u.ServerUsages) != 1 || u.ServerUsages[0].InstanceID != id || u.ServerUsages[0].VCPUs != 1 || u.ServerUsages[0].State != "active" {
		t.Fatalf("usage %+v %v", u, err)
	}
	// Members see only their own project's usage; the listing is admin's.
	noop := func(context.Context, pagination.Page) (bool, error) { return false, nil }
	if err := usage.SingleTenant(sc, "someone-else", nil).EachPage(ctx, noop); !gophercloud.ResponseCodeIs(err, 403) {
		t.Fatalf("other project's usage: %v", err)
	}
	if err := usage.AllTenants(sc, nil).EachPage(ctx, noop); !gophercloud.ResponseCodeIs(err, 403) {
		t.Fatalf("member listed all usage: %v", err)
	}
	var all []usage.TenantUsage
	err = usage.AllTenants(admin, usage.AllTenantsOpts{Detailed: true, Start: &from, End: &to}).EachPage(ctx, func(_ context.Context, page pagination.Page) (bool, error) {
		var err error
		all, err = usage.ExtractAllTenants(page)
		return false, err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 1 || all[0].TenantID != p.ID {
		t.Fatalf("all tenants %+v", all)
	}
	// Hypervisor details count the server and its allocation.
	hpages, _ := hypervisors.List(admin, nil).AllPages(ctx)
	hs, _ := hypervisors.ExtractHypervisors(hpages)
	h, err := hypervisors.Get(ctx, admin, hs[0].ID).Extract()
	if err != nil || h.RunningVMs != 1 || h.VCPUsUsed != 1 || h.MemoryMBUsed != 512 || h.CPUInfo.Arch != "x86_64" {
		t.Fatalf("hypervisor %+v %v", h, err)
	}
	up, err := hypervisors.GetUptime(ctx, admin, hs[0].ID).Extract()
	if err != nil || !strings.Contains(up.Uptime, "up") {
		t.Fatalf("uptime %+v %v", up, err)
	}
}

// TestControllerRestartResumes: a server left in BUILD (and one left
// deleting) by a stopped controller is driven to its end by the next one.
func TestControllerRestartResumes(t *testing.T) {
	t.Parallel()
	s := start(t)
	sc := computeClient(t, s, s.Admin(t), "")
	st := s.App.Compute.Store()
	building := createServer(t, sc, "left-building", nil)
	deleting := createServer(t, sc, "left-deleting", nil)
	waitStatus(t, sc, building, "ACTIVE")
	waitStatus(t, sc, deleting, "ACTIVE")
	// Rewind the records as a crash in the middle would leave them.
	if _, err := st.UpdateServer(ctx, building, func(sv *compute.Server) error {
		sv.VMState, sv.TaskState = compute.VMBuilding, compute.TaskSpawning
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.UpdateServer(ctx, deleting, func(sv *compute.Server) error { sv.TaskState = compute.TaskDeleting; return nil }); err != nil {
		t.Fatal(err)
	}
	svc := compute.New(st, s.App.Bus.Conn(), nil, nil, nil, s.App.Compute.Config(), s.App.Log)
	t.Cleanup(svc.Close)
	if err := svc.StartController(ctx, time.Second); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, sc, building, "ACTIVE")
	waitGone(t, sc, deleting)
}

// TestRemoteAgentOverTCP runs the server without its in-process agent and
// a node agent connected over TCP to the embedded NATS, as `gureum agent
// --nats-url` does: servers land on the remote node.
func TestRemoteAgentOverTCP(t *testing.T) {
	t.Parallel()
	s := start(t, fake(16, 16384, 100), func(c *config.Config) {
		c.Compute.Agent = false
		c.Compute.NATSListen = "127.0.0.1:0"
	})
	url := s.App.Bus.ClientURL()
	if !strings.HasPrefix(url, "nats://127.0.0.1:") {
		t.Fatalf("client URL %q", url)
	}
	cfg := s.App.Config
	cfg.Compute.NodeName, cfg.Compute.NATSURL = "remote-1", url
	nc, err := bus.Dial(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	drv, err := app.NewComputeDriver(cfg, s.App.Log)
	if err != nil {
		t.Fatal(err)
	}
	ag := agent.New(nc, drv, app.AgentOptions(cfg, s.App.Log))
	if err := ag.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ag.Stop(); nc.Close() })
	sc := computeClient(t, s, s.Admin(t), "")
	id := createServer(t, sc, "on-remote", nil)
	waitStatus(t, sc, id, "ACTIVE")
	resp, body := s.HTTP(t, "GET", "/compute/v2.1/servers/"+id, sc.TokenID, "")
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"OS-EXT-SRV-ATTR:host":"remote-1"`) {
		t.Fatalf("server not on the remote node: %s", body)
	}
}

// TestUnknownStateKeepsPower: a heartbeat that cannot read a guest's
// state (its monitor busy or still starting) neither changes the server's
// power state nor counts the guest as missing.
func TestUnknownStateKeepsPower(t *testing.T) {
	t.Parallel()
	s := start(t)
	sc := computeClient(t, s, s.Admin(t), "")
	id := createServer(t, sc, "busy", nil)
	waitStatus(t, sc, id, "ACTIVE")
	nc := s.App.Bus.Conn()
	hb := agentapi.Heartbeat{Node: app.NodeName(s.App.Config), Time: time.Now().UTC(),
		Servers: []agentapi.Observed{{ServerID: id, PowerState: agentapi.PowerNoState, Unknown: true}}}
	for i := 0; i < 3; i++ {
		if err := bus.Publish(nc, agentapi.SubjectHeartbeat, hb); err != nil {
			t.Fatal(err)
		}
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // the controller handles heartbeats as they come
	sv, err := servers.Get(ctx, sc, id).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if sv.PowerState != servers.RUNNING || sv.Fault.Message != "" {
		t.Fatalf("after an unknown-state heartbeat: power %v, fault %+v", sv.PowerState, sv.Fault)
	}
}
