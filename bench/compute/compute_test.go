// Package compute_test holds the compute service's benchmarks, through the
// Nova API on loopback against an in-process server on SQLite:
//
//   - BenchmarkReads: GET /servers/detail with 1,000 servers in the project
//     (p50, p99) and GET /servers/{id} at concurrency 8 (p50, p99), on the
//     fake hypervisor (the reads do not touch the agent);
//
//   - BenchmarkCreateFake: POST /servers to ACTIVE, control plane only
//     (API, quota and placement claims, bus round trip to the agent);
//
//   - BenchmarkBootQEMU (root, `make test-image`): POST /servers to ACTIVE
//     with a cached image (QEMU running, port plugged, DHCP host entry in
//     place), create to the guest's first console line against a bare
//     qemu-system-x86_64 boot of the same kernel and initrd measured in the
//     same run, 20 concurrent creates against the single-create median
//     and against bare QEMU started alone and 20 at once (the machine's
//     floor), Gureum's CPU per create, and the memory of Gureum's
//     processes per server. GUREUM_BENCH_GUEST_NICE sets
//     compute.guest_nice.
//
//     go test -run '^$' -bench . -benchtime 1x ./bench/compute/
//
// Figures are in docs/benchmarks-compute.md.
package compute_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gureum/gureum/internal/config"
	"github.com/gureum/gureum/internal/driver/qemu/qmp"
	"github.com/gureum/gureum/internal/image"
	"github.com/gureum/gureum/internal/testenv"
)

type bench struct {
	s     *testenv.Server
	token string
	c     *http.Client
}

func setup(b *testing.B, opts ...testenv.Option) *bench {
	s := testenv.StartServer(b, opts...)
	pc := s.Admin(b)
	bn := &bench{s: s, token: pc.Token(), c: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
	return bn
}

func (bn *bench) do(b *testing.B, method, path, body string, want int) []byte {
	resp, raw := testenv.DoClient(b, bn.c, method, bn.s.URL+path, bn.token, body)
	if resp.StatusCode != want {
		b.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	return raw
}

func pct(d []time.Duration, p float64) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[int(float64(len(s)-1)*p)]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func uploadRaw(b *testing.B, s *testenv.Server) string {
	c := image.Caller{Project: "images", User: "bench", Admin: true}
	img, err := s.App.Image.Create(context.Background(), c, &image.Image{Name: "blank", Visibility: image.Public, DiskFormat: "raw", ContainerFormat: "bare"})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := s.App.Image.Upload(context.Background(), img.ID, strings.NewReader(strings.Repeat("x", 4096)), ""); err != nil {
		b.Fatal(err)
	}
	return img.ID
}

func (bn *bench) project(b *testing.B) string {
	var body struct {
		Token struct {
			Project struct{ ID string } `json:"project"`
		} `json:"token"`
	}
	req, _ := http.NewRequest("GET", bn.s.URL+"/identity/v3/auth/tokens", nil)
	req.Header.Set("X-Auth-Token", bn.token)
	req.Header.Set("X-Subject-Token", bn.token)
	resp, err := bn.c.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return body.Token.Project.ID
}

func (bn *bench) unlimited(b *testing.B) {
	bn.do(b, "PUT", "/compute/v2.1/os-quota-sets/"+bn.project(b), `{"quota_set": {"instances": -1, "cores": -1, "ram": -1}}`, 200)
}

func (bn *bench) create(b *testing.B, body string) string {
	var out struct {
		Server struct{ ID string } `json:"server"`
	}
	_ = json.Unmarshal(bn.do(b, "POST", "/compute/v2.1/servers", body, 202), &out)
	return out.Server.ID
}

func (bn *bench) status(b *testing.B, id string) string {
	var out struct {
		Server struct {
			Status string         `json:"status"`
			Fault  map[string]any `json:"fault"`
		} `json:"server"`
	}
	_ = json.Unmarshal(bn.do(b, "GET", "/compute/v2.1/servers/"+id, "", 200), &out)
	if out.Server.Status == "ERROR" {
		b.Fatalf("server %s ERROR: %v", id, out.Server.Fault)
	}
	return out.Server.Status
}

// waitActive polls every 5 ms (the measurement's resolution).
func (bn *bench) waitActive(b *testing.B, id string) {
	deadline := time.Now().Add(5 * time.Minute)
	for bn.status(b, id) != "ACTIVE" {
		if time.Now().After(deadline) {
			b.Fatalf("server %s not ACTIVE", id)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitAllActive polls one listing every 10 ms until every server in ids
// is ACTIVE: polling each server every 5 ms, as waitActive does, would be
// thousands of requests a second competing with the creates it measures.
func (bn *bench) waitAllActive(b *testing.B, ids []string) {
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	deadline := time.Now().Add(5 * time.Minute)
	for {
		var out struct {
			Servers []struct {
				ID     string         `json:"id"`
				Status string         `json:"status"`
				Fault  map[string]any `json:"fault"`
			} `json:"servers"`
		}
		_ = json.Unmarshal(bn.do(b, "GET", "/compute/v2.1/servers/detail", "", 200), &out)
		active := 0
		for _, sv := range out.Servers {
			if !want[sv.ID] {
				continue
			}
			if sv.Status == "ERROR" {
				b.Fatalf("server %s ERROR: %v", sv.ID, sv.Fault)
			}
			if sv.Status == "ACTIVE" {
				active++
			}
		}
		if active == len(ids) {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d servers ACTIVE", active, len(ids))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func fake(c *config.Config) {
	c.Compute.Driver = "fake"
	c.Compute.VCPUs, c.Compute.MemoryMB, c.Compute.DiskGB = 4096, 4<<20, 100000
}

func BenchmarkReads(b *testing.B) {
	bn := setup(b, fake)
	bn.unlimited(b)
	img := uploadRaw(b, bn.s)
	for i := 0; i < 10; i++ {
		bn.create(b, fmt.Sprintf(`{"server": {"name": "r%d", "imageRef": "%s", "flavorRef": "1", "min_count": 100, "max_count": 100}}`, i, img))
	}
	var ids []string
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var out struct {
			Servers []struct {
				ID     string `json:"id"`
				Status string `json:"status"`
			} `json:"servers"`
		}
		_ = json.Unmarshal(bn.do(b, "GET", "/compute/v2.1/servers/detail?limit=1000", "", 200), &out)
		ids = ids[:0]
		active := 0
		for _, s := range out.Servers {
			ids = append(ids, s.ID)
			if s.Status == "ACTIVE" {
				active++
			}
		}
		if active == 1000 {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("only %d of 1000 active", active)
		}
		time.Sleep(200 * time.Millisecond)
	}
	b.ResetTimer()
	for it := 0; it < b.N; it++ {
		var list []time.Duration
		for i := 0; i < 30; i++ {
			t0 := time.Now()
			raw := bn.do(b, "GET", "/compute/v2.1/servers/detail?limit=1000", "", 200)
			list = append(list, time.Since(t0))
			if i == 0 && strings.Count(string(raw), `"status":"ACTIVE"`) != 1000 {
				b.Fatal("detail did not return 1000 servers")
			}
		}
		var mu sync.Mutex
		var gets []time.Duration
		var wg sync.WaitGroup
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var local []time.Duration
				for i := 0; i < 250; i++ {
					t0 := time.Now()
					bn.do(b, "GET", "/compute/v2.1/servers/"+ids[(w*250+i)%len(ids)], "", 200)
					local = append(local, time.Since(t0))
				}
				mu.Lock()
				gets = append(gets, local...)
				mu.Unlock()
			}()
		}
		wg.Wait()
		b.ReportMetric(ms(pct(list, 0.5)), "detail1000-p50-ms")
		b.ReportMetric(ms(pct(list, 0.99)), "detail1000-p99-ms")
		b.ReportMetric(ms(pct(gets, 0.5)), "get-c8-p50-ms")
		b.ReportMetric(ms(pct(gets, 0.99)), "get-c8-p99-ms")
	}
}

func BenchmarkCreateFake(b *testing.B) {
	bn := setup(b, fake)
	bn.unlimited(b)
	img := uploadRaw(b, bn.s)
	b.ResetTimer()
	for it := 0; it < b.N; it++ {
		var list []time.Duration
		for i := 0; i < 50; i++ {
			t0 := time.Now()
			id := bn.create(b, fmt.Sprintf(`{"server": {"name": "c%d", "imageRef": "%s", "flavorRef": "1"}}`, i, img))
			bn.waitActive(b, id)
			list = append(list, time.Since(t0))
		}
		b.ReportMetric(ms(pct(list, 0.5)), "create-active-p50-ms")
		b.ReportMetric(ms(pct(list, 0.99)), "create-active-p99-ms")
	}
}

// ---- QEMU

func imagesDir(b *testing.B) string {
	dir, _ := filepath.Abs("../../build/images")
	for _, f := range []string{"tiny.qcow2", "tiny.vmlinuz", "tiny.initrd", "tiny.cmdline"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			b.Skipf("needs `make test-image` (missing %s)", f)
		}
	}
	return dir
}

func tinyImage(b *testing.B, s *testenv.Server, dir string) string {
	c := image.Caller{Project: "images", User: "bench", Admin: true}
	put := func(name, file, disk string, props map[string]string) string {
		img, err := s.App.Image.Create(context.Background(), c, &image.Image{Name: name, Visibility: image.Public, DiskFormat: disk, ContainerFormat: map[string]string{"aki": "aki", "ari": "ari"}[disk] + map[bool]string{true: "bare"}[disk == "qcow2"], Properties: props})
		if err != nil {
			b.Fatal(err)
		}
		f, _ := os.Open(filepath.Join(dir, file))
		defer f.Close()
		if _, err := s.App.Image.Upload(context.Background(), img.ID, f, ""); err != nil {
			b.Fatal(err)
		}
		return img.ID
	}
	cmd, _ := os.ReadFile(filepath.Join(dir, "tiny.cmdline"))
	k := put("k", "tiny.vmlinuz", "aki", nil)
	r := put("r", "tiny.initrd", "ari", nil)
	return put("tiny", "tiny.qcow2", "qcow2", map[string]string{"kernel_id": k, "ramdisk_id": r, "os_command_line": strings.TrimSpace(string(cmd))})
}

func (bn *bench) console(b *testing.B, id string) string {
	req, _ := http.NewRequest("POST", bn.s.URL+"/compute/v2.1/servers/"+id+"/action", strings.NewReader(`{"os-getConsoleOutput": {}}`))
	req.Header.Set("X-Auth-Token", bn.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := bn.c.Do(req)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	var out struct{ Output string }
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return out.Output
}

// firstLine waits for the kernel's first console line, asking every
// 20 ms: each ask is an API request and a task on the agent, and asking
// more often takes CPU from the booting guest it times (the guest runs at
// compute.guest_nice, the API does not).
func (bn *bench) firstLine(b *testing.B, id string) {
	deadline := time.Now().Add(5 * time.Minute)
	for !strings.Contains(bn.console(b, id), "Linux version") {
		if time.Now().After(deadline) {
			b.Fatalf("no console output from %s", id)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (bn *bench) deleteAll(b *testing.B, ids []string) {
	for _, id := range ids {
		bn.do(b, "DELETE", "/compute/v2.1/servers/"+id, "", 204)
	}
	for _, id := range ids {
		deadline := time.Now().Add(2 * time.Minute)
		for {
			req, _ := http.NewRequest("GET", bn.s.URL+"/compute/v2.1/servers/"+id, nil)
			req.Header.Set("X-Auth-Token", bn.token)
			resp, err := bn.c.Do(req)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == 404 {
					break
				}
			}
			if time.Now().After(deadline) {
				b.Fatalf("server %s not deleted", id)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// bareBoot times a bare qemu-system-x86_64 direct kernel boot of the same
// kernel and initrd to its first console line.
func bareBoot(b *testing.B, dir string) time.Duration {
	tmp := b.TempDir()
	log := filepath.Join(tmp, "console.log")
	cmd, _ := os.ReadFile(filepath.Join(dir, "tiny.cmdline"))
	c := exec.Command("qemu-system-x86_64", "-machine", "pc,accel=tcg", "-m", "512", "-smp", "1", "-nodefaults", "-no-user-config", "-display", "none",
		"-chardev", "file,id=s0,path="+log, "-serial", "chardev:s0", "-kernel", filepath.Join(dir, "tiny.vmlinuz"), "-initrd", filepath.Join(dir, "tiny.initrd"),
		"-append", strings.TrimSpace(string(cmd)))
	t0 := time.Now()
	if err := c.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = c.Process.Kill(); _ = c.Wait() }()
	for {
		if out, _ := os.ReadFile(log); strings.Contains(string(out), "Linux version") {
			return time.Since(t0)
		}
		if time.Since(t0) > 2*time.Minute {
			b.Fatal("bare boot: no console")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// bareStarts starts n bare QEMU guests at once (the same kernel and
// initrd, no networking or disks) and returns how long until every one's
// monitor answered, as ACTIVE requires of a server. It is the machine's
// own floor for n concurrent creates: QEMU's start-up is CPU work (about
// 150 ms of page faults and relocations here), and n of them share the
// cores however they are driven.
func bareStarts(b *testing.B, dir string, n int) time.Duration {
	tmp := b.TempDir()
	cmdline, _ := os.ReadFile(filepath.Join(dir, "tiny.cmdline"))
	var cmds []*exec.Cmd
	defer func() {
		for _, c := range cmds {
			_ = c.Process.Kill()
			_ = c.Wait()
		}
	}()
	t0 := time.Now()
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		sock := filepath.Join(tmp, fmt.Sprintf("q%d.sock", i))
		c := exec.Command("qemu-system-x86_64", "-machine", "pc,accel=tcg", "-m", "512", "-smp", "1", "-nodefaults", "-no-user-config", "-display", "none",
			"-qmp", "unix:"+sock+",server=on,wait=off", "-kernel", filepath.Join(dir, "tiny.vmlinuz"), "-initrd", filepath.Join(dir, "tiny.initrd"),
			"-append", strings.TrimSpace(string(cmdline)))
		if err := c.Start(); err != nil {
			b.Fatal(err)
		}
		cmds = append(cmds, c)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Since(t0) < 2*time.Minute {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				err := qmp.Do(ctx, sock, func(c *qmp.Client) error { _, err := c.QueryStatus(ctx); return err })
				cancel()
				if err == nil {
					return
				}
				time.Sleep(10 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	return time.Since(t0)
}

func rssKB(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			var n int
			fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(l, "VmRSS:")), "%d", &n)
			return n
		}
	}
	return 0
}

// gureumRSS is the memory of Gureum's own processes: this process (the
// server, controller and agent in one) and the dnsmasq processes it runs.
func gureumRSS(dataDir string) int {
	total := rssKB(os.Getpid())
	out, _ := exec.Command("pgrep", "-f", "dnsmasq .*"+dataDir).Output()
	for _, f := range strings.Fields(string(out)) {
		var pid int
		fmt.Sscanf(f, "%d", &pid)
		total += rssKB(pid)
	}
	return total
}

func BenchmarkBootQEMU(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	for _, bin := range []string{"qemu-system-x86_64", "dnsmasq", "qemu-img", "genisoimage"} {
		if _, err := exec.LookPath(bin); err != nil {
			b.Skipf("needs %s", bin)
		}
	}
	dir := imagesDir(b)
	bn := setup(b, func(c *config.Config) {
		c.Compute.Driver = "qemu"
		c.Compute.ShutdownTimeout = 2 * time.Second
		if v := os.Getenv("GUREUM_BENCH_GUEST_NICE"); v != "" {
			c.Compute.GuestNice, _ = strconv.Atoi(v)
		}
		c.Compute.NodeName = fmt.Sprintf("bench-%d", os.Getpid())
	})
	bn.unlimited(b)
	img := tinyImage(b, bn.s, dir)
	var net struct{ Network struct{ ID string } }
	_ = json.Unmarshal(bn.do(b, "POST", "/networking/v2.0/networks", `{"network": {"name": "bench"}}`, 201), &net)
	third := 64 + os.Getpid()%128
	bn.do(b, "POST", "/networking/v2.0/subnets", fmt.Sprintf(`{"subnet": {"network_id": "%s", "ip_version": 4, "cidr": "10.%d.33.0/24"}}`, net.Network.ID, third), 201)
	body := func(name string) string {
		return fmt.Sprintf(`{"server": {"name": "%s", "imageRef": "%s", "flavorRef": "1", "networks": [{"uuid": "%s"}]}}`, name, img, net.Network.ID)
	}
	// Warm the node's image cache (one download per image per node).
	warm := bn.create(b, body("warm"))
	bn.waitActive(b, warm)
	bn.deleteAll(b, []string{warm})

	b.ResetTimer()
	for it := 0; it < b.N; it++ {
		var active, console, bare []time.Duration
		for i := 0; i < 5; i++ {
			bare = append(bare, bareBoot(b, dir))
			t0 := time.Now()
			id := bn.create(b, body(fmt.Sprintf("s%d", i)))
			bn.waitActive(b, id)
			active = append(active, time.Since(t0))
			bn.firstLine(b, id)
			console = append(console, time.Since(t0))
			bn.deleteAll(b, []string{id})
		}
		rss0 := gureumRSS(bn.s.DataDir)
		t0 := time.Now()
		var ids []string
		for i := 0; i < 20; i++ {
			ids = append(ids, bn.create(b, body(fmt.Sprintf("c%d", i))))
		}
		var ru0, ru1, rc0, rc1 syscall.Rusage
		_ = syscall.Getrusage(0, &ru0)
		_ = syscall.Getrusage(-1, &rc0)
		bn.waitAllActive(b, ids)
		all := time.Since(t0)
		_ = syscall.Getrusage(0, &ru1)
		_ = syscall.Getrusage(-1, &rc1)
		tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
		// Gureum's own CPU per create (this process: API, controller and
		// agent) and that of the helpers it waits for (qemu-img...); QEMU
		// itself is not counted (it is not waited for).
		selfCPU := (tv(ru1.Utime) + tv(ru1.Stime) - tv(ru0.Utime) - tv(ru0.Stime)) / 20
		childCPU := (tv(rc1.Utime) + tv(rc1.Stime) - tv(rc0.Utime) - tv(rc0.Stime)) / 20
		perServer := float64(gureumRSS(bn.s.DataDir)-rss0) / 20 / 1024
		bn.deleteAll(b, ids)
		// The machine's floor: bare QEMU, one alone then 20 at once.
		var bare1 []time.Duration
		for i := 0; i < 3; i++ {
			bare1 = append(bare1, bareStarts(b, dir, 1))
		}
		bare20 := bareStarts(b, dir, 20)
		med := pct(active, 0.5)
		b.ReportMetric(ms(med), "create-active-p50-ms")
		b.ReportMetric(ms(pct(console, 0.5)), "create-console-p50-ms")
		b.ReportMetric(ms(pct(bare, 0.5)), "bare-console-p50-ms")
		b.ReportMetric(float64(pct(console, 0.5))/float64(pct(bare, 0.5)), "console/bare")
		b.ReportMetric(ms(all), "20-concurrent-all-active-ms")
		b.ReportMetric(float64(all)/float64(med), "20-concurrent/single")
		b.ReportMetric(perServer, "gureum-MB/server")
		b.ReportMetric(ms(pct(bare1, 0.5)), "bare-qemu-start-ms")
		b.ReportMetric(ms(bare20), "bare-qemu-20-starts-ms")
		b.ReportMetric(float64(bare20)/float64(pct(bare1, 0.5)), "bare-20/bare-single")
		b.ReportMetric(float64(all)/float64(bare20), "20-concurrent/bare-20")
		b.ReportMetric(selfCPU*1000, "gureum-cpu-ms/create")
		b.ReportMetric(childCPU*1000, "helpers-cpu-ms/create")
	}
}
