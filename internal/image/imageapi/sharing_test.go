package imageapi_test

import (
	"context"
	"testing"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/images"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/members"
	"github.com/gophercloud/gophercloud/v2/pagination"

	"github.com/gureum/gureum/internal/testenv"
)

// visible lists the names of the images a client sees, following next links.
func visible(t *testing.T, sc *gophercloud.ServiceClient, opts images.ListOpts) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	err := images.List(sc, opts).EachPage(ctx, func(_ context.Context, p pagination.Page) (bool, error) {
		is, err := images.ExtractImages(p)
		for _, i := range is {
			out[i.Name] = true
		}
		return true, err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSharingAndPolicy(t *testing.T) { t.Parallel(); sharingAndPolicy(t) }

// TestSharingAndPolicyPostgres runs the same against PostgreSQL (skipped unless
// GUREUM_TEST_POSTGRES is set, as in CI).
func TestSharingAndPolicyPostgres(t *testing.T) {
	t.Parallel()
	sharingAndPolicy(t, testenv.WithPostgres(t))
}

func sharingAndPolicy(t *testing.T, opts ...testenv.Option) {
	s := testenv.StartServer(t, opts...)
	p1 := s.CreateProjectUser(t, "p1", "alice", "member")
	p2 := s.CreateProjectUser(t, "p2", "bob", "member")
	p3 := s.CreateProjectUser(t, "p3", "carol", "reader")
	c1 := imageClient(t, s, s.LoginProject(t, p1))
	c2 := imageClient(t, s, s.LoginProject(t, p2))
	c3 := imageClient(t, s, s.LoginProject(t, p3))
	admin := imageClient(t, s, s.Admin(t))

	shared := rawImage(t, c1, "shared", []byte("shared data"))
	private := create(t, c1, images.CreateOpts{Name: "private", Visibility: ptr(images.ImageVisibilityPrivate)})
	community := create(t, c1, images.CreateOpts{Name: "community", Visibility: ptr(images.ImageVisibilityCommunity)})

	// Only admins publicize.
	_, err := images.Create(ctx, c1, images.CreateOpts{Name: "pub", Visibility: ptr(images.ImageVisibilityPublic)}).Extract()
	wantStatus(t, "member creates public", err, 403)
	_, err = images.Update(ctx, c1, shared.ID, images.UpdateOpts{images.UpdateVisibility{Visibility: images.ImageVisibilityPublic}}).Extract()
	wantStatus(t, "member publicizes", err, 403)
	public := create(t, admin, images.CreateOpts{Name: "public", Visibility: ptr(images.ImageVisibilityPublic)})

	// Another project sees neither shared nor private images (404, not 403).
	wantStatus(t, "p2 get shared", images.Get(ctx, c2, shared.ID).Err, 404)
	wantStatus(t, "p2 get private", images.Get(ctx, c2, private.ID).Err, 404)
	wantStatus(t, "p2 deletes", images.Delete(ctx, c2, shared.ID).ExtractErr(), 404)
	if _, err := images.Get(ctx, c2, community.ID).Extract(); err != nil {
		t.Fatalf("community image hidden: %v", err)
	}
	if _, err := images.Get(ctx, c2, public.ID).Extract(); err != nil {
		t.Fatalf("public image hidden: %v", err)
	}
	v := visible(t, c2, images.ListOpts{})
	if !v["public"] || v["shared"] || v["private"] || v["community"] {
		t.Fatalf("p2 default list: %v", v)
	}
	if v := visible(t, c2, images.ListOpts{Visibility: images.ImageVisibilityCommunity}); !v["community"] || len(v) != 1 {
		t.Fatalf("p2 community list: %v", v)
	}
	// p2 may not modify a public image.
	_, err = images.Update(ctx, c2, public.ID, images.UpdateOpts{images.ReplaceImageName{NewName: "mine"}}).Extract()
	wantStatus(t, "p2 modifies public", err, 403)

	// Members only on shared images; owner adds p2.
	_, err = members.Create(ctx, c1, private.ID, p2.ID).Extract()
	wantStatus(t, "member on private image", err, 403)
	m, err := members.Create(ctx, c1, shared.ID, p2.ID).Extract()
	if err != nil || m.Status != "pending" {
		t.Fatalf("add member: %+v %v", m, err)
	}
	_, err = members.Create(ctx, c1, shared.ID, p2.ID).Extract()
	wantStatus(t, "duplicate member", err, 409)
	// p2 (pending) can GET it but does not list it until accepted.
	if _, err := images.Get(ctx, c2, shared.ID).Extract(); err != nil {
		t.Fatalf("member get: %v", err)
	}
	if v := visible(t, c2, images.ListOpts{}); v["shared"] {
		t.Fatal("pending member lists the image")
	}
	if v := visible(t, c2, images.ListOpts{MemberStatus: "pending"}); !v["shared"] {
		t.Fatal("member_status=pending does not list it")
	}
	// The owner cannot accept for the member; p3 cannot see the membership.
	_, err = members.Update(ctx, c1, shared.ID, p2.ID, members.UpdateOpts{Status: "accepted"}).Extract()
	wantStatus(t, "owner accepts", err, 403)
	_, err = members.Get(ctx, c3, shared.ID, p2.ID).Extract()
	wantStatus(t, "p3 reads membership", err, 404)
	m, err = members.Update(ctx, c2, shared.ID, p2.ID, members.UpdateOpts{Status: "accepted"}).Extract()
	if err != nil || m.Status != "accepted" {
		t.Fatalf("accept: %+v %v", m, err)
	}
	if v := visible(t, c2, images.ListOpts{}); !v["shared"] {
		t.Fatal("accepted member does not list the image")
	}
	// A member may download but not modify or delete.
	body, _ := download(t, c2, shared.ID)
	if string(body) != "shared data" {
		t.Fatalf("member download %q", body)
	}
	_, err = images.Update(ctx, c2, shared.ID, images.UpdateOpts{images.ReplaceImageName{NewName: "x"}}).Extract()
	wantStatus(t, "member modifies", err, 403)
	wantStatus(t, "member deletes", images.Delete(ctx, c2, shared.ID).ExtractErr(), 403)
	// Member list: the owner sees all, the member itself.
	all, err := members.List(c1, shared.ID).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ms, _ := members.ExtractMembers(all)
	if len(ms) != 1 || ms[0].MemberID != p2.ID {
		t.Fatalf("members %+v", ms)
	}
	// A reader-only project cannot create images.
	_, err = images.Create(ctx, c3, images.CreateOpts{Name: "r"}).Extract()
	wantStatus(t, "reader creates", err, 403)
	// Deactivated: members get 403 on download, admins may.
	resp, _ := s.HTTP(t, "POST", "/image/v2/images/"+shared.ID+"/actions/deactivate", c1.TokenID, "")
	if resp.StatusCode != 204 {
		t.Fatalf("deactivate %d", resp.StatusCode)
	}
	resp, _ = s.HTTP(t, "GET", "/image/v2/images/"+shared.ID+"/file", c2.TokenID, "")
	if resp.StatusCode != 403 {
		t.Fatalf("download deactivated: %d", resp.StatusCode)
	}
	resp, _ = s.HTTP(t, "GET", "/image/v2/images/"+shared.ID+"/file", admin.TokenID, "")
	if resp.StatusCode != 200 {
		t.Fatalf("admin download deactivated: %d", resp.StatusCode)
	}
	// Removing the member hides the image again.
	if err := members.Delete(ctx, c1, shared.ID, p2.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, "removed member get", images.Get(ctx, c2, shared.ID).Err, 404)
	// The admin sees everything.
	if v := visible(t, admin, images.ListOpts{}); !v["shared"] || !v["private"] || !v["public"] {
		t.Fatalf("admin list %v", v)
	}
}

func ptr[T any](v T) *T { return &v }
