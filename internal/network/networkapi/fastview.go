package networkapi

import (
	"encoding/json"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/gureum/gureum/internal/network"
)

// Ports are the collection listed in thousands (compute, the data plane,
// Terraform refreshes), so they render straight from their struct instead
// of through a generic map: one json.Marshal per port, several times
// faster. The binding attributes are hidden by shadowing them with empty
// fields (encoding/json lets the shallower field win).

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
