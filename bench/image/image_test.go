// Package image_test holds the image service's benchmarks: data upload and
// download through the API on loopback against dd on the same disk in the
// same run, and listing 10,000 images with filters.
//
//	go test -run '^$' -bench . -benchtime 1x ./bench/image/
//
// GUREUM_BENCH_MB sets the image size (default 1024). Reads on both sides
// start with the file evicted from the page cache, so "read speed" is the
// disk's, as dd measures it. Figures are in docs/benchmarks-image.md.
package image_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha512"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/images"
	"golang.org/x/sys/unix"

	"github.com/gureum/gureum/internal/config"
	"github.com/gureum/gureum/internal/image"
	"github.com/gureum/gureum/internal/testenv"
)

func sizeMB() int64 {
	if v, err := strconv.ParseInt(os.Getenv("GUREUM_BENCH_MB"), 10, 64); err == nil && v > 0 {
		return v
	}
	return 1024
}

// writeSource writes n MiB of incompressible, non-zero data (zeros would
// be stored as holes and flatter the API).
func writeSource(b *testing.B, path string, mib int64) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	r := rand.NewChaCha8([32]byte{1, 2, 3})
	buf := make([]byte, 1<<20)
	for i := int64(0); i < mib; i++ {
		_, _ = r.Read(buf)
		if _, err := f.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
}

// dropCache evicts a file's (clean, fsynced) pages from the page cache so
// the next read comes from the disk.
func dropCache(b *testing.B, path string) {
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		b.Fatal(err)
	}
}

// cpu returns the user+system CPU time of this process (who=RUSAGE_SELF)
// or of its waited-for children (RUSAGE_CHILDREN, the dd runs).
func cpu(who int) time.Duration {
	var ru unix.Rusage
	_ = unix.Getrusage(who, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func mbps(bytes int64, d time.Duration) float64 { return float64(bytes) / (1 << 20) / d.Seconds() }

func timeCmd(b *testing.B, name string, args ...string) time.Duration {
	start := time.Now()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		b.Fatalf("%s %v: %v %s", name, args, err, out)
	}
	return time.Since(start)
}

// heapPeak samples HeapInuse until stop is called and returns the growth
// over the value at the start. The server runs in this process.
func heapPeak() (stop func() uint64) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var peak atomic.Uint64
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	return func() uint64 {
		close(done)
		<-finished
		if p := peak.Load(); p > base {
			return p - base
		}
		return 0
	}
}

// hashRate is one core's md5 or sha512 speed in MiB/s over 256 MiB: the
// API must compute both over every uploaded byte, and neither can be
// split across cores (each block depends on the previous one).
func hashRate(h hash.Hash) float64 {
	buf := make([]byte, 1<<20)
	start := time.Now()
	for i := 0; i < 256; i++ {
		h.Write(buf)
	}
	return 256 / time.Since(start).Seconds()
}

// loopbackRate is the loopback TCP ceiling in MiB/s: a page-cached file
// sent to a reader taking 1 MiB at a time, with no HTTP, hashing or disk
// I/O, the faster of sendfile and plain 1 MiB read/write copies (on this
// VM the copies win). No download through an HTTP API on loopback can be
// faster.
func loopbackRate(b *testing.B, path string) float64 {
	best := 0.0
	for _, sendfile := range []bool{true, false} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		go func() {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
			f, err := os.Open(path)
			if err != nil {
				return
			}
			defer f.Close()
			if sendfile {
				_, _ = io.Copy(c, f)
			} else {
				_, _ = io.CopyBuffer(struct{ io.Writer }{c}, struct{ io.Reader }{f}, make([]byte, 1<<20))
			}
		}()
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		buf := make([]byte, 1<<20)
		start := time.Now()
		n, _ := io.CopyBuffer(struct{ io.Writer }{io.Discard}, c, buf)
		best = max(best, float64(n)/(1<<20)/time.Since(start).Seconds())
		c.Close()
		ln.Close()
	}
	return best
}

func BenchmarkImageData(b *testing.B) {
	mib := sizeMB()
	size := mib << 20
	// GUREUM_BENCH_HASH=sha256 measures image.hash_algo: sha256.
	s := testenv.StartServer(b, func(c *config.Config) { c.Log.Level = "error"; c.Image.HashAlgo = os.Getenv("GUREUM_BENCH_HASH") })
	c := s.ServiceClient(b, s.Admin(b), "image", "v2")
	dir := s.Config.Image.Dir
	src := filepath.Join(s.DataDir, "bench-src.bin")
	writeSource(b, src, mib)
	dd := filepath.Join(dir, "dd.bin")

	var ddW, ddR, upT, downT time.Duration
	var md5Rate, shaRate, loRate float64
	var ddCPU, upCPU, downCPU time.Duration
	buf := make([]byte, 1<<20)
	var upHeap, downHeap uint64
	// The client sends 1 MiB writes, as it reads 1 MiB at a time below
	// (Go's default transport sends request bodies 4 KiB at a time).
	client := &http.Client{Transport: &http.Transport{WriteBufferSize: 1 << 20, ReadBufferSize: 1 << 20}}
	b.SetBytes(size)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// dd: page-cached source to the image disk, fsynced as the API does.
		c0 := cpu(unix.RUSAGE_CHILDREN)
		ddW += timeCmd(b, "dd", "if="+src, "of="+dd, "bs=1M", "conv=fdatasync", "status=none")
		ddCPU += cpu(unix.RUSAGE_CHILDREN) - c0
		dropCache(b, dd)
		ddR += timeCmd(b, "dd", "if="+dd, "of=/dev/null", "bs=1M", "status=none")
		_ = os.Remove(dd)
		// The ceilings this machine puts on any upload and download.
		md5Rate += hashRate(md5.New()) / float64(b.N)
		shaRate += hashRate(sha512.New()) / float64(b.N)
		loRate += loopbackRate(b, src) / float64(b.N)

		img, err := images.Create(context.Background(), c, images.CreateOpts{Name: fmt.Sprintf("bench-%d", i), DiskFormat: "raw", ContainerFormat: "bare"}).Extract()
		if err != nil {
			b.Fatal(err)
		}
		f, err := os.Open(src)
		if err != nil {
			b.Fatal(err)
		}
		req, _ := http.NewRequest("PUT", s.URL+"/image/v2/images/"+img.ID+"/file", f)
		req.ContentLength = size
		req.Header.Set("Content-Type", "application/octet-stream")
		req.Header.Set("X-Auth-Token", c.TokenID)
		stop := heapPeak()
		c0 = cpu(unix.RUSAGE_SELF)
		start := time.Now()
		resp, err := client.Do(req)
		upT += time.Since(start)
		upCPU += cpu(unix.RUSAGE_SELF) - c0
		upHeap = max(upHeap, stop())
		f.Close()
		if err != nil || resp.StatusCode != 204 {
			b.Fatalf("upload: %v %v", err, resp)
		}
		resp.Body.Close()

		// Read from the disk, as dd did, not from the page cache.
		dropCache(b, s.App.Image.Files().Path(img.ID))
		req, _ = http.NewRequest("GET", s.URL+"/image/v2/images/"+img.ID+"/file", nil)
		req.Header.Set("X-Auth-Token", c.TokenID)
		stop = heapPeak()
		c0 = cpu(unix.RUSAGE_SELF)
		start = time.Now()
		resp, err = client.Do(req)
		if err != nil || resp.StatusCode != 200 {
			b.Fatalf("download: %v %v", err, resp)
		}
		// 1 MiB reads, as a client saving to disk would make (io.Discard's
		// own ReadFrom reads 8 KiB at a time).
		n, _ := io.CopyBuffer(struct{ io.Writer }{io.Discard}, resp.Body, buf)
		resp.Body.Close()
		downT += time.Since(start)
		downCPU += cpu(unix.RUSAGE_SELF) - c0
		downHeap = max(downHeap, stop())
		if n != size {
			b.Fatalf("downloaded %d of %d bytes", n, size)
		}
		_ = images.Delete(context.Background(), c, img.ID).ExtractErr()
	}
	b.StopTimer()
	tot := size * int64(b.N)
	b.ReportMetric(mbps(tot, ddW), "dd_write_MiB/s")
	b.ReportMetric(mbps(tot, upT), "api_upload_MiB/s")
	b.ReportMetric(100*ddW.Seconds()/upT.Seconds(), "upload_%_of_dd")
	b.ReportMetric(mbps(tot, ddR), "dd_read_MiB/s")
	b.ReportMetric(mbps(tot, downT), "api_download_MiB/s")
	b.ReportMetric(100*ddR.Seconds()/downT.Seconds(), "download_%_of_dd")
	// Upload: md5 and sha512 run side by side on the two cores, so the
	// slower of the two bounds it; download: the loopback TCP ceiling.
	b.ReportMetric(md5Rate, "md5_1core_MiB/s")
	b.ReportMetric(shaRate, "sha512_1core_MiB/s")
	b.ReportMetric(100*mbps(tot, upT)/min(md5Rate, shaRate), "upload_%_of_hash_bound")
	b.ReportMetric(loRate, "loopback_tcp_MiB/s")
	b.ReportMetric(100*mbps(tot, downT)/loRate, "download_%_of_loopback")
	// CPU seconds per GiB (client and server together: both run here),
	// which do not depend on how busy the machine is.
	gib := float64(tot) / (1 << 30)
	b.ReportMetric(ddCPU.Seconds()/gib, "dd_write_cpu_s/GiB")
	b.ReportMetric(upCPU.Seconds()/gib, "upload_cpu_s/GiB")
	b.ReportMetric(downCPU.Seconds()/gib, "download_cpu_s/GiB")
	if l, err := os.ReadFile("/proc/loadavg"); err == nil {
		b.Logf("load average during the run: %s", bytes.TrimSpace(l))
	}
	b.ReportMetric(float64(upHeap)/(1<<20), "upload_heap_growth_MiB")
	b.ReportMetric(float64(downHeap)/(1<<20), "download_heap_growth_MiB")
}

func percentile(ds []time.Duration, p float64) float64 {
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	i := int(float64(len(ds)-1) * p)
	return float64(ds[i].Microseconds()) / 1000
}

// BenchmarkList10k lists 10,000 images page by page with filters, as an
// admin and as a member of one project, and reports per-page latency.
func BenchmarkList10k(b *testing.B) {
	s := testenv.StartServer(b, func(c *config.Config) { c.Log.Level = "error" })
	p1 := s.CreateProjectUser(b, "bench-p1", "bench-u1", "member")
	admin := s.Admin(b)
	ac := s.ServiceClient(b, admin, "image", "v2")
	mc := s.ServiceClient(b, s.LoginProject(b, p1), "image", "v2")
	ctx := context.Background()
	distros := []string{"ubuntu", "debian", "fedora", "cirros"}
	formats := []string{"qcow2", "raw", "vmdk"}
	vis := []string{image.Shared, image.Private, image.Public, image.Community}
	owners := []string{p1.ID, "other-project-a", "other-project-b"}
	for i := 0; i < 10000; i++ {
		img := &image.Image{
			Name: fmt.Sprintf("image-%05d", i), DiskFormat: formats[i%3], ContainerFormat: "bare",
			Visibility: vis[i%4], Owner: owners[i%3],
			Properties: map[string]string{"os_distro": distros[i%4], "hw_disk_bus": "virtio"},
			Tags:       []string{fmt.Sprintf("batch-%d", i%10)},
		}
		if i%7 == 0 {
			img.Tags = append(img.Tags, "gpu")
		}
		if _, err := s.App.Image.Create(ctx, image.Caller{Project: img.Owner, Admin: true}, img); err != nil {
			b.Fatal(err)
		}
	}
	queries := []string{
		"limit=25",
		"limit=100&sort_key=name&sort_dir=asc",
		"limit=50&os_distro=ubuntu&disk_format=qcow2",
		"limit=25&tag=gpu&sort=name:asc,created_at:desc",
		"limit=25&visibility=public&container_format=bare",
		"limit=25&name=in:image-00001,image-00002,image-09999",
		"limit=25&created_at=gte:2000-01-01T00:00:00Z&size_max=0",
	}
	var adminLat, memberLat []time.Duration
	perQuery := map[string][]time.Duration{}
	pages := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, q := range queries {
			for who, tok := range map[string]string{"admin": ac.TokenID, "member": mc.TokenID} {
				next := "/v2/images?" + q
				// Walk up to 20 pages of each query.
				for p := 0; p < 20 && next != ""; p++ {
					start := time.Now()
					resp, body := testenv.Do(b, "GET", s.URL+"/image"+next, tok, "")
					d := time.Since(start)
					if resp.StatusCode != 200 {
						b.Fatalf("%s: %d %s", next, resp.StatusCode, body)
					}
					perQuery[who+" "+q] = append(perQuery[who+" "+q], d)
					if who == "admin" {
						adminLat = append(adminLat, d)
					} else {
						memberLat = append(memberLat, d)
					}
					pages++
					m := testenv.JSON(b, body)
					next, _ = m["next"].(string)
				}
			}
		}
	}
	b.StopTimer()
	for q, ds := range perQuery {
		b.Logf("%-70s pages %3d  p50 %6.2f ms  p99 %6.2f ms", q, len(ds), percentile(ds, 0.5), percentile(ds, 0.99))
	}
	all := append(append([]time.Duration{}, adminLat...), memberLat...)
	b.ReportMetric(float64(pages)/float64(b.N), "pages/op")
	b.ReportMetric(percentile(all, 0.5), "p50_ms/page")
	b.ReportMetric(percentile(all, 0.99), "p99_ms/page")
	b.ReportMetric(percentile(adminLat, 0.99), "admin_p99_ms/page")
	b.ReportMetric(percentile(memberLat, 0.99), "member_p99_ms/page")
}
