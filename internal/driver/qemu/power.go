package qemu

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/gureum/gureum/internal/driver/qemu/qmp"
	"github.com/gureum/gureum/internal/linux/proc"
	"github.com/gureum/gureum/internal/platform/errs"
)

func (d *QEMU) exec(ctx context.Context, id, command string, args any) error {
	return qmp.Do(ctx, d.paths(id).qmp(), func(c *qmp.Client) error { return c.Execute(ctx, command, args, nil) })
}

// stop shuts QEMU down: ACPI powerdown and up to grace (when > 0), then
// "quit", then signals. It leaves the disk.
func (d *QEMU) stop(ctx context.Context, id string, pr *proc.Process, grace time.Duration) error {
	p := d.paths(id)
	if grace > 0 {
		if err := d.exec(ctx, id, "system_powerdown", nil); err == nil {
			wctx, cancel := context.WithTimeout(ctx, grace)
			_ = pr.Wait(wctx)
			cancel()
		}
	}
	if pr.Alive() {
		qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := d.exec(qctx, id, "quit", nil)
		cancel()
		if err == nil || qmp.IsClosed(err) {
			wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			_ = pr.Wait(wctx)
			cancel()
		}
	}
	if err := pr.Stop(context.WithoutCancel(ctx), 5*time.Second); err != nil {
		return err
	}
	os.Remove(p.qmp())
	os.Remove(p.suspended())
	return nil
}

// PowerOff implements Driver.
func (d *QEMU) PowerOff(ctx context.Context, id string) error {
	if err := checkID(id); err != nil {
		return err
	}
	defer d.lock(id)()
	pr, err := d.running(id)
	if errs.Is(err, errs.KindConflict) {
		// Already off; a suspended guest's saved memory is discarded.
		os.Remove(d.paths(id).state())
		os.Remove(d.paths(id).suspended())
		return nil
	}
	if err != nil {
		return err
	}
	grace := d.cfg.Grace
	if in, _ := d.info(ctx, id); in.Status != Running {
		grace = 0 // a paused guest cannot act on ACPI
	}
	return d.stop(ctx, id, pr, grace)
}

// PowerOn implements Driver.
func (d *QEMU) PowerOn(ctx context.Context, id string) error {
	if err := checkID(id); err != nil {
		return err
	}
	defer d.lock(id)()
	if _, err := d.running(id); err == nil {
		return nil
	} else if !errs.Is(err, errs.KindConflict) {
		return err
	}
	spec, err := d.loadSpec(id)
	if err != nil {
		return err
	}
	// A suspended guest starts where it was (as libvirt's managed save).
	return d.startWith(ctx, spec, d.hasSavedState(id))
}

// Reboot implements Driver.
func (d *QEMU) Reboot(ctx context.Context, id string, hard bool) error {
	if err := checkID(id); err != nil {
		return err
	}
	defer d.lock(id)()
	pr, err := d.running(id)
	if errs.Is(err, errs.KindConflict) {
		spec, err := d.loadSpec(id)
		if err != nil {
			return err
		}
		return d.start(ctx, spec)
	}
	if err != nil {
		return err
	}
	in, err := d.info(ctx, id)
	if err != nil {
		return err
	}
	if !hard && in.Status == Running {
		// Soft: the guest shuts down on the ACPI button and QEMU exits;
		// start it again. A guest that ignores the button is reset.
		if err := d.exec(ctx, id, "system_powerdown", nil); err == nil {
			wctx, cancel := context.WithTimeout(ctx, d.cfg.Grace)
			_ = pr.Wait(wctx)
			cancel()
			if !pr.Alive() {
				_ = pr.Stop(ctx, time.Second)
				spec, err := d.loadSpec(id)
				if err != nil {
					return err
				}
				return d.start(ctx, spec)
			}
		}
	}
	if err := d.exec(ctx, id, "system_reset", nil); err != nil {
		return err
	}
	os.Remove(d.paths(id).suspended())
	if in.Status != Running {
		return d.exec(ctx, id, "cont", nil)
	}
	return nil
}

// Pause implements Driver: the vCPUs stop; memory stays in QEMU. "stop"
// drains and flushes every disk: the overlay is consistent on the host
// while the guest is stopped.
func (d *QEMU) Pause(ctx context.Context, id string) error {
	return d.setVCPUs(ctx, id, "pause", Running, Paused, "stop")
}

// Unpause implements Driver.
func (d *QEMU) Unpause(ctx context.Context, id string) error {
	return d.setVCPUs(ctx, id, "unpause", Paused, Running, "cont")
}

// setVCPUs moves a running QEMU's vCPUs from one status to the other with
// a monitor command; already there is success, any other status a
// Conflict.
func (d *QEMU) setVCPUs(ctx context.Context, id, action string, from, to Status, command string) error {
	if err := checkID(id); err != nil {
		return err
	}
	defer d.lock(id)()
	if _, err := d.running(id); err != nil {
		return err
	}
	in, err := d.info(ctx, id)
	if err != nil {
		return err
	}
	switch in.Status {
	case to:
		return nil
	case from:
		return d.exec(ctx, id, command, nil)
	}
	return errs.Conflict("qemu: cannot %s instance %s in state %s", action, id, in.Status)
}

func (d *QEMU) hasSavedState(id string) bool {
	p := d.paths(id)
	_, e1 := os.Stat(p.suspended())
	_, e2 := os.Stat(p.state())
	return e1 == nil && e2 == nil
}

// shellQuote quotes a path for QEMU's exec: migration URI (run by /bin/sh).
func shellQuote(path string) (string, error) {
	if strings.ContainsAny(path, "'\x00\n") {
		return "", fmt.Errorf("qemu: path %q cannot be quoted for exec migration", path)
	}
	return "'" + path + "'", nil
}

// Suspend implements Driver: the guest's memory and device state are saved
// to a file in its state directory (QMP migrate to a file, as libvirt's
// managed save) and QEMU exits, freeing the memory; the saved state survives
// an agent or host restart. The disk is not snapshotted: it stays as the
// guest left it, which is consistent with the saved memory.
func (d *QEMU) Suspend(ctx context.Context, id string) error {
	if err := checkID(id); err != nil {
		return err
	}
	defer d.lock(id)()
	if d.hasSavedState(id) {
		if _, err := d.running(id); err != nil {
			return nil // already suspended
		}
	}
	pr, err := d.running(id)
	if err != nil {
		return err
	}
	in, err := d.info(ctx, id)
	if err != nil {
		return err
	}
	if in.Status != Running {
		return errs.Conflict("qemu: cannot suspend instance %s in state %s", id, in.Status)
	}
	p := d.paths(id)
	tmp := p.state() + ".tmp"
	q, err := shellQuote(tmp)
	if err != nil {
		return err
	}
	// Stopped first: a non-live migration is one pass over memory.
	if err := d.exec(ctx, id, "stop", nil); err != nil {
		return err
	}
	fail := func(err error) error {
		os.Remove(tmp)
		_ = d.exec(context.WithoutCancel(ctx), id, "cont", nil)
		return fmt.Errorf("qemu: suspend %s: %w", id, err)
	}
	if err := d.exec(ctx, id, "migrate", map[string]any{"uri": "exec:cat > " + q}); err != nil {
		return fail(err)
	}
	for {
		var st struct {
			Status string `json:"status"`
			Error  string `json:"error-desc"`
		}
		err := qmp.Do(ctx, p.qmp(), func(c *qmp.Client) error { return c.Execute(ctx, "query-migrate", nil, &st) })
		if err != nil {
			return fail(err)
		}
		if st.Status == "completed" {
			break
		}
		if st.Status == "failed" || st.Status == "cancelled" {
			return fail(errors.New("migration " + st.Status + ": " + st.Error))
		}
		select {
		case <-ctx.Done():
			_ = d.exec(context.WithoutCancel(ctx), id, "migrate_cancel", nil)
			return fail(ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	if err := os.Rename(tmp, p.state()); err != nil {
		return fail(err)
	}
	if err := os.WriteFile(p.suspended(), nil, 0o600); err != nil {
		return err
	}
	// stop() clears the marker for an ordinary shutdown; keep it here.
	if err := d.stop(ctx, id, pr, 0); err != nil {
		return err
	}
	return os.WriteFile(p.suspended(), nil, 0o600)
}

// Resume implements Driver: QEMU starts again from the saved state.
func (d *QEMU) Resume(ctx context.Context, id string) error {
	if err := checkID(id); err != nil {
		return err
	}
	defer d.lock(id)()
	in, err := d.info(ctx, id)
	if err != nil {
		return err
	}
	switch in.Status {
	case Suspended:
	case Running:
		return nil
	case NotFound:
		return errs.NotFound("qemu: instance %s not found on this node", id)
	default:
		return errs.Conflict("qemu: instance %s is %s, not suspended", id, in.Status)
	}
	spec, err := d.loadSpec(id)
	if err != nil {
		return err
	}
	return d.startWith(ctx, spec, true)
}
