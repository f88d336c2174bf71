package qemudriver

import (
	"context"
	"fmt"

	"github.com/gureum/gureum/internal/agent"
	"github.com/gureum/gureum/internal/agentapi"
	"github.com/gureum/gureum/internal/driver/linuxbridge"
	"github.com/gureum/gureum/internal/driver/qemu"
	"github.com/gureum/gureum/internal/platform/errs"
	"github.com/gureum/gureum/internal/platform/revert"
)

var _ agent.InterfaceDriver = (*Driver)(nil)

// withNICs returns a copy of s with nics (the saved spec is shared with
// readers under d.mu and is replaced, never changed in place).
func withNICs(s *agentapi.ServerSpec, nics []agentapi.NIC) *agentapi.ServerSpec {
	c := *s
	c.NICs = nics
	return &c
}

// AttachInterface plugs a port into a server. The NIC joins the server's
// saved spec first, so the network's DHCP hosts (dnsmasq in its qdhcp
// namespace) and the metadata service know the port; a running guest then
// gets the bridge, the tap and a hot-plugged virtio NIC; a stopped one only
// its QEMU spec, and is plugged when it starts. Any failure undoes what
// was done.
func (d *Driver) AttachInterface(ctx context.Context, id string, n agentapi.NIC) error {
	s, err := d.spec(id)
	if err != nil {
		return err
	}
	in, err := d.q.Info(ctx, id)
	if err != nil {
		return err
	}
	switch in.Status {
	case qemu.NotFound:
		return agent.ErrNotFound
	case qemu.Suspended:
		return errs.Conflict("server %s is suspended", id)
	}
	running := in.Status != qemu.Shutoff
	r := revert.New()
	defer r.Fail()
	bg := context.WithoutCancel(ctx)
	known := false
	for _, x := range s.NICs {
		known = known || x.PortID == n.PortID
	}
	// What the server had before stays when the attach is undone: a
	// known port's tap, a network's bridge and DHCP that a port here uses.
	newBridge := !d.usesNetwork(n.NetworkID)
	if !known {
		nics := append(append([]agentapi.NIC{}, s.NICs...), n)
		if err := d.save(withNICs(s, nics)); err != nil {
			return err
		}
		r.Add(func() {
			_ = d.save(s)
			d.refreshDHCP(bg, n)
		})
	}
	tap := d.br.TapName(n.PortID)
	if running {
		br, err := d.br.EnsureNetwork(ctx, linuxbridge.Network{ID: n.NetworkID, MTU: n.MTU})
		if err != nil {
			return fmt.Errorf("bridge for %s: %w", n.NetworkID, err)
		}
		if newBridge {
			r.Add(func() {
				_ = d.dhcp.DeleteNetwork(bg, n.NetworkID)
				_ = d.br.DeleteNetwork(bg, n.NetworkID)
			})
		}
		if n.CIDR != "" && n.DHCPIP != "" {
			dn, err := dhcpNetwork(n, br)
			if err != nil {
				return err
			}
			if err := d.dhcp.EnsureNetwork(ctx, dn, d.hosts(n.NetworkID)); err != nil {
				return fmt.Errorf("dhcp for %s: %w", n.NetworkID, err)
			}
		}
		if tap, err = d.br.PlugPort(ctx, linuxbridge.Port{ID: n.PortID, NetworkID: n.NetworkID, MTU: n.MTU}); err != nil {
			return fmt.Errorf("tap for %s: %w", n.PortID, err)
		}
		if !known {
			r.Add(func() { _ = d.br.UnplugPort(bg, n.PortID) })
		}
	} else if n.CIDR != "" && n.DHCPIP != "" {
		// The network's dnsmasq, when it runs here, learns the host now.
		if err := d.dhcp.SetHosts(ctx, n.NetworkID, d.hosts(n.NetworkID)); err != nil && !errs.Is(err, errs.KindNotFound) {
			return fmt.Errorf("dhcp hosts for %s: %w", n.NetworkID, err)
		}
	}
	if err := d.q.AttachNIC(ctx, id, qemu.NIC{Tap: tap, MAC: n.MAC}); err != nil {
		return err
	}
	r.Success()
	return nil
}

// DetachInterface unplugs a port: the guest's NIC (waiting for the guest to
// let it go), the tap, the DHCP host; the network's bridge and dnsmasq go
// too when no other server here uses it.
func (d *Driver) DetachInterface(ctx context.Context, id, portID string) error {
	s, err := d.spec(id)
	if err != nil {
		return err
	}
	var nic *agentapi.NIC
	var keep []agentapi.NIC
	for i := range s.NICs {
		if s.NICs[i].PortID == portID {
			nic = &s.NICs[i]
			continue
		}
		keep = append(keep, s.NICs[i])
	}
	if nic == nil {
		// A detach cut short after the spec was saved may have left the
		// tap (a port is on one server: its tap is this server's).
		return d.br.UnplugPort(ctx, portID)
	}
	if err := d.q.DetachNIC(ctx, id, nic.MAC); err != nil {
		return err
	}
	if keep == nil {
		keep = []agentapi.NIC{}
	}
	if err := d.save(withNICs(s, keep)); err != nil {
		return err
	}
	if err := d.br.UnplugPort(ctx, portID); err != nil {
		return err
	}
	if !d.usesNetwork(nic.NetworkID) {
		if err := d.dhcp.DeleteNetwork(ctx, nic.NetworkID); err != nil && !errs.Is(err, errs.KindNotFound) {
			return err
		}
		if err := d.br.DeleteNetwork(ctx, nic.NetworkID); err != nil && !errs.Is(err, errs.KindNotFound) {
			return err
		}
		return nil
	}
	d.refreshDHCP(ctx, *nic)
	return nil
}

// refreshDHCP rewrites the DHCP hosts of the NIC's network (when its
// dnsmasq runs here) from the saved specs.
func (d *Driver) refreshDHCP(ctx context.Context, n agentapi.NIC) {
	if n.CIDR == "" || n.DHCPIP == "" {
		return
	}
	if err := d.dhcp.SetHosts(ctx, n.NetworkID, d.hosts(n.NetworkID)); err != nil && !errs.Is(err, errs.KindNotFound) {
		d.cfg.Log.Warn("dhcp hosts", "network", n.NetworkID, "err", err)
	}
}

// GuestNICs lists the virtio NICs QEMU presents to a running guest.
func (d *Driver) GuestNICs(ctx context.Context, id string) ([]qemu.GuestNIC, error) {
	return d.q.NICs(ctx, id)
}
