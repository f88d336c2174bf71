package qemu

import (
	"context"
	"os"
	"strconv"

	"github.com/gureum/gureum/internal/platform/errs"
)

// lockSpec checks id, takes the instance's lock and loads its spec; the
// caller defers unlock (given only when err is nil).
func (d *QEMU) lockSpec(id string) (spec Spec, unlock func(), err error) {
	if err := checkID(id); err != nil {
		return Spec{}, nil, err
	}
	unlock = d.lock(id)
	if spec, err = d.loadSpec(id); err != nil {
		unlock()
		return Spec{}, nil, err
	}
	return spec, unlock, nil
}

// ResizeDisk implements Driver.
func (d *QEMU) ResizeDisk(ctx context.Context, id string, gb int) error {
	if err := checkID(id); err != nil {
		return err
	}
	if gb <= 0 || gb > 64<<10 {
		return errs.BadRequest("qemu: bad disk size %d GB", gb)
	}
	defer d.lock(id)()
	spec, err := d.loadSpec(id)
	if err != nil {
		return err
	}
	p := d.paths(id)
	cur, err := d.virtualSize(ctx, p.disk(), "qcow2")
	if err != nil {
		return err
	}
	want := int64(gb) << 30
	if want < cur {
		return errs.BadRequest("qemu: cannot shrink the root disk of %s from %d to %d bytes", id, cur, want)
	}
	if want > cur {
		if _, err := d.running(id); err == nil {
			err = d.exec(ctx, id, "block_resize", map[string]any{"device": "root", "size": want})
		} else {
			_, err = d.run(ctx, d.cfg.QEMUImg, "resize", "-q", "-f", "qcow2", p.disk(), strconv.FormatInt(want, 10))
		}
		if err != nil {
			return err
		}
	}
	spec.RootGB = gb
	return writeJSON(p.spec(), spec)
}

// SetFlavor implements Driver.
func (d *QEMU) SetFlavor(ctx context.Context, id string, vcpus, memoryMB int) error {
	spec, unlock, err := d.lockSpec(id)
	if err != nil {
		return err
	}
	defer unlock()
	if d.hasSavedState(id) {
		return errs.Conflict("qemu: instance %s is suspended; its saved memory needs the same flavor", id)
	}
	spec.VCPUs, spec.MemoryMB = vcpus, memoryMB
	if err := d.validate(&spec); err != nil {
		return err
	}
	return writeJSON(d.paths(id).spec(), spec)
}

// Snapshot implements Driver.
func (d *QEMU) Snapshot(ctx context.Context, id, dest string) error {
	_, unlock, err := d.lockSpec(id)
	if err != nil {
		return err
	}
	defer unlock()
	if _, err := d.running(id); err == nil {
		in, err := d.info(ctx, id)
		if err != nil {
			return err
		}
		if in.Status == Running {
			if err := d.exec(ctx, id, "stop", nil); err != nil {
				return err
			}
			defer d.exec(context.WithoutCancel(ctx), id, "cont", nil)
		}
	}
	tmp := dest + ".tmp"
	defer os.Remove(tmp)
	if _, err := d.run(ctx, d.cfg.QEMUImg, "convert", "-U", "-q", "-f", "qcow2", "-O", "qcow2", d.paths(id).disk(), tmp); err != nil {
		return err
	}
	return os.Rename(tmp, dest)
}
