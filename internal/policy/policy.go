// Package policy evaluates access rules written in oslo.policy's check
// language ("role:admin and system_scope:all or project_id:%(project_id)s"),
// so Gureum's defaults can be read side by side with OpenStack's and an
// operator can override any of them by name.
package policy

import (
	"fmt"
	"sort"
	"strings"
	"sync"
)

// Credentials describe the caller, as established from a validated token.
type Credentials struct {
	UserID          string
	UserName        string
	UserDomainID    string
	ProjectID       string // set for project scope
	ProjectName     string
	ProjectDomainID string
	DomainID        string // set for domain scope
	System          string // "all" for system scope
	Roles           []string
	RoleIDs         []string
	AuditIDs        []string
	AppCredID       string
	Methods         []string
	// IsAdminProject is keystone's is_admin_project flag.
	IsAdminProject bool
}

// HasRole reports whether the caller holds role name.
func (c *Credentials) HasRole(name string) bool {
	if c == nil {
		return false
	}
	for _, r := range c.Roles {
		if r == name {
			return true
		}
	}
	return false
}

// IsSystemAdmin reports whether the caller is an admin with system scope.
func (c *Credentials) IsSystemAdmin() bool {
	return c != nil && c.System == "all" && c.HasRole("admin")
}

// IsSystemReader reports whether the caller may read everything.
func (c *Credentials) IsSystemReader() bool {
	return c != nil && c.System == "all" && c.HasRole("reader")
}

// IsProjectAdmin reports an admin role in a project scope. OpenStack's
// services other than keystone treat it as cloud admin (the "admin" rule is
// role:admin in nova, neutron, glance), and we follow them.
func (c *Credentials) IsAdmin() bool { return c != nil && c.HasRole("admin") }

// attr returns a credential attribute by its oslo name.
func (c *Credentials) attr(name string) (string, bool) {
	switch name {
	case "user_id":
		return c.UserID, true
	case "project_id":
		return c.ProjectID, true
	case "domain_id":
		return c.DomainID, true
	case "user_domain_id":
		return c.UserDomainID, true
	case "project_domain_id":
		return c.ProjectDomainID, true
	case "system_scope":
		return c.System, true
	case "is_admin_project":
		if c.IsAdminProject {
			return "True", true
		}
		return "False", true
	case "token.application_credential.id":
		return c.AppCredID, true
	}
	return "", false
}

// Target is what an action is applied to: flattened attribute names such as
// "project_id" or "target.user.domain_id" mapped to values.
type Target map[string]string

type node interface {
	eval(e *Enforcer, c *Credentials, t Target, depth int) bool
}

type (
	orNode  []node
	andNode []node
	notNode struct{ n node }
	constN  bool
	ruleRef string
	check   struct{ kind, match string }
)

func (n orNode) eval(e *Enforcer, c *Credentials, t Target, d int) bool {
	for _, x := range n {
		if x.eval(e, c, t, d) {
			return true
		}
	}
	return false
}

func (n andNode) eval(e *Enforcer, c *Credentials, t Target, d int) bool {
	for _, x := range n {
		if !x.eval(e, c, t, d) {
			return false
		}
	}
	return true
}

func (n notNode) eval(e *Enforcer, c *Credentials, t Target, d int) bool {
	return !n.n.eval(e, c, t, d)
}
func (n constN) eval(*Enforcer, *Credentials, Target, int) bool { return bool(n) }

func (n ruleRef) eval(e *Enforcer, c *Credentials, t Target, d int) bool {
	if d > 32 {
		return false
	}
	r, ok := e.compiled(string(n))
	return ok && r.eval(e, c, t, d+1)
}

func (n check) eval(_ *Enforcer, c *Credentials, t Target, _ int) bool {
	if c == nil {
		return false
	}
	want := n.match
	if strings.HasPrefix(want, "%(") && strings.HasSuffix(want, ")s") {
		v, ok := t[want[2:len(want)-2]]
		if !ok {
			return false
		}
		want = v
	}
	if n.kind == "role" {
		return c.HasRole(want)
	}
	if strings.HasPrefix(n.kind, "'") && strings.HasSuffix(n.kind, "'") {
		return n.kind[1:len(n.kind)-1] == want
	}
	have, ok := c.attr(n.kind)
	if !ok {
		return false
	}
	// An empty attribute never matches: a project check must not pass for
	// an unscoped token against a target that lacks a project.
	return have != "" && strings.EqualFold(have, want)
}

// Parse compiles a rule string.
func Parse(s string) (node, error) {
	p := &parser{toks: tokenize(s)}
	if len(p.toks) == 0 {
		return constN(true), nil // oslo: an empty rule always passes
	}
	n, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.pos != len(p.toks) {
		return nil, fmt.Errorf("policy: unexpected %q in %q", p.toks[p.pos], s)
	}
	return n, nil
}

func tokenize(s string) []string {
	var out []string
	for _, f := range strings.Fields(s) {
		for strings.HasPrefix(f, "(") {
			out = append(out, "(")
			f = f[1:]
		}
		var tail []string
		for strings.HasSuffix(f, ")") && !strings.HasSuffix(f, ")s") {
			tail = append(tail, ")")
			f = f[:len(f)-1]
		}
		// "%(x)s)" ends with ")s" only when no extra parens follow.
		for strings.HasSuffix(f, ")s)") {
			tail = append(tail, ")")
			f = f[:len(f)-1]
		}
		if f != "" {
			out = append(out, f)
		}
		out = append(out, tail...)
	}
	return out
}

type parser struct {
	toks []string
	pos  int
}

func (p *parser) peek() string {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return ""
}

func (p *parser) or() (node, error) {
	var alts orNode
	for {
		n, err := p.and()
		if err != nil {
			return nil, err
		}
		alts = append(alts, n)
		if strings.ToLower(p.peek()) != "or" {
			break
		}
		p.pos++
	}
	if len(alts) == 1 {
		return alts[0], nil
	}
	return alts, nil
}

func (p *parser) and() (node, error) {
	var all andNode
	for {
		n, err := p.not()
		if err != nil {
			return nil, err
		}
		all = append(all, n)
		if strings.ToLower(p.peek()) != "and" {
			break
		}
		p.pos++
	}
	if len(all) == 1 {
		return all[0], nil
	}
	return all, nil
}

func (p *parser) not() (node, error) {
	if strings.ToLower(p.peek()) == "not" {
		p.pos++
		n, err := p.not()
		if err != nil {
			return nil, err
		}
		return notNode{n}, nil
	}
	return p.atom()
}

func (p *parser) atom() (node, error) {
	t := p.peek()
	p.pos++
	switch {
	case t == "":
		return nil, fmt.Errorf("policy: unexpected end of rule")
	case t == "(":
		n, err := p.or()
		if err != nil {
			return nil, err
		}
		if p.peek() != ")" {
			return nil, fmt.Errorf("policy: missing )")
		}
		p.pos++
		return n, nil
	case t == "@":
		return constN(true), nil
	case t == "!":
		return constN(false), nil
	}
	kind, match, ok := strings.Cut(t, ":")
	if !ok {
		return nil, fmt.Errorf("policy: bad check %q", t)
	}
	if kind == "rule" {
		return ruleRef(match), nil
	}
	return check{kind: kind, match: match}, nil
}

// Enforcer holds named rules.
type Enforcer struct {
	mu    sync.RWMutex
	src   map[string]string
	rules map[string]node
	// overridden names came from the operator and win over defaults.
	overridden map[string]bool
}

// New compiles the given rules. Later maps override earlier ones, so
// defaults come first and operator overrides last.
func New(ruleSets ...map[string]string) (*Enforcer, error) {
	e := &Enforcer{src: map[string]string{}, rules: map[string]node{}, overridden: map[string]bool{}}
	for _, rs := range ruleSets {
		for name, s := range rs {
			n, err := Parse(s)
			if err != nil {
				return nil, fmt.Errorf("rule %q: %w", name, err)
			}
			e.src[name] = s
			e.rules[name] = n
			e.overridden[name] = true
		}
	}
	return e, nil
}

// Add compiles and adds default rules (a service registering its
// defaults). All services share one namespace of rule names, as OpenStack's
// do when their policy files are merged: a name two services define
// differently is an error, not a silent choice.
func (e *Enforcer) Add(rs map[string]string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	for name, s := range rs {
		if e.overridden[name] {
			continue // the operator's override wins
		}
		if prev, exists := e.src[name]; exists {
			if prev != s {
				return fmt.Errorf("rule %q defined twice: %q and %q", name, prev, s)
			}
			continue
		}
		n, err := Parse(s)
		if err != nil {
			return fmt.Errorf("rule %q: %w", name, err)
		}
		e.src[name] = s
		e.rules[name] = n
	}
	return nil
}

func (e *Enforcer) compiled(name string) (node, bool) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	n, ok := e.rules[name]
	return n, ok
}

// Has reports whether a rule is defined.
func (e *Enforcer) Has(name string) bool { _, ok := e.compiled(name); return ok }

// Allowed evaluates rule name. An unknown rule denies.
func (e *Enforcer) Allowed(name string, c *Credentials, t Target) bool {
	n, ok := e.compiled(name)
	if !ok {
		return false
	}
	return n.eval(e, c, t, 0)
}

// Names lists the defined rules, sorted.
func (e *Enforcer) Names() []string {
	e.mu.RLock()
	defer e.mu.RUnlock()
	out := make([]string, 0, len(e.src))
	for k := range e.src {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
