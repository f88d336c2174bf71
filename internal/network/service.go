package network

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gureum/gureum/internal/platform/errs"
)

// Config is what the network service needs from the configuration.
type Config struct {
	// UnderlayMTU is the physical network's MTU.
	UnderlayMTU int
	// VXLANFirst and VXLANLast bound the VNIs handed to tenant networks.
	VXLANFirst, VXLANLast int
	// TenantNetworkType is vxlan or local.
	TenantNetworkType string
	// PhysicalNetworks are the flat/vlan physical network names.
	PhysicalNetworks []string
	// Quotas are the per-project defaults by resource (-1: unlimited);
	// missing resources take Neutron's defaults.
	Quotas map[string]int
}

// Service is the networking domain logic.
type Service struct {
	store Store
	cfg   Config
	log   *slog.Logger
	now   func() time.Time
}

// New returns the network service.
func New(store Store, cfg Config, log *slog.Logger) *Service {
	if cfg.UnderlayMTU == 0 {
		cfg.UnderlayMTU = 1500
	}
	if cfg.VXLANFirst == 0 {
		cfg.VXLANFirst, cfg.VXLANLast = 1, 16777215
	}
	if cfg.TenantNetworkType == "" {
		cfg.TenantNetworkType = "vxlan"
	}
	q := map[string]int{}
	for k, v := range DefaultQuotas {
		q[k] = v
	}
	for k, v := range cfg.Quotas {
		q[k] = v
	}
	cfg.Quotas = q
	return &Service{store: store, cfg: cfg, log: log, now: func() time.Time { return time.Now().UTC() }}
}

// Validate checks the configuration an operator gave.
func (c Config) Validate() error {
	if c.TenantNetworkType != "" && c.TenantNetworkType != "vxlan" && c.TenantNetworkType != "local" {
		return fmt.Errorf("tenant_network_type %q: want vxlan or local", c.TenantNetworkType)
	}
	if c.UnderlayMTU != 0 && c.UnderlayMTU-VXLANOverhead < 576 {
		return fmt.Errorf("underlay_mtu %d leaves VXLAN networks below 576 bytes", c.UnderlayMTU)
	}
	for _, p := range c.PhysicalNetworks {
		if p == "" || len(p) > 64 {
			return fmt.Errorf("physical network name %q: 1 to 64 characters", p)
		}
	}
	return nil
}

// ParseVXLANRange parses "first:last".
func ParseVXLANRange(s string) (int, int, error) {
	var a, b int
	if _, err := fmt.Sscanf(s, "%d:%d", &a, &b); err != nil || a < 1 || b > 16777215 || a > b {
		return 0, 0, fmt.Errorf("vxlan range %q: want first:last within 1:16777215", s)
	}
	return a, b, nil
}

// Caller is who acts: their project and whether they are a cloud admin.
type Caller struct {
	ProjectID string
	Admin     bool
}

// notFoundType is Neutron's error type for a missing resource of a kind.
var notFoundType = map[Kind]string{
	KindNetwork: "NetworkNotFound", KindSubnet: "SubnetNotFound", KindPort: "PortNotFound",
	KindSecurityGroup: "SecurityGroupNotFound", KindSGRule: "SecurityGroupRuleNotFound",
	KindRouter: "RouterNotFound", KindFloatingIP: "FloatingIPNotFound", KindSubnetPool: "SubnetPoolNotFound",
}

var kindNoun = map[Kind]string{
	KindNetwork: "Network", KindSubnet: "Subnet", KindPort: "Port", KindSecurityGroup: "Security group",
	KindSGRule: "Security group rule", KindRouter: "Router", KindFloatingIP: "Floating IP", KindSubnetPool: "Subnet pool",
}

func notFound(k Kind, id string) *errs.Error {
	return errs.NotFound("%s %s could not be found.", kindNoun[k], id).WithType(notFoundType[k])
}

// New returns an empty resource of kind k.
func newOf(k Kind) Resource {
	switch k {
	case KindNetwork:
		return &Network{}
	case KindSubnet:
		return &Subnet{}
	case KindPort:
		return &Port{}
	case KindSecurityGroup:
		return &SecurityGroup{}
	case KindSGRule:
		return &SGRule{}
	case KindRouter:
		return &Router{}
	case KindFloatingIP:
		return &FloatingIP{}
	case KindSubnetPool:
		return &SubnetPool{}
	}
	panic("network: unknown kind " + string(k))
}

// KindOf returns the kind of a resource.
func KindOf(r Resource) Kind {
	switch r.(type) {
	case *Network:
		return KindNetwork
	case *Subnet:
		return KindSubnet
	case *Port:
		return KindPort
	case *SecurityGroup:
		return KindSecurityGroup
	case *SGRule:
		return KindSGRule
	case *Router:
		return KindRouter
	case *FloatingIP:
		return KindFloatingIP
	case *SubnetPool:
		return KindSubnetPool
	}
	panic(fmt.Sprintf("network: unknown resource %T", r))
}

func decode(k Kind, row *Row) (Resource, error) {
	r := newOf(k)
	if err := json.Unmarshal(row.Body, r); err != nil {
		return nil, errs.Internal(fmt.Errorf("decode %s %s: %w", k, row.ID, err))
	}
	st := r.std()
	st.Revision = row.Revision
	if st.Tags == nil {
		st.Tags = []string{}
	}
	return r, nil
}

// toRow encodes a resource with its query columns.
func toRow(r Resource) (*Row, error) {
	st := r.std()
	if st.Tags == nil {
		st.Tags = []string{}
	}
	row := &Row{ID: st.ID, ProjectID: st.ProjectID, Name: st.Name, CreatedAt: st.CreatedAt.Time, Revision: st.Revision, BodyVersion: BodyVersion}
	switch v := r.(type) {
	case *Network:
		row.Shared, row.External = v.Shared, v.External
	case *Subnet:
		row.ParentID = v.NetworkID
		if v.SubnetPoolID != nil {
			row.DeviceID = *v.SubnetPoolID
		}
	case *Port:
		row.ParentID, row.DeviceID = v.NetworkID, v.DeviceID
	case *SGRule:
		row.ParentID = v.SecurityGroupID
		if v.RemoteGroupID != nil {
			row.DeviceID = *v.RemoteGroupID
		}
	case *Router:
		if v.Gateway != nil {
			row.ParentID = v.Gateway.NetworkID
		}
	case *FloatingIP:
		row.ParentID = v.FloatingNetworkID
		if v.PortID != nil {
			row.DeviceID = *v.PortID
		}
	case *SubnetPool:
		row.Shared = v.Shared
	case *SecurityGroup:
		row.Shared = v.Shared
	}
	b, err := json.Marshal(r)
	if err != nil {
		return nil, errs.Internal(err)
	}
	row.Body = b
	return row, nil
}

// visible says whether c may see a row: admins see everything, projects
// their own rows and shared (and, for networks, external) ones.
func visible(c Caller, k Kind, row *Row) bool {
	if c.Admin || row.ProjectID == c.ProjectID {
		return true
	}
	switch k {
	case KindNetwork:
		return row.Shared || row.External
	case KindSubnet, KindSubnetPool:
		return row.Shared
	}
	return false
}

// load reads a resource the caller may see; others' are NotFound, as in
// Neutron, so IDs do not leak.
func load[T Resource](ctx context.Context, o Ops, c Caller, k Kind, id string, forUpdate bool) (T, *Row, error) {
	var zero T
	row, err := o.Get(ctx, k, id, forUpdate)
	if errs.Is(err, errs.KindNotFound) || (err == nil && !visible(c, k, row)) {
		return zero, nil, notFound(k, id)
	}
	if err != nil {
		return zero, nil, err
	}
	r, err := decode(k, row)
	if err != nil {
		return zero, nil, err
	}
	return r.(T), row, nil
}

// Get returns any resource by kind for the caller.
func (s *Service) Get(ctx context.Context, c Caller, k Kind, id string) (Resource, *Row, error) {
	return load[Resource](ctx, s.store.Read(), c, k, id, false)
}

// Visible reports whether the caller may see a stored row.
func Visible(c Caller, k Kind, row *Row) bool { return visible(c, k, row) }

// List returns the rows of kind k that the caller may see, filtered by q
// (whose ProjectID and OrShared are set here from the caller).
func (s *Service) List(ctx context.Context, c Caller, k Kind, q Query) ([]Resource, error) {
	if !c.Admin {
		q.ProjectID = c.ProjectID
		q.OrShared = k == KindNetwork || k == KindSubnet || k == KindSubnetPool
	}
	if k == KindSecurityGroup || k == KindSGRule {
		if err := s.EnsureDefaultSecurityGroup(ctx, c.ProjectID); err != nil {
			return nil, err
		}
	}
	rows, err := s.store.Read().List(ctx, k, q)
	if err != nil {
		return nil, err
	}
	return decodeAll(k, rows)
}

// ListRows is List without decoding, for callers that can serve stored
// bodies of the current BodyVersion as they are.
func (s *Service) ListRows(ctx context.Context, c Caller, k Kind, q Query) ([]*Row, error) {
	if !c.Admin {
		q.ProjectID = c.ProjectID
		q.OrShared = k == KindNetwork || k == KindSubnet || k == KindSubnetPool
	}
	return s.store.Read().List(ctx, k, q)
}

// Decode decodes a stored row of kind k.
func Decode(k Kind, row *Row) (Resource, error) { return decode(k, row) }

// decodeAll decodes rows, spreading big lists (pages of 1,000 ports) over
// the CPUs: decoding is most of a list's cost.
func decodeAll(k Kind, rows []*Row) ([]Resource, error) {
	out := make([]Resource, len(rows))
	workers := min(runtime.GOMAXPROCS(0), len(rows)/256+1)
	errc := make(chan error, workers)
	chunk := (len(rows) + workers - 1) / max(workers, 1)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		lo, hi := w*chunk, min((w+1)*chunk, len(rows))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := lo; i < hi; i++ {
				r, err := decode(k, rows[i])
				if err != nil {
					errc <- err
					return
				}
				out[i] = r
			}
		}()
	}
	wg.Wait()
	close(errc)
	if err := <-errc; err != nil {
		return nil, err
	}
	return out, nil
}

// insert stores a new resource.
func insert(ctx context.Context, o Ops, r Resource) error {
	row, err := toRow(r)
	if err != nil {
		return err
	}
	return o.Insert(ctx, KindOf(r), row)
}

// save stores a changed resource, bumping its revision.
func (s *Service) save(ctx context.Context, o Ops, r Resource) error {
	st := r.std()
	st.Revision++
	st.UpdatedAt = Time{s.now()}
	row, err := toRow(r)
	if err != nil {
		return err
	}
	if KindOf(r) == KindSubnet {
		// A subnet's shared column follows its network, not the body.
		cur, err := o.Get(ctx, KindSubnet, row.ID, false)
		if err != nil {
			return err
		}
		row.Shared = cur.Shared
	}
	return o.Update(ctx, KindOf(r), row)
}

func (s *Service) newStd(id, project string, name, desc *string) Std {
	now := Time{s.now()}
	// Neutron answers a create with revision 1.
	st := Std{ID: id, ProjectID: project, Tags: []string{}, CreatedAt: now, UpdatedAt: now, Revision: 1}
	if name != nil {
		st.Name = *name
	}
	if desc != nil {
		st.Description = *desc
	}
	return st
}

// CheckRevision implements If-Match: revision_number=N.
func CheckRevision(st *Std, want *int64) error {
	if want != nil && st.Revision != *want {
		return errs.PreconditionFailed("Constrained revision number %d does not match the current revision %d.", *want, st.Revision).WithType("RevisionNumberConstraintFailed")
	}
	return nil
}

// owner decides which project a new resource belongs to: the caller's,
// or for admins any named one.
func owner(c Caller, projectID, tenantID *string) (string, error) {
	p := c.ProjectID
	for _, v := range []*string{projectID, tenantID} {
		if v != nil && *v != "" {
			if *v != c.ProjectID && !c.Admin {
				return "", errs.Forbidden("Only admins may create resources for another project.").WithType("PolicyNotAuthorized")
			}
			p = *v
		}
	}
	if projectID != nil && tenantID != nil && *projectID != *tenantID {
		return "", errs.BadRequest("'project_id' and 'tenant_id' do not match.")
	}
	return p, nil
}

func ownsOrAdmin(c Caller, project string) bool { return c.Admin || c.ProjectID == project }

// Tags.

// MaxTags bounds the tags of one resource, MaxTagLen one tag's length
// (Neutron's limits).
const (
	MaxTags   = 50
	MaxTagLen = 255
)

func validTag(t string) error {
	if t == "" || len(t) > MaxTagLen || strings.ContainsAny(t, ",/") {
		return errs.BadRequest("Invalid tag %q: 1 to %d characters, without ',' or '/'.", t, MaxTagLen)
	}
	return nil
}

// ModifyTags applies fn to a resource's tags.
func (s *Service) ModifyTags(ctx context.Context, c Caller, k Kind, id string, fn func([]string) ([]string, error)) (Resource, error) {
	var out Resource
	err := s.store.Tx(ctx, func(o Ops) error {
		r, row, err := load[Resource](ctx, o, c, k, id, true)
		if err != nil {
			return err
		}
		if !ownsOrAdmin(c, row.ProjectID) {
			return errs.Forbidden("You are not allowed to change the tags of %s %s.", kindNoun[k], id).WithType("PolicyNotAuthorized")
		}
		tags, err := fn(slices.Clone(r.std().Tags))
		if err != nil {
			return err
		}
		for _, t := range tags {
			if err := validTag(t); err != nil {
				return err
			}
		}
		slices.Sort(tags)
		tags = slices.Compact(tags)
		if len(tags) > MaxTags {
			return errs.BadRequest("A resource may have at most %d tags.", MaxTags)
		}
		r.std().Tags = tags
		out = r
		return s.save(ctx, o, r)
	})
	return out, err
}
