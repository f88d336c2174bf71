package qemu

import (
	"context"
	"os"
	"path/filepath"

	"github.com/gureum/gureum/internal/driver/qemu/imagecache"
	"github.com/gureum/gureum/internal/linux/proc"
	"github.com/gureum/gureum/internal/platform/errs"
	"github.com/gureum/gureum/internal/platform/revert"
)

// Boot is what an instance boots from: an image and, for direct kernel
// boot, a kernel, ramdisk and command line.
type Boot struct {
	Image       imagecache.Image
	ImageFormat string
	Kernel      *imagecache.Image `json:",omitempty"`
	Ramdisk     *imagecache.Image `json:",omitempty"`
	Cmdline     string            `json:",omitempty"`
}

// Rescue records how a rescued instance boots when it is unrescued.
type Rescue struct {
	Original Boot
}

func (p paths) rescueDisk() string { return filepath.Join(p.dir, "rescue.qcow2") }

func (s *Spec) boot() Boot {
	return Boot{Image: s.Image, ImageFormat: s.ImageFormat, Kernel: s.Kernel, Ramdisk: s.Ramdisk, Cmdline: s.Cmdline}
}

func (s *Spec) setBoot(b Boot) {
	s.Image, s.ImageFormat, s.Kernel, s.Ramdisk, s.Cmdline = b.Image, b.ImageFormat, b.Kernel, b.Ramdisk, b.Cmdline
}

// lockState is lockSpec that also adopts the instance's QEMU process (nil
// when the instance does not run).
func (d *QEMU) lockState(id string) (spec Spec, pr *proc.Process, unlock func(), err error) {
	spec, unlock, err = d.lockSpec(id)
	if err != nil {
		return Spec{}, nil, nil, err
	}
	pr, err = d.running(id)
	if err != nil && !errs.Is(err, errs.KindConflict) {
		unlock()
		return Spec{}, nil, nil, err
	}
	return spec, pr, unlock, nil
}

// ensureRunning starts the instance of spec unless pr, its QEMU, runs.
func (d *QEMU) ensureRunning(ctx context.Context, spec Spec, pr *proc.Process) error {
	if pr != nil {
		return nil
	}
	return d.start(ctx, spec)
}

// Rescue boots the instance from a fresh overlay of the rescue image as
// its first disk, with its own disk attached second (nova's rescue): a
// running guest is shut down first (ACPI, then forced after the grace
// period). Rescuing a rescued instance only makes sure it runs.
func (d *QEMU) Rescue(ctx context.Context, id string, b Boot) error {
	spec, pr, unlock, err := d.lockState(id)
	if err != nil {
		return err
	}
	defer unlock()
	if spec.Rescue != nil {
		return d.ensureRunning(ctx, spec, pr)
	}
	rescued := spec
	rescued.setBoot(b)
	rescued.Rescue = &Rescue{Original: spec.boot()}
	if err := d.validate(&rescued); err != nil {
		return err
	}
	base, _, err := d.cache.Ensure(ctx, rescued.Image)
	if err != nil {
		return err
	}
	for _, img := range []*imagecache.Image{rescued.Kernel, rescued.Ramdisk} {
		if img != nil {
			if _, _, err := d.cache.Ensure(ctx, *img); err != nil {
				return err
			}
		}
	}
	p := d.paths(id)
	r := revert.New()
	defer r.Fail()
	if pr != nil {
		grace := d.cfg.Grace
		if in, _ := d.info(ctx, id); in.Status != Running {
			grace = 0
		}
		if err := d.stop(ctx, id, pr, grace); err != nil {
			return err
		}
		// Back to the instance's own boot, running as it was.
		r.Add(func() { _ = d.start(context.WithoutCancel(ctx), spec) })
	}
	os.Remove(p.rescueDisk())
	if err := d.createOverlay(ctx, base, rescued.ImageFormat, p.rescueDisk(), 0); err != nil {
		return err
	}
	r.Add(func() { os.Remove(p.rescueDisk()) })
	if err := writeJSON(p.spec(), rescued); err != nil {
		return err
	}
	r.Add(func() { _ = writeJSON(p.spec(), spec) })
	// The cold start discards a suspended guest's saved memory (of the
	// old devices).
	if err := d.start(ctx, rescued); err != nil {
		return err
	}
	r.Success()
	return nil
}

// Unrescue stops the rescue boot, drops its overlay and boots the
// instance from its own disk again. Unrescuing an instance that is not
// rescued only makes sure it runs.
func (d *QEMU) Unrescue(ctx context.Context, id string) error {
	spec, pr, unlock, err := d.lockState(id)
	if err != nil {
		return err
	}
	defer unlock()
	if spec.Rescue == nil {
		return d.ensureRunning(ctx, spec, pr)
	}
	if pr != nil {
		// The rescue system holds nothing worth a clean shutdown.
		if err := d.stop(ctx, id, pr, 0); err != nil {
			return err
		}
	}
	spec.setBoot(spec.Rescue.Original)
	spec.Rescue = nil
	p := d.paths(id)
	if err := writeJSON(p.spec(), spec); err != nil {
		return err
	}
	os.Remove(p.rescueDisk())
	return d.start(ctx, spec)
}
