package imageapi_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/imagedata"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/images"

	"github.com/gureum/gureum/internal/testenv"
)

var ctx = context.Background()

func imageClient(t testing.TB, s *testenv.Server, pc *gophercloud.ProviderClient) *gophercloud.ServiceClient {
	return s.ServiceClient(t, pc, "image", "v2")
}

func create(t testing.TB, c *gophercloud.ServiceClient, opts images.CreateOpts) *images.Image {
	t.Helper()
	img, err := images.Create(ctx, c, opts).Extract()
	if err != nil {
		t.Fatalf("create %s: %v", opts.Name, err)
	}
	return img
}

func rawImage(t testing.TB, c *gophercloud.ServiceClient, name string, data []byte) *images.Image {
	t.Helper()
	img := create(t, c, images.CreateOpts{Name: name, DiskFormat: "raw", ContainerFormat: "bare"})
	if err := imagedata.Upload(ctx, c, img.ID, bytes.NewReader(data)).ExtractErr(); err != nil {
		t.Fatalf("upload %s: %v", name, err)
	}
	got, err := images.Get(ctx, c, img.ID).Extract()
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func status(err error) int {
	var e gophercloud.ErrUnexpectedResponseCode
	if errors.As(err, &e) {
		return e.Actual
	}
	return 0
}

func wantStatus(t testing.TB, what string, err error, code int) {
	t.Helper()
	if got := status(err); got != code {
		t.Fatalf("%s: want %d, got %d (%v)", what, code, got, err)
	}
}

// qcow2Header builds a qcow2 v3 header: enough for the inspector, which
// refuses these crafted files before anything else looks at them.
func qcow2Header(vsize uint64, backing string, incompat uint64, exts ...[]byte) []byte {
	b := make([]byte, 64<<10)
	be := binary.BigEndian
	copy(b, "QFI\xfb")
	be.PutUint32(b[4:], 3)
	be.PutUint32(b[20:], 16)
	be.PutUint64(b[24:], vsize)
	be.PutUint64(b[72:], incompat)
	be.PutUint32(b[96:], 4)
	be.PutUint32(b[100:], 104)
	off := 104
	for _, e := range exts {
		copy(b[off:], e)
		off += len(e)
	}
	if backing != "" {
		be.PutUint64(b[8:], 4096)
		be.PutUint32(b[16:], uint32(len(backing)))
		copy(b[4096:], backing)
	}
	return b
}

func tmpFiles(t testing.TB, s *testenv.Server) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(s.Config.Image.Dir, ".tmp"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

func download(t testing.TB, c *gophercloud.ServiceClient, id string) ([]byte, http.Header) {
	t.Helper()
	r := imagedata.Download(ctx, c, id)
	if r.Err != nil {
		t.Fatalf("download: %v", r.Err)
	}
	defer r.Body.Close()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b, r.Header
}
