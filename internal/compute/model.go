// Package compute is Gureum's nova: flavors, keypairs, server groups,
// quotas, placement (inventory and allocations per node), the scheduler,
// servers and their actions, and the controller that drives node agents
// over the bus. It declares what it needs from the store, the image and
// network services and the bus as small interfaces; internal/app adapts
// the real implementations to them.
package compute

import (
	"context"
	"time"

	"github.com/gureum/gureum/internal/agentapi"
)

// Flavor is a server size.
type Flavor struct {
	ID          string
	Name        string
	VCPUs       int
	RAM         int // MiB
	Disk        int // GiB
	Ephemeral   int
	Swap        int
	RxTxFactor  float64
	IsPublic    bool
	Disabled    bool
	Description string
	ExtraSpecs  map[string]string
	CreatedAt   time.Time
}

// FlavorFilter selects flavors. ProjectID limits private flavors to those
// the project was given access to; Admin sees all.
type FlavorFilter struct {
	ProjectID string
	Admin     bool
	// IsPublic: nil = public + accessible private; true = public only;
	// false = private only (admins) — nova's is_public=None/True/False.
	IsPublic *bool
	MinRAM   int
	MinDisk  int
}

// KeyPair is an SSH key of a user.
type KeyPair struct {
	UserID      string
	ProjectID   string
	Name        string
	Type        string // ssh or x509
	PublicKey   string
	Fingerprint string
	CreatedAt   time.Time
}

// Node is a compute node: its nova service, hypervisor and placement
// resource provider in one record.
type Node struct {
	ID                string // UUID
	Seq               int    // integer id (os-services / os-hypervisors before 2.53)
	Hostname          string
	HostIP            string
	AvailabilityZone  string
	HypervisorType    string
	HypervisorVersion int
	CPUInfo           agentapi.CPUInfo
	VCPUs             int
	MemoryMB          int
	DiskGB            int
	CPURatio          float64
	RAMRatio          float64
	DiskRatio         float64
	// Capacities: total × ratio, what placement may hand out.
	VCPUsCap, MemoryMBCap, DiskGBCap    int
	VCPUsUsed, MemoryMBUsed, DiskGBUsed int
	Disabled                            bool
	DisabledReason                      string
	ForcedDown                          bool
	Up                                  bool
	LastSeen                            time.Time
	CreatedAt                           time.Time
	UpdatedAt                           time.Time
}

// Usable reports whether the scheduler may place servers on the node.
func (n *Node) Usable() bool { return !n.Disabled && n.Up && !n.ForcedDown }

// Resources is a placement request or allocation.
type Resources struct {
	VCPUs    int
	MemoryMB int
	DiskGB   int
}

// Server group policies.
const (
	PolicyAffinity         = "affinity"
	PolicyAntiAffinity     = "anti-affinity"
	PolicySoftAffinity     = "soft-affinity"
	PolicySoftAntiAffinity = "soft-anti-affinity"
)

// ServerGroup groups servers under a placement policy.
type ServerGroup struct {
	ID        string
	Name      string
	Policy    string
	ProjectID string
	UserID    string
	Members   []string
	CreatedAt time.Time
}

// VM states (desired), task states (in flight) and the statuses derived.
const (
	VMBuilding  = "building"
	VMActive    = "active"
	VMStopped   = "stopped"
	VMPaused    = "paused"
	VMSuspended = "suspended"
	VMResized   = "resized"
	VMError     = "error"
	VMDeleted   = "deleted"

	TaskScheduling       = "scheduling"
	TaskSpawning         = "spawning"
	TaskPoweringOff      = "powering-off"
	TaskPoweringOn       = "powering-on"
	TaskRebooting        = "rebooting"
	TaskRebootingHard    = "rebooting_hard"
	TaskPausing          = "pausing"
	TaskUnpausing        = "unpausing"
	TaskSuspending       = "suspending"
	TaskResuming         = "resuming"
	TaskRebuilding       = "rebuilding"
	TaskResizing         = "resize_migrating"
	TaskResizeReverting  = "resize_reverting"
	TaskResizeConfirming = "resize_confirming"
	TaskDeleting         = "deleting"
	TaskSnapshot         = "image_snapshot"
)

// Fault is the last error of a server.
type Fault struct {
	Code    int       `json:"code"`
	Message string    `json:"message"`
	Details string    `json:"details,omitempty"`
	Created time.Time `json:"created"`
}

// NetworkRequest is one entry of a create request's networks.
type NetworkRequest struct {
	UUID    string `json:"uuid,omitempty"`
	Port    string `json:"port,omitempty"`
	FixedIP string `json:"fixed_ip,omitempty"`
	Tag     string `json:"tag,omitempty"`
}

// ServerPort is a port bound to a server.
type ServerPort struct {
	ID          string   `json:"id"`
	NetworkID   string   `json:"network_id"`
	NetworkName string   `json:"network_name"`
	MAC         string   `json:"mac"`
	FixedIPs    []string `json:"fixed_ips"`
	// Created ports are deleted with the server; ports passed by the user
	// are only unbound.
	Created bool `json:"created"`
}

// Server is an instance.
type Server struct {
	ID             string
	Name           string
	ProjectID      string
	UserID         string
	Description    *string
	ImageRef       string
	Flavor         Flavor
	OldFlavor      *Flavor
	KeyName        string
	KeyData        string
	UserData       string
	Metadata       map[string]string
	AZ             string
	RequestedAZ    string
	ConfigDrive    bool
	NodeID         string
	Host           string // node hostname (read only, joined)
	VMState        string
	TaskState      string
	PowerState     int
	Locked         bool
	LockedReason   string
	LockedBy       string // "admin" or "owner"
	Networks       []NetworkRequest
	NetworksMode   string // "", "auto" or "none"
	Ports          []ServerPort
	SecurityGroups []string
	ServerGroupID  string
	ReservationID  string
	LaunchIndex    int
	Hostname       string
	Fault          *Fault
	// UsageHeld is true while the server's quota usage is counted.
	UsageHeld  bool
	Tags       []string
	LaunchedAt time.Time
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Status is the API's status, derived from vm and task state as nova does.
func (s *Server) Status() string {
	switch s.VMState {
	case VMBuilding:
		return "BUILD"
	case VMActive:
		switch s.TaskState {
		case TaskRebooting:
			return "REBOOT"
		case TaskRebootingHard:
			return "HARD_REBOOT"
		case TaskRebuilding:
			return "REBUILD"
		case TaskResizing:
			return "RESIZE"
		}
		return "ACTIVE"
	case VMStopped:
		switch s.TaskState {
		case TaskRebuilding:
			return "REBUILD"
		case TaskResizing:
			return "RESIZE"
		}
		return "SHUTOFF"
	case VMPaused:
		return "PAUSED"
	case VMSuspended:
		return "SUSPENDED"
	case VMResized:
		if s.TaskState == TaskResizeReverting {
			return "REVERT_RESIZE"
		}
		return "VERIFY_RESIZE"
	case VMError:
		return "ERROR"
	case VMRescued:
		return "RESCUE"
	case VMDeleted:
		return "DELETED"
	}
	return "UNKNOWN"
}

// StatusToStates maps an API status filter to vm (and task) states; ok is
// false for an unknown status.
func StatusToStates(status string) (vm string, ok bool) {
	switch status {
	case "BUILD":
		return VMBuilding, true
	case "ACTIVE", "REBOOT", "HARD_REBOOT", "REBUILD", "RESIZE":
		return VMActive, true
	case "SHUTOFF":
		return VMStopped, true
	case "PAUSED":
		return VMPaused, true
	case "SUSPENDED":
		return VMSuspended, true
	case "VERIFY_RESIZE", "REVERT_RESIZE":
		return VMResized, true
	case "ERROR":
		return VMError, true
	case "RESCUE":
		return VMRescued, true
	case "DELETED", "SOFT_DELETED", "SHELVED", "SHELVED_OFFLOADED", "MIGRATING", "PASSWORD", "UNKNOWN":
		return "-none-", true
	}
	return "", false
}

// ServerFilter selects servers.
type ServerFilter struct {
	// ProjectID limits to one project; empty means all (admins with all_tenants).
	ProjectID string
	UserID    string
	IDs       []string
	VMState   string
	Status    string // exact API status, checked after the query
	// IP and IP6 are regular expressions on the servers' fixed addresses.
	IP, IP6       string
	ImageRef      string
	FlavorID      string
	NodeID        string
	Host          string
	ChangesSince  time.Time
	ChangesBefore time.Time
	// Tags: all of; TagsAny: any of; NotTags: not all of; NotTagsAny: none of.
	Tags, TagsAny, NotTags, NotTagsAny []string
	Marker                             string
	Limit                              int
	// SortKeys / SortDirs: nova's sort_key / sort_dir (created_at desc by default).
	SortKey string
	SortDir string
}

// Action is an instance action record.
type Action struct {
	RequestID string
	ServerID  string
	ProjectID string
	UserID    string
	Action    string
	Message   string
	StartTime time.Time
	UpdatedAt time.Time
	Events    []Event
}

// Event is one step of an action.
type Event struct {
	Event      string
	StartTime  time.Time
	FinishTime time.Time
	Result     string // "Success" / "Error" / "" while running
	Traceback  string
	Host       string
}

// Quota resources.
const (
	QInstances          = "instances"
	QCores              = "cores"
	QRAM                = "ram"
	QKeyPairs           = "key_pairs"
	QServerGroups       = "server_groups"
	QServerGroupMembers = "server_group_members"
	QMetadataItems      = "metadata_items"
)

// QuotaResources lists every resource of a quota set, in nova's order.
var QuotaResources = []string{QInstances, QCores, QRAM, QKeyPairs, QServerGroups, QServerGroupMembers, QMetadataItems}

// Usage is a server's record for os-simple-tenant-usage.
type Usage struct {
	ServerID   string
	Name       string
	ProjectID  string
	UserID     string
	FlavorName string
	VCPUs      int
	MemoryMB   int
	LocalGB    int
	StartedAt  time.Time
	EndedAt    time.Time
}

// Store is the persistence compute needs. Implementations return
// errs.NotFound / errs.Conflict / errs.OverQuota kinds.
type Store interface {
	CreateFlavor(ctx context.Context, f *Flavor) error
	GetFlavor(ctx context.Context, id string) (*Flavor, error)
	ListFlavors(ctx context.Context, f FlavorFilter) ([]*Flavor, error)
	UpdateFlavor(ctx context.Context, f *Flavor) error
	DeleteFlavor(ctx context.Context, id string) error
	FlavorAccess(ctx context.Context, id string) ([]string, error)
	AddFlavorAccess(ctx context.Context, id, projectID string) error
	RemoveFlavorAccess(ctx context.Context, id, projectID string) error

	// CreateKeyPair inserts kp unless the user already holds limit keys (-1: no limit).
	CreateKeyPair(ctx context.Context, kp *KeyPair, limit int) error
	GetKeyPair(ctx context.Context, userID, name string) (*KeyPair, error)
	ListKeyPairs(ctx context.Context, userID string) ([]*KeyPair, error)
	DeleteKeyPair(ctx context.Context, userID, name string) error

	// UpsertNode records a registration and marks the node up.
	UpsertNode(ctx context.Context, n *Node) (*Node, error)
	GetNode(ctx context.Context, id string) (*Node, error)
	ListNodes(ctx context.Context) ([]*Node, error)
	// TouchNode records a heartbeat and marks the node up.
	TouchNode(ctx context.Context, id string, at time.Time) error
	// MarkNodesDown marks nodes last seen before t down, returning them.
	MarkNodesDown(ctx context.Context, before time.Time) ([]string, error)
	SetNodeService(ctx context.Context, id string, disabled bool, reason string, forcedDown *bool) (*Node, error)

	// CreateServerGroup inserts g unless the project holds limit groups.
	CreateServerGroup(ctx context.Context, g *ServerGroup, limit int) error
	GetServerGroup(ctx context.Context, id string) (*ServerGroup, error)
	ListServerGroups(ctx context.Context, projectID string) ([]*ServerGroup, error)
	DeleteServerGroup(ctx context.Context, id string) error

	// CreateServers inserts servers (one create request) in one transaction
	// with their quota claim, group membership and "create" action; claim
	// fails with OverQuota when limits (-1: none) would be exceeded.
	CreateServers(ctx context.Context, servers []*Server, claim map[string]int, limits map[string]int, groupLimit int, action Action) error
	GetServer(ctx context.Context, id string) (*Server, error)
	ListServers(ctx context.Context, f ServerFilter) ([]*Server, error)
	// UpdateServer reads the server, lets fn change it, and writes it back
	// in one transaction; fn's error aborts.
	UpdateServer(ctx context.Context, id string, fn func(*Server) error) (*Server, error)
	// DeleteServer removes the server, its allocations, its group
	// membership and (if held) its quota usage; its usage record ends.
	DeleteServer(ctx context.Context, id string, at time.Time) error
	// ReleaseServer applies fn (may be nil) to the server and drops its
	// allocations and quota usage in one transaction (ERROR servers keep
	// their row but hold nothing).
	ReleaseServer(ctx context.Context, id string, fn func(*Server)) error
	// AdjustUsage changes a project's usage by deltas, refusing positive
	// deltas that would exceed limits.
	AdjustUsage(ctx context.Context, projectID string, deltas map[string]int, limits map[string]int) error

	// Claim allocates r on node for server atomically (no overcommit) and
	// records the node on the server; for hard group policies it checks
	// the group's members in the same transaction.
	Claim(ctx context.Context, serverID, nodeID string, r Resources) error
	// ReplaceAllocation swaps the server's allocation on its node for r
	// (resize), failing without change when r does not fit.
	ReplaceAllocation(ctx context.Context, serverID string, r Resources) error
	Allocations(ctx context.Context, serverID string) (map[string]Resources, error)

	AddAction(ctx context.Context, a Action) error
	StartEvent(ctx context.Context, serverID, requestID, event, host string, at time.Time) error
	FinishEvent(ctx context.Context, serverID, requestID, event string, at time.Time, result, traceback string) error
	ListActions(ctx context.Context, serverID string) ([]*Action, error)
	GetAction(ctx context.Context, serverID, requestID string) (*Action, error)

	GetQuotas(ctx context.Context, projectID string) (map[string]int, error)
	SetQuotas(ctx context.Context, projectID string, q map[string]int) error
	DeleteQuotas(ctx context.Context, projectID string) error
	QuotaUsage(ctx context.Context, projectID, userID string) (map[string]int, error)

	ListUsage(ctx context.Context, projectID string, start, end time.Time) ([]*Usage, error)
	StartUsage(ctx context.Context, u *Usage) error
}
