package networkapi

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/gureum/gureum/internal/network"
	"github.com/gureum/gureum/internal/platform/errs"
	"github.com/gureum/gureum/internal/platform/httpx"
	"github.com/gureum/gureum/internal/policy"
)

// MaxLimit caps a page; larger limits are lowered to it.
const MaxLimit = 10000

var reserved = map[string]bool{"fields": true, "sort_key": true, "sort_dir": true, "limit": true, "marker": true,
	"page_reverse": true, "tags": true, "tags-any": true, "not-tags": true, "not-tags-any": true}

type listQuery struct {
	filters   map[string][]string
	pushed    map[string][]string
	sortKeys  []string
	sortDesc  []bool
	limit     int
	marker    string
	reverse   bool
	tagsAll   []string
	tagsAny   []string
	notAll    []string
	notAny    []string
	goFilters bool // some filter is applied in Go
}

func splitTags(vals []string) []string {
	var out []string
	for _, v := range vals {
		for _, t := range strings.Split(v, ",") {
			if t != "" {
				out = append(out, t)
			}
		}
	}
	return out
}

func parseList(r *http.Request, d *resDef) (*listQuery, error) {
	q := r.URL.Query()
	lq := &listQuery{filters: map[string][]string{}, pushed: map[string][]string{}}
	for k, vals := range q {
		if reserved[k] {
			continue
		}
		if k == "tenant_id" {
			k = "project_id"
		}
		lq.filters[k] = append(lq.filters[k], vals...)
		if col, ok := d.push[k]; ok {
			lq.pushed[col] = append(lq.pushed[col], vals...)
		} else {
			lq.goFilters = true
		}
	}
	lq.sortKeys = q["sort_key"]
	dirs := q["sort_dir"]
	if len(dirs) > 0 && len(dirs) != len(lq.sortKeys) {
		return nil, errs.BadRequest("The number of sort_keys and sort_dirs must be same.")
	}
	for i := range lq.sortKeys {
		desc := false
		if len(dirs) > 0 {
			switch dirs[i] {
			case "asc":
			case "desc":
				desc = true
			default:
				return nil, errs.BadRequest("%s is invalid attribute for sort_dir.", dirs[i])
			}
		}
		lq.sortDesc = append(lq.sortDesc, desc)
	}
	n, err := httpx.QueryInt(r, "limit", 0)
	if err != nil {
		return nil, err
	}
	lq.limit = min(n, MaxLimit)
	lq.marker = q.Get("marker")
	if pr := q.Get("page_reverse"); pr != "" {
		lq.reverse, _ = strconv.ParseBool(pr)
	}
	lq.tagsAll, lq.tagsAny = splitTags(q["tags"]), splitTags(q["tags-any"])
	lq.notAll, lq.notAny = splitTags(q["not-tags"]), splitTags(q["not-tags-any"])
	if len(lq.tagsAll)+len(lq.tagsAny)+len(lq.notAll)+len(lq.notAny) > 0 {
		lq.goFilters = true
	}
	return lq, nil
}

// pagePushed reports whether the store can page: default order (by id)
// and every filter applied by the store.
func (lq *listQuery) pagePushed() bool {
	if lq.goFilters || lq.reverse {
		return false
	}
	for _, k := range lq.sortKeys {
		if k != "id" {
			return false
		}
	}
	return len(lq.sortKeys) <= 1
}

func (a *API) list(d *resDef) httpx.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		c := caller(r)
		if err := httpx.Authorize(r, policy.Target{"project_id": c.ProjectID, "shared": "False", "router:external": "False"}); err != nil {
			return err
		}
		lq, err := parseList(r, d)
		if err != nil {
			return err
		}
		q := network.Query{Eq: lq.pushed}
		pushed := lq.pagePushed()
		if pushed {
			q.Marker = lq.marker
			q.Desc = len(lq.sortDesc) == 1 && lq.sortDesc[0]
			if lq.limit > 0 {
				q.Limit = lq.limit + 1
			}
		}
		if pushed && d.kind == network.KindPort && len(r.URL.Query()["fields"]) == 0 {
			if done, err := a.listPortsFast(w, r, c, lq, q); done || err != nil {
				return err
			}
		}
		items, err := a.svc.List(r.Context(), c, d.kind, q)
		if err != nil {
			return err
		}
		if d.kind == network.KindSecurityGroup {
			sgs := make([]*network.SecurityGroup, 0, len(items))
			for _, it := range items {
				sgs = append(sgs, it.(*network.SecurityGroup))
			}
			if err := a.svc.FillRules(r.Context(), sgs); err != nil {
				return err
			}
		}
		hidden := hiddenAttrs(r, d)
		views := make([]obj, 0, len(items))
		for _, it := range items {
			v := render(d, it, hidden)
			if matches(v, lq) {
				views = append(views, v)
			}
		}
		var page []obj
		more := false
		if pushed {
			page = views
			if lq.limit > 0 && len(page) > lq.limit {
				page, more = page[:lq.limit], true
			}
		} else {
			sortViews(views, lq)
			page, more = paginate(views, lq)
		}
		out := make([]obj, 0, len(page))
		for _, v := range page {
			out = append(out, selectFields(v, r.URL.Query()["fields"]))
		}
		body := obj{d.plural(): out}
		if lq.limit > 0 {
			var ids []string
			for _, v := range page {
				ids = append(ids, fmt.Sprint(v["id"]))
			}
			body[d.plural()+"_links"] = pageLinks(r, lq, ids, more)
		}
		httpx.WriteJSON(w, http.StatusOK, body)
		return nil
	}
}

// pageLinks are the next (when more) and previous (after a marker) links.
func pageLinks(r *http.Request, lq *listQuery, ids []string, more bool) []obj {
	out := []obj{}
	if more && len(ids) > 0 {
		out = append(out, obj{"rel": "next", "href": pageLink(r, ids[len(ids)-1], false)})
	}
	if lq.marker != "" && len(ids) > 0 {
		out = append(out, obj{"rel": "previous", "href": pageLink(r, ids[0], true)})
	}
	return out
}

func pageLink(r *http.Request, marker any, reverse bool) string {
	q := r.URL.Query()
	q.Set("marker", fmt.Sprint(marker))
	if reverse {
		q.Set("page_reverse", "True")
	} else {
		q.Del("page_reverse")
	}
	return httpx.BaseURL(r) + r.URL.Path + "?" + q.Encode()
}

// matches applies filters (Neutron's exact-match semantics, several values
// meaning any of them) and tag filters to a rendered resource.
func matches(v obj, lq *listQuery) bool {
	for k, vals := range lq.filters {
		if k == "fixed_ips" {
			if !matchFixedIPs(v, vals) {
				return false
			}
			continue
		}
		x, ok := v[k]
		if !ok {
			continue // unknown attributes are ignored, as Neutron without filter-validation
		}
		if !slices.ContainsFunc(vals, func(s string) bool { return valueMatches(x, s) }) {
			return false
		}
	}
	if len(lq.tagsAll)+len(lq.tagsAny)+len(lq.notAll)+len(lq.notAny) > 0 {
		var tags []string
		if ts, ok := v["tags"].([]any); ok {
			for _, t := range ts {
				tags = append(tags, fmt.Sprint(t))
			}
		}
		has := func(t string) bool { return slices.Contains(tags, t) }
		all := func(ts []string) bool {
			for _, t := range ts {
				if !has(t) {
					return false
				}
			}
			return true
		}
		if len(lq.tagsAll) > 0 && !all(lq.tagsAll) {
			return false
		}
		if len(lq.tagsAny) > 0 && !slices.ContainsFunc(lq.tagsAny, has) {
			return false
		}
		if len(lq.notAll) > 0 && all(lq.notAll) {
			return false
		}
		if len(lq.notAny) > 0 && slices.ContainsFunc(lq.notAny, has) {
			return false
		}
	}
	return true
}

func valueMatches(x any, s string) bool {
	switch t := x.(type) {
	case nil:
		return s == "" || strings.EqualFold(s, "none") || strings.EqualFold(s, "null")
	case bool:
		b, err := strconv.ParseBool(s)
		return err == nil && b == t
	case float64:
		f, err := strconv.ParseFloat(s, 64)
		return err == nil && f == t
	case string:
		return t == s
	case []any:
		for _, e := range t {
			if valueMatches(e, s) {
				return true
			}
		}
		return false
	}
	return fmt.Sprint(x) == s
}

// matchFixedIPs implements ports' fixed_ips=ip_address=X / subnet_id=Y /
// ip_address_substr=Z filters.
func matchFixedIPs(v obj, vals []string) bool {
	ips, _ := v["fixed_ips"].([]any)
	for _, f := range vals {
		cond, err := url.ParseQuery(f)
		if err != nil {
			return false
		}
		ok := false
		for _, x := range ips {
			m, _ := x.(obj)
			good := true
			for k := range cond {
				want := cond.Get(k)
				switch k {
				case "ip_address", "subnet_id":
					good = good && fmt.Sprint(m[k]) == want
				case "ip_address_substr":
					good = good && strings.Contains(fmt.Sprint(m["ip_address"]), want)
				default:
					good = false
				}
			}
			if good {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

func compareAny(a, b any) int {
	switch x := a.(type) {
	case nil:
		if b == nil {
			return 0
		}
		return -1
	case float64:
		if y, ok := b.(float64); ok {
			switch {
			case x < y:
				return -1
			case x > y:
				return 1
			}
			return 0
		}
	case bool:
		if y, ok := b.(bool); ok {
			switch {
			case x == y:
				return 0
			case !x:
				return -1
			}
			return 1
		}
	}
	if b == nil {
		return 1
	}
	return strings.Compare(fmt.Sprint(a), fmt.Sprint(b))
}

func sortViews(views []obj, lq *listQuery) {
	keys, desc := lq.sortKeys, lq.sortDesc
	slices.SortStableFunc(views, func(x, y obj) int {
		for i, k := range keys {
			c := compareAny(x[k], y[k])
			if desc[i] {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return strings.Compare(fmt.Sprint(x["id"]), fmt.Sprint(y["id"]))
	})
}

// paginate applies marker, limit and page_reverse to sorted views.
func paginate(views []obj, lq *listQuery) ([]obj, bool) {
	if lq.reverse {
		views = slices.Clone(views)
		slices.Reverse(views)
	}
	if lq.marker != "" {
		i := slices.IndexFunc(views, func(v obj) bool { return v["id"] == lq.marker })
		if i >= 0 {
			views = views[i+1:]
		}
	}
	more := false
	if lq.limit > 0 && len(views) > lq.limit {
		views, more = views[:lq.limit], true
	}
	if lq.reverse {
		views = slices.Clone(views)
		slices.Reverse(views)
	}
	return views, more
}
