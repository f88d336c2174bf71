package store_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/gureum/gureum/internal/image"
	"github.com/gureum/gureum/internal/store"
	"github.com/gureum/gureum/internal/store/storetest"
)

// TestImageListPlans prints query plans and timings of list queries over
// 10,000 images (a development aid: GUREUM_IMAGE_PLANS=1).
func TestImageListPlans(t *testing.T) {
	if os.Getenv("GUREUM_IMAGE_PLANS") == "" {
		t.Skip("set GUREUM_IMAGE_PLANS=1")
	}
	db := storetest.SQLite(t)
	ctx := context.Background()
	s := store.NewImage(db)
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	distros := []string{"ubuntu", "debian", "fedora", "cirros"}
	vis := []string{image.Shared, image.Private, image.Public, image.Community}
	owners := []string{"p1", "pa", "pb"}
	for i := 0; i < 10000; i++ {
		img := &image.Image{ID: fmt.Sprintf("00000000-0000-0000-0000-%012d", i), Name: fmt.Sprintf("image-%05d", i), Status: "queued",
			DiskFormat: []string{"qcow2", "raw", "vmdk"}[i%3], ContainerFormat: "bare", Visibility: vis[i%4], Owner: owners[i%3],
			Properties: map[string]string{"os_distro": distros[i%4], "hw_disk_bus": "virtio"}, Tags: []string{fmt.Sprintf("batch-%d", i%10)},
			CreatedAt: base.Add(time.Duration(i) * time.Second), UpdatedAt: base}
		if i%7 == 0 {
			img.Tags = append(img.Tags, "gpu")
		}
		if err := s.CreateImage(ctx, img, 0); err != nil {
			t.Fatal(err)
		}
	}
	no := false
	for name, f := range map[string]image.ListFilter{
		"member default":  {Project: "p1", Hidden: &no, Limit: 26},
		"member name":     {Project: "p1", Hidden: &no, Limit: 101, Sort: []image.SortKey{{Key: "name"}}},
		"admin distro":    {Admin: true, Hidden: &no, Limit: 51, Properties: map[string]string{"os_distro": "ubuntu"}, DiskFormats: []string{"qcow2"}},
		"member distro":   {Project: "p1", Hidden: &no, Limit: 51, Properties: map[string]string{"os_distro": "ubuntu"}, DiskFormats: []string{"qcow2"}},
		"admin tag name":  {Admin: true, Hidden: &no, Limit: 26, Tags: []string{"gpu"}, Sort: []image.SortKey{{Key: "name"}, {Key: "created_at", Desc: true}}},
		"member tag name": {Project: "p1", Hidden: &no, Limit: 26, Tags: []string{"gpu"}, Sort: []image.SortKey{{Key: "name"}, {Key: "created_at", Desc: true}}},
	} {
		var imgs []*image.Image
		var err error
		start := time.Now()
		for i := 0; i < 10; i++ {
			imgs, err = s.ListImages(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
		}
		f.Marker = imgs[len(imgs)-1]
		start2 := time.Now()
		for i := 0; i < 10; i++ {
			if _, err = s.ListImages(ctx, f); err != nil {
				t.Fatal(err)
			}
		}
		t.Logf("%-16s first page %6.2f ms, next page %6.2f ms", name, float64(start2.Sub(start).Microseconds())/10000, float64(time.Since(start2).Microseconds())/10000)
		q, args := store.ImageListSQL(db, f)
		rows, err := db.SQL().QueryContext(ctx, "EXPLAIN QUERY PLAN "+q, args...)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var id, parent, notused int
			var detail string
			_ = rows.Scan(&id, &parent, &notused, &detail)
			t.Logf("    %s", detail)
		}
		rows.Close()
	}
}
