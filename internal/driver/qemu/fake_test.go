package qemu_test

import (
	"context"
	"testing"

	"github.com/gureum/gureum/internal/driver/qemu"
	"github.com/gureum/gureum/internal/driver/qemu/imagecache"
	"github.com/gureum/gureum/internal/platform/errs"
)

func TestFakeStateMachine(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := &qemu.Fake{}
	spec := qemu.Spec{ID: "s1", VCPUs: 1, MemoryMB: 64, Image: imagecache.Image{ID: "i"}}
	if _, err := f.Spawn(ctx, qemu.Spec{ID: "bad id"}); !errs.Is(err, errs.KindBadRequest) {
		t.Fatalf("bad spec: %v", err)
	}
	in, err := f.Spawn(ctx, spec)
	if err != nil || in.Status != qemu.Running {
		t.Fatal(in, err)
	}
	steps := []struct {
		op   func(context.Context, string) error
		want qemu.Status
		kind errs.Kind
	}{
		{f.Pause, qemu.Paused, 0},
		{f.Resume, qemu.Paused, errs.KindConflict},
		{f.Unpause, qemu.Running, 0},
		{f.Suspend, qemu.Suspended, 0},
		{f.Resume, qemu.Running, 0},
		{f.PowerOff, qemu.Shutoff, 0},
		{f.Pause, qemu.Shutoff, errs.KindConflict},
		{f.PowerOn, qemu.Running, 0},
	}
	for i, s := range steps {
		err := s.op(ctx, "s1")
		if (s.kind == 0) != (err == nil) || (err != nil && !errs.Is(err, s.kind)) {
			t.Fatalf("step %d: err %v", i, err)
		}
		if in, _ := f.Info(ctx, "s1"); in.Status != s.want {
			t.Fatalf("step %d: status %s, want %s", i, in.Status, s.want)
		}
	}
	if out, _ := f.ConsoleOutput(ctx, "s1", 1); out != "gureum-guest: boot done\n" {
		t.Fatalf("console %q", out)
	}
	f.Destroy(ctx, "s1")
	if in, _ := f.Info(ctx, "s1"); in.Status != qemu.NotFound {
		t.Fatal(in)
	}
}
