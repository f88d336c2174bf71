package identityapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gureum/gureum/internal/platform/errs"
	"github.com/gureum/gureum/internal/platform/httpx"
)

// Keystone validates bodies with JSON schemas; most of its resources accept
// extra attributes (kept and returned), a few (application credentials,
// password changes, tags) do not. body reads {"<entity>": {...}} and lets
// handlers pick typed fields, reporting the first problem in keystone's
// words; rest() returns what was not picked for the resources that keep
// extras, and strict() refuses it for the others.
type body struct {
	entity string
	m      map[string]json.RawMessage
	used   map[string]bool
	err    error
}

// Limits from keystone's schemas.
const (
	maxName        = 255
	maxProjectName = 64
	maxDescription = 65535
	maxTag         = 255
	maxTags        = 80
	maxID          = 64
)

func readBody(r *http.Request, entity string) (*body, error) {
	var top map[string]json.RawMessage
	if err := httpx.DecodeJSONLenient(r, &top); err != nil {
		return nil, err
	}
	if top == nil {
		return nil, errs.BadRequest("Invalid input for field '%s': the request body must be an object.", entity)
	}
	for k := range top {
		if k != entity {
			return nil, errs.BadRequest("Additional properties are not allowed ('%s' was unexpected).", k)
		}
	}
	raw, ok := top[entity]
	if !ok {
		return nil, errs.BadRequest("'%s' is a required property.", entity)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return nil, errs.BadRequest("Invalid input for field '%s': expected an object.", entity)
	}
	return &body{entity: entity, m: m, used: map[string]bool{}}, nil
}

func (b *body) fail(format string, a ...any) {
	if b.err == nil {
		b.err = errs.BadRequest(format, a...)
	}
}

func (b *body) raw(name string) (json.RawMessage, bool) {
	b.used[name] = true
	v, ok := b.m[name]
	return v, ok
}

func isNull(v json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(v), []byte("null")) }

// str reads a string field; nullable fields accept null as "". It reports
// whether the field was present.
func (b *body) str(name string, dst *string, minLen, maxLen int, nullable bool) bool {
	v, ok := b.raw(name)
	if !ok {
		return false
	}
	if isNull(v) {
		if !nullable {
			b.fail("Invalid input for field '%s': None is not of type 'string'.", name)
		}
		*dst = ""
		return true
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		b.fail("Invalid input for field '%s': %s is not of type 'string'.", name, b.echo(name, string(v)))
		return true
	}
	n := utf8.RuneCountInString(s)
	if n < minLen {
		b.fail("Invalid input for field '%s': '%s' is too short.", name, b.echo(name, s))
	}
	if n > maxLen {
		b.fail("Invalid input for field '%s': '%s...' is too long.", name, b.echo(name, s))
	}
	*dst = s
	return true
}

// name reads a required-when-creating name (non-blank).
func (b *body) name(dst *string, maxLen int, required bool) {
	if !b.str("name", dst, 1, maxLen, false) {
		if required {
			b.fail("'name' is a required property.")
		}
		return
	}
	if strings.TrimSpace(*dst) == "" {
		b.fail("Invalid input for field 'name': the name must not be blank.")
	}
}

func (b *body) boolean(name string, dst *bool) bool {
	v, ok := b.raw(name)
	if !ok {
		return false
	}
	if err := json.Unmarshal(v, dst); err != nil || isNull(v) {
		b.fail("Invalid input for field '%s': %s is not of type 'boolean'.", name, shorten(v))
	}
	return true
}

func (b *body) strList(name string, dst *[]string, maxItems, maxLen int) bool {
	v, ok := b.raw(name)
	if !ok {
		return false
	}
	var l []string
	if err := json.Unmarshal(v, &l); err != nil || isNull(v) {
		b.fail("Invalid input for field '%s': %s is not of type 'array' of strings.", name, shorten(v))
		return true
	}
	if len(l) > maxItems {
		b.fail("Invalid input for field '%s': too many items (at most %d).", name, maxItems)
	}
	for _, s := range l {
		if s == "" || utf8.RuneCountInString(s) > maxLen {
			b.fail("Invalid input for field '%s': '%s' has a bad length.", name, truncate(s, 32))
		}
	}
	*dst = l
	return true
}

func (b *body) object(name string, dst *map[string]any) bool {
	v, ok := b.raw(name)
	if !ok {
		return false
	}
	var m map[string]any
	if err := json.Unmarshal(v, &m); err != nil || m == nil {
		b.fail("Invalid input for field '%s': %s is not of type 'object'.", name, shorten(v))
		return true
	}
	*dst = m
	return true
}

// timeField reads an ISO 8601 time (nullable).
func (b *body) timeField(name string, dst *time.Time) bool {
	var s string
	if !b.str(name, &s, 0, 64, true) || s == "" {
		return false
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999", "2006-01-02T15:04:05Z0700", "2006-01-02T15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			*dst = t.UTC()
			return true
		}
	}
	b.fail("Invalid input for field '%s': '%s' is not a valid date-time.", name, truncate(s, 40))
	return true
}

// rest returns the fields no reader picked: a resource's extra attributes.
// Values are kept as JSON values; "id" and "links" are never stored.
func (b *body) rest() map[string]any {
	out := map[string]any{}
	for k, v := range b.m {
		if b.used[k] || k == "id" || k == "links" {
			continue
		}
		if len(k) > maxName {
			b.fail("Invalid input: attribute name too long.")
			continue
		}
		var x any
		_ = json.Unmarshal(v, &x)
		out[k] = x
	}
	return out
}

// strict fails on any field no reader picked.
func (b *body) strict() {
	var extra []string
	for k := range b.m {
		if !b.used[k] {
			extra = append(extra, k)
		}
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		b.fail("Additional properties are not allowed ('%s' was unexpected).", strings.Join(extra, "', '"))
	}
}

// secretFields are never repeated in error messages.
var secretFields = map[string]bool{"password": true, "original_password": true, "secret": true}

// echo returns a value to quote in an error message: the start of it, or
// nothing for secrets.
func (b *body) echo(name, v string) string {
	if secretFields[name] {
		return "<hidden>"
	}
	return truncate(v, 32)
}

func shorten(v json.RawMessage) string {
	return truncate(string(v), 40)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// queryBool parses keystone's boolean query values: a key present with no
// value, or anything but 0/false/no/off, is true.
func queryBool(r *http.Request, name string) (*bool, error) {
	q := r.URL.Query()
	vs, ok := q[name]
	if !ok {
		return nil, nil
	}
	v := strings.ToLower(vs[0])
	t, f := true, false
	switch v {
	case "", "1", "true", "yes", "on":
		return &t, nil
	case "0", "false", "no", "off":
		return &f, nil
	}
	if b, err := strconv.ParseBool(v); err == nil {
		return &b, nil
	}
	return nil, errs.BadRequest("Invalid value %q for %s: expected a boolean.", vs[0], name)
}

// queryFlag is a boolean query parameter that is false when absent.
func queryFlag(r *http.Request, name string) (bool, error) {
	b, err := queryBool(r, name)
	if err != nil || b == nil {
		return false, err
	}
	return *b, nil
}

// queryList splits a comma-separated query parameter.
func queryList(r *http.Request, name string) []string {
	v := r.URL.Query().Get(name)
	if v == "" {
		return nil
	}
	var out []string
	for _, x := range strings.Split(v, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

func listLinks(r *http.Request) obj {
	return obj{"self": httpx.SelfLink(r), "next": nil, "previous": nil}
}

func noContent(w http.ResponseWriter) error {
	w.WriteHeader(http.StatusNoContent)
	return nil
}
