// Package imageapi serves the Glance v2 API under /image.
package imageapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/gureum/gureum/internal/platform/errs"
	"github.com/gureum/gureum/internal/platform/httpx"
)

// renderError writes glance's error bodies, which are webob's: glance
// raises webob.exc.HTTP* with the message as explanation, and webob picks
// HTML, JSON or plain text from the Accept header (HTML when it is absent
// or a wildcard, as webob's offer order puts text/html first). JSON is
// {"message", "code": "404 Not Found", "title"}; openstacksdk reads
// "message" from it and strips the tags of the HTML form. A 401 comes from
// keystonemiddleware in glance and keeps keystone's body.
func renderError(w http.ResponseWriter, r *http.Request, e *errs.Error) {
	code := e.StatusCode()
	title := http.StatusText(code)
	status := strconv.Itoa(code) + " " + title
	if code == http.StatusUnauthorized {
		httpx.WriteJSON(w, code, map[string]any{"error": map[string]any{"code": code, "title": title, "message": e.Message}})
		return
	}
	// webob's body template: explanation<br /><br />\ndetail\ncomment\n
	body := func(esc func(string) string) string { return esc(e.Message) + "<br /><br />\n\n\n" }
	switch pickErrorType(r.Header.Get("Accept")) {
	case "application/json":
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false) // webob's json.dumps leaves <br /> as is
		_ = enc.Encode(map[string]string{"message": body(func(s string) string { return s }), "code": status, "title": title})
	case "text/html":
		w.Header().Set("Content-Type", "text/html; charset=UTF-8")
		w.WriteHeader(code)
		fmt.Fprintf(w, "<html>\n <head>\n  <title>%s</title>\n </head>\n <body>\n  <h1>%s</h1>\n  %s\n </body>\n</html>", status, status, body(pyEscape.Replace))
	default:
		w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
		w.WriteHeader(code)
		fmt.Fprintf(w, "%s\n\n%s\n\n   ", status, e.Message)
	}
}

// pyEscape is Python's html.escape, which webob uses for the HTML body.
var pyEscape = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&#x27;")

// pickErrorType chooses between webob's offers text/html and
// application/json by q-value; ties go to text/html (offer order); neither
// acceptable means plain text.
func pickErrorType(accept string) string {
	if strings.TrimSpace(accept) == "" {
		return "text/html"
	}
	q := map[string]float64{"text/html": -1, "application/json": -1}
	spec := map[string]int{"text/html": -1, "application/json": -1}
	for _, part := range strings.Split(accept, ",") {
		fields := strings.Split(part, ";")
		mt := strings.ToLower(strings.TrimSpace(fields[0]))
		qv := 1.0
		for _, p := range fields[1:] {
			if k, v, ok := strings.Cut(strings.TrimSpace(p), "="); ok && k == "q" {
				if f, err := strconv.ParseFloat(v, 64); err == nil {
					qv = f
				}
			}
		}
		for offer := range q {
			typ, _, _ := strings.Cut(offer, "/")
			s := -1
			switch mt {
			case offer:
				s = 2
			case typ + "/*":
				s = 1
			case "*/*":
				s = 0
			}
			if s > spec[offer] {
				spec[offer], q[offer] = s, qv
			}
		}
	}
	switch {
	case q["text/html"] <= 0 && q["application/json"] <= 0:
		return "text/plain"
	case q["application/json"] > q["text/html"]:
		return "application/json"
	}
	return "text/html"
}
