package imageapi_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/imagedata"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/imageimport"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/images"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/tasks"
	"github.com/gophercloud/gophercloud/v2/pagination"

	"github.com/gureum/gureum/internal/config"
	"github.com/gureum/gureum/internal/image"
	"github.com/gureum/gureum/internal/testenv"
)

func TestFormatSafety(t *testing.T) {
	t.Parallel()
	s := testenv.StartServer(t)
	c := imageClient(t, s, s.Admin(t))
	ext := func(typ uint32, payload string) []byte {
		b := make([]byte, 8+(len(payload)+7)&^7)
		binary.BigEndian.PutUint32(b, typ)
		binary.BigEndian.PutUint32(b[4:], uint32(len(payload)))
		copy(b[8:], payload)
		return b
	}
	vmdkDesc := func(desc string) []byte {
		b := make([]byte, 64<<10)
		copy(b, "KDMV")
		binary.LittleEndian.PutUint64(b[12:], 2048)
		binary.LittleEndian.PutUint64(b[28:], 1)
		binary.LittleEndian.PutUint64(b[36:], 20)
		copy(b[512:], desc)
		return b
	}
	vhdFooter := func(diskType uint32) []byte {
		b := make([]byte, 4096)
		f := b[len(b)-512:]
		copy(f, "conectix")
		binary.BigEndian.PutUint64(f[48:], 1<<20)
		binary.BigEndian.PutUint32(f[60:], diskType)
		return b
	}
	cases := []struct {
		name, disk string
		data       []byte
	}{
		{"qcow2 backing file /etc/passwd", "qcow2", qcow2Header(1<<30, "/etc/passwd", 0)},
		{"qcow2 external data file bit", "qcow2", qcow2Header(1<<30, "", 1<<2)},
		{"qcow2 data file extension", "qcow2", qcow2Header(1<<30, "", 0, ext(0x44415441, "/etc/shadow"))},
		{"qcow2 absurd virtual size", "qcow2", qcow2Header(1<<61, "", 0)},
		{"qcow2 declared raw", "raw", qcow2Header(1<<30, "", 0)},
		{"raw declared qcow2", "qcow2", []byte("just some bytes, not a disk image")},
		{"vmdk descriptor file", "vmdk", []byte("# Disk DescriptorFile\nRW 2048 FLAT \"/etc/passwd\" 0\n")},
		{"vmdk flat extent", "vmdk", vmdkDesc("createType=\"monolithicSparse\"\nRW 2048 FLAT \"/etc/passwd\" 0\n")},
		{"vmdk with parent", "vmdk", vmdkDesc("createType=\"monolithicSparse\"\nparentFileNameHint=\"/etc/passwd\"\nRW 2048 SPARSE \"x.vmdk\"\n")},
		{"vmdk split", "vmdk", vmdkDesc("createType=\"twoGbMaxExtentSparse\"\nRW 2048 SPARSE \"x-s001.vmdk\"\n")},
		{"differencing vhd", "vhd", vhdFooter(4)},
		{"vhd declared raw", "raw", vhdFooter(2)},
	}
	for _, tc := range cases {
		img := create(t, c, images.CreateOpts{Name: tc.name, DiskFormat: tc.disk, ContainerFormat: "bare"})
		err := imagedata.Upload(ctx, c, img.ID, bytes.NewReader(tc.data)).ExtractErr()
		wantStatus(t, tc.name, err, 400)
		got, _ := images.Get(ctx, c, img.ID).Extract()
		if got.Status != images.ImageStatusQueued {
			t.Errorf("%s: status %s after rejection", tc.name, got.Status)
		}
		if _, err := os.Stat(s.App.Image.Files().Path(img.ID)); !os.IsNotExist(err) {
			t.Errorf("%s: data kept", tc.name)
		}
	}
	if n := tmpFiles(t, s); len(n) != 0 {
		t.Fatalf("temporary files left: %v", n)
	}
	// Good formats pass and get their virtual size.
	good := []struct {
		name, disk string
		data       []byte
		vsize      int64
	}{
		{"fixed vhd", "vhd", vhdFooter(2), 1 << 20},
		{"sparse vmdk", "vmdk", vmdkDesc("createType=\"monolithicSparse\"\nRW 2048 SPARSE \"x.vmdk\"\n"), 2048 * 512},
	}
	if _, err := exec.LookPath("qemu-img"); err != nil {
		for _, g := range good {
			img := create(t, c, images.CreateOpts{Name: g.name, DiskFormat: g.disk, ContainerFormat: "bare"})
			if err := imagedata.Upload(ctx, c, img.ID, bytes.NewReader(g.data)).ExtractErr(); err != nil {
				t.Fatalf("%s: %v", g.name, err)
			}
			got, _ := images.Get(ctx, c, img.ID).Extract()
			if got.VirtualSize != g.vsize {
				t.Fatalf("%s: virtual size %d", g.name, got.VirtualSize)
			}
		}
	}
}

// TestQemuImgFormats uploads images made by qemu-img itself.
func TestQemuImgFormats(t *testing.T) {
	testenv.RequireBinary(t, "qemu-img")
	t.Parallel()
	s := testenv.StartServer(t)
	c := imageClient(t, s, s.Admin(t))
	dir := t.TempDir()
	mk := func(args ...string) []byte {
		out, err := exec.Command("qemu-img", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("qemu-img %v: %v %s", args, err, out)
		}
		b, err := os.ReadFile(args[len(args)-2])
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, f := range []string{"qcow2", "vmdk", "vhdx", "vdi"} {
		data := mk("create", "-f", f, filepath.Join(dir, "a."+f), "64M")
		img := create(t, c, images.CreateOpts{Name: f, DiskFormat: f, ContainerFormat: "bare"})
		if err := imagedata.Upload(ctx, c, img.ID, bytes.NewReader(data)).ExtractErr(); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		got, _ := images.Get(ctx, c, img.ID).Extract()
		if got.Status != images.ImageStatusActive || got.VirtualSize != 64<<20 {
			t.Fatalf("%s: %s virtual %d", f, got.Status, got.VirtualSize)
		}
	}
	// A real qcow2 overlay whose backing file is /etc/passwd.
	data := mk("create", "-f", "qcow2", "-F", "raw", "-b", "/etc/passwd", filepath.Join(dir, "evil.qcow2"), "1M")
	img := create(t, c, images.CreateOpts{Name: "evil", DiskFormat: "qcow2", ContainerFormat: "bare"})
	wantStatus(t, "backing file", imagedata.Upload(ctx, c, img.ID, bytes.NewReader(data)).ExtractErr(), 400)
}

func TestQuota(t *testing.T) { t.Parallel(); quota(t) }

// TestQuotaPostgres exercises the quota lock of PostgreSQL.
func TestQuotaPostgres(t *testing.T) { t.Parallel(); quota(t, testenv.WithPostgres(t)) }

func quota(t *testing.T, opts ...testenv.Option) {
	opts = append(opts, func(c *config.Config) { c.Image.QuotaImages = 3; c.Image.QuotaBytes = 1000 })
	s := testenv.StartServer(t, opts...)
	p := s.CreateProjectUser(t, "q", "quinn", "member")
	c := imageClient(t, s, s.LoginProject(t, p))
	rawImage(t, c, "a", make([]byte, 600))
	b := create(t, c, images.CreateOpts{Name: "b", DiskFormat: "raw", ContainerFormat: "bare"})
	// 600 + 500 > 1000 bytes: 413, image back to queued.
	wantStatus(t, "over byte quota", imagedata.Upload(ctx, c, b.ID, bytes.NewReader(make([]byte, 500))).ExtractErr(), 413)
	got, _ := images.Get(ctx, c, b.ID).Extract()
	if got.Status != images.ImageStatusQueued {
		t.Fatalf("status %s", got.Status)
	}
	if err := imagedata.Upload(ctx, c, b.ID, bytes.NewReader(make([]byte, 400))).ExtractErr(); err != nil {
		t.Fatalf("within quota: %v", err)
	}
	create(t, c, images.CreateOpts{Name: "c"})
	_, err := images.Create(ctx, c, images.CreateOpts{Name: "d"}).Extract()
	wantStatus(t, "over image count", err, 413)
	// Usage reports it.
	resp, body := s.HTTP(t, "GET", "/image/v2/info/usage", c.TokenID, "")
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"image_count_total":{"limit":3,"usage":3}`) {
		t.Fatalf("usage %d %s", resp.StatusCode, body)
	}
}

func TestImportAndTasks(t *testing.T) {
	t.Parallel()
	s := testenv.StartServer(t)
	c := imageClient(t, s, s.Admin(t))
	info, err := imageimport.Get(ctx, c).Extract()
	if err != nil || len(info.ImportMethods.Value) != 1 || info.ImportMethods.Value[0] != "glance-direct" {
		t.Fatalf("import info %+v %v", info, err)
	}
	img := create(t, c, images.CreateOpts{Name: "imp", DiskFormat: "raw", ContainerFormat: "bare"})
	// Import before staging: 409.
	wantStatus(t, "import unstaged", imageimport.Create(ctx, c, img.ID, imageimport.CreateOpts{Name: imageimport.GlanceDirectMethod}).ExtractErr(), 409)
	data := []byte("staged bytes")
	if err := imagedata.Stage(ctx, c, img.ID, bytes.NewReader(data)).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	got, _ := images.Get(ctx, c, img.ID).Extract()
	if got.Status != images.ImageStatusUploading {
		t.Fatalf("after stage %s", got.Status)
	}
	wantStatus(t, "web-download", imageimport.Create(ctx, c, img.ID, imageimport.CreateOpts{Name: imageimport.WebDownloadMethod, URI: "http://x"}).ExtractErr(), 400)
	if err := imageimport.Create(ctx, c, img.ID, imageimport.CreateOpts{Name: imageimport.GlanceDirectMethod}).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	got, _ = images.Get(ctx, c, img.ID).Extract()
	md := md5.Sum(data)
	if got.Status != images.ImageStatusActive || got.Checksum != hex.EncodeToString(md[:]) {
		t.Fatalf("after import %+v", got)
	}
	body, _ := download(t, c, img.ID)
	if !bytes.Equal(body, data) {
		t.Fatalf("imported data %q", body)
	}
	// A failed import (qcow2 declared, raw staged) goes back to queued and
	// says why in its task.
	bad := create(t, c, images.CreateOpts{Name: "bad", DiskFormat: "qcow2", ContainerFormat: "bare"})
	if err := imagedata.Stage(ctx, c, bad.ID, strings.NewReader("not qcow2")).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	if err := imageimport.Create(ctx, c, bad.ID, imageimport.CreateOpts{Name: imageimport.GlanceDirectMethod}).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	got, _ = images.Get(ctx, c, bad.ID).Extract()
	if got.Status != images.ImageStatusQueued || got.Properties["os_glance_failed_import"] != "file" {
		t.Fatalf("after failed import %+v", got)
	}
	var all []tasks.Task
	err = tasks.List(c, tasks.ListOpts{}).EachPage(ctx, func(_ context.Context, p pagination.Page) (bool, error) {
		ts, err := tasks.ExtractTasks(p)
		all = append(all, ts...)
		return true, err
	})
	if err != nil || len(all) != 2 {
		t.Fatalf("tasks %d %v", len(all), err)
	}
	var failed *tasks.Task
	for _, tk := range all {
		full, err := tasks.Get(ctx, c, tk.ID).Extract()
		if err != nil {
			t.Fatal(err)
		}
		if full.Status == "failure" {
			failed = full
		}
	}
	if failed == nil || !strings.Contains(failed.Message, "qcow2") {
		t.Fatalf("failed task %+v", failed)
	}
	if _, err := os.Stat(s.App.Image.Files().StagePath(bad.ID)); !os.IsNotExist(err) {
		t.Fatal("staged data kept after a failed import")
	}
}

// TestInterruptedUpload cuts an upload off halfway: the image goes back to
// queued with nothing stored and no temporary file.
func TestInterruptedUpload(t *testing.T) {
	t.Parallel()
	s := testenv.StartServer(t)
	c := imageClient(t, s, s.Admin(t))
	img := create(t, c, images.CreateOpts{Name: "cut", DiskFormat: "raw", ContainerFormat: "bare"})
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "PUT /image/v2/images/%s/file HTTP/1.1\r\nHost: x\r\nX-Auth-Token: %s\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n", img.ID, c.TokenID, 10<<20)
	if _, err := conn.Write(make([]byte, 3<<20)); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, "upload to start", func() bool {
		got, _ := images.Get(ctx, c, img.ID).Extract()
		return got.Status == images.ImageStatusSaving
	})
	conn.Close()
	testenv.Eventually(t, 10*time.Second, "image back to queued", func() bool {
		got, _ := images.Get(ctx, c, img.ID).Extract()
		return got.Status == images.ImageStatusQueued
	})
	if n := tmpFiles(t, s); len(n) != 0 {
		t.Fatalf("temporary files left: %v", n)
	}
	if _, err := os.Stat(s.App.Image.Files().Path(img.ID)); !os.IsNotExist(err) {
		t.Fatal("data stored")
	}
	// And a new upload works.
	if err := imagedata.Upload(ctx, c, img.ID, strings.NewReader("whole")).ExtractErr(); err != nil {
		t.Fatal(err)
	}
}

func TestRestartKeepsEverything(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	inDir := func(c *config.Config) { c.DataDir = dir; c.Image.Dir = "" }
	s := testenv.StartServer(t, inDir)
	c := imageClient(t, s, s.Admin(t))
	img := rawImage(t, c, "keep", []byte("persistent"))
	p2 := s.CreateProjectUser(t, "p2", "bob", "member")
	if resp, b := s.HTTP(t, "POST", "/image/v2/images/"+img.ID+"/members", c.TokenID, `{"member":"`+p2.ID+`"}`); resp.StatusCode != 200 {
		t.Fatalf("add member %d %s", resp.StatusCode, b)
	}
	// What a crash could leave: an image stuck in saving, a temporary
	// file, data no image owns; and a file that is not ours.
	stuck := create(t, c, images.CreateOpts{Name: "stuck", DiskFormat: "raw", ContainerFormat: "bare"})
	if _, err := s.App.Image.Update(ctx, stuck.ID, func(i *image.Image) error { i.Status = image.StatusSaving; return nil }); err != nil {
		t.Fatal(err)
	}
	imgDir := s.Config.Image.Dir
	orphan := filepath.Join(imgDir, "6c1b8a4e-0000-4000-8000-000000000001")
	for _, p := range []string{orphan, filepath.Join(imgDir, ".tmp", "x-123"), filepath.Join(imgDir, "notes.txt")} {
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s.Stop()

	s = testenv.StartServer(t, inDir)
	c = imageClient(t, s, s.Admin(t))
	got, err := images.Get(ctx, c, img.ID).Extract()
	if err != nil || got.Status != images.ImageStatusActive || got.Checksum != img.Checksum {
		t.Fatalf("after restart %+v %v", got, err)
	}
	body, _ := download(t, c, img.ID)
	if string(body) != "persistent" {
		t.Fatalf("data after restart %q", body)
	}
	resp, b := s.HTTP(t, "GET", "/image/v2/images/"+img.ID+"/members/"+p2.ID, c.TokenID, "")
	if resp.StatusCode != 200 {
		t.Fatalf("member after restart %d %s", resp.StatusCode, b)
	}
	if got, _ := images.Get(ctx, c, stuck.ID).Extract(); got.Status != images.ImageStatusQueued {
		t.Fatalf("interrupted upload left %s", got.Status)
	}
	if _, err := os.Stat(orphan); !os.IsNotExist(err) {
		t.Fatal("orphan data kept")
	}
	if n := tmpFiles(t, s); len(n) != 0 {
		t.Fatalf("temporary files kept: %v", n)
	}
	if _, err := os.Stat(filepath.Join(imgDir, "notes.txt")); err != nil {
		t.Fatal("a file that is not an image was removed")
	}
}

// zeros is an endless stream of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// TestSparseGiBUpload streams 1 GiB through the API and checks the hashes,
// that the file is stored sparse and that the heap stays flat while the
// data flows (the server runs in this process, so its heap is ours).
func TestSparseGiBUpload(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 1 GiB")
	}
	s := testenv.StartServer(t)
	c := imageClient(t, s, s.Admin(t))
	img := create(t, c, images.CreateOpts{Name: "big", DiskFormat: "raw", ContainerFormat: "bare"})
	const size = 1 << 30
	var peak atomic.Uint64
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	before := ms.HeapInuse
	done := make(chan struct{})
	go func() {
		var m runtime.MemStats
		for {
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
		}
	}()
	// md5sum and sha512sum of 1 GiB of zeros.
	const wantMD5 = "cd573cfaace07e7949bc0c46028904ff"
	const wantSHA = "c5041ae163cf0f65600acfe7f6a63f212101687d41a57a4e18ffd2a07a452cd8175b8f5a4868dd2330bfe5ae123f18216bdbc9e0f80d131e64b94913a7b40bb5"
	err := imagedata.Upload(ctx, c, img.ID, io.LimitReader(zeros{}, size)).ExtractErr()
	close(done)
	if err != nil {
		t.Fatal(err)
	}
	growth := int64(peak.Load()) - int64(before)
	t.Logf("heap in use before %d MiB, peak during upload %d MiB (growth %d MiB)", before>>20, peak.Load()>>20, growth>>20)
	if growth > 64<<20 {
		t.Fatalf("heap grew by %d MiB while streaming 1 GiB", growth>>20)
	}
	got, _ := images.Get(ctx, c, img.ID).Extract()
	if got.SizeBytes != size || got.Checksum != wantMD5 || got.Properties["os_hash_value"] != wantSHA {
		t.Fatalf("hashes: %+v", got)
	}
	if blocks, ok := allocated(s.App.Image.Files().Path(img.ID)); ok && blocks > 1<<20 {
		t.Fatalf("1 GiB of zeros takes %d bytes on disk: not sparse", blocks)
	}
}

// allocated returns the bytes a file takes on disk.
func allocated(path string) (int64, bool) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return st.Blocks * 512, true
}

// TestUploadRaces: a second upload while one streams is a 409; deleting
// the image mid-upload wins, the upload ends with 410 and leaves nothing.
func TestUploadRaces(t *testing.T) {
	t.Parallel()
	s := testenv.StartServer(t)
	c := imageClient(t, s, s.Admin(t))
	img := create(t, c, images.CreateOpts{Name: "race", DiskFormat: "raw", ContainerFormat: "bare"})
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- imagedata.Upload(ctx, c, img.ID, pr).ExtractErr() }()
	if _, err := pw.Write(make([]byte, 2<<20)); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, "upload to start", func() bool {
		got, _ := images.Get(ctx, c, img.ID).Extract()
		return got.Status == images.ImageStatusSaving
	})
	wantStatus(t, "second upload", imagedata.Upload(ctx, c, img.ID, strings.NewReader("x")).ExtractErr(), 409)
	if err := images.Delete(ctx, c, img.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	if _, err := pw.Write(make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	wantStatus(t, "upload of a deleted image", <-done, 410)
	if n := tmpFiles(t, s); len(n) != 0 {
		t.Fatalf("temporary files left: %v", n)
	}
	if _, err := os.Stat(s.App.Image.Files().Path(img.ID)); !os.IsNotExist(err) {
		t.Fatal("data of a deleted image kept")
	}
}

// TestHashAlgoConfig: image.hash_algo picks the os_hash_algo.
func TestHashAlgoConfig(t *testing.T) {
	t.Parallel()
	s := testenv.StartServer(t, func(c *config.Config) { c.Image.HashAlgo = "sha256" })
	c := imageClient(t, s, s.Admin(t))
	data := []byte("hash me")
	img := rawImage(t, c, "h", data)
	sum := sha256.Sum256(data)
	if img.Properties["os_hash_algo"] != "sha256" || img.Properties["os_hash_value"] != hex.EncodeToString(sum[:]) {
		t.Fatalf("hash %v %v", img.Properties["os_hash_algo"], img.Properties["os_hash_value"])
	}
}
