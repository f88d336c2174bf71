package computeapi_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/instanceactions"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/gureum/gureum/internal/testenv"
)

// TestRescue drives rescue/unrescue through gophercloud on the fake
// driver: the server's own image by default or a given one, RESCUE and
// back to ACTIVE, from ACTIVE, SHUTOFF and ERROR only, the errors nova
// answers, policy, and the instance actions.
func TestRescue(t *testing.T) {
	t.Parallel()
	s := start(t)
	p := s.CreateProjectUser(t, "rs-p", "rs-alice", "member")
	pc := s.LoginProject(t, p)
	sc := computeClient(t, s, pc, "2.36") // networks may be left out
	id := createServer(t, sc, "rs-1", nil)
	waitStatus(t, sc, id, "ACTIVE")
	console := func() string {
		out, err := servers.ShowConsoleOutput(ctx, sc, id, servers.ShowConsoleOutputOpts{}).Extract()
		if err != nil {
			t.Fatal(err)
		}
		return out
	}

	pass, err := servers.Rescue(ctx, sc, id, servers.RescueOpts{AdminPass: "rescue-pw"}).Extract()
	if err != nil || pass != "rescue-pw" {
		t.Fatalf("rescue: %q %v", pass, err)
	}
	waitStatus(t, sc, id, "RESCUE")
	if c := console(); !strings.Contains(c, "rescue boot from "+testImage) {
		t.Fatalf("console after rescue:\n%s", c)
	}
	if got := listServers(t, sc, servers.ListOpts{Status: "RESCUE"}); len(got) != 1 || got[0].ID != id {
		t.Fatalf("status=RESCUE lists %d", len(got))
	}
	_, err = servers.Rescue(ctx, sc, id, servers.RescueOpts{}).Extract()
	wantCode(t, "rescue a rescued server", err, http.StatusConflict)
	wantCode(t, "stop a rescued server", servers.Stop(ctx, sc, id).ExtractErr(), http.StatusConflict)
	if err := servers.Unrescue(ctx, sc, id).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, sc, id, "ACTIVE")
	wantCode(t, "unrescue an active server", servers.Unrescue(ctx, sc, id).ExtractErr(), http.StatusConflict)

	// Another image; the password is generated.
	pass, err = servers.Rescue(ctx, sc, id, servers.RescueOpts{RescueImageRef: otherImage}).Extract()
	if err != nil || len(pass) < 8 {
		t.Fatalf("rescue with an image: %q %v", pass, err)
	}
	waitStatus(t, sc, id, "RESCUE")
	if c := console(); !strings.Contains(c, "rescue boot from "+otherImage) {
		t.Fatalf("console after rescue with %s:\n%s", otherImage, c)
	}
	if err := servers.Unrescue(ctx, sc, id).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, sc, id, "ACTIVE")

	// Bad requests.
	tok := pc.Token()
	for body, code := range map[string]int{
		`{"rescue": {"rescue_image_ref": "8c1a1f62-0d47-4f5b-9d1b-3a8f5d7c0e11"}}`: 400,
		`{"rescue": {"rescue_image_ref": "not-a-uuid"}}`:                           400,
		`{"rescue": {"bogus": 1}}`:                                                 400,
		`{"rescue": {"adminPass": 5}}`:                                             400,
	} {
		resp, raw := s.HTTP(t, "POST", "/compute/v2.1/servers/"+id+"/action", tok, body)
		if resp.StatusCode != code {
			t.Errorf("%s: %d %s, want %d", body, resp.StatusCode, raw, code)
		}
	}
	resp, raw := s.HTTP(t, "POST", "/compute/v2.1/servers/"+id+"/action", tok, `{"rescue": null}`)
	if resp.StatusCode != 200 || !strings.Contains(string(raw), `"adminPass"`) {
		t.Fatalf("rescue null: %d %s", resp.StatusCode, raw)
	}
	waitStatus(t, sc, id, "RESCUE")
	resp, raw = s.HTTP(t, "POST", "/compute/v2.1/servers/"+id+"/action", tok, `{"unrescue": null}`)
	if resp.StatusCode != 202 {
		t.Fatalf("unrescue null: %d %s", resp.StatusCode, raw)
	}
	waitStatus(t, sc, id, "ACTIVE")

	// From SHUTOFF: unrescue boots it (ACTIVE).
	if err := servers.Stop(ctx, sc, id).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, sc, id, "SHUTOFF")
	if _, err := servers.Rescue(ctx, sc, id, servers.RescueOpts{}).Extract(); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, sc, id, "RESCUE")
	if err := servers.Unrescue(ctx, sc, id).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	if sv := waitStatus(t, sc, id, "ACTIVE"); sv.PowerState != servers.RUNNING {
		t.Fatalf("power after unrescue %v", sv.PowerState)
	}

	// From ERROR (a failed rebuild).
	e := createServer(t, sc, "rs-err", map[string]string{"fake:fail": "rebuild"})
	waitStatus(t, sc, e, "ACTIVE")
	if err := servers.Rebuild(ctx, sc, e, servers.RebuildOpts{ImageRef: testImage}).Err; err != nil {
		t.Fatal(err)
	}
	waitStatus(t, sc, e, "ERROR")
	if _, err := servers.Rescue(ctx, sc, e, servers.RescueOpts{}).Extract(); err != nil {
		t.Fatalf("rescue an ERROR server: %v", err)
	}
	// The server shows ERROR until the rescue lands (its vm_state changes
	// only then, as nova's does): waitStatus would stop at the first ERROR.
	testenv.Eventually(t, 20*time.Second, "server "+e+" to become RESCUE", func() bool {
		sv, err := servers.Get(ctx, sc, e).Extract()
		return err == nil && sv.Status == "RESCUE"
	})
	if err := servers.Unrescue(ctx, sc, e).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, sc, e, "ACTIVE")

	// Not from BUILD, PAUSED; not when locked; not for readers or others.
	h := createServer(t, sc, "rs-build", map[string]string{"fake:hang": "spawn"})
	_, err = servers.Rescue(ctx, sc, h, servers.RescueOpts{}).Extract()
	wantCode(t, "rescue a building server", err, http.StatusConflict)
	_ = servers.Delete(ctx, sc, h).ExtractErr()
	if err := servers.Pause(ctx, sc, id).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, sc, id, "PAUSED")
	_, err = servers.Rescue(ctx, sc, id, servers.RescueOpts{}).Extract()
	wantCode(t, "rescue a paused server", err, http.StatusConflict)
	if err := servers.Unpause(ctx, sc, id).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, sc, id, "ACTIVE")
	if err := servers.Lock(ctx, sc, id).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	_, err = servers.Rescue(ctx, sc, id, servers.RescueOpts{}).Extract()
	wantCode(t, "rescue a locked server", err, http.StatusConflict)
	if err := servers.Unlock(ctx, sc, id).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	r := s.CreateProjectUser(t, "rs-p", "rs-reader", "reader")
	_, err = servers.Rescue(ctx, computeClient(t, s, s.LoginProject(t, r), "2.38"), id, servers.RescueOpts{}).Extract()
	wantCode(t, "reader rescue", err, http.StatusForbidden)
	q := s.CreateProjectUser(t, "rs-q", "rs-bob", "member")
	_, err = servers.Rescue(ctx, computeClient(t, s, s.LoginProject(t, q), "2.38"), id, servers.RescueOpts{}).Extract()
	wantCode(t, "other project's rescue", err, http.StatusNotFound)

	// Instance actions with their events.
	pages, err := instanceactions.List(sc, id, nil).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	acts, _ := instanceactions.ExtractInstanceActions(pages)
	count := map[string]int{}
	var req string
	for _, a := range acts {
		count[a.Action]++
		if a.Action == "unrescue" {
			req = a.RequestID
		}
	}
	if count["rescue"] != 4 || count["unrescue"] != 4 {
		t.Fatalf("actions %v", count)
	}
	act, err := instanceactions.Get(ctx, sc, id, req).Extract()
	if err != nil || act.Events == nil || len(*act.Events) != 1 || (*act.Events)[0].Event != "compute_unrescue_instance" || (*act.Events)[0].Result != "Success" {
		t.Fatalf("unrescue action %+v %v", act, err)
	}
}

// TestRescueFailure: a rescue the node fails turns the server ERROR with
// the node's fault and no task state (it can be rescued again or deleted),
// and its action's event is an Error.
func TestRescueFailure(t *testing.T) {
	t.Parallel()
	s := start(t)
	p := s.CreateProjectUser(t, "rf-p", "rf-alice", "member")
	sc := computeClient(t, s, s.LoginProject(t, p), "2.36")
	id := createServer(t, sc, "rf-1", map[string]string{"fake:fail": "rescue"})
	waitStatus(t, sc, id, "ACTIVE")
	if _, err := servers.Rescue(ctx, sc, id, servers.RescueOpts{}).Extract(); err != nil {
		t.Fatal(err)
	}
	sv := waitStatus(t, sc, id, "ERROR")
	if sv.Fault.Code != 500 || !strings.Contains(sv.Fault.Message, "failed as asked") || sv.TaskState != "" {
		t.Fatalf("after the failed rescue: fault %+v, task state %q", sv.Fault, sv.TaskState)
	}
	wantCode(t, "unrescue a server the rescue failed", servers.Unrescue(ctx, sc, id).ExtractErr(), http.StatusConflict)
	pages, err := instanceactions.List(sc, id, nil).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	acts, _ := instanceactions.ExtractInstanceActions(pages)
	for _, a := range acts {
		if a.Action != "rescue" {
			continue
		}
		act, err := instanceactions.Get(ctx, sc, id, a.RequestID).Extract()
		if err != nil || act.Events == nil || len(*act.Events) != 1 || (*act.Events)[0].Event != "compute_rescue_instance" || (*act.Events)[0].Result != "Error" {
			t.Fatalf("failed rescue action %+v %v", act, err)
		}
	}
	// No task state left: rescued again from ERROR.
	if _, err := servers.Rescue(ctx, sc, id, servers.RescueOpts{}).Extract(); err != nil {
		t.Fatalf("rescue from ERROR: %v", err)
	}
}
