package qmp_test

import (
	"context"
	"encoding/json"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/gureum/gureum/internal/driver/qemu/qmp"
)

// TestWaitEvent: an event that arrives before a command's return is kept
// for WaitEvent, one that arrives later is read from the socket, and a
// wait for an event that never comes ends with the context.
func TestWaitEvent(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "qmp.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go serveMonitor(ln, func(w *json.Encoder, execute string, id any) bool {
		if execute == "device_del" {
			// The device's own event races the return; its backend's follows.
			w.Encode(map[string]any{"event": "DEVICE_DELETED", "data": map[string]any{"device": "nic-a", "path": "/machine/peripheral/nic-a"}})
			w.Encode(map[string]any{"return": map[string]any{}, "id": id})
			w.Encode(map[string]any{"event": "DEVICE_DELETED", "data": map[string]any{"path": "/machine/peripheral/nic-b/virtio-backend"}})
			w.Encode(map[string]any{"event": "DEVICE_DELETED", "data": map[string]any{"device": "nic-b", "path": "/machine/peripheral/nic-b"}})
			return false
		}
		w.Encode(map[string]any{"return": map[string]any{}, "id": id})
		return false
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := qmp.Dial(ctx, sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Execute(ctx, "device_del", map[string]any{"id": "nic-a"}, nil); err != nil {
		t.Fatal(err)
	}
	path := func(p string) func(json.RawMessage) bool {
		return func(d json.RawMessage) bool {
			var v struct{ Path string }
			return json.Unmarshal(d, &v) == nil && v.Path == p
		}
	}
	for _, p := range []string{"/machine/peripheral/nic-a", "/machine/peripheral/nic-b"} {
		if _, err := c.WaitEvent(ctx, "DEVICE_DELETED", path(p)); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
	}
	short, cancel2 := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel2()
	if _, err := c.WaitEvent(short, "DEVICE_DELETED", path("/machine/peripheral/nic-a")); err == nil {
		t.Fatal("the event was delivered twice")
	}
}
