// Package qemu runs instances as QEMU processes: KVM when /dev/kvm is
// usable, TCG otherwise; power operations and status over QMP; the root
// disk a qcow2 overlay on a per-node cached base image; an optional config
// drive; the serial console captured to a file. Each instance has a state
// directory (spec, pidfile, QMP socket, console log, overlay), so a new
// Driver on the same directory re-attaches to running guests instead of
// rebooting them.
package qemu

import (
	"context"

	"github.com/gureum/gureum/internal/driver/metadata"
	"github.com/gureum/gureum/internal/driver/qemu/imagecache"
)

// Status is an instance's observed power state.
type Status string

const (
	Running   Status = "running"
	Paused    Status = "paused"    // vCPUs stopped (Nova PAUSED)
	Suspended Status = "suspended" // memory saved to a file, QEMU exited (Nova SUSPENDED)
	Shutoff   Status = "shutoff"   // no QEMU process; disk kept
	Crashed   Status = "crashed"   // QEMU runs but reports an error state
	NotFound  Status = "notfound"  // no such instance on this node
	// Unknown: QEMU runs but its monitor did not answer (starting, or
	// busy); only List reports it, instead of failing for every guest.
	Unknown Status = "unknown"
)

// NIC is a guest network interface on an existing tap device (plugged by
// the linuxbridge driver).
type NIC struct {
	Tap string
	MAC string
}

// Spec is what an instance is made of. It is saved in the state directory
// so PowerOn and re-attachment do not need it again.
type Spec struct {
	ID       string // the server UUID
	VCPUs    int
	MemoryMB int
	RootGB   int // root disk size; 0 keeps the image's virtual size

	Image       imagecache.Image
	ImageFormat string // "qcow2" or "raw" (Glance disk_format)
	// Kernel and Ramdisk boot the kernel directly (Glance kernel_id /
	// ramdisk_id); Cmdline is os_command_line.
	Kernel  *imagecache.Image `json:",omitempty"`
	Ramdisk *imagecache.Image `json:",omitempty"`
	Cmdline string            `json:",omitempty"`

	NICs []NIC
	// ConfigDrive, when set, is written to an ISO (label config-2) and
	// attached as a second disk.
	ConfigDrive *metadata.Instance `json:"-"`
	// Rescue is set while the instance boots a rescue image (whose
	// overlay is the first disk, the instance's own disk the second);
	// the fields above then describe the rescue image.
	Rescue *Rescue `json:",omitempty"`
}

// Info is what the driver observes about one instance.
type Info struct {
	ID        string
	Status    Status
	PID       int
	QMPStatus string // raw query-status value ("running", "paused", ...)
	Accel     string // "kvm" or "tcg"
}

// Driver is what the compute agent drives. Every call is idempotent by
// instance ID.
type Driver interface {
	// Spawn creates the instance's disk (overlay, config drive) and starts
	// it. Spawning a running instance is a no-op.
	Spawn(ctx context.Context, spec Spec) (Info, error)
	// Info reports the instance's state (Status NotFound when unknown).
	Info(ctx context.Context, id string) (Info, error)
	// List reports every instance with a state directory on this node.
	List(ctx context.Context) ([]Info, error)
	// PowerOff asks the guest to shut down (ACPI), waits for the configured
	// grace period, then stops QEMU.
	PowerOff(ctx context.Context, id string) error
	// PowerOn starts a shut-off instance from its saved spec and disk.
	PowerOn(ctx context.Context, id string) error
	// Reboot: hard resets the machine; soft asks the guest (ACPI) and falls
	// back to a reset after the grace period.
	Reboot(ctx context.Context, id string, hard bool) error
	// Pause stops the vCPUs (memory stays in QEMU); Unpause continues.
	Pause(ctx context.Context, id string) error
	Unpause(ctx context.Context, id string) error
	// Suspend saves memory and device state to a file and stops QEMU;
	// Resume (or PowerOn) restores it: the guest continues, not reboots.
	Suspend(ctx context.Context, id string) error
	Resume(ctx context.Context, id string) error
	// ResizeDisk grows the root disk to gb (never shrinks), online or not.
	ResizeDisk(ctx context.Context, id string, gb int) error
	// SetFlavor records new vCPU/memory sizes, applied at the next PowerOn
	// (resize = PowerOff, SetFlavor, ResizeDisk, PowerOn).
	SetFlavor(ctx context.Context, id string, vcpus, memoryMB int) error
	// Snapshot writes a standalone qcow2 of the root disk to dest (the
	// guest is paused while it is copied if it runs).
	Snapshot(ctx context.Context, id, dest string) error
	// ConsoleOutput returns the last lines of the serial console (all of
	// it when lines <= 0).
	ConsoleOutput(ctx context.Context, id string, lines int) (string, error)
	// Destroy stops QEMU and removes the overlay, config drive, socket,
	// pidfile and state directory.
	Destroy(ctx context.Context, id string) error
}
