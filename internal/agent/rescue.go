package agent

import (
	"context"
	"errors"

	"github.com/gureum/gureum/internal/agentapi"
	"github.com/gureum/gureum/internal/platform/errs"
)

// RescueDriver is implemented by drivers that boot a server from a rescue
// image (nova's rescue). Both methods are idempotent.
type RescueDriver interface {
	// Rescue boots spec's image as the first disk with the server's own
	// disk attached second.
	Rescue(ctx context.Context, spec *agentapi.ServerSpec) error
	// Unrescue boots the server from its own disk again.
	Unrescue(ctx context.Context, serverID string) error
}

func (a *Agent) rescue(ctx context.Context, t *agentapi.Task) error {
	d, ok := a.drv.(RescueDriver)
	if !ok {
		return errs.NotImplemented("the %T driver cannot rescue servers", a.drv)
	}
	if t.Op == agentapi.OpUnrescue {
		return d.Unrescue(ctx, t.ServerID)
	}
	if t.Spec == nil {
		return errors.New("task has no server spec")
	}
	return d.Rescue(ctx, t.Spec)
}
