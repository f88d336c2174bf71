package linuxbridge

import (
	"context"
	"testing"

	"github.com/gureum/gureum/internal/platform/errs"
)

func TestNames(t *testing.T) {
	n := Names{}
	id := "3f2a1b4c-9d8e-4f00-8000-000000000001"
	for _, got := range []string{n.Bridge(id), n.Tap(id), n.DHCP(id)} {
		if len(got) != 15 || got[:3] != "gr-" {
			t.Errorf("name %q: want 15 bytes with the gr- prefix", got)
		}
	}
	if n.Bridge(id) != "gr-b3f2a1b4c9d8" || n.Tap(id) != "gr-t3f2a1b4c9d8" {
		t.Errorf("names %s %s", n.Bridge(id), n.Tap(id))
	}
	if (Names{Prefix: "x-"}).Tap(id) != "x-t3f2a1b4c9d8e" {
		t.Errorf("custom prefix: %s", (Names{Prefix: "x-"}).Tap(id))
	}
}

func TestRejectsBadInput(t *testing.T) {
	ctx := context.Background()
	l := New("")
	for _, c := range []struct {
		n Network
	}{{Network{ID: "../../x"}}, {Network{ID: "short"}}, {Network{ID: "3f2a1b4c-9d8e", MTU: 100}}} {
		if _, err := l.EnsureNetwork(ctx, c.n); !errs.Is(err, errs.KindBadRequest) {
			t.Errorf("EnsureNetwork(%+v) = %v, want BadRequest", c.n, err)
		}
	}
	f := &Fake{}
	if tap, err := f.PlugPort(ctx, Port{ID: "3f2a1b4c-9d8e", NetworkID: "net-12345678", MTU: 1450}); err != nil || tap != "gr-t3f2a1b4c9d8" {
		t.Errorf("fake PlugPort = %q, %v", tap, err)
	}
}
