// Package metadata renders what a guest learns about itself — OpenStack
// meta_data.json, network_data.json, user_data, and the EC2 meta-data tree —
// for both the metadata service at 169.254.169.254 (Server, Handler) and
// the config drive (Files). The compute side fills Instance; this package
// never looks anything up itself.
package metadata

import (
	"encoding/json"
	"maps"
	"slices"
)

// Key is a keypair's public key.
type Key struct {
	Name string
	Type string // "ssh" or "x509"
	Data string // OpenSSH authorized_keys line
}

// Instance is everything the guest may read about itself.
type Instance struct {
	UUID             string
	Name             string // display name
	Hostname         string
	ProjectID        string
	AvailabilityZone string
	LaunchIndex      int
	ReservationID    string
	InstanceType     string // flavor name (EC2 instance-type)
	ImageID          string // EC2 ami-id (as given)
	LocalIPv4        string
	PublicIPv4       string
	SecurityGroups   []string
	Meta             map[string]string
	Keys             []Key
	UserData         []byte // raw; nil when none
	Network          NetworkData
}

// NetworkData is OpenStack's network_data.json.
type NetworkData struct {
	Links    []Link    `json:"links"`
	Networks []Network `json:"networks"`
	Services []Service `json:"services"`
}

// Link is a guest NIC.
type Link struct {
	ID                 string `json:"id"`
	Type               string `json:"type"` // "ovs", "bridge", "phy", "tap"...
	EthernetMACAddress string `json:"ethernet_mac_address"`
	MTU                int    `json:"mtu,omitempty"`
	VifID              string `json:"vif_id"`
}

// Network is one address configuration on a link.
type Network struct {
	ID        string    `json:"id"`
	Type      string    `json:"type"` // "ipv4", "ipv4_dhcp", "ipv6", ...
	Link      string    `json:"link"`
	IPAddress string    `json:"ip_address,omitempty"`
	Netmask   string    `json:"netmask,omitempty"`
	Routes    []Route   `json:"routes"`
	NetworkID string    `json:"network_id"`
	Services  []Service `json:"services,omitempty"`
}

// Route is a static route.
type Route struct {
	Network string `json:"network"`
	Netmask string `json:"netmask"`
	Gateway string `json:"gateway"`
}

// Service is a DNS server.
type Service struct {
	Type    string `json:"type"` // "dns"
	Address string `json:"address"`
}

type metaKey struct {
	Name string `json:"name"`
	Type string `json:"type"`
	Data string `json:"data"`
}

// MetaData returns openstack/<version>/meta_data.json.
func MetaData(in *Instance) []byte {
	pk := map[string]string{}
	keys := []metaKey{}
	for _, k := range in.Keys {
		t := k.Type
		if t == "" {
			t = "ssh"
		}
		pk[k.Name] = k.Data
		keys = append(keys, metaKey{Name: k.Name, Type: t, Data: k.Data})
	}
	meta := in.Meta
	if meta == nil {
		meta = map[string]string{}
	}
	doc := map[string]any{
		"uuid":              in.UUID,
		"name":              in.Name,
		"hostname":          in.Hostname,
		"launch_index":      in.LaunchIndex,
		"availability_zone": in.AvailabilityZone,
		"project_id":        in.ProjectID,
		"meta":              meta,
		"devices":           []any{},
		"dedicated_cpus":    []any{},
	}
	if len(in.Keys) > 0 {
		doc["public_keys"] = pk
		doc["keys"] = keys
	}
	b, _ := json.Marshal(doc)
	return b
}

// NetworkDataJSON returns openstack/<version>/network_data.json.
func NetworkDataJSON(in *Instance) []byte {
	nd := in.Network
	if nd.Links == nil {
		nd.Links = []Link{}
	}
	if nd.Networks == nil {
		nd.Networks = []Network{}
	}
	for i := range nd.Networks {
		if nd.Networks[i].Routes == nil {
			nd.Networks[i].Routes = []Route{}
		}
	}
	if nd.Services == nil {
		nd.Services = []Service{}
	}
	b, _ := json.Marshal(nd)
	return b
}

// OpenStackVersions are the metadata versions Nova lists; all serve the
// same (latest) content here.
var OpenStackVersions = []string{"2012-08-10", "2013-04-04", "2013-10-17", "2015-10-15", "2016-06-30", "2016-10-06", "2017-02-22", "2018-08-27", "2020-10-14", "latest"}

// EC2Versions are the EC2 API versions Nova lists.
var EC2Versions = []string{"1.0", "2007-01-19", "2007-03-01", "2007-08-29", "2007-10-10", "2007-12-15", "2008-02-01", "2008-09-01", "2009-04-04", "latest"}

// EC2MetaData is the EC2 meta-data tree: leaves are strings, directories
// are maps.
func EC2MetaData(in *Instance) map[string]any {
	keys := map[string]any{}
	for i, k := range in.Keys {
		keys[itoa(i)] = map[string]any{"openssh-key": k.Data, "_name": k.Name}
	}
	hostname := in.Hostname
	md := map[string]any{
		"ami-id":               in.ImageID,
		"ami-launch-index":     itoa(in.LaunchIndex),
		"ami-manifest-path":    "FIXME",
		"hostname":             hostname,
		"instance-action":      "none",
		"instance-id":          in.UUID,
		"instance-type":        in.InstanceType,
		"local-hostname":       hostname,
		"local-ipv4":           in.LocalIPv4,
		"public-hostname":      hostname,
		"public-ipv4":          in.PublicIPv4,
		"reservation-id":       in.ReservationID,
		"security-groups":      joinLines(in.SecurityGroups),
		"placement":            map[string]any{"availability-zone": in.AvailabilityZone},
		"block-device-mapping": map[string]any{"ami": "vda", "root": "/dev/vda"},
	}
	if len(keys) > 0 {
		md["public-keys"] = keys
	}
	return md
}

// Files returns the config drive's files (paths relative to its root).
func Files(in *Instance) map[string][]byte {
	md, nd := MetaData(in), NetworkDataJSON(in)
	files := map[string][]byte{}
	for _, v := range OpenStackVersions {
		dir := "openstack/" + v + "/"
		files[dir+"meta_data.json"] = md
		files[dir+"vendor_data.json"] = []byte("{}")
		if v >= "2015-10-15" || v == "latest" {
			files[dir+"network_data.json"] = nd
		}
		if v >= "2016-10-06" || v == "latest" {
			files[dir+"vendor_data2.json"] = []byte("{}")
		}
		if in.UserData != nil {
			files[dir+"user_data"] = in.UserData
		}
	}
	ec2, _ := json.Marshal(EC2MetaData(in))
	files["ec2/latest/meta-data.json"] = ec2
	if in.UserData != nil {
		files["ec2/latest/user-data"] = in.UserData
	}
	return files
}

func joinLines(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += "\n"
		}
		out += x
	}
	return out
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

func sortedKeys(m map[string]any) []string { return slices.Sorted(maps.Keys(m)) }
