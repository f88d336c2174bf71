package identityapi

import (
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"sync"

	"github.com/gureum/gureum/internal/identity"
	"github.com/gureum/gureum/internal/platform/errs"
	"github.com/gureum/gureum/internal/platform/httpx"
	"github.com/gureum/gureum/internal/policy"
)

type idName struct {
	ID     string  `json:"id,omitempty"`
	Name   string  `json:"name,omitempty"`
	Domain *idName `json:"domain,omitempty"`
}

type authBody struct {
	Auth struct {
		Identity struct {
			Methods  []string `json:"methods"`
			Password *struct {
				User struct {
					ID       string  `json:"id"`
					Name     string  `json:"name"`
					Domain   *idName `json:"domain"`
					Password string  `json:"password"`
				} `json:"user"`
			} `json:"password"`
			Token *struct {
				ID string `json:"id"`
			} `json:"token"`
			AppCred *struct {
				ID     string  `json:"id"`
				Name   string  `json:"name"`
				Secret string  `json:"secret"`
				User   *idName `json:"user"`
			} `json:"application_credential"`
		} `json:"identity"`
		Scope json.RawMessage `json:"scope"`
	} `json:"auth"`
}

type scopeBody struct {
	Project *idName `json:"project"`
	Domain  *idName `json:"domain"`
	System  *struct {
		All bool `json:"all"`
	} `json:"system"`
	// OS-TRUST is not supported; refused as an unknown field.
}

func parseAuth(r *http.Request) (identity.AuthRequest, error) {
	var b authBody
	var req identity.AuthRequest
	if err := httpx.DecodeJSONLenient(r, &b); err != nil {
		return req, err
	}
	id := b.Auth.Identity
	req.Methods = id.Methods
	if p := id.Password; p != nil {
		pa := &identity.PasswordAuth{UserID: p.User.ID, UserName: p.User.Name, Password: p.User.Password}
		if p.User.Domain != nil {
			pa.DomainID, pa.DomainName = p.User.Domain.ID, p.User.Domain.Name
		}
		req.Password = pa
	}
	if id.Token != nil {
		req.Token = id.Token.ID
	}
	if a := id.AppCred; a != nil {
		ac := &identity.AppCredAuth{ID: a.ID, Name: a.Name, Secret: a.Secret}
		if a.User != nil {
			ac.UserID, ac.UserName = a.User.ID, a.User.Name
			if a.User.Domain != nil {
				ac.DomainID, ac.DomainName = a.User.Domain.ID, a.User.Domain.Name
			}
		}
		req.AppCred = ac
	}
	if len(b.Auth.Scope) > 0 && string(b.Auth.Scope) != "null" {
		var s string
		if json.Unmarshal(b.Auth.Scope, &s) == nil {
			if s != "unscoped" {
				return req, errs.BadRequest("Invalid input for field 'scope': %q is not a valid scope.", s)
			}
			req.Scope.Unscoped = true
		} else {
			var sb scopeBody
			dec := json.NewDecoder(strings.NewReader(string(b.Auth.Scope)))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&sb); err != nil {
				return req, errs.BadRequest("Invalid input for field 'scope': %s.", strings.TrimPrefix(err.Error(), "json: "))
			}
			n := 0
			if sb.Project != nil {
				n++
				req.Scope.ProjectID, req.Scope.ProjectName = sb.Project.ID, sb.Project.Name
				if sb.Project.Domain != nil {
					req.Scope.ProjectDomainID, req.Scope.ProjectDomainName = sb.Project.Domain.ID, sb.Project.Domain.Name
				}
				if sb.Project.ID == "" && sb.Project.Name == "" {
					return req, errs.BadRequest("Invalid input for field 'scope/project': id or name is required.")
				}
			}
			if sb.Domain != nil {
				n++
				req.Scope.DomainID, req.Scope.DomainName = sb.Domain.ID, sb.Domain.Name
				if sb.Domain.ID == "" && sb.Domain.Name == "" {
					return req, errs.BadRequest("Invalid input for field 'scope/domain': id or name is required.")
				}
			}
			if sb.System != nil {
				n++
				if !sb.System.All {
					return req, errs.BadRequest("Invalid input for field 'scope/system': only all is supported.")
				}
				req.Scope.System = true
			}
			if n > 1 {
				return req, errs.BadRequest("Specifying more than one scope is not allowed.")
			}
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	req.RemoteAddr = host
	return req, nil
}

func (a *API) issueToken(w http.ResponseWriter, r *http.Request) error {
	req, err := parseAuth(r)
	if err != nil {
		return err
	}
	tok, err := a.svc.Issue(r.Context(), req)
	if err != nil {
		return err
	}
	return a.writeToken(w, r, tok, http.StatusCreated)
}

func (a *API) writeToken(w http.ResponseWriter, r *http.Request, tok *identity.Token, status int) error {
	withCatalog := r.URL.Query()["nocatalog"] == nil
	var cat []identity.CatalogService
	if withCatalog {
		var err error
		if cat, err = a.svc.Catalog(r.Context()); err != nil {
			return err
		}
	}
	w.Header().Set("X-Subject-Token", tok.ID)
	var catPtr *identity.CatalogService
	if len(cat) > 0 {
		catPtr = &cat[0]
	}
	// A token validated again (the service returns the same *Token while
	// nothing changed) gets the same body: reuse it.
	key := bodyKey{tok: tok, cat: catPtr, withCatalog: withCatalog}
	if status != http.StatusOK {
		key.tok = nil // a new token's body is never asked for again
	} else if b, ok := a.bodies.get(key); ok {
		writeBody(w, status, b)
		return nil
	}
	v := tokenView(tok)
	scoped := tok.Project != nil || tok.Domain != nil || tok.System
	if !withCatalog || !scoped {
		b, err := json.Marshal(v)
		if err != nil {
			return errs.Internal(err)
		}
		b = append(b, '\n')
		if key.tok != nil {
			a.bodies.put(key, b)
		}
		writeBody(w, status, b)
		return nil
	}
	// Encoding the catalog was most of a validation's CPU: it is encoded
	// once per cached catalog and spliced in as the token's first key
	// (json.Marshal sorts the others, so the body starts {"token":{).
	body, err := json.Marshal(v)
	if err != nil {
		return errs.Internal(err)
	}
	const head = `{"token":{`
	out := make([]byte, 0, len(body)+4096)
	out = append(out, head+`"catalog":`...)
	out = append(out, a.encodedCatalog(cat)...)
	out = append(out, ',')
	out = append(out, body[len(head):]...)
	out = append(out, '\n')
	if key.tok != nil {
		a.bodies.put(key, out)
	}
	writeBody(w, status, out)
	return nil
}

func writeBody(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

type bodyKey struct {
	tok         *identity.Token
	cat         *identity.CatalogService
	withCatalog bool
}

// bodyCache keeps encoded token bodies for tokens the service still has
// cached; entries of tokens it dropped are never hit again and go when the
// cache is full.
type bodyCache struct {
	mu sync.RWMutex
	m  map[bodyKey][]byte
}

const bodyCacheMax = 2048

func (c *bodyCache) get(k bodyKey) ([]byte, bool) {
	c.mu.RLock()
	b, ok := c.m[k]
	c.mu.RUnlock()
	return b, ok
}

func (c *bodyCache) put(k bodyKey, b []byte) {
	c.mu.Lock()
	if c.m == nil || len(c.m) >= bodyCacheMax {
		c.m = map[bodyKey][]byte{}
	}
	c.m[k] = b
	c.mu.Unlock()
}

type encCatalog struct {
	src *identity.CatalogService
	raw json.RawMessage
}

// encodedCatalog returns the catalog as JSON, reusing the last encoding
// while the service returns the same cached catalog.
func (a *API) encodedCatalog(cat []identity.CatalogService) json.RawMessage {
	if len(cat) == 0 {
		return json.RawMessage("[]")
	}
	if e := a.catalogJSON.Load(); e != nil && e.src == &cat[0] {
		return e.raw
	}
	raw, err := json.Marshal(catalogView(cat))
	if err != nil {
		return json.RawMessage("[]")
	}
	a.catalogJSON.Store(&encCatalog{src: &cat[0], raw: raw})
	return raw
}

// subject validates X-Subject-Token and authorizes the caller on it.
func (a *API) subject(r *http.Request) (*identity.Token, error) {
	sub := r.Header.Get("X-Subject-Token")
	if sub == "" {
		return nil, errs.BadRequest("Missing X-Subject-Token header.")
	}
	var tok *identity.Token
	var err error
	if r.URL.Query().Get("allow_expired") != "" {
		err = errs.BadRequest("allow_expired is not supported.")
	} else {
		tok, err = a.svc.Validate(r.Context(), sub)
	}
	target := policy.Target{}
	if tok != nil {
		target["target.token.user_id"] = tok.User.ID
	}
	if aerr := httpx.Authorize(r, target); aerr != nil {
		return nil, aerr
	}
	return tok, err
}

func (a *API) validateToken(w http.ResponseWriter, r *http.Request) error {
	tok, err := a.subject(r)
	if err != nil {
		return err
	}
	if r.Method == http.MethodHead {
		w.Header().Set("X-Subject-Token", tok.ID)
		w.WriteHeader(http.StatusOK)
		return nil
	}
	return a.writeToken(w, r, tok, http.StatusOK)
}

func (a *API) revokeToken(w http.ResponseWriter, r *http.Request) error {
	tok, err := a.subject(r)
	if err != nil {
		return err
	}
	if err := a.svc.Revoke(r.Context(), tok.ID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) authCatalog(w http.ResponseWriter, r *http.Request) error {
	c := httpx.Creds(r)
	if c.ProjectID == "" && c.DomainID == "" && c.System == "" {
		return errs.Forbidden("The authenticated token is unscoped and has no catalog.")
	}
	cat, err := a.svc.Catalog(r.Context())
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, obj{"catalog": catalogView(cat), "links": obj{"self": httpx.SelfLink(r), "next": nil, "previous": nil}})
	return nil
}

// authProjects lists the projects the caller may scope to.
func (a *API) authProjects(w http.ResponseWriter, r *http.Request) error {
	ps, err := a.svc.ScopeTargets(r.Context(), httpx.Creds(r).UserID, false)
	if err != nil {
		return err
	}
	base := httpx.BaseURL(r)
	out := []obj{}
	for _, p := range ps {
		out = append(out, projectView(base, p))
	}
	httpx.WriteJSON(w, http.StatusOK, obj{"projects": out, "links": obj{"self": httpx.SelfLink(r), "next": nil, "previous": nil}})
	return nil
}

func (a *API) authDomains(w http.ResponseWriter, r *http.Request) error {
	ds, err := a.svc.ScopeTargets(r.Context(), httpx.Creds(r).UserID, true)
	if err != nil {
		return err
	}
	base := httpx.BaseURL(r)
	out := []obj{}
	for _, d := range ds {
		out = append(out, domainView(base, d))
	}
	httpx.WriteJSON(w, http.StatusOK, obj{"domains": out, "links": obj{"self": httpx.SelfLink(r), "next": nil, "previous": nil}})
	return nil
}

func (a *API) authSystem(w http.ResponseWriter, r *http.Request) error {
	roles, err := a.svc.EffectiveRoles(r.Context(), httpx.Creds(r).UserID, nil, true)
	if err != nil {
		return err
	}
	sys := []obj{}
	if len(roles) > 0 {
		sys = append(sys, obj{"all": true})
	}
	httpx.WriteJSON(w, http.StatusOK, obj{"system": sys, "links": obj{"self": httpx.SelfLink(r), "next": nil, "previous": nil}})
	return nil
}
