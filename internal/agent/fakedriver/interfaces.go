package fakedriver

import (
	"context"
	"fmt"
	"strings"

	"github.com/gureum/gureum/internal/agent"
	"github.com/gureum/gureum/internal/agentapi"
)

var _ agent.InterfaceDriver = (*Driver)(nil)

// AttachInterface adds the NIC to the guest's spec ("fake:fail":
// "attach_interface" makes it fail).
func (d *Driver) AttachInterface(ctx context.Context, id string, nic agentapi.NIC) error {
	g, err := d.steered(ctx, id, agentapi.OpAttachInterface)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, n := range g.spec.NICs {
		if n.PortID == nic.PortID {
			return nil
		}
	}
	g.spec.NICs = append(g.spec.NICs, nic)
	g.console = append(g.console, fmt.Sprintf("eth%d: %s attached (%s)", len(g.spec.NICs)-1, nic.MAC, strings.Join(nic.FixedIPs, ",")))
	return nil
}

// DetachInterface removes the port's NIC from the guest's spec.
func (d *Driver) DetachInterface(ctx context.Context, id, portID string) error {
	g, err := d.steered(ctx, id, agentapi.OpDetachInterface)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	nics := g.spec.NICs[:0:0]
	for _, n := range g.spec.NICs {
		if n.PortID == portID {
			g.console = append(g.console, n.MAC+" detached")
			continue
		}
		nics = append(nics, n)
	}
	g.spec.NICs = nics
	return nil
}

// NICs returns the ports plugged into a guest (tests).
func (d *Driver) NICs(id string) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	g, ok := d.guests[id]
	if !ok {
		return nil
	}
	var out []string
	for _, n := range g.spec.NICs {
		out = append(out, n.PortID)
	}
	return out
}
