package qmp_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/gureum/gureum/internal/driver/qemu/qmp"
)

// fakeQEMU answers like QEMU's monitor: greeting, capabilities, an event
// interleaved before a reply, an error for unknown commands, then closes
// on "quit".
func fakeQEMU(t *testing.T) string {
	sock := filepath.Join(t.TempDir(), "qmp.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				w := json.NewEncoder(c)
				w.Encode(map[string]any{"QMP": map[string]any{"version": map[string]any{}, "capabilities": []any{}}})
				r := bufio.NewScanner(c)
				for r.Scan() {
					var req struct {
						Execute string `json:"execute"`
						ID      any    `json:"id"`
					}
					json.Unmarshal(r.Bytes(), &req)
					switch req.Execute {
					case "qmp_capabilities":
						w.Encode(map[string]any{"return": map[string]any{}, "id": req.ID})
					case "query-status":
						w.Encode(map[string]any{"event": "RESUME", "timestamp": map[string]any{}})
						w.Encode(map[string]any{"return": map[string]any{"running": true, "status": "running"}, "id": req.ID})
					case "quit":
						w.Encode(map[string]any{"return": map[string]any{}, "id": req.ID})
						return
					default:
						w.Encode(map[string]any{"error": map[string]any{"class": "CommandNotFound", "desc": "The command " + req.Execute + " has not been found"}, "id": req.ID})
					}
				}
			}(c)
		}
	}()
	return sock
}

func TestClient(t *testing.T) {
	sock := fakeQEMU(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := qmp.Do(ctx, sock, func(c *qmp.Client) error {
		st, err := c.QueryStatus(ctx)
		if err != nil || !st.Running || st.Status != "running" {
			t.Errorf("QueryStatus = %+v, %v (an event came first and must be skipped)", st, err)
		}
		err = c.Execute(ctx, "bogus", nil, nil)
		if e, ok := err.(*qmp.Error); !ok || e.Class != "CommandNotFound" {
			t.Errorf("bogus command: %v", err)
		}
		if err := c.Execute(ctx, "quit", nil, nil); err != nil {
			t.Errorf("quit: %v", err)
		}
		if err := c.Execute(ctx, "query-status", nil, nil); !qmp.IsClosed(err) {
			t.Errorf("after quit: %v, want a closed connection", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := qmp.Dial(ctx, filepath.Join(t.TempDir(), "none.sock")); err == nil {
		t.Fatal("dial of a missing socket succeeded")
	}
}
