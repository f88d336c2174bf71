package qemudriver_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/gureum/gureum/internal/agent/qemudriver"
	"github.com/gureum/gureum/internal/agentapi"
	"github.com/gureum/gureum/internal/driver/linuxbridge"
	"github.com/gureum/gureum/internal/linux/linuxtest"
)

func linkExists(name string) bool { return exec.Command("ip", "link", "show", name).Run() == nil }

// An attach whose QEMU hot-plug fails (here: QEMU cannot save its spec)
// is undone: a new port's tap and its network's bridge go and the saved
// spec is as it was; a port the server already had (plugged by an attach
// the agent did not finish) keeps its tap and bridge.
func TestAttachInterfaceRollsBack(t *testing.T) {
	linuxtest.RequireRoot(t)
	linuxtest.RequireBinary(t, "qemu-system-x86_64", "qemu-img", "ip")
	img, _ := filepath.Abs("../../../build/images/tiny.qcow2")
	if _, err := os.Stat(img); err != nil {
		t.Skipf("needs the tiny test image: run `make test-image` (%v)", err)
	}
	ctx := context.Background()
	dir := t.TempDir()
	cfg := qemudriver.Config{Dir: dir, DevicePrefix: "rb-", Grace: time.Second}
	d, err := qemudriver.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	uuid := func(kind int) string {
		return fmt.Sprintf("%08x-%04x-4000-8000-%012x", os.Getpid(), kind, time.Now().UnixNano()&0xffffffffffff)
	}
	id := uuid(1)
	if err := d.Spawn(ctx, &agentapi.ServerSpec{ID: id, Name: "rb", VCPUs: 1, MemoryMB: 256, DiskGB: 1,
		Image: agentapi.ImageRef{ID: "tiny", DiskFormat: "qcow2", Path: img}, NICs: []agentapi.NIC{}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Destroy(ctx, id) })
	if _, err := d.GuestNICs(ctx, id); err != nil {
		t.Fatalf("QEMU of the running server: %v", err)
	}
	names := linuxbridge.Names{Prefix: cfg.DevicePrefix}
	nic := func(i int) agentapi.NIC {
		return agentapi.NIC{PortID: uuid(0x10 + i), NetworkID: uuid(0x20 + i), MAC: fmt.Sprintf("fa:16:3e:02:%02x:%02x", os.Getpid()&0xff, i), MTU: 1450}
	}
	specPath := filepath.Join(dir, "servers", id+".json")
	hasPort := func(portID string) bool {
		var s agentapi.ServerSpec
		b, err := os.ReadFile(specPath)
		if err != nil || json.Unmarshal(b, &s) != nil {
			t.Fatalf("saved spec: %v %s", err, b)
		}
		for _, n := range s.NICs {
			if n.PortID == portID {
				return true
			}
		}
		return false
	}
	// QEMU writes spec.json.tmp first: a directory there fails it.
	qemuTmp := filepath.Join(dir, "instances", id, "spec.json.tmp")
	if err := os.Mkdir(qemuTmp, 0o755); err != nil {
		t.Fatal(err)
	}

	// A new port.
	a := nic(1)
	if err := d.AttachInterface(ctx, id, a); err == nil {
		t.Fatal("attach with QEMU failing succeeded")
	}
	if linkExists(names.Tap(a.PortID)) || linkExists(names.Bridge(a.NetworkID)) || hasPort(a.PortID) {
		t.Fatalf("after the failed attach: tap %v, bridge %v, saved %v; want none", linkExists(names.Tap(a.PortID)), linkExists(names.Bridge(a.NetworkID)), hasPort(a.PortID))
	}

	// A port the server has: saved and plugged, not in QEMU.
	b := nic(2)
	var s agentapi.ServerSpec
	raw, err := os.ReadFile(specPath)
	if err != nil || json.Unmarshal(raw, &s) != nil {
		t.Fatalf("saved spec: %v", err)
	}
	s.NICs = append(s.NICs, b)
	raw, _ = json.Marshal(s)
	if err := os.WriteFile(specPath, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	d.Close()
	if d, err = qemudriver.New(cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	br := linuxbridge.New(cfg.DevicePrefix)
	if _, err := br.EnsureNetwork(ctx, linuxbridge.Network{ID: b.NetworkID, MTU: b.MTU}); err != nil {
		t.Fatal(err)
	}
	if _, err := br.PlugPort(ctx, linuxbridge.Port{ID: b.PortID, NetworkID: b.NetworkID, MTU: b.MTU}); err != nil {
		t.Fatal(err)
	}
	if err := d.AttachInterface(ctx, id, b); err == nil {
		t.Fatal("attach with QEMU failing succeeded")
	}
	if !linkExists(names.Tap(b.PortID)) || !linkExists(names.Bridge(b.NetworkID)) || !hasPort(b.PortID) {
		t.Fatalf("after the failed attach of a known port: tap %v, bridge %v, saved %v; want all kept", linkExists(names.Tap(b.PortID)), linkExists(names.Bridge(b.NetworkID)), hasPort(b.PortID))
	}
	if err := os.Remove(qemuTmp); err != nil {
		t.Fatal(err)
	}
	if err := d.Destroy(ctx, id); err != nil {
		t.Fatal(err)
	}
	if linkExists(names.Tap(b.PortID)) || linkExists(names.Bridge(b.NetworkID)) {
		t.Fatal("tap or bridge left after destroy")
	}
}

// A detach of a port the saved spec no longer has (a detach cut short
// after the spec was saved) still takes its tap away.
func TestDetachInterfaceConverges(t *testing.T) {
	linuxtest.RequireRoot(t)
	linuxtest.RequireBinary(t, "ip")
	ctx := context.Background()
	dir := t.TempDir()
	id := fmt.Sprintf("%08x-0003-4000-8000-%012x", os.Getpid(), time.Now().UnixNano()&0xffffffffffff)
	if err := os.MkdirAll(filepath.Join(dir, "servers"), 0o700); err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(agentapi.ServerSpec{ID: id, Name: "dc", NICs: []agentapi.NIC{}})
	if err := os.WriteFile(filepath.Join(dir, "servers", id+".json"), raw, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := qemudriver.Config{Dir: dir, DevicePrefix: "rb-"}
	d, err := qemudriver.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	portID := fmt.Sprintf("%08x-0013-4000-8000-%012x", os.Getpid(), time.Now().UnixNano()&0xffffffffffff)
	netID := fmt.Sprintf("%08x-0023-4000-8000-%012x", os.Getpid(), time.Now().UnixNano()&0xffffffffffff)
	br := linuxbridge.New(cfg.DevicePrefix)
	t.Cleanup(func() {
		_ = br.UnplugPort(ctx, portID)
		_ = br.DeleteNetwork(ctx, netID)
	})
	if _, err := br.EnsureNetwork(ctx, linuxbridge.Network{ID: netID, MTU: 1450}); err != nil {
		t.Fatal(err)
	}
	tap, err := br.PlugPort(ctx, linuxbridge.Port{ID: portID, NetworkID: netID, MTU: 1450})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.DetachInterface(ctx, id, portID); err != nil {
		t.Fatal(err)
	}
	if linkExists(tap) {
		t.Fatalf("tap %s left after the detach", tap)
	}
}
