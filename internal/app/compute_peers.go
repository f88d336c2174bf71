package app

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/gureum/gureum/internal/compute"
	"github.com/gureum/gureum/internal/image"
	"github.com/gureum/gureum/internal/network"
	"github.com/gureum/gureum/internal/platform/errs"
)

// computeImages adapts glance to what nova needs.
func (a *App) computeImages() compute.Images {
	if a.Image == nil {
		return nil
	}
	return imagesAdapter{a.Image}
}

func (a *App) computeSnapshots() compute.Snapshots {
	if a.Image == nil {
		return nil
	}
	return imagesAdapter{a.Image}
}

func (a *App) computeNetworks() compute.Networks {
	if a.Network == nil {
		return nil
	}
	return networksAdapter{svc: a.Network, mu: &sync.Mutex{}}
}

type imagesAdapter struct{ svc *image.Service }

// visible applies glance's visibility rules for a project.
func (ad imagesAdapter) visible(ctx context.Context, c compute.Caller, img *image.Image) bool {
	switch {
	case c.Admin, img.Visibility == image.Public, img.Visibility == image.Community, img.Owner == c.ProjectID:
		return true
	case img.Visibility == image.Shared:
		m, err := ad.svc.Member(ctx, img.ID, c.ProjectID)
		return err == nil && m != nil && m.Status != image.MemberRejected
	}
	return false
}

func (ad imagesAdapter) GetImage(ctx context.Context, c compute.Caller, id string) (*compute.Image, error) {
	img, err := ad.svc.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if !ad.visible(ctx, c, img) {
		return nil, errs.NotFound("Image %s could not be found.", id)
	}
	out := &compute.Image{ID: img.ID, Name: img.Name, Status: img.Status, DiskFormat: img.DiskFormat, ContainerFormat: img.ContainerFormat,
		MinDisk: img.MinDisk, MinRAM: img.MinRAM, Checksum: img.Checksum, HashAlgo: img.HashAlgo, HashValue: img.HashValue, Properties: img.Properties}
	if img.Size != nil {
		out.Size = *img.Size
	}
	if img.VirtualSize != nil {
		out.VirtualSize = *img.VirtualSize
	}
	if img.Status == image.StatusActive {
		if d, err := ad.svc.DataPath(ctx, id); err == nil {
			out.Path = d.Path
		}
	}
	return out, nil
}

func (ad imagesAdapter) CreateSnapshot(ctx context.Context, c compute.Caller, name string, props map[string]string) (string, error) {
	img, err := ad.svc.Create(ctx, image.Caller{Project: c.ProjectID, User: c.UserID, Admin: c.Admin},
		&image.Image{Name: name, Visibility: image.Private, DiskFormat: "qcow2", ContainerFormat: "bare", Properties: props})
	if err != nil {
		return "", err
	}
	return img.ID, nil
}

func (ad imagesAdapter) UploadSnapshot(ctx context.Context, c compute.Caller, id, path string) error {
	f, err := os.Open(filepath.Clean(path))
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = ad.svc.Upload(ctx, id, f, "")
	return err
}

func (ad imagesAdapter) FailSnapshot(ctx context.Context, c compute.Caller, id string) {
	if img, err := ad.svc.Get(ctx, id); err == nil {
		_ = ad.svc.Delete(ctx, img)
	}
}

type networksAdapter struct {
	svc *network.Service
	mu  *sync.Mutex // serializes DHCP port creation
}

func netCaller(c compute.Caller) network.Caller {
	return network.Caller{ProjectID: c.ProjectID, Admin: c.Admin}
}

func (ad networksAdapter) GetNetwork(ctx context.Context, c compute.Caller, id string) (*compute.Network, error) {
	n, err := ad.svc.GetNetwork(ctx, netCaller(c), id)
	if err != nil {
		return nil, err
	}
	return &compute.Network{ID: n.ID, Name: n.Name, ProjectID: n.ProjectID, Shared: n.Shared, External: n.External, MTU: n.MTU}, nil
}

func (ad networksAdapter) AvailableNetworks(ctx context.Context, c compute.Caller) ([]*compute.Network, error) {
	list, err := ad.svc.List(ctx, network.Caller{ProjectID: c.ProjectID}, network.KindNetwork, network.Query{})
	if err != nil {
		return nil, err
	}
	var out []*compute.Network
	for _, r := range list {
		n := r.(*network.Network)
		if n.External || (n.ProjectID != c.ProjectID && !n.Shared) {
			continue
		}
		out = append(out, &compute.Network{ID: n.ID, Name: n.Name, ProjectID: n.ProjectID, Shared: n.Shared, MTU: n.MTU})
	}
	return out, nil
}

// port converts a port, adding its subnet's gateway, prefix and DNS.
func (ad networksAdapter) port(ctx context.Context, p *network.Port) *compute.Port {
	out := &compute.Port{ID: p.ID, NetworkID: p.NetworkID, ProjectID: p.ProjectID, DeviceID: p.DeviceID, MAC: p.MACAddress, Status: p.Status}
	for _, ip := range p.FixedIPs {
		out.FixedIPs = append(out.FixedIPs, ip.IPAddress)
		out.Subnets = append(out.Subnets, ip.SubnetID)
	}
	if n, err := ad.svc.GetNetwork(ctx, network.Caller{Admin: true}, p.NetworkID); err == nil {
		out.MTU = n.MTU
	}
	if len(p.FixedIPs) > 0 {
		if subs, err := ad.svc.NetworkSubnets(ctx, p.NetworkID); err == nil {
			for _, sn := range subs {
				if sn.ID != p.FixedIPs[0].SubnetID {
					continue
				}
				out.CIDR = sn.CIDR
				if sn.GatewayIP != nil {
					out.Gateway = *sn.GatewayIP
				}
				out.DNSServers = sn.DNSNameservers
				if sn.EnableDHCP && sn.IPVersion == 4 {
					out.DHCPIP = ad.dhcpAddress(ctx, p.NetworkID, sn.ID)
				}
			}
		}
	}
	return out
}

// dhcpAddress returns the address of the subnet's DHCP port, creating the
// port (device_owner network:dhcp, as neutron's DHCP agent does) the first
// time a server's port on the network is bound.
func (ad networksAdapter) dhcpAddress(ctx context.Context, networkID, subnetID string) string {
	ad.mu.Lock()
	defer ad.mu.Unlock()
	find := func() string {
		ports, err := ad.svc.NetworkPorts(ctx, networkID)
		if err != nil {
			return ""
		}
		for _, p := range ports {
			if p.DeviceOwner != "network:dhcp" {
				continue
			}
			for _, ip := range p.FixedIPs {
				if ip.SubnetID == subnetID {
					return ip.IPAddress
				}
			}
		}
		return ""
	}
	if ip := find(); ip != "" {
		return ip
	}
	n, err := ad.svc.GetNetwork(ctx, network.Caller{Admin: true}, networkID)
	if err != nil {
		return ""
	}
	owner, device := "network:dhcp", "dhcp-"+networkID
	fixed := []network.FixedIPSpec{{SubnetID: subnetID}}
	project := n.ProjectID
	if _, err := ad.svc.CreatePort(ctx, network.Caller{Admin: true}, network.PortSpec{NetworkID: &networkID, DeviceOwner: &owner, DeviceID: &device, FixedIPs: &fixed, ProjectID: &project}); err != nil {
		return ""
	}
	return find()
}

func (ad networksAdapter) GetPort(ctx context.Context, c compute.Caller, id string) (*compute.Port, error) {
	p, err := ad.svc.GetPort(ctx, netCaller(c), id)
	if err != nil {
		return nil, err
	}
	return ad.port(ctx, p), nil
}

func (ad networksAdapter) CreatePort(ctx context.Context, c compute.Caller, r compute.PortRequest) (*compute.Port, error) {
	owner := "compute:nova"
	sp := network.PortSpec{NetworkID: &r.NetworkID, DeviceID: &r.DeviceID, DeviceOwner: &owner}
	if r.FixedIP != "" {
		fixed := []network.FixedIPSpec{{IPAddress: r.FixedIP}}
		sp.FixedIPs = &fixed
	}
	p, err := ad.svc.CreatePort(ctx, netCaller(c), sp)
	if err != nil {
		// Neutron's errors are client errors of the create request here.
		if e := errs.From(err); e.Kind == errs.KindNotFound || e.Kind == errs.KindConflict || strings.Contains(e.Type, "IpAddress") {
			return nil, e
		}
		return nil, err
	}
	return ad.port(ctx, p), nil
}

func (ad networksAdapter) BindPort(ctx context.Context, c compute.Caller, portID, deviceID, host string) (*compute.Port, error) {
	p, err := ad.svc.BindPort(ctx, portID, deviceID, "compute:nova", host)
	if err != nil {
		// Another device took the port first (the bind is conditional):
		// nova's PortInUse, a 409 conflictingRequest.
		if errs.From(err).Type == "PortInUse" {
			return nil, errs.Conflict("Port %s is still in use.", portID)
		}
		return nil, err
	}
	_ = ad.svc.SetPortStatus(ctx, portID, "ACTIVE")
	return ad.port(ctx, p), nil
}

func (ad networksAdapter) UnbindPort(ctx context.Context, c compute.Caller, portID, deviceID string) error {
	released, err := ad.svc.ReleasePort(ctx, portID, deviceID)
	if err == nil && released {
		_ = ad.svc.SetPortStatus(ctx, portID, "DOWN")
	}
	return err
}

func (ad networksAdapter) DeletePort(ctx context.Context, c compute.Caller, portID string) error {
	return ad.svc.DeletePort(ctx, network.Caller{Admin: true}, portID, nil)
}
