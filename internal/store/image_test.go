package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gureum/gureum/internal/image"
	"github.com/gureum/gureum/internal/platform/errs"
	"github.com/gureum/gureum/internal/store"
	"github.com/gureum/gureum/internal/store/storetest"
)

func newImage(id, owner, vis string, created time.Time) *image.Image {
	return &image.Image{ID: id, Name: "n-" + id, Status: image.StatusQueued, Visibility: vis, Owner: owner,
		Tags: []string{"t"}, Properties: map[string]string{"k": "v"}, CreatedAt: created, UpdatedAt: created}
}

func TestImageStore(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := store.NewImage(db)
		base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		for i, vis := range []string{image.Shared, image.Private, image.Public, image.Community, image.Shared} {
			owner := "p1"
			if i >= 3 {
				owner = "p2"
			}
			if err := s.CreateImage(ctx, newImage(fmt.Sprintf("00000000-0000-0000-0000-00000000000%d", i), owner, vis, base.Add(time.Duration(i)*time.Second)), 0); err != nil {
				t.Fatal(err)
			}
		}
		// Quota on count.
		err := s.CreateImage(ctx, newImage("00000000-0000-0000-0000-000000000009", "p1", image.Shared, base), 3)
		if !errs.Is(err, errs.KindOverQuota) {
			t.Fatalf("quota: %v", err)
		}
		// Duplicate ID.
		if err := s.CreateImage(ctx, newImage("00000000-0000-0000-0000-000000000000", "p1", image.Shared, base), 0); !errs.Is(err, errs.KindConflict) {
			t.Fatalf("duplicate: %v", err)
		}
		// p2 sees its own, the public one; the shared p1 image once accepted.
		names := func(f image.ListFilter) []string {
			t.Helper()
			imgs, err := s.ListImages(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, i := range imgs {
				out = append(out, i.ID[len(i.ID)-1:])
			}
			return out
		}
		if got := fmt.Sprint(names(image.ListFilter{Project: "p2"})); got != "[4 3 2]" {
			t.Fatalf("p2 default: %s", got)
		}
		m := &image.Member{ImageID: "00000000-0000-0000-0000-000000000000", MemberID: "p2", Status: image.MemberPending, CreatedAt: base, UpdatedAt: base}
		if err := s.CreateMember(ctx, m, 0); err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(names(image.ListFilter{Project: "p2", MemberStatus: "pending"})); got != "[4 3 2 0]" {
			t.Fatalf("p2 pending: %s", got)
		}
		m.Status = image.MemberAccepted
		if err := s.UpdateMember(ctx, m); err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(names(image.ListFilter{Project: "p2", Sort: []image.SortKey{{Key: "created_at"}}})); got != "[0 2 3 4]" {
			t.Fatalf("p2 accepted asc: %s", got)
		}
		// Keyset paging.
		first, _ := s.ListImages(ctx, image.ListFilter{Admin: true, Limit: 2})
		if got := fmt.Sprint(names(image.ListFilter{Admin: true, Limit: 2, Marker: first[1]})); got != "[2 1]" {
			t.Fatalf("page 2: %s", got)
		}
		if got := fmt.Sprint(names(image.ListFilter{Admin: true, Tags: []string{"t"}, Properties: map[string]string{"k": "v"}, Names: []string{"n-00000000-0000-0000-0000-000000000001"}})); got != "[1]" {
			t.Fatalf("filters: %s", got)
		}
		// Update in a transaction, with usage.
		size := int64(100)
		img, err := s.UpdateImage(ctx, "00000000-0000-0000-0000-000000000001", func(img *image.Image, usage func() (image.Usage, error)) error {
			u, err := usage()
			if err != nil || u.Images != 3 {
				return fmt.Errorf("usage %+v %v", u, err)
			}
			img.Size = &size
			img.Checksum = "abc"
			img.Properties["x"] = "y"
			img.Tags = []string{"a", "b"}
			return nil
		})
		if err != nil || !img.HasData() {
			t.Fatal(err)
		}
		got, _ := s.GetImage(ctx, img.ID)
		if *got.Size != 100 || got.Properties["x"] != "y" || len(got.Tags) != 2 {
			t.Fatalf("after update %+v", got)
		}
		u, _ := s.Usage(ctx, "p1")
		if u.Bytes != 100 {
			t.Fatalf("usage %+v", u)
		}
		if err := s.DeleteImage(ctx, img.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetImage(ctx, img.ID); !errs.Is(err, errs.KindNotFound) {
			t.Fatalf("deleted: %v", err)
		}
	})
}
