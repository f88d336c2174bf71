package compute

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// Caller is who asks, as the API established it.
type Caller struct {
	UserID    string
	ProjectID string
	Admin     bool
	RequestID string
}

// Image is what compute needs to know of an image.
type Image struct {
	ID              string
	Name            string
	Status          string
	DiskFormat      string
	ContainerFormat string
	Size            int64
	VirtualSize     int64
	MinDisk         int
	MinRAM          int
	Checksum        string
	HashAlgo        string
	HashValue       string
	Properties      map[string]string
	// Path is the local file of the image's data when the node can read
	// it directly (all-in-one), else "".
	Path string
}

// Images is the image service as compute sees it.
type Images interface {
	// GetImage returns an image the caller may use, or errs.NotFound.
	GetImage(ctx context.Context, c Caller, id string) (*Image, error)
}

// Snapshots lets createImage store a server's disk in the image service.
type Snapshots interface {
	// CreateSnapshot registers a queued image owned by the caller.
	CreateSnapshot(ctx context.Context, c Caller, name string, props map[string]string) (id string, err error)
	// UploadSnapshot stores the file at path as the image's data.
	UploadSnapshot(ctx context.Context, c Caller, id, path string) error
	// FailSnapshot removes a snapshot whose upload failed.
	FailSnapshot(ctx context.Context, c Caller, id string)
}

// Network is what compute needs to know of a network.
type Network struct {
	ID        string
	Name      string
	ProjectID string
	Shared    bool
	External  bool
	MTU       int
}

// Port is a network port as compute sees it.
type Port struct {
	ID        string
	NetworkID string
	ProjectID string
	DeviceID  string
	MAC       string
	FixedIPs  []string
	Gateway   string
	CIDR      string
	// DHCPIP is the network's DHCP server address on the port's subnet.
	DHCPIP     string
	DNSServers []string
	MTU        int
	Bridge     string
	Tap        string
	// Subnets holds the subnet of each of FixedIPs.
	Subnets []string
	// Status is neutron's port status (ACTIVE, DOWN, ...).
	Status string
}

// PortRequest asks for a new port.
type PortRequest struct {
	NetworkID      string
	FixedIP        string
	DeviceID       string
	Host           string
	SecurityGroups []string
}

// Networks is the networking service as compute sees it.
type Networks interface {
	GetNetwork(ctx context.Context, c Caller, id string) (*Network, error)
	// AvailableNetworks lists the networks a server of the project may
	// attach to without naming one (networks "auto").
	AvailableNetworks(ctx context.Context, c Caller) ([]*Network, error)
	GetPort(ctx context.Context, c Caller, id string) (*Port, error)
	CreatePort(ctx context.Context, c Caller, r PortRequest) (*Port, error)
	// BindPort sets the port's device and host and returns it complete
	// (MTU, gateway, bridge and tap names).
	BindPort(ctx context.Context, c Caller, portID, deviceID, host string) (*Port, error)
	// UnbindPort releases a port the server deviceID holds; one that
	// another device holds by now is left alone.
	UnbindPort(ctx context.Context, c Caller, portID, deviceID string) error
	DeletePort(ctx context.Context, c Caller, portID string) error
}

// Config is what the compute service needs from the configuration.
type Config struct {
	DefaultAZ     string
	Quota         map[string]int
	TaskTimeout   time.Duration
	AgentDownTime time.Duration
	CPURatio      float64
	RAMRatio      float64
	DiskRatio     float64
	// SnapshotDir holds disk snapshots on their way to the image service.
	SnapshotDir string
}

// Service is nova's domain logic and its controller.
type Service struct {
	store     Store
	images    Images
	snapshots Snapshots
	networks  Networks
	nc        *nats.Conn
	cfg       Config
	log       *slog.Logger
	now       func() time.Time

	mu   sync.Mutex
	subs []*nats.Subscription
	wg   sync.WaitGroup
	// ctx bounds the controller's background work; cancel at Close.
	ctx    context.Context
	cancel context.CancelFunc
}

// New returns the service. images, snapshots and networks may be nil when
// those services are not running (servers then boot without them: no image
// checks, no NICs).
func New(store Store, nc *nats.Conn, images Images, snapshots Snapshots, networks Networks, cfg Config, log *slog.Logger) *Service {
	if cfg.DefaultAZ == "" {
		cfg.DefaultAZ = "nova"
	}
	if cfg.TaskTimeout == 0 {
		cfg.TaskTimeout = 5 * time.Minute
	}
	if cfg.AgentDownTime == 0 {
		cfg.AgentDownTime = time.Minute
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Service{store: store, nc: nc, images: images, snapshots: snapshots, networks: networks, cfg: cfg,
		log: log.With("component", "compute"), now: func() time.Time { return time.Now().UTC() }, ctx: ctx, cancel: cancel}
}

// Store returns the store (tests).
func (s *Service) Store() Store { return s.store }

// Config returns the configuration.
func (s *Service) Config() Config { return s.cfg }

// Close stops the controller and waits for in-flight work.
func (s *Service) Close() {
	s.mu.Lock()
	for _, sub := range s.subs {
		_ = sub.Unsubscribe()
	}
	s.subs = nil
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
}

// goBackground runs fn in the controller's lifetime.
func (s *Service) goBackground(fn func(ctx context.Context)) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		fn(s.ctx)
	}()
}
