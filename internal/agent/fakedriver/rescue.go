package fakedriver

import (
	"context"

	"github.com/gureum/gureum/internal/agent"
	"github.com/gureum/gureum/internal/agentapi"
)

var _ agent.RescueDriver = (*Driver)(nil)

// Rescue "boots" the rescue image ("fake:fail": "rescue" makes it fail).
func (d *Driver) Rescue(ctx context.Context, s *agentapi.ServerSpec) error {
	g, err := d.steered(ctx, s.ID, agentapi.OpRescue)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	g.power = agentapi.PowerRunning
	g.console = append(g.console, "rescue boot from "+s.Image.ID, "vdb: "+g.spec.Image.ID)
	return nil
}

// Unrescue boots the guest's own image again.
func (d *Driver) Unrescue(ctx context.Context, id string) error {
	g, err := d.steered(ctx, id, agentapi.OpUnrescue)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	g.power = agentapi.PowerRunning
	g.console = append(g.console, "boot from "+g.spec.Image.ID)
	return nil
}
