// Package network is Gureum's Neutron: networks, subnets and their address
// management, ports, security groups, routers, floating IPs, subnet pools
// and quotas.
//
// The data plane (bridges, VXLAN, dnsmasq, routers in namespaces) uses the
// typed methods with an admin Caller (Caller{Admin: true}):
//
//   - GetNetwork: MTU (already net of the overlay), NetworkType,
//     SegmentationID (the VNI or VLAN), PhysicalNetwork;
//   - NetworkSubnets: CIDRs, gateways, pools, DNS servers, host routes,
//     enable_dhcp and IPv6 modes, i.e. what dnsmasq hands out;
//   - NetworkPorts: every port of a network with its MAC and fixed IPs;
//   - CreatePort (device_owner "network:dhcp" for DHCP ports: they do not
//     keep their network in use), BindPort (device, owner, host) and
//     SetPortStatus (ACTIVE/DOWN/BUILD/ERROR) for plugging instances;
//   - RouterPorts and GetSecurityGroup for routers and firewalls.
//
// The resource types carry Neutron's attribute names as JSON tags: the
// domain model is Neutron's model, the store keeps each resource as that
// JSON, and the API package renders it, removing what a caller may not see.
package network

import (
	"context"
	"encoding/json"
	"time"
)

// Kind names a resource collection; it is also the API's collection name
// with "-" for "_".
type Kind string

const (
	KindNetwork       Kind = "networks"
	KindSubnet        Kind = "subnets"
	KindPort          Kind = "ports"
	KindSecurityGroup Kind = "security_groups"
	KindSGRule        Kind = "security_group_rules"
	KindRouter        Kind = "routers"
	KindFloatingIP    Kind = "floatingips"
	KindSubnetPool    Kind = "subnetpools"
)

// Kinds lists every kind, for the tags API and store checks.
var Kinds = []Kind{KindNetwork, KindSubnet, KindPort, KindSecurityGroup, KindSGRule, KindRouter, KindFloatingIP, KindSubnetPool}

// Time marshals as Neutron's timestamps ("2026-01-02T03:04:05Z").
type Time struct{ time.Time }

const timeFormat = "2006-01-02T15:04:05Z"

func (t Time) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte("null"), nil
	}
	return []byte(`"` + t.UTC().Format(timeFormat) + `"`), nil
}

func (t *Time) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil || s == "" {
		t.Time = time.Time{}
		return nil
	}
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return err
	}
	t.Time = v
	return nil
}

// Std holds Neutron's standard attributes, shared by every resource.
type Std struct {
	ID          string   `json:"id"`
	ProjectID   string   `json:"project_id"`
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Tags        []string `json:"tags"`
	CreatedAt   Time     `json:"created_at"`
	UpdatedAt   Time     `json:"updated_at"`
	Revision    int64    `json:"revision_number"`
}

func (s *Std) std() *Std { return s }

// Resource is any resource kind.
type Resource interface{ std() *Std }

// IDOf returns a resource's ID.
func IDOf(r Resource) string { return r.std().ID }

// Network is an L2 network.
type Network struct {
	Std
	AdminStateUp          bool     `json:"admin_state_up"`
	Status                string   `json:"status"`
	Shared                bool     `json:"shared"`
	External              bool     `json:"router:external"`
	MTU                   int      `json:"mtu"`
	NetworkType           string   `json:"provider:network_type"`
	PhysicalNetwork       *string  `json:"provider:physical_network"`
	SegmentationID        *int     `json:"provider:segmentation_id"`
	AvailabilityZoneHints []string `json:"availability_zone_hints"`
	AvailabilityZones     []string `json:"availability_zones"`
	PortSecurityEnabled   bool     `json:"port_security_enabled"`
	Subnets               []string `json:"subnets"`
	IsDefault             bool     `json:"is_default"`
	DNSDomain             string   `json:"dns_domain"`
}

// Pool is an allocation pool.
type Pool struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

// HostRoute is a route handed out by DHCP.
type HostRoute struct {
	Destination string `json:"destination"`
	NextHop     string `json:"nexthop"`
}

// Subnet is an IP range on a network.
type Subnet struct {
	Std
	NetworkID       string      `json:"network_id"`
	IPVersion       int         `json:"ip_version"`
	CIDR            string      `json:"cidr"`
	GatewayIP       *string     `json:"gateway_ip"`
	AllocationPools []Pool      `json:"allocation_pools"`
	DNSNameservers  []string    `json:"dns_nameservers"`
	HostRoutes      []HostRoute `json:"host_routes"`
	EnableDHCP      bool        `json:"enable_dhcp"`
	IPv6RAMode      *string     `json:"ipv6_ra_mode"`
	IPv6AddressMode *string     `json:"ipv6_address_mode"`
	SubnetPoolID    *string     `json:"subnetpool_id"`
	ServiceTypes    []string    `json:"service_types"`
	SegmentID       *string     `json:"segment_id"`
	DNSPublishFixed bool        `json:"dns_publish_fixed_ip"`
}

// FixedIP is one address of a port.
type FixedIP struct {
	SubnetID  string `json:"subnet_id"`
	IPAddress string `json:"ip_address"`
}

// AddressPair is an extra address a port may send from.
type AddressPair struct {
	IPAddress  string `json:"ip_address"`
	MACAddress string `json:"mac_address,omitempty"`
}

// ExtraDHCPOpt is a DHCP option handed to the port.
type ExtraDHCPOpt struct {
	OptName   string `json:"opt_name"`
	OptValue  string `json:"opt_value"`
	IPVersion int    `json:"ip_version,omitempty"`
}

// Port is an attachment point on a network.
type Port struct {
	Std
	NetworkID           string           `json:"network_id"`
	AdminStateUp        bool             `json:"admin_state_up"`
	Status              string           `json:"status"`
	MACAddress          string           `json:"mac_address"`
	FixedIPs            []FixedIP        `json:"fixed_ips"`
	DeviceID            string           `json:"device_id"`
	DeviceOwner         string           `json:"device_owner"`
	SecurityGroups      []string         `json:"security_groups"`
	AllowedAddressPairs []AddressPair    `json:"allowed_address_pairs"`
	PortSecurityEnabled bool             `json:"port_security_enabled"`
	HostID              string           `json:"binding:host_id"`
	VIFType             string           `json:"binding:vif_type"`
	VIFDetails          map[string]any   `json:"binding:vif_details"`
	VNICType            string           `json:"binding:vnic_type"`
	Profile             map[string]any   `json:"binding:profile"`
	DNSName             string           `json:"dns_name"`
	DNSAssignment       []map[string]any `json:"dns_assignment"`
	ExtraDHCPOpts       []ExtraDHCPOpt   `json:"extra_dhcp_opts"`
	IPAllocation        string           `json:"ip_allocation,omitempty"`
}

// SecurityGroup is a set of firewall rules applied to ports.
type SecurityGroup struct {
	Std
	Rules    []SGRule `json:"security_group_rules"`
	Stateful bool     `json:"stateful"`
	Shared   bool     `json:"shared"`
}

// SGRule is one security group rule.
type SGRule struct {
	Std
	SecurityGroupID string  `json:"security_group_id"`
	Direction       string  `json:"direction"`
	EtherType       string  `json:"ethertype"`
	Protocol        *string `json:"protocol"`
	PortRangeMin    *int    `json:"port_range_min"`
	PortRangeMax    *int    `json:"port_range_max"`
	RemoteIPPrefix  *string `json:"remote_ip_prefix"`
	RemoteGroupID   *string `json:"remote_group_id"`
	RemoteAGID      *string `json:"remote_address_group_id"`
	Normalized      *string `json:"normalized_cidr"`
	BelongsDefault  bool    `json:"belongs_to_default_sg"`
}

// ExternalFixedIP is an address of a router's gateway.
type ExternalFixedIP = FixedIP

// GatewayInfo is a router's external gateway.
type GatewayInfo struct {
	NetworkID        string            `json:"network_id"`
	EnableSNAT       bool              `json:"enable_snat"`
	ExternalFixedIPs []ExternalFixedIP `json:"external_fixed_ips"`
}

// Route is a static route of a router.
type Route struct {
	Destination string `json:"destination"`
	NextHop     string `json:"nexthop"`
}

// Router connects subnets and an external network.
type Router struct {
	Std
	AdminStateUp          bool         `json:"admin_state_up"`
	Status                string       `json:"status"`
	Gateway               *GatewayInfo `json:"external_gateway_info"`
	Routes                []Route      `json:"routes"`
	AvailabilityZoneHints []string     `json:"availability_zone_hints"`
	AvailabilityZones     []string     `json:"availability_zones"`
	Distributed           bool         `json:"distributed"`
	HA                    bool         `json:"ha"`
	FlavorID              *string      `json:"flavor_id"`
}

// FloatingIP is a public address mapped to a port's fixed address.
type FloatingIP struct {
	Std
	FloatingNetworkID string  `json:"floating_network_id"`
	FloatingIPAddress string  `json:"floating_ip_address"`
	FixedIPAddress    *string `json:"fixed_ip_address"`
	PortID            *string `json:"port_id"`
	RouterID          *string `json:"router_id"`
	Status            string  `json:"status"`
	DNSName           string  `json:"dns_name"`
	DNSDomain         string  `json:"dns_domain"`
	PortForwardings   []any   `json:"port_forwardings"`
	// internal: the port holding the floating address.
	GatewayPortID string `json:"-"`
}

// SubnetPool is a pool of prefixes subnets are cut from.
type SubnetPool struct {
	Std
	Prefixes         []string `json:"prefixes"`
	DefaultPrefixLen int      `json:"default_prefixlen"`
	MinPrefixLen     int      `json:"min_prefixlen"`
	MaxPrefixLen     int      `json:"max_prefixlen"`
	IPVersion        int      `json:"ip_version"`
	Shared           bool     `json:"shared"`
	IsDefault        bool     `json:"is_default"`
	AddressScopeID   *string  `json:"address_scope_id"`
	DefaultQuota     *int     `json:"default_quota"`
}

// Row is a stored resource: the columns queries use and the JSON body.
type Row struct {
	ID, ProjectID, Name string
	// ParentID is the network of subnets and ports, the group of rules,
	// the floating network of floating IPs, the gateway network of routers.
	ParentID string
	// DeviceID is a port's device, a floating IP's port, a rule's remote
	// group, a subnet's pool.
	DeviceID  string
	Shared    bool
	External  bool
	CreatedAt time.Time
	Revision  int64
	Body      []byte
	// BodyVersion is the BodyVersion the body was written with.
	BodyVersion int
}

// BodyVersion is the version of the resources' JSON shape. Bump it with
// any change to a resource struct's fields: a body of the current version
// is exactly what decoding and re-encoding it would give, so lists may
// serve it without decoding (see TestBodyVersionPinsShapes).
const BodyVersion = 1

// Query selects rows of one kind.
type Query struct {
	// ProjectID limits to one project's rows ("" for all); with
	// OrShared, shared or external rows of other projects are included.
	ProjectID string
	OrShared  bool
	// Eq filters columns: "id", "project_id", "name", "parent_id",
	// "device_id"; several values are alternatives.
	Eq map[string][]string
	// Marker and Limit page by ID (ascending, or descending with Desc).
	Marker string
	Limit  int
	Desc   bool
}

// IPAllocation is an address held by a port.
type IPAllocation struct {
	SubnetID, IPAddress, PortID, NetworkID string
}

// Ops are the store operations, inside a transaction or not.
type Ops interface {
	Get(ctx context.Context, k Kind, id string, forUpdate bool) (*Row, error)
	List(ctx context.Context, k Kind, q Query) ([]*Row, error)
	Count(ctx context.Context, k Kind, q Query) (int, error)
	Insert(ctx context.Context, k Kind, r *Row) error
	Update(ctx context.Context, k Kind, r *Row) error
	Delete(ctx context.Context, k Kind, id string) error

	// AllocateIP records an address; false when it is already taken.
	// The store's constraint decides, so racing callers never share one.
	AllocateIP(ctx context.Context, a IPAllocation) (bool, error)
	// HighestAllocated returns the highest address allocated on the subnet
	// between first and last ("" when none).
	HighestAllocated(ctx context.Context, subnetID, first, last string) (string, error)
	ReleaseIP(ctx context.Context, subnetID, ip string) error
	SubnetAllocations(ctx context.Context, subnetID string) ([]IPAllocation, error)
	// AllocatedIPCounts maps subnet ID to its number of allocations.
	AllocatedIPCounts(ctx context.Context, subnetIDs []string) (map[string]int, error)

	// AllocateSegment reserves a segment; false when taken.
	AllocateSegment(ctx context.Context, netType, physnet string, id int, networkID string) (bool, error)
	UsedSegments(ctx context.Context, netType, physnet string, from, to int) ([]int, error)
	ReleaseSegments(ctx context.Context, networkID string) error

	// ClaimPortDevice sets a port's device_id to deviceID only when the
	// port has no device or already has deviceID, in one conditional
	// statement: of claims racing for one port with different devices
	// exactly one wins, the others get a Conflict (PortInUse). NotFound
	// when there is no such port. Inside a transaction it also holds the
	// port's row until the end; the caller then writes the body to match.
	ClaimPortDevice(ctx context.Context, portID, deviceID string) error

	SetPortSecurityGroups(ctx context.Context, portID string, sgs []string) error
	SecurityGroupPorts(ctx context.Context, sgID string) (int, error)
	// ClaimDefaultSecurityGroup records sgID as the project's default group
	// unless one exists; it returns the project's default group's ID.
	ClaimDefaultSecurityGroup(ctx context.Context, projectID, sgID string) (string, bool, error)
	DefaultSecurityGroup(ctx context.Context, projectID string) (string, error)
	// ForgetDefaultSecurityGroup drops the record (the group was deleted;
	// the next use creates a new one).
	ForgetDefaultSecurityGroup(ctx context.Context, projectID string) error

	Quotas(ctx context.Context, projectID string) (map[string]int, error)
	QuotaProjects(ctx context.Context) ([]string, error)
	SetQuota(ctx context.Context, projectID, resource string, limit int) error
	DeleteQuotas(ctx context.Context, projectID string) error
}

// Store is network's persistence.
type Store interface {
	// Tx runs fn in a transaction; fn may run more than once when the
	// engine asks for a retry, so it must only touch the store.
	Tx(ctx context.Context, fn func(Ops) error) error
	// Read returns operations outside a transaction.
	Read() Ops
}
