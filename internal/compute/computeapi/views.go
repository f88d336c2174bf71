package computeapi

import (
	"crypto/sha256"
	"encoding/hex"
	"sort"
	"strings"
	"time"

	"github.com/gureum/gureum/internal/agentapi"
	"github.com/gureum/gureum/internal/compute"
)

// nova's timestamp formats.
func isoZ(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format("2006-01-02T15:04:05Z")
}

func isoMicro(t time.Time) any {
	if t.IsZero() {
		return nil
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

func addresses(sv *compute.Server) obj {
	out := obj{}
	for _, p := range sv.Ports {
		name := p.NetworkName
		if name == "" {
			name = p.NetworkID
		}
		list, _ := out[name].([]obj)
		for _, ip := range p.FixedIPs {
			ver := 4
			if strings.Contains(ip, ":") {
				ver = 6
			}
			list = append(list, obj{"version": ver, "addr": ip, "OS-EXT-IPS:type": "fixed", "OS-EXT-IPS-MAC:mac_addr": p.MAC})
		}
		out[name] = list
	}
	return out
}

func (c *call) serverView(sv *compute.Server, admin bool, hostUp map[string]bool) obj {
	base := c.base()
	o := obj{
		"id": sv.ID, "name": sv.Name, "status": sv.Status(), "tenant_id": sv.ProjectID, "user_id": sv.UserID,
		"metadata": sv.Metadata, "hostId": hostID(sv.ProjectID, sv.Host),
		"image":   obj{"id": sv.ImageRef, "links": []obj{{"rel": "bookmark", "href": base + "/images/" + sv.ImageRef}}},
		"flavor":  obj{"id": sv.Flavor.ID, "links": []obj{{"rel": "bookmark", "href": base + "/flavors/" + sv.Flavor.ID}}},
		"created": isoZ(sv.CreatedAt), "updated": isoZ(sv.UpdatedAt), "addresses": addresses(sv),
		"accessIPv4": "", "accessIPv6": "", "links": links(base, "servers", sv.ID),
		"OS-DCF:diskConfig": "MANUAL", "OS-EXT-AZ:availability_zone": sv.AZ, "key_name": nil,
		"OS-SRV-USG:launched_at": isoMicro(sv.LaunchedAt), "OS-SRV-USG:terminated_at": nil,
		"OS-EXT-STS:task_state": nil, "OS-EXT-STS:vm_state": sv.VMState, "OS-EXT-STS:power_state": powerNames[sv.PowerState],
		"os-extended-volumes:volumes_attached": []obj{}, "config_drive": "",
	}
	if sv.KeyName != "" {
		o["key_name"] = sv.KeyName
	}
	if sv.TaskState != "" {
		o["OS-EXT-STS:task_state"] = sv.TaskState
	}
	if sv.ConfigDrive {
		o["config_drive"] = "True"
	}
	if sv.VMState == compute.VMBuilding || sv.VMState == compute.VMActive {
		o["progress"] = 0
		if sv.VMState == compute.VMActive {
			o["progress"] = 100
		}
	}
	sgs := []obj{}
	for _, g := range sv.SecurityGroups {
		sgs = append(sgs, obj{"name": g})
	}
	if len(sgs) > 0 {
		o["security_groups"] = sgs
	}
	if sv.Fault != nil && (sv.VMState == compute.VMError || sv.Status() == "ERROR") {
		f := obj{"code": sv.Fault.Code, "message": sv.Fault.Message, "created": isoZ(sv.Fault.Created)}
		if admin || sv.Fault.Code != 500 {
			f["details"] = sv.Fault.Details
		}
		o["fault"] = f
	}
	if admin {
		o["OS-EXT-SRV-ATTR:host"], o["OS-EXT-SRV-ATTR:hypervisor_hostname"] = nullable(sv.Host), nullable(sv.Host)
		o["OS-EXT-SRV-ATTR:instance_name"] = "instance-" + sv.ID[:8]
		if c.v.AtLeast(2, 3) {
			o["OS-EXT-SRV-ATTR:reservation_id"], o["OS-EXT-SRV-ATTR:launch_index"] = sv.ReservationID, sv.LaunchIndex
			o["OS-EXT-SRV-ATTR:hostname"], o["OS-EXT-SRV-ATTR:kernel_id"], o["OS-EXT-SRV-ATTR:ramdisk_id"] = sv.Hostname, "", ""
			o["OS-EXT-SRV-ATTR:root_device_name"] = "/dev/vda"
			o["OS-EXT-SRV-ATTR:user_data"] = nullable(sv.UserData)
		}
	}
	if c.v.AtLeast(2, 9) {
		o["locked"] = sv.Locked
	}
	if c.v.AtLeast(2, 16) && admin {
		st := ""
		if sv.NodeID != "" {
			if up, ok := hostUp[sv.NodeID]; ok {
				st = "UP"
				if !up {
					st = "DOWN"
				}
			} else {
				st = "UNKNOWN"
			}
		}
		o["host_status"] = st
	}
	if c.v.AtLeast(2, 19) {
		if sv.Description != nil {
			o["description"] = *sv.Description
		} else {
			o["description"] = nil
		}
	}
	if c.v.AtLeast(2, 26) {
		tags := sv.Tags
		if tags == nil {
			tags = []string{}
		}
		o["tags"] = tags
	}
	return o
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
