package qemudriver

import (
	"context"

	"github.com/gureum/gureum/internal/agent"
	"github.com/gureum/gureum/internal/agentapi"
	"github.com/gureum/gureum/internal/driver/qemu"
)

var _ agent.RescueDriver = (*Driver)(nil)

// Rescue boots spec's image (the rescue image) with the server's disk
// second, on the server's own ports (plugged again first: they may be
// gone after a host reboot).
func (d *Driver) Rescue(ctx context.Context, s *agentapi.ServerSpec) error {
	cur, err := d.spec(s.ID)
	if err != nil {
		return err
	}
	if _, err := d.plug(ctx, cur); err != nil {
		return err
	}
	qs := d.qemuSpec(s, nil)
	return d.q.Rescue(ctx, s.ID, qemu.Boot{Image: qs.Image, ImageFormat: qs.ImageFormat, Kernel: qs.Kernel, Ramdisk: qs.Ramdisk, Cmdline: qs.Cmdline})
}

// Unrescue boots the server from its own disk again.
func (d *Driver) Unrescue(ctx context.Context, id string) error {
	if cur, err := d.spec(id); err == nil {
		if _, err := d.plug(ctx, cur); err != nil {
			return err
		}
	}
	return d.q.Unrescue(ctx, id)
}
