package policy

import "testing"

func TestRules(t *testing.T) {
	e, err := New(map[string]string{
		"admin_required": "role:admin",
		"system_reader":  "role:reader and system_scope:all",
		"owner":          "project_id:%(project_id)s",
		"admin_or_owner": "rule:admin_required or (role:member and rule:owner)",
		"nobody":         "!",
		"anyone":         "@",
		"not_reader":     "not role:reader",
		"domain_user":    "domain_id:%(target.user.domain_id)s",
	})
	if err != nil {
		t.Fatal(err)
	}
	member := &Credentials{ProjectID: "p1", Roles: []string{"member", "reader"}}
	sys := &Credentials{System: "all", Roles: []string{"reader"}}
	dom := &Credentials{DomainID: "d1", Roles: []string{"admin"}}
	cases := []struct {
		rule string
		c    *Credentials
		t    Target
		want bool
	}{
		{"admin_or_owner", member, Target{"project_id": "p1"}, true},
		{"admin_or_owner", member, Target{"project_id": "p2"}, false},
		{"admin_or_owner", member, Target{}, false},
		{"admin_or_owner", dom, Target{"project_id": "p2"}, true},
		{"system_reader", sys, nil, true},
		{"system_reader", member, nil, false},
		{"nobody", sys, nil, false},
		{"anyone", nil, nil, true},
		{"not_reader", member, nil, false},
		{"not_reader", dom, nil, true},
		{"domain_user", dom, Target{"target.user.domain_id": "d1"}, true},
		{"domain_user", member, Target{"target.user.domain_id": ""}, false},
		{"missing_rule", dom, nil, false},
	}
	for _, c := range cases {
		if got := e.Allowed(c.rule, c.c, c.t); got != c.want {
			t.Errorf("%s with %+v on %v = %v, want %v", c.rule, c.c, c.t, got, c.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, s := range []string{"role:admin and", "(role:admin", "bogus", "role:a or or role:b"} {
		if _, err := Parse(s); err == nil {
			t.Errorf("Parse(%q) succeeded", s)
		}
	}
}

func TestAddConflicts(t *testing.T) {
	e, err := New(map[string]string{"owner": "role:admin"})
	if err != nil {
		t.Fatal(err)
	}
	// The operator's override wins over any default.
	if err := e.Add(map[string]string{"owner": "project_id:%(project_id)s"}); err != nil {
		t.Fatal(err)
	}
	if err := e.Add(map[string]string{"a": "role:x"}); err != nil {
		t.Fatal(err)
	}
	if err := e.Add(map[string]string{"a": "role:x"}); err != nil {
		t.Fatalf("same definition twice: %v", err)
	}
	if err := e.Add(map[string]string{"a": "role:y"}); err == nil {
		t.Fatal("conflicting definitions accepted")
	}
}
