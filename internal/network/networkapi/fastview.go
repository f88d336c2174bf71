package networkapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/gureum/gureum/internal/network"
)

// Ports are the collection listed in thousands (compute, the data plane,
// Terraform refreshes). For callers who see every attribute (admins), a
// stored body written by the current code (network.BodyVersion) is served
// as it is, with tenant_id added: decoding and re-encoding would give the
// same bytes at several times the cost. Other callers' ports render
// straight from their struct instead of through a generic map, the binding
// attributes hidden by shadowing them with empty fields (encoding/json
// lets the shallower field win).

type portView struct {
	*network.Port
	TenantID string `json:"tenant_id"`
}

type portViewRestricted struct {
	*network.Port
	TenantID   string    `json:"tenant_id"`
	HostID     *struct{} `json:"binding:host_id,omitempty"`
	VIFType    *struct{} `json:"binding:vif_type,omitempty"`
	VIFDetails *struct{} `json:"binding:vif_details,omitempty"`
	Profile    *struct{} `json:"binding:profile,omitempty"`
}

var restrictedPortAttrs = []string{"binding:host_id", "binding:profile", "binding:vif_details", "binding:vif_type"}

// fastPorts renders ports when the hidden attributes are none or exactly
// the binding ones; ok is false otherwise.
func fastPorts(items []network.Resource, hidden []string) ([]json.RawMessage, bool) {
	h := slices.Sorted(slices.Values(hidden))
	restricted := slices.Equal(h, restrictedPortAttrs)
	if len(h) > 0 && !restricted {
		return nil, false
	}
	out := make([]json.RawMessage, len(items))
	// Pages of 1,000 are marshalled on every CPU.
	workers := min(runtime.GOMAXPROCS(0), len(items)/256+1)
	chunk := (len(items) + workers - 1) / workers
	var failed atomic.Bool
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		lo, hi := w*chunk, min((w+1)*chunk, len(items))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := lo; i < hi; i++ {
				p := items[i].(*network.Port)
				var b []byte
				var err error
				if restricted {
					b, err = json.Marshal(portViewRestricted{Port: p, TenantID: p.ProjectID})
				} else {
					b, err = json.Marshal(portView{Port: p, TenantID: p.ProjectID})
				}
				if err != nil {
					failed.Store(true)
					return
				}
				out[i] = b
			}
		}()
	}
	wg.Wait()
	return out, !failed.Load()
}

// listPortsFast serves a store-paged port list; done is false when the
// caller's hidden attributes need the generic path.
func (a *API) listPortsFast(w http.ResponseWriter, r *http.Request, c network.Caller, lq *listQuery, q network.Query) (bool, error) {
	hidden := hiddenAttrs(r, defPort)
	rows, err := a.svc.ListRows(r.Context(), c, network.KindPort, q)
	if err != nil {
		return true, err
	}
	more := lq.limit > 0 && len(rows) > lq.limit
	if more {
		rows = rows[:lq.limit]
	}
	var page []json.RawMessage
	if len(hidden) == 0 {
		page = make([]json.RawMessage, len(rows))
		for i, row := range rows {
			if row.BodyVersion == network.BodyVersion && len(row.Body) > 2 && row.Body[0] == '{' {
				pid, _ := json.Marshal(row.ProjectID)
				b := make([]byte, 0, len(row.Body)+len(pid)+16)
				b = append(b, `{"tenant_id":`...)
				b = append(b, pid...)
				b = append(b, ',')
				b = append(b, row.Body[1:]...)
				page[i] = b
				continue
			}
			res, err := network.Decode(network.KindPort, row)
			if err != nil {
				return true, err
			}
			p := res.(*network.Port)
			if page[i], err = json.Marshal(portView{Port: p, TenantID: p.ProjectID}); err != nil {
				return true, err
			}
		}
	} else {
		items := make([]network.Resource, len(rows))
		for i, row := range rows {
			res, err := network.Decode(network.KindPort, row)
			if err != nil {
				return true, err
			}
			items[i] = res
		}
		var ok bool
		if page, ok = fastPorts(items, hidden); !ok {
			return false, nil
		}
	}
	// Written by hand: encoding []json.RawMessage would re-validate every
	// port.
	var buf bytes.Buffer
	buf.Grow(len(page) * 1000)
	buf.WriteString(`{"ports":[`)
	for i, p := range page {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(p)
	}
	buf.WriteByte(']')
	if lq.limit > 0 {
		ids := make([]string, len(rows))
		for i, row := range rows {
			ids[i] = row.ID
		}
		l, _ := json.Marshal(pageLinks(r, lq, ids, more))
		buf.WriteString(`,"ports_links":`)
		buf.Write(l)
	}
	buf.WriteString("}\n")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
	return true, nil
}
