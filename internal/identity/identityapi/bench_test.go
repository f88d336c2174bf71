package identityapi_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/gureum/gureum/internal/testenv"
)

// BenchmarkValidateToken measures GET /v3/auth/tokens over loopback, the
// call every other service makes per request (see bench/identity for the
// load generator against the real binary).
func BenchmarkValidateToken(b *testing.B) {
	s := testenv.StartServer(b)
	tok := s.Admin(b).Token()
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest("GET", s.URL+"/identity/v3/auth/tokens", nil)
			req.Header.Set("X-Auth-Token", tok)
			req.Header.Set("X-Subject-Token", tok)
			resp, err := c.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Fatal(resp.StatusCode)
			}
		}
	})
}

// BenchmarkIssueTokenMethod measures POST /v3/auth/tokens by the token
// method (rescoping), the way services and CLIs refresh tokens.
func BenchmarkIssueTokenMethod(b *testing.B) {
	s := testenv.StartServer(b)
	pc := s.Admin(b)
	tok := pc.Token()
	_, body := s.HTTP(b, "GET", "/identity/v3/auth/tokens?nocatalog", tok, "", "X-Subject-Token", tok)
	project := testenv.JSON(b, body)["token"].(map[string]any)["project"].(map[string]any)["id"].(string)
	req := `{"auth":{"identity":{"methods":["token"],"token":{"id":"` + tok + `"}},"scope":{"project":{"id":"` + project + `"}}}}`
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := c.Post(s.URL+"/identity/v3/auth/tokens", "application/json", strings.NewReader(req))
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 201 {
				b.Fatal(resp.StatusCode)
			}
		}
	})
}
