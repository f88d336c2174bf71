// Package httpx is the HTTP layer every service shares: routes declared as
// data with a policy rule each, token authentication, request IDs, logging,
// body limits, JSON helpers and the one place errors become responses.
package httpx

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gureum/gureum/internal/platform/errs"
	"github.com/gureum/gureum/internal/platform/ids"
	"github.com/gureum/gureum/internal/platform/logging"
	"github.com/gureum/gureum/internal/policy"
)

// RulePublic is the rule of routes anyone may call (version documents,
// token creation). It is defined as "@" by the server.
const RulePublic = "public"

// HandlerFunc serves a request; a returned error is rendered by the
// service's error renderer.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// Route is one API operation.
type Route struct {
	Method string
	// Path is relative to the service prefix, in net/http pattern syntax:
	// "/v3/users/{user_id}".
	Path string
	// Rule names the policy rule that guards the route. Required.
	Rule string
	// Anonymous routes need no token.
	Anonymous bool
	// Deferred routes are authorized by the handler, which loads the
	// resource first and calls Authorize with it as the target. Otherwise
	// the rule is checked before the handler with the path values as target.
	Deferred bool
	// Stream lifts the JSON body size limit (image data uploads).
	Stream  bool
	Handler HandlerFunc
}

// ErrorRenderer writes an error in a service's own body format.
type ErrorRenderer func(w http.ResponseWriter, r *http.Request, e *errs.Error)

// Service is a set of routes under one prefix ("/identity").
type Service struct {
	Name   string
	Prefix string
	Routes []Route
	Errors ErrorRenderer
	// Rules are the service's default policy rules.
	Rules map[string]string
}

// Authenticator turns a token into credentials.
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (*policy.Credentials, error)
}

// Options configure a Server.
type Options struct {
	Auth    Authenticator
	Policy  *policy.Enforcer
	Log     *slog.Logger
	MaxBody int64
	// BaseURL is the advertised URL clients reach the API at, without a
	// trailing slash; used for links and the catalog.
	BaseURL string
}

// Server is the single listener's handler.
type Server struct {
	opts Options
	mux  *http.ServeMux
	// last is the UnixNano time the last request started.
	last atomic.Int64
}

// LastRequest returns when the last request started (zero before any).
func (s *Server) LastRequest() time.Time {
	if n := s.last.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return time.Time{}
}

// NewServer returns an empty server.
func NewServer(o Options) *Server {
	if o.MaxBody == 0 {
		o.MaxBody = 1 << 20
	}
	_ = o.Policy.Add(map[string]string{RulePublic: "@"})
	return &Server{opts: o, mux: http.NewServeMux()}
}

// SetAuth sets the authenticator (identity is built after the server).
func (s *Server) SetAuth(a Authenticator) { s.opts.Auth = a }

var wildcard = regexp.MustCompile(`\{([a-zA-Z0-9_]+)(\.\.\.)?\}`)

// Mount registers a service's routes. A route without a rule, or whose rule
// is not defined, is refused.
func (s *Server) Mount(svc Service) error {
	if err := s.opts.Policy.Add(svc.Rules); err != nil {
		return err
	}
	for _, rt := range svc.Routes {
		if rt.Rule == "" || !s.opts.Policy.Has(rt.Rule) {
			return fmt.Errorf("%s: route %s %s has no defined policy rule %q", svc.Name, rt.Method, rt.Path, rt.Rule)
		}
		var names []string
		for _, m := range wildcard.FindAllStringSubmatch(rt.Path, -1) {
			names = append(names, m[1])
		}
		pattern := rt.Method + " " + svc.Prefix + rt.Path
		s.mux.Handle(pattern, s.wrap(svc, rt, names))
	}
	render := svc.Errors
	s.mux.HandleFunc(svc.Prefix+"/", func(w http.ResponseWriter, r *http.Request) {
		if s.otherMethod(r) {
			render(w, r, &errs.Error{Kind: errs.KindMethodNotAllowed, Message: "The method is not allowed for the requested URL."})
			return
		}
		render(w, r, errs.NotFound("The resource could not be found."))
	})
	return nil
}

// otherMethod reports whether the path exists with another method.
func (s *Server) otherMethod(r *http.Request) bool {
	for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
		if m == r.Method {
			continue
		}
		c := r.Clone(r.Context())
		c.Method = m
		if _, p := s.mux.Handler(c); p != "" && !strings.HasSuffix(p, "/") {
			return true
		}
	}
	return false
}

type routeCtx struct {
	rule       string
	creds      *policy.Credentials
	authorized bool
	pol        *policy.Enforcer
	baseURL    string
	token      string
}

type ctxKey struct{}

func rc(r *http.Request) *routeCtx {
	v, _ := r.Context().Value(ctxKey{}).(*routeCtx)
	return v
}

// Creds returns the caller's credentials (nil on anonymous routes).
func Creds(r *http.Request) *policy.Credentials {
	if c := rc(r); c != nil {
		return c.creds
	}
	return nil
}

// Token returns the caller's token as sent in X-Auth-Token.
func Token(r *http.Request) string {
	if c := rc(r); c != nil {
		return c.token
	}
	return ""
}

// BaseURL returns the advertised base URL of the API.
func BaseURL(r *http.Request) string {
	if c := rc(r); c != nil && c.baseURL != "" {
		return c.baseURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// Authorize checks the route's rule against target. Handlers of Deferred
// routes must call it before acting.
func Authorize(r *http.Request, target policy.Target) error {
	c := rc(r)
	if c == nil {
		return errs.Internal(errors.New("Authorize outside a route"))
	}
	c.authorized = true
	return Check(r, c.rule, target)
}

// Check evaluates any rule for the caller, for handlers that must decide
// more than one thing (for example whether admin-only fields are shown).
func Check(r *http.Request, rule string, target policy.Target) error {
	c := rc(r)
	if c == nil {
		return errs.Internal(errors.New("Check outside a route"))
	}
	if c.pol.Allowed(rule, c.creds, target) {
		return nil
	}
	return errs.Forbidden("You are not authorized to perform the requested action: %s.", rule)
}

// Allowed is Check as a boolean.
func Allowed(r *http.Request, rule string, target policy.Target) bool {
	return Check(r, rule, target) == nil
}

func (s *Server) wrap(svc Service, rt Route, names []string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := &routeCtx{rule: rt.Rule, pol: s.opts.Policy, baseURL: s.opts.BaseURL}
		r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, c))
		if rt.Deferred {
			// Fail closed: a handler that forgets to authorize cannot send
			// a successful response.
			w = &authGuard{ResponseWriter: w, c: c, r: r, render: svc.Errors, route: rt.Method + " " + svc.Prefix + rt.Path}
		}
		if !rt.Stream {
			r.Body = http.MaxBytesReader(w, r.Body, s.opts.MaxBody)
		}
		err := func() (err error) {
			// A panic in a handler is answered in the service's own error
			// format; the root handler's recovery is only the last resort.
			defer func() {
				if p := recover(); p != nil {
					if p == http.ErrAbortHandler {
						panic(p)
					}
					err = errs.Internal(fmt.Errorf("panic: %v", p))
				}
			}()
			tok := r.Header.Get("X-Auth-Token")
			c.token = tok
			if !rt.Anonymous {
				if tok == "" {
					return errs.Unauthorized("The request you have made requires authentication.")
				}
				if s.opts.Auth == nil {
					return errs.Internal(errors.New("no authenticator"))
				}
				cr, err := s.opts.Auth.Authenticate(r.Context(), tok)
				if err != nil {
					return err
				}
				c.creds = cr
			}
			if !rt.Deferred {
				t := policy.Target{}
				for _, n := range names {
					t[n] = r.PathValue(n)
				}
				if err := Authorize(r, t); err != nil {
					return err
				}
			}
			return rt.Handler(w, r)
		}()
		if err != nil {
			s.writeError(w, r, svc.Errors, err)
		}
	})
}

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, render ErrorRenderer, err error) {
	e := errs.From(err)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		e = errs.TooLarge("Request body exceeds %d bytes.", s.opts.MaxBody)
	}
	if e.Kind == errs.KindInternal {
		s.opts.Log.ErrorContext(r.Context(), "internal error", "err", e.Cause)
	}
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((e.RetryAfter+time.Second-1)/time.Second)))
	}
	if e.Kind == errs.KindUnauthorized {
		w.Header().Set("WWW-Authenticate", fmt.Sprintf("Keystone uri=%q", s.opts.BaseURL+"/identity"))
	}
	render(w, r, e)
}

// Handler returns the root handler with request IDs, logging and recovery.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		s.last.Store(start.UnixNano())
		id := "req-" + ids.UUID()
		w.Header().Set("X-Openstack-Request-Id", id)
		r = r.WithContext(logging.WithRequestID(r.Context(), id))
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.opts.Log.ErrorContext(r.Context(), "panic", "panic", p)
				if sw.status == 0 {
					WriteJSON(sw, http.StatusInternalServerError, map[string]any{"error": map[string]any{"code": 500, "title": "Internal Server Error", "message": "An unexpected error prevented the server from fulfilling your request."}})
				}
			}
			// Only the path is logged: query strings and bodies may carry secrets.
			s.opts.Log.InfoContext(r.Context(), "request", "method", r.Method, "path", r.URL.Path, "status", sw.code(), "bytes", sw.n, "duration_ms", float64(time.Since(start).Microseconds())/1000, "remote", r.RemoteAddr)
		}()
		s.mux.ServeHTTP(sw, r)
	})
}

// authGuard turns a successful response of an unauthorized deferred route
// into a 500 in the service's error format: the bug is logged and nothing
// leaks.
type authGuard struct {
	http.ResponseWriter
	c       *routeCtx
	r       *http.Request
	render  ErrorRenderer
	route   string
	checked bool
	blocked bool
}

func (g *authGuard) check(status int) bool {
	if !g.checked {
		g.checked = true
		if status < 400 && !g.c.authorized {
			g.blocked = true
			slog.ErrorContext(g.r.Context(), "deferred route answered without calling Authorize", "route", g.route)
			g.render(g.ResponseWriter, g.r, errs.Internal(errors.New("unauthorized deferred route")))
		}
	}
	return !g.blocked
}

func (g *authGuard) WriteHeader(code int) {
	if g.check(code) {
		g.ResponseWriter.WriteHeader(code)
	}
}

func (g *authGuard) Write(b []byte) (int, error) {
	if !g.check(http.StatusOK) {
		return len(b), nil
	}
	return g.ResponseWriter.Write(b)
}

func (g *authGuard) Unwrap() http.ResponseWriter { return g.ResponseWriter }

type statusWriter struct {
	http.ResponseWriter
	status int
	n      int64
}

func (w *statusWriter) WriteHeader(c int) {
	if w.status == 0 {
		w.status = c
	}
	w.ResponseWriter.WriteHeader(c)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.n += int64(n)
	return n, err
}

func (w *statusWriter) ReadFrom(src io.Reader) (int64, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := io.Copy(w.ResponseWriter, src)
	w.n += n
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) code() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}

// WriteJSON writes v as JSON with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if v != nil {
		_ = json.NewEncoder(w).Encode(v)
	}
}

// DecodeJSON decodes exactly one JSON value into v, refusing unknown fields.
func DecodeJSON(r *http.Request, v any) error { return decode(r, v, true) }

// DecodeJSONLenient decodes like DecodeJSON but ignores unknown fields, for
// resources whose OpenStack schema accepts extra attributes.
func DecodeJSONLenient(r *http.Request, v any) error { return decode(r, v, false) }

func decode(r *http.Request, v any, strict bool) error {
	dec := json.NewDecoder(r.Body)
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errs.BadRequest("Malformed request body: unexpected data after the JSON document.")
	}
	return nil
}

func decodeError(err error) error {
	var mbe *http.MaxBytesError
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &mbe):
		return errs.TooLarge("Request body exceeds %d bytes.", mbe.Limit)
	case errors.Is(err, io.EOF):
		return errs.BadRequest("Malformed request body: empty body.")
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			field = "body"
		}
		return errs.BadRequest("Invalid input for field '%s': expected %s, got JSON %s.", field, te.Type.String(), te.Value)
	case errors.As(err, &se):
		return errs.BadRequest("Malformed request body: %s.", se.Error())
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return errs.BadRequest("Additional properties are not allowed (%s was unexpected).", strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	return errs.BadRequest("Malformed request body: %s.", err.Error())
}

// QueryInt parses an optional non-negative integer query parameter.
func QueryInt(r *http.Request, name string, def int) (int, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, errs.BadRequest("Invalid value %q for %s: must be a non-negative integer.", s, name)
	}
	return n, nil
}

// NextLink returns the request's URL (under the advertised base) with marker
// replaced, for `next` pagination links.
func NextLink(r *http.Request, marker string) string {
	q := r.URL.Query()
	q.Set("marker", marker)
	return BaseURL(r) + r.URL.Path + "?" + q.Encode()
}

// SelfLink returns the request's URL under the advertised base.
func SelfLink(r *http.Request) string {
	u := BaseURL(r) + r.URL.Path
	if r.URL.RawQuery != "" {
		u += "?" + r.URL.RawQuery
	}
	return u
}
