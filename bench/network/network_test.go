// Package network_test holds the networking service's benchmarks, through
// the HTTP API on loopback against an in-process server on SQLite:
//
//   - port create latency (p50, p99), one request at a time;
//
//   - creating 1,000 ports on one network at concurrency 8 (ports/s);
//
//   - listing 10,000 ports filtered by network_id, pages of 1,000 (p50, p99
//     per page).
//
//     go test -run '^$' -bench . -benchtime 1x ./bench/network/
//
// Figures are in docs/benchmarks-network.md.
package network_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gureum/gureum/internal/network"
	"github.com/gureum/gureum/internal/testenv"
)

type bench struct {
	s     *testenv.Server
	token string
	c     *http.Client
}

func setup(b *testing.B) *bench {
	s := testenv.StartServer(b)
	pc := s.Admin(b)
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	bn := &bench{s: s, token: pc.Token(), c: c}
	// Benchmarks create more than the default quota allows.
	bn.do(b, "PUT", "/v2.0/quotas/"+projectOf(b, s), `{"quota":{"port":-1,"network":-1,"subnet":-1}}`, 200)
	return bn
}

func projectOf(b *testing.B, s *testenv.Server) string {
	pc := s.Admin(b)
	var body struct {
		Token struct {
			Project struct{ ID string } `json:"project"`
		} `json:"token"`
	}
	resp, raw := s.HTTP(b, "GET", "/identity/v3/auth/tokens", pc.Token(), "", "X-Subject-Token", pc.Token())
	if resp.StatusCode != 200 || json.Unmarshal(raw, &body) != nil {
		b.Fatalf("token: %d %s", resp.StatusCode, raw)
	}
	return body.Token.Project.ID
}

func (bn *bench) do(b *testing.B, method, path, body string, want int) map[string]any {
	raw := bn.doRaw(b, method, path, body, want)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return m
}

// doRaw returns the body unparsed, so timings stop when the server's
// answer has arrived, not after the client decoded it.
func (bn *bench) doRaw(b *testing.B, method, path, body string, want int) []byte {
	resp, raw := testenv.DoClient(b, bn.c, method, bn.s.URL+"/networking"+path, bn.token, body)
	if resp.StatusCode != want {
		b.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	return raw
}

func (bn *bench) network(b *testing.B, cidr string) string {
	n := bn.do(b, "POST", "/v2.0/networks", `{"network":{"name":"bench"}}`, 201)["network"].(map[string]any)["id"].(string)
	bn.do(b, "POST", "/v2.0/subnets", `{"subnet":{"network_id":"`+n+`","ip_version":4,"cidr":"`+cidr+`"}}`, 201)
	return n
}

// cpuTime is the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func pct(d []time.Duration, p float64) time.Duration {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return d[int(float64(len(d)-1)*p)]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// BenchmarkPortCreate measures one port create at a time (200 per run).
func BenchmarkPortCreate(b *testing.B) {
	bn := setup(b)
	for i := 0; i < b.N; i++ {
		n := bn.network(b, "10.0.0.0/22")
		var lat []time.Duration
		for j := 0; j < 200; j++ {
			start := time.Now()
			bn.doRaw(b, "POST", "/v2.0/ports", `{"port":{"network_id":"`+n+`"}}`, 201)
			lat = append(lat, time.Since(start))
		}
		b.ReportMetric(ms(pct(lat, 0.50)), "p50-ms")
		b.ReportMetric(ms(pct(lat, 0.99)), "p99-ms")
	}
}

// BenchmarkPortCreate1000Conc8 creates 1,000 ports on one network from 8
// concurrent clients.
func BenchmarkPortCreate1000Conc8(b *testing.B) {
	bn := setup(b)
	for i := 0; i < b.N; i++ {
		n := bn.network(b, fmt.Sprintf("10.%d.0.0/20", 10+i))
		jobs := make(chan struct{})
		var wg sync.WaitGroup
		start := time.Now()
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range jobs {
					bn.do(b, "POST", "/v2.0/ports", `{"port":{"network_id":"`+n+`"}}`, 201)
				}
			}()
		}
		for j := 0; j < 1000; j++ {
			jobs <- struct{}{}
		}
		close(jobs)
		wg.Wait()
		b.ReportMetric(1000/time.Since(start).Seconds(), "ports/s")
	}
}

// BenchmarkListPortsByNetwork lists the 10,000 ports of one network (next
// to 2,000 on another) in pages of 1,000, following the next links.
func BenchmarkListPortsByNetwork(b *testing.B) {
	bn := setup(b)
	svc := bn.s.App.Network
	admin := network.Caller{Admin: true, ProjectID: projectOf(b, bn.s)}
	ctx := context.Background()
	n := bn.network(b, "10.100.0.0/18")
	other := bn.network(b, "10.200.0.0/20")
	// Setup through the service with explicit addresses: quicker than
	// 12,000 HTTP round trips, and not what is measured.
	fill := func(netID, prefix string, count int) {
		var wg sync.WaitGroup
		ch := make(chan int)
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := range ch {
					ip := fmt.Sprintf("%s.%d.%d", prefix, 1+k/250, 2+k%250)
					sp := network.PortSpec{NetworkID: &netID, FixedIPs: &[]network.FixedIPSpec{{IPAddress: ip}}}
					if _, err := svc.CreatePort(ctx, admin, sp); err != nil {
						b.Error(err)
					}
				}
			}()
		}
		for k := 0; k < count; k++ {
			ch <- k
		}
		close(ch)
		wg.Wait()
	}
	fill(n, "10.100", 10000)
	fill(other, "10.200", 2000)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cpu0 := cpuTime()
		pages := 0
		var lat []time.Duration
		for round := 0; round < 5; round++ {
			path := "/v2.0/ports?network_id=" + n + "&limit=1000"
			total := 0
			for path != "" {
				start := time.Now()
				raw := bn.doRaw(b, "GET", path, "", 200)
				lat = append(lat, time.Since(start))
				pages++
				// Only the links are decoded: the CPU figure is the server's.
				total += bytes.Count(raw, []byte(`"mac_address":`))
				var m struct {
					Links []any `json:"ports_links"`
				}
				tail := raw[bytes.LastIndex(raw, []byte(`"ports_links"`)):]
				if err := json.Unmarshal(append([]byte("{"), tail...), &m); err != nil {
					b.Fatal(err)
				}
				path = ""
				for _, l := range m.Links {
					if l.(map[string]any)["rel"] == "next" {
						href := l.(map[string]any)["href"].(string)
						path = href[strings.Index(href, "/v2.0"):]
					}
				}
			}
			if total != 10000 {
				b.Fatalf("listed %d ports, want 10000", total)
			}
		}
		b.ReportMetric(ms(pct(lat, 0.50)), "p50-ms/page")
		b.ReportMetric(ms(pct(lat, 0.99)), "p99-ms/page")
		// CPU per page (server and HTTP client, all cores) does not depend
		// on what else the machine runs, unlike the latencies.
		b.ReportMetric(ms(cpuTime()-cpu0)/float64(pages), "cpu-ms/page")
	}
}
