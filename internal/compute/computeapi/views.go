package computeapi

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"sort"
	"strings"
	"time"

	"github.com/gureum/gureum/internal/agentapi"
	"github.com/gureum/gureum/internal/compute"
)

// nova's timestamp formats.
func isoZ(t time.Time) any {
	if t.IsZero() {
		return jsonNull
	}
	return t.UTC().Format("2006-01-02T15:04:05Z")
}

func isoMicro(t time.Time) any {
	if t.IsZero() {
		return jsonNull
	}
	return t.UTC().Format("2006-01-02T15:04:05.000000")
}

func links(base, coll, id string) []obj {
	return []obj{
		{"rel": "self", "href": base + "/v2.1/" + coll + "/" + id},
		{"rel": "bookmark", "href": base + "/" + coll + "/" + id},
	}
}

func (c *call) flavorView(f *compute.Flavor, detail bool) obj {
	o := obj{"id": f.ID, "name": f.Name, "links": links(c.base(), "flavors", f.ID)}
	if !detail {
		return o
	}
	swap := any("")
	if f.Swap > 0 {
		swap = f.Swap
	}
	o["ram"], o["vcpus"], o["disk"], o["swap"] = f.RAM, f.VCPUs, f.Disk, swap
	o["OS-FLV-EXT-DATA:ephemeral"], o["OS-FLV-DISABLED:disabled"] = f.Ephemeral, f.Disabled
	o["os-flavor-access:is_public"], o["rxtx_factor"] = f.IsPublic, f.RxTxFactor
	return o
}

// hostID is nova's opaque per-project host identifier.
func hostID(projectID, host string) string {
	if host == "" {
		return ""
	}
	sum := sha256.Sum224([]byte(projectID + host))
	return hex.EncodeToString(sum[:])
}

var powerNames = map[int]int{agentapi.PowerNoState: 0, agentapi.PowerRunning: 1, agentapi.PowerPaused: 3, agentapi.PowerShutdown: 4, agentapi.PowerCrashed: 6, agentapi.PowerSuspended: 7}

type addrView struct {
	Version int    `json:"version"`
	Addr    string `json:"addr"`
	Type    string `json:"OS-EXT-IPS:type"`
	MAC     string `json:"OS-EXT-IPS-MAC:mac_addr"`
}

func addresses(sv *compute.Server) map[string][]addrView {
	out := map[string][]addrView{}
	for _, p := range sv.Ports {
		name := p.NetworkName
		if name == "" {
			name = p.NetworkID
		}
		for _, ip := range p.FixedIPs {
			ver := 4
			if strings.Contains(ip, ":") {
				ver = 6
			}
			out[name] = append(out[name], addrView{Version: ver, Addr: ip, Type: "fixed", MAC: p.MAC})
		}
	}
	return out
}

type linkView struct {
	Rel  string `json:"rel"`
	Href string `json:"href"`
}

type refView struct {
	ID    string     `json:"id"`
	Links []linkView `json:"links"`
}

type nameView struct {
	Name string `json:"name"`
}

// jsonNull is an explicit null for fields that must be present.
var jsonNull = json.RawMessage("null")

func orNull(v any) any {
	if v == nil {
		return jsonNull
	}
	return v
}

func strOrNull(s string) any {
	if s == "" {
		return jsonNull
	}
	return s
}

// serverView is a server's JSON. A struct, not a map: /servers/detail
// renders a thousand of them and encoding/json sorts map keys. Fields of
// later microversions are interfaces left nil (absent) before theirs.
type serverView struct {
	ID             string                `json:"id"`
	Name           string                `json:"name"`
	Status         string                `json:"status"`
	TenantID       string                `json:"tenant_id"`
	UserID         string                `json:"user_id"`
	Metadata       map[string]string     `json:"metadata"`
	HostID         string                `json:"hostId"`
	Image          refView               `json:"image"`
	Flavor         refView               `json:"flavor"`
	Created        any                   `json:"created"`
	Updated        any                   `json:"updated"`
	Addresses      map[string][]addrView `json:"addresses"`
	AccessIPv4     string                `json:"accessIPv4"`
	AccessIPv6     string                `json:"accessIPv6"`
	Links          []linkView            `json:"links"`
	DiskConfig     string                `json:"OS-DCF:diskConfig"`
	AZ             string                `json:"OS-EXT-AZ:availability_zone"`
	KeyName        any                   `json:"key_name"`
	LaunchedAt     any                   `json:"OS-SRV-USG:launched_at"`
	TerminatedAt   any                   `json:"OS-SRV-USG:terminated_at"`
	TaskState      any                   `json:"OS-EXT-STS:task_state"`
	VMState        string                `json:"OS-EXT-STS:vm_state"`
	PowerState     int                   `json:"OS-EXT-STS:power_state"`
	Volumes        []any                 `json:"os-extended-volumes:volumes_attached"`
	ConfigDrive    string                `json:"config_drive"`
	Progress       *int                  `json:"progress,omitempty"`
	SecurityGroups []nameView            `json:"security_groups,omitempty"`
	Fault          any                   `json:"fault,omitempty"`
	// Admin only.
	Host         any `json:"OS-EXT-SRV-ATTR:host,omitempty"`
	HypHost      any `json:"OS-EXT-SRV-ATTR:hypervisor_hostname,omitempty"`
	InstanceName any `json:"OS-EXT-SRV-ATTR:instance_name,omitempty"`
	// 2.3, admin only.
	ReservationID any `json:"OS-EXT-SRV-ATTR:reservation_id,omitempty"`
	LaunchIndex   any `json:"OS-EXT-SRV-ATTR:launch_index,omitempty"`
	Hostname      any `json:"OS-EXT-SRV-ATTR:hostname,omitempty"`
	KernelID      any `json:"OS-EXT-SRV-ATTR:kernel_id,omitempty"`
	RamdiskID     any `json:"OS-EXT-SRV-ATTR:ramdisk_id,omitempty"`
	RootDevice    any `json:"OS-EXT-SRV-ATTR:root_device_name,omitempty"`
	UserData      any `json:"OS-EXT-SRV-ATTR:user_data,omitempty"`
	// 2.9, 2.16, 2.19, 2.26.
	Locked      any `json:"locked,omitempty"`
	HostStatus  any `json:"host_status,omitempty"`
	Description any `json:"description,omitempty"`
	Tags        any `json:"tags,omitempty"`
	// AdminPass is set on rebuild responses.
	AdminPass string `json:"adminPass,omitempty"`
}

var (
	zero    = 0
	hundred = 100
)

func (c *call) serverView(sv *compute.Server, admin bool, hostUp map[string]bool) *serverView {
	base := c.base()
	v := &serverView{
		ID: sv.ID, Name: sv.Name, Status: sv.Status(), TenantID: sv.ProjectID, UserID: sv.UserID,
		Metadata: sv.Metadata, HostID: hostID(sv.ProjectID, sv.Host),
		Image:   refView{ID: sv.ImageRef, Links: []linkView{{Rel: "bookmark", Href: base + "/images/" + sv.ImageRef}}},
		Flavor:  refView{ID: sv.Flavor.ID, Links: []linkView{{Rel: "bookmark", Href: base + "/flavors/" + sv.Flavor.ID}}},
		Created: isoZ(sv.CreatedAt), Updated: isoZ(sv.UpdatedAt), Addresses: addresses(sv),
		Links:      []linkView{{Rel: "self", Href: base + "/v2.1/servers/" + sv.ID}, {Rel: "bookmark", Href: base + "/servers/" + sv.ID}},
		DiskConfig: "MANUAL", AZ: sv.AZ, KeyName: strOrNull(sv.KeyName),
		LaunchedAt: isoMicro(sv.LaunchedAt), TaskState: strOrNull(sv.TaskState), VMState: sv.VMState, PowerState: powerNames[sv.PowerState],
		Volumes: []any{},
	}
	if sv.Metadata == nil {
		v.Metadata = map[string]string{}
	}
	if sv.ConfigDrive {
		v.ConfigDrive = "True"
	}
	switch sv.VMState {
	case compute.VMBuilding:
		v.Progress = &zero
	case compute.VMActive:
		v.Progress = &hundred
	}
	for _, g := range sv.SecurityGroups {
		v.SecurityGroups = append(v.SecurityGroups, nameView{Name: g})
	}
	if sv.Fault != nil && sv.VMState == compute.VMError {
		f := obj{"code": sv.Fault.Code, "message": sv.Fault.Message, "created": isoZ(sv.Fault.Created)}
		if admin || sv.Fault.Code != 500 {
			f["details"] = sv.Fault.Details
		}
		v.Fault = f
	}
	if admin {
		v.Host, v.HypHost = strOrNull(sv.Host), strOrNull(sv.Host)
		v.InstanceName = "instance-" + sv.ID[:8]
		if c.v.AtLeast(2, 3) {
			v.ReservationID, v.LaunchIndex, v.Hostname = sv.ReservationID, sv.LaunchIndex, sv.Hostname
			v.KernelID, v.RamdiskID, v.RootDevice, v.UserData = "", "", "/dev/vda", strOrNull(sv.UserData)
		}
	}
	if c.v.AtLeast(2, 9) {
		v.Locked = sv.Locked
	}
	if c.v.AtLeast(2, 16) && admin {
		st := ""
		if sv.NodeID != "" {
			st = "UNKNOWN"
			if up, ok := hostUp[sv.NodeID]; ok {
				st = map[bool]string{true: "UP", false: "DOWN"}[up]
			}
		}
		v.HostStatus = st
	}
	if c.v.AtLeast(2, 19) {
		v.Description = jsonNull
		if sv.Description != nil {
			v.Description = *sv.Description
		}
	}
	if c.v.AtLeast(2, 26) {
		tags := sv.Tags
		if tags == nil {
			tags = []string{}
		}
		v.Tags = tags
	}
	return v
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (c *call) keyPairView(k *compute.KeyPair, detail bool) obj {
	o := obj{"name": k.Name, "public_key": k.PublicKey, "fingerprint": k.Fingerprint}
	if c.v.AtLeast(2, 2) {
		o["type"] = k.Type
	}
	if detail {
		o["user_id"], o["created_at"], o["deleted"], o["deleted_at"], o["updated_at"], o["id"] = k.UserID, isoMicro(k.CreatedAt), false, nil, nil, 0
	}
	return o
}

func (c *call) groupView(g *compute.ServerGroup) obj {
	members := g.Members
	if members == nil {
		members = []string{}
	}
	o := obj{"id": g.ID, "name": g.Name, "policies": []string{g.Policy}, "members": members, "metadata": obj{}}
	if c.v.AtLeast(2, 13) {
		o["project_id"], o["user_id"] = g.ProjectID, g.UserID
	}
	return o
}

func serviceState(n *compute.Node) (status, state string) {
	status, state = "enabled", "up"
	if n.Disabled {
		status = "disabled"
	}
	if !n.Up || n.ForcedDown {
		state = "down"
	}
	return
}

func (c *call) hypervisorView(n *compute.Node, detail bool) obj {
	status, state := serviceState(n)
	o := obj{"id": n.Seq, "hypervisor_hostname": n.Hostname, "state": state, "status": status}
	if !detail {
		return o
	}
	o["vcpus"], o["memory_mb"], o["local_gb"] = n.VCPUs, n.MemoryMB, n.DiskGB
	o["vcpus_used"], o["memory_mb_used"], o["local_gb_used"] = n.VCPUsUsed, n.MemoryMBUsed, n.DiskGBUsed
	o["hypervisor_type"], o["hypervisor_version"], o["host_ip"] = n.HypervisorType, n.HypervisorVersion, n.HostIP
	o["free_ram_mb"], o["free_disk_gb"] = n.MemoryMB-n.MemoryMBUsed, n.DiskGB-n.DiskGBUsed
	o["current_workload"], o["running_vms"], o["disk_available_least"] = 0, 0, n.DiskGB-n.DiskGBUsed
	o["service"] = obj{"host": n.Hostname, "id": n.Seq, "disabled_reason": nullable(n.DisabledReason)}
	cpu := obj{"arch": n.CPUInfo.Arch, "model": n.CPUInfo.Model, "vendor": n.CPUInfo.Vendor, "features": n.CPUInfo.Features,
		"topology": obj{"cores": n.CPUInfo.Cores, "threads": n.CPUInfo.Threads, "sockets": n.CPUInfo.Sockets}}
	if cpu["features"] == nil {
		cpu["features"] = []string{}
	}
	if c.v.AtLeast(2, 28) {
		o["cpu_info"] = cpu
	} else {
		o["cpu_info"] = jsonString(cpu)
	}
	return o
}

func (c *call) serviceView(n *compute.Node) obj {
	status, state := serviceState(n)
	o := obj{"id": n.Seq, "binary": "nova-compute", "host": n.Hostname, "zone": n.AvailabilityZone, "status": status, "state": state,
		"updated_at": isoMicro(n.LastSeen), "disabled_reason": nullable(n.DisabledReason)}
	if c.v.AtLeast(2, 11) {
		o["forced_down"] = n.ForcedDown
	}
	return o
}

func (c *call) actionView(a *compute.Action, withEvents bool, admin bool) obj {
	o := obj{"action": a.Action, "instance_uuid": a.ServerID, "request_id": a.RequestID, "user_id": a.UserID, "project_id": a.ProjectID,
		"start_time": isoMicro(a.StartTime), "message": nullable(a.Message)}
	if withEvents {
		evs := []obj{}
		for _, e := range a.Events {
			ev := obj{"event": e.Event, "start_time": isoMicro(e.StartTime), "finish_time": isoMicro(e.FinishTime), "result": nullable(e.Result)}
			if admin {
				ev["traceback"] = nullable(e.Traceback)
			}
			evs = append(evs, ev)
		}
		o["events"] = evs
	}
	return o
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
