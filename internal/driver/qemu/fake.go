package qemu

import (
	"context"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/gureum/gureum/internal/platform/errs"
)

// Fake is an in-memory Driver for controller and agent tests: it keeps the
// same state machine (and Conflict errors) as QEMU without running it.
type Fake struct {
	mu    sync.Mutex
	vms   map[string]*fakeVM
	Fails map[string]error // instance ID → error returned by Spawn
}

type fakeVM struct {
	spec    Spec
	status  Status
	console []string
	pid     int
}

var _ Driver = (*Fake)(nil)

func (f *Fake) get(id string) (*fakeVM, error) {
	if f.vms == nil {
		f.vms = map[string]*fakeVM{}
	}
	vm := f.vms[id]
	if vm == nil {
		return nil, errs.NotFound("qemu: instance %s not found on this node", id)
	}
	return vm, nil
}

func (vm *fakeVM) boot() {
	vm.status = Running
	vm.pid++
	vm.console = append(vm.console, "Linux version (fake)", "gureum-guest: boot done")
}

func (vm *fakeVM) info(id string) Info {
	in := Info{ID: id, Status: vm.status, Accel: "fake"}
	switch vm.status {
	case Running:
		in.QMPStatus = "running"
	case Paused, Suspended:
		in.QMPStatus = "paused"
	}
	if in.QMPStatus != "" {
		in.PID = vm.pid
	}
	return in
}

func (f *Fake) Spawn(ctx context.Context, spec Spec) (Info, error) {
	d := &QEMU{cfg: Config{StateDir: os.TempDir()}}
	if err := d.validate(&spec); err != nil {
		return Info{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.Fails[spec.ID]; err != nil {
		return Info{}, err
	}
	vm, err := f.get(spec.ID)
	if err != nil {
		vm = &fakeVM{spec: spec, pid: 1000 + len(f.vms)*10}
		f.vms[spec.ID] = vm
	}
	if vm.status != Running && vm.status != Paused && vm.status != Suspended {
		vm.boot()
	}
	return vm.info(spec.ID), nil
}

func (f *Fake) Info(ctx context.Context, id string) (Info, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	vm, err := f.get(id)
	if err != nil {
		return Info{ID: id, Status: NotFound}, nil
	}
	return vm.info(id), nil
}

func (f *Fake) List(ctx context.Context) ([]Info, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Info
	for id, vm := range f.vms {
		out = append(out, vm.info(id))
	}
	slices.SortFunc(out, func(a, b Info) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// transition applies fn to a running-ish instance under the lock.
func (f *Fake) transition(id string, fn func(vm *fakeVM) error) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	vm, err := f.get(id)
	if err != nil {
		return err
	}
	return fn(vm)
}

func (f *Fake) PowerOff(ctx context.Context, id string) error {
	return f.transition(id, func(vm *fakeVM) error { vm.status = Shutoff; return nil })
}

func (f *Fake) PowerOn(ctx context.Context, id string) error {
	return f.transition(id, func(vm *fakeVM) error {
		if vm.status == Shutoff {
			vm.boot()
		}
		return nil
	})
}

func (f *Fake) Reboot(ctx context.Context, id string, hard bool) error {
	return f.transition(id, func(vm *fakeVM) error { vm.boot(); return nil })
}

func (f *Fake) move(id string, from, to Status) error {
	return f.transition(id, func(vm *fakeVM) error {
		switch vm.status {
		case to:
			return nil
		case from:
			vm.status = to
			return nil
		case Shutoff:
			return errs.Conflict("qemu: instance %s is not running", id)
		}
		return errs.Conflict("qemu: instance %s is %s, not %s", id, vm.status, from)
	})
}

func (f *Fake) Pause(ctx context.Context, id string) error   { return f.move(id, Running, Paused) }
func (f *Fake) Unpause(ctx context.Context, id string) error { return f.move(id, Paused, Running) }
func (f *Fake) Suspend(ctx context.Context, id string) error { return f.move(id, Running, Suspended) }
func (f *Fake) Resume(ctx context.Context, id string) error  { return f.move(id, Suspended, Running) }

func (f *Fake) ResizeDisk(ctx context.Context, id string, gb int) error {
	return f.transition(id, func(vm *fakeVM) error {
		if gb < vm.spec.RootGB {
			return errs.BadRequest("qemu: cannot shrink the root disk of %s", id)
		}
		vm.spec.RootGB = gb
		return nil
	})
}

func (f *Fake) SetFlavor(ctx context.Context, id string, vcpus, memoryMB int) error {
	return f.transition(id, func(vm *fakeVM) error { vm.spec.VCPUs, vm.spec.MemoryMB = vcpus, memoryMB; return nil })
}

func (f *Fake) Snapshot(ctx context.Context, id, dest string) error {
	if err := f.transition(id, func(*fakeVM) error { return nil }); err != nil {
		return err
	}
	return os.WriteFile(dest, []byte("fake snapshot of "+id), 0o600)
}

func (f *Fake) ConsoleOutput(ctx context.Context, id string, lines int) (string, error) {
	var out string
	err := f.transition(id, func(vm *fakeVM) error {
		l := vm.console
		if lines > 0 && len(l) > lines {
			l = l[len(l)-lines:]
		}
		out = strings.Join(l, "\n") + "\n"
		return nil
	})
	return out, err
}

func (f *Fake) Destroy(ctx context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.vms, id)
	return nil
}

// Spec returns the spec an instance was spawned with (for assertions).
func (f *Fake) Spec(id string) (Spec, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	vm, err := f.get(id)
	if err != nil {
		return Spec{}, false
	}
	return vm.spec, true
}
