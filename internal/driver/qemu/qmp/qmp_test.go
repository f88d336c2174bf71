package qmp_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"syscall"
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
	go serveFake(ln)
	return sock
}

// serveFake serves the fake monitor protocol on every accepted connection.
func serveFake(ln net.Listener) {
	serveMonitor(ln, func(w *json.Encoder, execute string, id any) bool {
		switch execute {
		case "qmp_capabilities":
			w.Encode(map[string]any{"return": map[string]any{}, "id": id})
		case "query-status":
			w.Encode(map[string]any{"event": "RESUME", "timestamp": map[string]any{}})
			w.Encode(map[string]any{"return": map[string]any{"running": true, "status": "running"}, "id": id})
		case "quit":
			w.Encode(map[string]any{"return": map[string]any{}, "id": id})
			return true
		default:
			w.Encode(map[string]any{"error": map[string]any{"class": "CommandNotFound", "desc": "The command " + execute + " has not been found"}, "id": id})
		}
		return false
	})
}

// serveMonitor greets every connection accepted on ln as QEMU's monitor
// does and hands each command to answer, which writes the replies and
// events and says whether to close the connection.
func serveMonitor(ln net.Listener, answer func(w *json.Encoder, execute string, id any) (closeConn bool)) {
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
				if answer(w, req.Execute, req.ID) {
					return
				}
			}
		}(c)
	}
}

// TestDialWaitsForBusyMonitor: QEMU listens with a backlog of one, so a
// connect while the monitor is held fails with EAGAIN; Dial must wait for
// the monitor instead of failing.
func TestDialWaitsForBusyMonitor(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "qmp.sock")
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrUnix{Name: sock}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fd), sock)
	ln, err := net.FileListener(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	// Fill the backlog with connections nobody accepts yet.
	busy := false
	for i := 0; i < 16 && !busy; i++ {
		c, err := net.Dial("unix", sock)
		if err != nil {
			if !errors.Is(err, syscall.EAGAIN) {
				t.Fatal(err)
			}
			busy = true
			break
		}
		t.Cleanup(func() { c.Close() })
	}
	if !busy {
		t.Skip("skipped: could not fill the socket backlog on this kernel")
	}
	time.AfterFunc(300*time.Millisecond, func() { serveFake(ln) })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := qmp.Dial(ctx, sock)
	if err != nil {
		t.Fatalf("Dial while the monitor was busy: %v", err)
	}
	c.Close()
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
