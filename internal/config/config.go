// Package config holds Gureum's typed configuration: defaults, a YAML file,
// GUREUM_* environment variables and flags, applied in that order, then
// validated. Nothing here is global: the result is passed to app.New.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is the whole configuration.
type Config struct {
	// DataDir holds the SQLite database, image files, instance disks and
	// the generated clouds.yaml.
	DataDir string `yaml:"data_dir"`
	// Listen is the API's address.
	Listen string `yaml:"listen"`
	// AdvertiseURL is how clients reach the API (put in the catalog and in
	// links). Empty means http://<listen>.
	AdvertiseURL string `yaml:"advertise_url"`
	// Database is a DSN: empty for SQLite in DataDir, or postgres://…
	Database string `yaml:"database"`
	// Region is the catalog's region.
	Region string `yaml:"region"`

	Log      Log      `yaml:"log"`
	API      API      `yaml:"api"`
	Identity Identity `yaml:"identity"`
	Image    Image    `yaml:"image"`
	Network  Network  `yaml:"network"`
	Compute  Compute  `yaml:"compute"`
}

// Log configures logging.
type Log struct {
	Format string `yaml:"format"` // text or json
	Level  string `yaml:"level"`
}

// API configures the HTTP listener.
type API struct {
	// MaxBodyBytes limits JSON request bodies (not image data).
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// PolicyFile is a YAML map of rule name to check string overriding the
	// defaults of any service.
	PolicyFile string `yaml:"policy_file"`
}

// Identity configures keystone.
type Identity struct {
	TokenExpiration time.Duration `yaml:"token_expiration"`
	BcryptCost      int           `yaml:"bcrypt_cost"`
	// MaxActiveKeys is the number of Fernet keys kept: staged + primary +
	// secondaries.
	MaxActiveKeys int `yaml:"max_active_keys"`
	// LockoutFailureAttempts locks a user after that many consecutive
	// failed password authentications (0 disables).
	LockoutFailureAttempts int           `yaml:"lockout_failure_attempts"`
	LockoutDuration        time.Duration `yaml:"lockout_duration"`
	// AuthFailuresPerMinute is how many failed authentications a source
	// address may make per minute before getting 429.
	AuthFailuresPerMinute int `yaml:"auth_failures_per_minute"`
	// AdminPassword is used by the first-run bootstrap when set; otherwise
	// one is generated and written to clouds.yaml.
	AdminPassword string `yaml:"admin_password"`
}

// Image configures glance.
type Image struct {
	// Dir holds image data; empty means DataDir/images.
	Dir string `yaml:"dir"`
	// QuotaImages and QuotaBytes are the per-project defaults (0: none).
	QuotaImages int   `yaml:"quota_images"`
	QuotaBytes  int64 `yaml:"quota_bytes"`
	// MaxVirtualSize refuses images claiming larger disks.
	MaxVirtualSize int64 `yaml:"max_virtual_size"`
	// MaxImageSize is the largest image upload (glance's image_size_cap).
	MaxImageSize int64 `yaml:"max_image_size"`
	// HashAlgo is the os_hash_algo computed with md5 on upload (glance's
	// hashing_algorithm): sha512 (default), sha384 or sha256.
	HashAlgo string `yaml:"hash_algo"`
}

// Network configures neutron.
type Network struct {
	// UnderlayMTU is the physical network's MTU.
	UnderlayMTU int `yaml:"underlay_mtu"`
	// VXLANRange is "first:last" VNIs for tenant networks.
	VXLANRange string `yaml:"vxlan_range"`
	// TenantNetworkType is the type of networks created without provider
	// attributes: vxlan or local.
	TenantNetworkType string `yaml:"tenant_network_type"`
	// PhysicalNetworks lists flat/vlan physical network names.
	PhysicalNetworks []string `yaml:"physical_networks"`
}

// Compute configures nova: the bus, the node agent and placement.
type Compute struct {
	// NATSURL names an external NATS (nats://host:4222); empty runs NATS
	// embedded in the server.
	NATSURL string `yaml:"nats_url"`
	// NATSListen is the embedded NATS's TCP address for remote agents;
	// empty serves in-process connections only.
	NATSListen string `yaml:"nats_listen"`
	// Agent runs the node agent inside `gureum server` (all-in-one).
	Agent bool `yaml:"agent"`
	// Driver is the agent's hypervisor driver: "qemu" or "fake" (tests).
	Driver string `yaml:"driver"`
	// NodeName identifies this node; empty means the host name.
	NodeName string `yaml:"node_name"`
	// AvailabilityZone of this node and the default for servers.
	AvailabilityZone string `yaml:"availability_zone"`
	// VCPUs, MemoryMB and DiskGB override the node's detected inventory.
	VCPUs    int `yaml:"vcpus"`
	MemoryMB int `yaml:"memory_mb"`
	DiskGB   int `yaml:"disk_gb"`
	// Allocation ratios, as nova's placement defaults.
	CPUAllocationRatio  float64 `yaml:"cpu_allocation_ratio"`
	RAMAllocationRatio  float64 `yaml:"ram_allocation_ratio"`
	DiskAllocationRatio float64 `yaml:"disk_allocation_ratio"`
	// HeartbeatInterval is how often agents report; an agent silent for
	// AgentDownTime is marked down and gets no new servers.
	HeartbeatInterval time.Duration `yaml:"heartbeat_interval"`
	AgentDownTime     time.Duration `yaml:"agent_down_time"`
	// TaskTimeout bounds one task on an agent; a server whose task times
	// out turns ERROR.
	TaskTimeout time.Duration `yaml:"task_timeout"`
	// ShutdownTimeout is how long a stop waits for the guest to act on
	// ACPI power-off before QEMU is stopped.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// GuestNice is the CPU nice value (0–19) of running guests, so that
	// on a host full of CPU-bound guests the node's own work (starting
	// guests, DHCP, the API) goes first. Off (0) by default: measured on
	// booting guests it did not speed up 20 concurrent creates, and it
	// slowed a new guest's boot while the API was busy.
	GuestNice int `yaml:"guest_nice"`
	// Quota holds the per-project defaults (-1: unlimited).
	Quota ComputeQuota `yaml:"quota"`
}

// ComputeQuota is nova's default quota set.
type ComputeQuota struct {
	Instances          int `yaml:"instances"`
	Cores              int `yaml:"cores"`
	RAM                int `yaml:"ram"`
	KeyPairs           int `yaml:"key_pairs"`
	ServerGroups       int `yaml:"server_groups"`
	ServerGroupMembers int `yaml:"server_group_members"`
	MetadataItems      int `yaml:"metadata_items"`
}

// Default returns the all-in-one defaults.
func Default() Config {
	return Config{
		DataDir: "/var/lib/gureum",
		Listen:  "127.0.0.1:8774",
		Region:  "RegionOne",
		Log:     Log{Format: "text", Level: "info"},
		API:     API{MaxBodyBytes: 1 << 20},
		Identity: Identity{
			TokenExpiration:        time.Hour,
			BcryptCost:             12,
			MaxActiveKeys:          3,
			LockoutFailureAttempts: 6,
			LockoutDuration:        30 * time.Minute,
			AuthFailuresPerMinute:  30,
		},
		Image: Image{MaxVirtualSize: 16 << 40, MaxImageSize: 1 << 40},
		Network: Network{
			UnderlayMTU:       1500,
			VXLANRange:        "1:16777215",
			TenantNetworkType: "vxlan",
			PhysicalNetworks:  []string{"physnet1"},
		},
		Compute: Compute{
			Agent:               true,
			Driver:              "qemu",
			AvailabilityZone:    "nova",
			CPUAllocationRatio:  16,
			RAMAllocationRatio:  1.5,
			DiskAllocationRatio: 1,
			HeartbeatInterval:   10 * time.Second,
			AgentDownTime:       60 * time.Second,
			TaskTimeout:         5 * time.Minute,
			ShutdownTimeout:     30 * time.Second,
			Quota:               ComputeQuota{Instances: 10, Cores: 20, RAM: 51200, KeyPairs: 100, ServerGroups: 10, ServerGroupMembers: 10, MetadataItems: 128},
		},
	}
}

// LoadFile overlays a YAML file on c. Unknown keys are an error.
func (c *Config) LoadFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	return nil
}

// LoadEnv overlays GUREUM_* variables taken from getenv.
func (c *Config) LoadEnv(getenv func(string) string) {
	set := func(name string, dst *string) {
		if v := getenv(name); v != "" {
			*dst = v
		}
	}
	set("GUREUM_DATA_DIR", &c.DataDir)
	set("GUREUM_LISTEN", &c.Listen)
	set("GUREUM_ADVERTISE_URL", &c.AdvertiseURL)
	set("GUREUM_DATABASE", &c.Database)
	set("GUREUM_REGION", &c.Region)
	set("GUREUM_LOG_LEVEL", &c.Log.Level)
	set("GUREUM_LOG_FORMAT", &c.Log.Format)
	set("GUREUM_ADMIN_PASSWORD", &c.Identity.AdminPassword)
	set("GUREUM_NATS_URL", &c.Compute.NATSURL)
	set("GUREUM_COMPUTE_DRIVER", &c.Compute.Driver)
}

// Validate checks the configuration and fills derived values.
func (c *Config) Validate() error {
	var problems []string
	bad := func(f string, a ...any) { problems = append(problems, fmt.Sprintf(f, a...)) }
	if c.DataDir == "" {
		bad("data_dir is required")
	} else if abs, err := filepath.Abs(c.DataDir); err == nil {
		c.DataDir = abs
	}
	host, _, err := net.SplitHostPort(c.Listen)
	if err != nil {
		bad("listen %q: %v", c.Listen, err)
	}
	if c.AdvertiseURL == "" && err == nil {
		h := host
		if h == "" || h == "0.0.0.0" || h == "::" {
			h = "127.0.0.1"
		}
		_, port, _ := net.SplitHostPort(c.Listen)
		c.AdvertiseURL = "http://" + net.JoinHostPort(h, port)
	}
	c.AdvertiseURL = strings.TrimSuffix(c.AdvertiseURL, "/")
	if u, err := url.Parse(c.AdvertiseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("advertise_url %q must be an http(s) URL", c.AdvertiseURL)
	}
	if c.Database != "" && !strings.HasPrefix(c.Database, "postgres://") && !strings.HasPrefix(c.Database, "postgresql://") && !strings.HasPrefix(c.Database, "sqlite://") {
		bad("database %q: want postgres://…, sqlite://PATH or empty", c.Database)
	}
	if c.Region == "" {
		bad("region is required")
	}
	if c.API.MaxBodyBytes < 1024 {
		bad("api.max_body_bytes must be at least 1024")
	}
	id := c.Identity
	if id.TokenExpiration < time.Minute || id.TokenExpiration > 7*24*time.Hour {
		bad("identity.token_expiration must be between 1m and 168h")
	}
	if id.BcryptCost < 4 || id.BcryptCost > 31 {
		bad("identity.bcrypt_cost must be between 4 and 31")
	}
	if id.MaxActiveKeys < 2 {
		bad("identity.max_active_keys must be at least 2")
	}
	if id.LockoutFailureAttempts < 0 || id.AuthFailuresPerMinute < 0 {
		bad("identity lockout and rate limits must not be negative")
	}
	if c.Image.Dir == "" {
		c.Image.Dir = filepath.Join(c.DataDir, "images")
	}
	if im := c.Image; im.QuotaImages < 0 || im.QuotaBytes < 0 || im.MaxImageSize < 0 || im.MaxVirtualSize < 0 {
		bad("image quotas and size limits must not be negative")
	}
	switch c.Image.HashAlgo {
	case "", "sha256", "sha384", "sha512":
	default:
		bad("image.hash_algo %q: want sha256, sha384 or sha512", c.Image.HashAlgo)
	}
	if c.Network.UnderlayMTU < 576 || c.Network.UnderlayMTU > 9216 {
		bad("network.underlay_mtu must be between 576 and 9216")
	}
	cp := c.Compute
	if cp.Driver != "qemu" && cp.Driver != "fake" {
		bad("compute.driver %q: want qemu or fake", cp.Driver)
	}
	if cp.NATSURL != "" && !strings.HasPrefix(cp.NATSURL, "nats://") && !strings.HasPrefix(cp.NATSURL, "tls://") {
		bad("compute.nats_url %q: want nats://host:port", cp.NATSURL)
	}
	if cp.CPUAllocationRatio <= 0 || cp.RAMAllocationRatio <= 0 || cp.DiskAllocationRatio <= 0 {
		bad("compute allocation ratios must be positive")
	}
	if cp.HeartbeatInterval <= 0 || cp.AgentDownTime <= cp.HeartbeatInterval {
		bad("compute.agent_down_time must exceed compute.heartbeat_interval")
	}
	if cp.GuestNice < 0 || cp.GuestNice > 19 {
		bad("compute.guest_nice must be between 0 and 19")
	}
	if cp.TaskTimeout < time.Second {
		bad("compute.task_timeout must be at least 1s")
	}
	if cp.AvailabilityZone == "" {
		c.Compute.AvailabilityZone = "nova"
	}
	if len(problems) > 0 {
		return errors.New("invalid configuration: " + strings.Join(problems, "; "))
	}
	return nil
}
