package compute

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/gureum/gureum/internal/platform/errs"
)

// Request is what the scheduler places.
type Request struct {
	ServerID  string
	Resources Resources
	AZ        string
	// ForceHost pins the server (admin "az:host").
	ForceHost string
	Image     *Image
	Group     *ServerGroup
}

// filter rejects nodes; its name appears in "No valid host" faults.
type filter struct {
	name string
	pass func(n *Node, r *Request, g groupHosts) bool
}

// groupHosts counts the nodes of a group's placed members.
type groupHosts map[string]int

var filters = []filter{
	{"ComputeFilter", func(n *Node, _ *Request, _ groupHosts) bool { return n.Usable() }},
	{"AvailabilityZoneFilter", func(n *Node, r *Request, _ groupHosts) bool { return r.AZ == "" || n.AvailabilityZone == r.AZ }},
	{"HostFilter", func(n *Node, r *Request, _ groupHosts) bool {
		return r.ForceHost == "" || n.Hostname == r.ForceHost || n.ID == r.ForceHost
	}},
	{"VCPUFilter", func(n *Node, r *Request, _ groupHosts) bool { return n.VCPUsCap-n.VCPUsUsed >= r.Resources.VCPUs }},
	{"RamFilter", func(n *Node, r *Request, _ groupHosts) bool {
		return n.MemoryMBCap-n.MemoryMBUsed >= r.Resources.MemoryMB
	}},
	{"DiskFilter", func(n *Node, r *Request, _ groupHosts) bool { return n.DiskGBCap-n.DiskGBUsed >= r.Resources.DiskGB }},
	{"ImagePropertiesFilter", func(n *Node, r *Request, _ groupHosts) bool {
		if r.Image == nil {
			return true
		}
		if ht := r.Image.Properties["hypervisor_type"]; ht != "" && !strings.EqualFold(ht, n.HypervisorType) &&
			!(strings.EqualFold(ht, "qemu") && strings.EqualFold(n.HypervisorType, "kvm")) {
			return false
		}
		if arch := r.Image.Properties["architecture"]; arch != "" && n.CPUInfo.Arch != "" && arch != n.CPUInfo.Arch {
			return false
		}
		return true
	}},
	{"ServerGroupAffinityFilter", func(n *Node, r *Request, g groupHosts) bool {
		if r.Group == nil || r.Group.Policy != PolicyAffinity || len(g) == 0 {
			return true
		}
		return g[n.ID] > 0
	}},
	{"ServerGroupAntiAffinityFilter", func(n *Node, r *Request, g groupHosts) bool {
		return r.Group == nil || r.Group.Policy != PolicyAntiAffinity || g[n.ID] == 0
	}},
}

// NoValidHost is the scheduler's failure; Details names which filter
// rejected which hosts.
type NoValidHost struct{ Details string }

func (e *NoValidHost) Error() string {
	return "No valid host was found. " + e.Details
}

// Select returns the candidate nodes for r, best first.
func (s *Service) Select(ctx context.Context, r *Request) ([]*Node, error) {
	nodes, err := s.store.ListNodes(ctx)
	if err != nil {
		return nil, err
	}
	if len(nodes) == 0 {
		return nil, &NoValidHost{Details: "There are no compute hosts."}
	}
	g := groupHosts{}
	if r.Group != nil {
		for _, m := range r.Group.Members {
			if m == r.ServerID {
				continue
			}
			sv, err := s.store.GetServer(ctx, m)
			if err == nil && sv.NodeID != "" {
				g[sv.NodeID]++
			}
		}
	}
	var rejected []string
	cands := nodes
	for _, f := range filters {
		var keep, out []*Node
		for _, n := range cands {
			if f.pass(n, r, g) {
				keep = append(keep, n)
			} else {
				out = append(out, n)
			}
		}
		if len(out) > 0 {
			names := make([]string, len(out))
			for i, n := range out {
				names[i] = n.Hostname
			}
			rejected = append(rejected, fmt.Sprintf("%s rejected %s", f.name, strings.Join(names, ", ")))
		}
		cands = keep
		if len(cands) == 0 {
			return nil, &NoValidHost{Details: "Filters: " + strings.Join(rejected, "; ") + "."}
		}
	}
	// Weigh: spread by free RAM and vCPU share (nova's RAMWeigher and
	// CPUWeigher with positive multipliers); soft group policies add a
	// strong preference for (or against) nodes hosting members.
	weight := func(n *Node) float64 {
		w := float64(n.MemoryMBCap-n.MemoryMBUsed)/float64(max(n.MemoryMBCap, 1)) + float64(n.VCPUsCap-n.VCPUsUsed)/float64(max(n.VCPUsCap, 1))
		if r.Group != nil {
			switch r.Group.Policy {
			case PolicySoftAffinity:
				w += 10 * float64(g[n.ID])
			case PolicySoftAntiAffinity:
				w -= 10 * float64(g[n.ID])
			}
		}
		return w
	}
	sort.SliceStable(cands, func(i, j int) bool { return weight(cands[i]) > weight(cands[j]) })
	return cands, nil
}

// schedule selects a node and claims r on it atomically; when a claim
// loses a race it tries the next candidate.
func (s *Service) schedule(ctx context.Context, r *Request) (*Node, error) {
	cands, err := s.Select(ctx, r)
	if err != nil {
		return nil, err
	}
	var lastErr error
	for _, n := range cands {
		err := s.store.Claim(ctx, r.ServerID, n.ID, r.Resources)
		if err == nil {
			return n, nil
		}
		if !errs.Is(err, errs.KindConflict) {
			return nil, err
		}
		lastErr = err
	}
	return nil, &NoValidHost{Details: "Claims failed on every candidate: " + errs.From(lastErr).Message}
}
