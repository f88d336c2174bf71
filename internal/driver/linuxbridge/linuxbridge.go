// Package linuxbridge plugs tenant networks on one host: a Linux bridge per
// network and a tap device per port attached to it, each with the
// network's MTU. Names carry a prefix ("gr-" by default) so the driver only
// ever lists or deletes devices Gureum created.
package linuxbridge

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/gureum/gureum/internal/linux/netdev"
	"github.com/gureum/gureum/internal/platform/errs"
	"github.com/gureum/gureum/internal/platform/revert"
)

// Network is a tenant network as this host sees it.
type Network struct {
	ID  string
	MTU int // the network's MTU (underlay MTU minus overlay overhead)
}

// Port is a VIF on a network.
type Port struct {
	ID        string
	NetworkID string
	MTU       int
}

// Driver plugs networks and ports.
type Driver interface {
	// EnsureNetwork creates (or fixes) the network's bridge; it returns
	// the bridge name.
	EnsureNetwork(ctx context.Context, n Network) (bridge string, err error)
	// DeleteNetwork removes the bridge (its remaining ports are detached).
	DeleteNetwork(ctx context.Context, networkID string) error
	// PlugPort creates the port's tap on the network's bridge (ensuring
	// the bridge) and returns the tap name for QEMU.
	PlugPort(ctx context.Context, p Port) (tap string, err error)
	// UnplugPort deletes the port's tap.
	UnplugPort(ctx context.Context, portID string) error
	// Names: deterministic, so a restarted agent finds its devices.
	BridgeName(networkID string) string
	TapName(portID string) string
}

// Names derives device names from IDs: prefix + one letter + the first
// characters of the ID, within the kernel's 15-byte limit (as Neutron's
// brq<id[:11]> / tap<id[:11]>).
type Names struct{ Prefix string }

func (n Names) name(kind byte, id string) string {
	p := n.Prefix
	if p == "" {
		p = "gr-"
	}
	room := netdev.MaxNameLen - len(p) - 1
	id = strings.ReplaceAll(id, "-", "")
	if len(id) > room {
		id = id[:room]
	}
	return p + string(kind) + id
}

// Bridge is the bridge of a network.
func (n Names) Bridge(networkID string) string { return n.name('b', networkID) }

// Tap is the tap of a port.
func (n Names) Tap(portID string) string { return n.name('t', portID) }

// DHCP is the host end of a network's DHCP namespace veth.
func (n Names) DHCP(networkID string) string { return n.name('d', networkID) }

var idRE = regexp.MustCompile(`^[A-Za-z0-9-]{1,64}$`)

func checkID(what, id string) error {
	if !idRE.MatchString(id) || len(strings.ReplaceAll(id, "-", "")) < 8 {
		return errs.BadRequest("linuxbridge: invalid %s id %q", what, id)
	}
	return nil
}

func checkMTU(mtu int) error {
	if mtu != 0 && (mtu < 576 || mtu > 65535) {
		return errs.BadRequest("linuxbridge: MTU %d out of range", mtu)
	}
	return nil
}

// Linux is the real driver.
type Linux struct {
	Names Names
}

var _ Driver = (*Linux)(nil)

// New returns a driver naming devices with prefix ("" = "gr-").
func New(prefix string) *Linux { return &Linux{Names: Names{Prefix: prefix}} }

func (l *Linux) BridgeName(id string) string { return l.Names.Bridge(id) }
func (l *Linux) TapName(id string) string    { return l.Names.Tap(id) }

// EnsureNetwork implements Driver.
func (l *Linux) EnsureNetwork(ctx context.Context, n Network) (string, error) {
	if err := checkID("network", n.ID); err != nil {
		return "", err
	}
	if err := checkMTU(n.MTU); err != nil {
		return "", err
	}
	br := l.Names.Bridge(n.ID)
	if _, err := netdev.EnsureBridge(ctx, br, n.MTU); err != nil {
		return "", err
	}
	return br, nil
}

// DeleteNetwork implements Driver.
func (l *Linux) DeleteNetwork(ctx context.Context, networkID string) error {
	if err := checkID("network", networkID); err != nil {
		return err
	}
	return netdev.Delete(ctx, l.Names.Bridge(networkID))
}

// PlugPort implements Driver.
func (l *Linux) PlugPort(ctx context.Context, p Port) (string, error) {
	if err := checkID("port", p.ID); err != nil {
		return "", err
	}
	if err := checkID("network", p.NetworkID); err != nil {
		return "", err
	}
	if err := checkMTU(p.MTU); err != nil {
		return "", err
	}
	r := revert.New()
	defer r.Fail()
	br := l.Names.Bridge(p.NetworkID)
	created, err := netdev.EnsureBridge(ctx, br, p.MTU)
	if created {
		r.Add(func() { _ = netdev.Delete(context.WithoutCancel(ctx), br) })
	}
	if err != nil {
		return "", err
	}
	tap := l.Names.Tap(p.ID)
	created, err = netdev.EnsureTap(ctx, tap, br, p.MTU)
	if created {
		r.Add(func() { _ = netdev.Delete(context.WithoutCancel(ctx), tap) })
	}
	if err != nil {
		return "", fmt.Errorf("linuxbridge: plug %s: %w", p.ID, err)
	}
	r.Success()
	return tap, nil
}

// UnplugPort implements Driver.
func (l *Linux) UnplugPort(ctx context.Context, portID string) error {
	if err := checkID("port", portID); err != nil {
		return err
	}
	return netdev.Delete(ctx, l.Names.Tap(portID))
}

// Fake records what a controller test asked for.
type Fake struct {
	Names Names

	mu       sync.Mutex
	Networks map[string]Network
	Ports    map[string]Port
}

var _ Driver = (*Fake)(nil)

func (f *Fake) init() {
	if f.Networks == nil {
		f.Networks, f.Ports = map[string]Network{}, map[string]Port{}
	}
}

func (f *Fake) BridgeName(id string) string { return f.Names.Bridge(id) }
func (f *Fake) TapName(id string) string    { return f.Names.Tap(id) }

func (f *Fake) EnsureNetwork(ctx context.Context, n Network) (string, error) {
	if err := checkID("network", n.ID); err != nil {
		return "", err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.init()
	f.Networks[n.ID] = n
	return f.Names.Bridge(n.ID), nil
}

func (f *Fake) DeleteNetwork(ctx context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.init()
	delete(f.Networks, id)
	return nil
}

func (f *Fake) PlugPort(ctx context.Context, p Port) (string, error) {
	if err := checkID("port", p.ID); err != nil {
		return "", err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.init()
	f.Networks[p.NetworkID] = Network{ID: p.NetworkID, MTU: p.MTU}
	f.Ports[p.ID] = p
	return f.Names.Tap(p.ID), nil
}

func (f *Fake) UnplugPort(ctx context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.init()
	delete(f.Ports, id)
	return nil
}
