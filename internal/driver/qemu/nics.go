package qemu

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gureum/gureum/internal/driver/qemu/qmp"
	"github.com/gureum/gureum/internal/platform/errs"
	"github.com/gureum/gureum/internal/platform/revert"
)

// DetachTimeout bounds how long DetachNIC waits for the guest to release
// a NIC (ACPI PCI hot-unplug needs the guest's cooperation).
var DetachTimeout = 30 * time.Second

func checkNIC(n NIC) error {
	if !macRE.MatchString(n.MAC) || n.Tap == "" || len(n.Tap) > 15 || strings.ContainsAny(n.Tap, ", /") {
		return errs.BadRequest("qemu: bad NIC %+v", n)
	}
	return nil
}

// hotplug IDs: stable per tap (a tap is per port), apart from the
// positional net<N> IDs of NICs given on the command line.
func netdevID(tap string) string { return "hostnet-" + tap }
func deviceID(tap string) string { return "nic-" + tap }

// AttachNIC adds a NIC on an existing tap to an instance: hot-plugged over
// QMP (netdev_add, then device_add of a virtio-net-pci with the NIC's MAC)
// when QEMU runs, and written to the saved spec so every later start has
// it. A suspended instance refuses (its saved memory has the old devices).
// Attaching a NIC the instance has is a no-op. A failure takes the
// hot-plugged netdev and device out again.
func (d *QEMU) AttachNIC(ctx context.Context, id string, n NIC) error {
	if err := checkNIC(n); err != nil {
		return err
	}
	n.MAC = strings.ToLower(n.MAC)
	spec, unlock, err := d.lockSpec(id)
	if err != nil {
		return err
	}
	defer unlock()
	recorded := false
	for _, x := range spec.NICs {
		if strings.EqualFold(x.MAC, n.MAC) {
			recorded = true
		}
	}
	r := revert.New()
	defer r.Fail()
	bg := context.WithoutCancel(ctx)
	err = d.qmpIfRunning(ctx, id, func(c *qmp.Client) error {
		path, _, err := findNIC(ctx, c, n.MAC)
		if err != nil || path != "" {
			return err
		}
		// A netdev left by an attach that failed half-way.
		_ = c.Execute(ctx, "netdev_del", map[string]any{"id": netdevID(n.Tap)}, nil)
		nd := map[string]any{"type": "tap", "id": netdevID(n.Tap), "ifname": n.Tap, "script": "no", "downscript": "no"}
		if d.accel == "kvm" && d.vhost {
			nd["vhost"] = true
		}
		if err := c.Execute(ctx, "netdev_add", nd, nil); err != nil {
			return fmt.Errorf("qemu: netdev_add %s: %w", n.Tap, err)
		}
		// Taking the netdev out lets go of the tap at once, whether or
		// not the guest releases the device.
		r.Add(func() { _ = d.exec(bg, id, "netdev_del", map[string]any{"id": netdevID(n.Tap)}) })
		if err := c.Execute(ctx, "device_add", map[string]any{"driver": "virtio-net-pci", "id": deviceID(n.Tap), "netdev": netdevID(n.Tap), "mac": n.MAC}, nil); err != nil {
			return fmt.Errorf("qemu: device_add %s: %w", n.MAC, err)
		}
		r.Add(func() { _ = d.exec(bg, id, "device_del", map[string]any{"id": deviceID(n.Tap)}) })
		return nil
	})
	if err != nil {
		return err
	}
	if !recorded {
		spec.NICs = append(spec.NICs, n)
		if err := writeJSON(d.paths(id).spec(), spec); err != nil {
			return err
		}
	}
	r.Success()
	return nil
}

// DetachNIC removes the NIC with mac from an instance: device_del in a
// running guest, waiting (at most DetachTimeout) for QEMU's DEVICE_DELETED
// event once the guest has released it, then netdev_del; the NIC leaves
// the saved spec. Detaching a NIC the instance lacks is a no-op.
func (d *QEMU) DetachNIC(ctx context.Context, id, mac string) error {
	spec, unlock, err := d.lockSpec(id)
	if err != nil {
		return err
	}
	defer unlock()
	var keep []NIC
	var gone *NIC
	for _, x := range spec.NICs {
		if strings.EqualFold(x.MAC, mac) {
			gone = &x
			continue
		}
		keep = append(keep, x)
	}
	err = d.qmpIfRunning(ctx, id, func(c *qmp.Client) error {
		path, netdev, err := findNIC(ctx, c, mac)
		if err != nil {
			return err
		}
		if path == "" {
			if gone != nil {
				_ = c.Execute(ctx, "netdev_del", map[string]any{"id": netdevID(gone.Tap)}, nil)
			}
			return nil
		}
		if err := c.Execute(ctx, "device_del", map[string]any{"id": path}, nil); err != nil {
			return fmt.Errorf("qemu: device_del %s: %w", path, err)
		}
		wctx, cancel := context.WithTimeout(ctx, DetachTimeout)
		defer cancel()
		if _, err := c.WaitEvent(wctx, "DEVICE_DELETED", func(data json.RawMessage) bool {
			var ev struct {
				Path string `json:"path"`
			}
			return json.Unmarshal(data, &ev) == nil && ev.Path == path
		}); err != nil {
			return fmt.Errorf("qemu: the guest did not release NIC %s: %w", mac, err)
		}
		if netdev != "" {
			if err := c.Execute(ctx, "netdev_del", map[string]any{"id": netdev}, nil); err != nil {
				return fmt.Errorf("qemu: netdev_del %s: %w", netdev, err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if gone == nil {
		return nil
	}
	spec.NICs = keep
	return writeJSON(d.paths(id).spec(), spec)
}

// qmpIfRunning runs fn on the QMP connection of a running instance; a
// shut-off instance has nothing to change (nil), a suspended one refuses
// (its saved memory has the old devices).
func (d *QEMU) qmpIfRunning(ctx context.Context, id string, fn func(*qmp.Client) error) error {
	_, err := d.running(id)
	switch {
	case errs.Is(err, errs.KindConflict):
		if d.hasSavedState(id) {
			return errs.Conflict("qemu: instance %s is suspended", id)
		}
		return nil
	case err != nil:
		return err
	}
	return qmp.Do(ctx, d.paths(id).qmp(), fn)
}

// GuestNIC is a virtio NIC as QEMU's object tree shows it.
type GuestNIC struct {
	Path   string // QOM path (device_del takes it)
	MAC    string
	Netdev string
}

// NICs lists the virtio NICs QEMU presents to a running guest (tests,
// diagnostics).
func (d *QEMU) NICs(ctx context.Context, id string) ([]GuestNIC, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	var out []GuestNIC
	err := qmp.Do(ctx, d.paths(id).qmp(), func(c *qmp.Client) error {
		var err error
		out, err = listNICs(ctx, c)
		return err
	})
	return out, err
}

// listNICs walks the user-created devices (with and without an ID).
func listNICs(ctx context.Context, c *qmp.Client) ([]GuestNIC, error) {
	var out []GuestNIC
	for _, parent := range []string{"/machine/peripheral", "/machine/peripheral-anon"} {
		var props []struct {
			Name string `json:"name"`
			Type string `json:"type"`
		}
		if err := c.Execute(ctx, "qom-list", map[string]any{"path": parent}, &props); err != nil {
			var qe *qmp.Error
			if errors.As(err, &qe) {
				continue // no such container: no devices of that kind
			}
			return nil, err
		}
		for _, p := range props {
			if p.Type != "child<virtio-net-pci>" {
				continue
			}
			n := GuestNIC{Path: parent + "/" + p.Name}
			if err := c.Execute(ctx, "qom-get", map[string]any{"path": n.Path, "property": "mac"}, &n.MAC); err != nil {
				return nil, err
			}
			_ = c.Execute(ctx, "qom-get", map[string]any{"path": n.Path, "property": "netdev"}, &n.Netdev)
			out = append(out, n)
		}
	}
	return out, nil
}

// findNIC returns the QOM path and netdev of the guest's NIC with mac
// ("" when there is none).
func findNIC(ctx context.Context, c *qmp.Client, mac string) (path, netdev string, err error) {
	nics, err := listNICs(ctx, c)
	if err != nil {
		return "", "", err
	}
	for _, n := range nics {
		if strings.EqualFold(n.MAC, mac) {
			return n.Path, n.Netdev, nil
		}
	}
	return "", "", nil
}
