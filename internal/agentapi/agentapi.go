// Package agentapi is the contract between the compute controller and node
// agents: bus subjects and message types. Both sides import it and nothing
// else of each other, so a remote `gureum agent` and the in-process one
// speak exactly the same protocol.
package agentapi

import "time"

// Version of the protocol; agents report it on registration.
const Version = 1

// Subjects.
const (
	// SubjectRegister: agent → controller request/reply (Registration → RegisterReply).
	SubjectRegister = "gureum.compute.register"
	// SubjectHeartbeat: agent → controller publish (Heartbeat).
	SubjectHeartbeat = "gureum.compute.heartbeat"
	// SubjectState: agent → controller publish (StateReport) when a
	// server's observed state changes outside a task (guest shut down).
	SubjectState = "gureum.compute.state"
)

// TaskSubject is where the agent of node takes tasks (Task → TaskResult).
func TaskSubject(node string) string { return "gureum.compute.node." + node + ".task" }

// TaskQueue is the queue group of a node's task subject: should two agent
// processes of one node overlap (a restart), one of them takes each task.
const TaskQueue = "agent"

// Inventory is a node's resources as placement sees them.
type Inventory struct {
	VCPU     int `json:"vcpu"`
	MemoryMB int `json:"memory_mb"`
	DiskGB   int `json:"disk_gb"`
}

// Registration announces a node.
type Registration struct {
	Node             string    `json:"node"`
	Hostname         string    `json:"hostname"`
	HostIP           string    `json:"host_ip"`
	AvailabilityZone string    `json:"availability_zone"`
	HypervisorType   string    `json:"hypervisor_type"`
	HypervisorVer    int       `json:"hypervisor_version"`
	CPUInfo          CPUInfo   `json:"cpu_info"`
	Inventory        Inventory `json:"inventory"`
	AgentVersion     int       `json:"agent_version"`
	// Servers are the guests the node runs now (re-attached after a
	// restart of the agent).
	Servers []Observed `json:"servers"`
}

// CPUInfo describes the node's CPU for os-hypervisors.
type CPUInfo struct {
	Arch     string   `json:"arch"`
	Model    string   `json:"model"`
	Vendor   string   `json:"vendor"`
	Features []string `json:"features"`
	Cores    int      `json:"cores"`
	Threads  int      `json:"threads"`
	Sockets  int      `json:"sockets"`
}

// RegisterReply accepts a registration.
type RegisterReply struct {
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

// Heartbeat is sent every interval with the node's observed servers.
type Heartbeat struct {
	Node    string     `json:"node"`
	Time    time.Time  `json:"time"`
	Servers []Observed `json:"servers"`
}

// Power states, nova's numbering.
const (
	PowerNoState   = 0
	PowerRunning   = 1
	PowerPaused    = 3
	PowerShutdown  = 4
	PowerCrashed   = 6
	PowerSuspended = 7
)

// Observed is a server's state as the node sees it.
type Observed struct {
	ServerID   string `json:"server_id"`
	PowerState int    `json:"power_state"`
	// Unknown: the guest is there but its state could not be read now
	// (its monitor is busy or not up yet); PowerState means nothing.
	Unknown bool `json:"unknown,omitempty"`
}

// StateReport is an unsolicited change of observed state.
type StateReport struct {
	Node string `json:"node"`
	Observed
}

// Task operations.
const (
	OpSpawn     = "spawn"   // create (idempotent: an existing guest is kept)
	OpDestroy   = "destroy" // delete everything of the server on the node
	OpStart     = "start"
	OpStop      = "stop"
	OpReboot    = "reboot" // Hard selects a reset instead of ACPI
	OpPause     = "pause"
	OpUnpause   = "unpause"
	OpSuspend   = "suspend"
	OpResume    = "resume"
	OpRebuild   = "rebuild" // destroy the disk, spawn from Spec's image
	OpResize    = "resize"  // respawn with Spec's flavor, keeping the disk
	OpConsole   = "console" // return the serial console log
	OpCrashDump = "crash_dump"
	OpSnapshot  = "snapshot" // write the root disk to SnapshotPath

	// OpAttachInterface plugs Task.NIC into the server: hot-plugged into a
	// running guest, recorded for the next start of a stopped one.
	OpAttachInterface = "attach_interface"
	// OpDetachInterface unplugs the port Task.NIC.PortID from the server.
	OpDetachInterface = "detach_interface"
	// OpRescue boots Spec's image (the rescue image) with the server's
	// disk attached second; OpUnrescue boots the server's own disk again.
	OpRescue   = "rescue"
	OpUnrescue = "unrescue"
)

// Task is one operation on one server. ID makes it idempotent: an agent
// that already applied a task ID answers with the recorded result.
type Task struct {
	ID       string      `json:"id"`
	ServerID string      `json:"server_id"`
	Op       string      `json:"op"`
	Hard     bool        `json:"hard,omitempty"`
	Spec     *ServerSpec `json:"spec,omitempty"`
	// Length limits console output to the last N lines (0: all).
	Length int `json:"length,omitempty"`
	// SnapshotPath is where OpSnapshot writes the disk.
	SnapshotPath string `json:"snapshot_path,omitempty"`
	// NIC is the port of OpAttachInterface / OpDetachInterface.
	NIC *NIC `json:"nic,omitempty"`
	// Deadline is when the controller stops waiting; the agent abandons
	// the task then instead of holding the server's lock forever.
	Deadline time.Time `json:"deadline,omitempty"`
}

// ServerSpec is everything a node needs to run a server.
type ServerSpec struct {
	ID        string   `json:"id"`
	Name      string   `json:"name"`
	Hostname  string   `json:"hostname"`
	ProjectID string   `json:"project_id"`
	UserID    string   `json:"user_id"`
	VCPUs     int      `json:"vcpus"`
	MemoryMB  int      `json:"memory_mb"`
	DiskGB    int      `json:"disk_gb"`
	Image     ImageRef `json:"image"`
	// Kernel, Ramdisk and Cmdline boot the kernel directly (the image's
	// kernel_id, ramdisk_id and os_command_line properties).
	Kernel           *ImageRef         `json:"kernel,omitempty"`
	Ramdisk          *ImageRef         `json:"ramdisk,omitempty"`
	Cmdline          string            `json:"cmdline,omitempty"`
	NICs             []NIC             `json:"nics"`
	KeyName          string            `json:"key_name,omitempty"`
	PublicKey        string            `json:"public_key,omitempty"`
	UserData         string            `json:"user_data,omitempty"` // base64, as the API took it
	Metadata         map[string]string `json:"metadata,omitempty"`
	ConfigDrive      bool              `json:"config_drive"`
	AdminPass        string            `json:"admin_pass,omitempty"`
	AvailabilityZone string            `json:"availability_zone"`
	LaunchIndex      int               `json:"launch_index"`
}

// ImageRef tells the node where to get the image (once per node).
type ImageRef struct {
	ID         string `json:"id"`
	Checksum   string `json:"checksum,omitempty"`  // md5 (glance's os_hash is preferred)
	HashAlgo   string `json:"hash_algo,omitempty"` // sha512…
	HashValue  string `json:"hash_value,omitempty"`
	DiskFormat string `json:"disk_format,omitempty"`
	Size       int64  `json:"size,omitempty"`
	// Path is a local file holding the image data, when the node shares
	// the image store (all-in-one); otherwise URL is fetched with Token.
	Path       string            `json:"path,omitempty"`
	URL        string            `json:"url,omitempty"`
	Properties map[string]string `json:"properties,omitempty"`
}

// NIC is a port plugged into the server.
type NIC struct {
	PortID    string   `json:"port_id"`
	NetworkID string   `json:"network_id"`
	MAC       string   `json:"mac"`
	MTU       int      `json:"mtu"`
	FixedIPs  []string `json:"fixed_ips"`
	Bridge    string   `json:"bridge,omitempty"`
	Tap       string   `json:"tap,omitempty"`
	Gateway   string   `json:"gateway,omitempty"`
	// DHCPIP is the network's DHCP port address (dnsmasq's, in the
	// network's qdhcp namespace).
	DHCPIP     string   `json:"dhcp_ip,omitempty"`
	CIDR       string   `json:"cidr,omitempty"`
	DNSServers []string `json:"dns_servers,omitempty"`
}

// TaskResult answers a Task.
type TaskResult struct {
	OK         bool   `json:"ok"`
	Error      string `json:"error,omitempty"`
	PowerState int    `json:"power_state"`
	Console    string `json:"console,omitempty"`
}
