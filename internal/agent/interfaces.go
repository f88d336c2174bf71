package agent

import (
	"context"
	"errors"
	"fmt"

	"github.com/gureum/gureum/internal/agentapi"
	"github.com/gureum/gureum/internal/platform/errs"
)

// InterfaceDriver is implemented by drivers that plug ports into existing
// servers (Nova's os-interface). Both methods are idempotent: attaching a
// port the server has, or detaching one it lacks, succeeds.
type InterfaceDriver interface {
	// AttachInterface hot-plugs nic into a running guest, or records it
	// for the next start of a stopped one; the server's saved spec holds
	// it either way.
	AttachInterface(ctx context.Context, serverID string, nic agentapi.NIC) error
	// DetachInterface unplugs the port from the guest and the node.
	DetachInterface(ctx context.Context, serverID, portID string) error
}

func (a *Agent) interfaces(ctx context.Context, t *agentapi.Task) error {
	if t.NIC == nil || t.NIC.PortID == "" {
		return errors.New("task has no port")
	}
	d, ok := a.drv.(InterfaceDriver)
	if !ok {
		return errs.NotImplemented("the %T driver cannot attach interfaces", a.drv)
	}
	switch t.Op {
	case agentapi.OpAttachInterface:
		return d.AttachInterface(ctx, t.ServerID, *t.NIC)
	case agentapi.OpDetachInterface:
		return d.DetachInterface(ctx, t.ServerID, t.NIC.PortID)
	}
	return fmt.Errorf("unknown operation %q", t.Op)
}

// Driver returns the agent's hypervisor driver (tests).
func (a *Agent) Driver() Driver { return a.drv }
