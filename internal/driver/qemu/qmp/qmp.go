// Package qmp is a minimal client for the QEMU Machine Protocol over a unix
// socket. It is written here rather than taken from digitalocean/go-qemu
// because Gureum needs very little (execute a command, read its return),
// wants context deadlines on every call, and dials per operation so a
// restarted agent (or a second caller) never finds the monitor held by a
// stale connection; go-qemu's monitor has no context support.
package qmp

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"syscall"
	"time"
)

// Error is an error returned by QEMU for a command.
type Error struct {
	Class string `json:"class"`
	Desc  string `json:"desc"`
}

func (e *Error) Error() string { return "qmp: " + e.Class + ": " + e.Desc }

// Client is one QMP session (after capabilities negotiation).
type Client struct {
	conn net.Conn
	r    *bufio.Reader
	id   atomic.Int64
	// events read while waiting for a command's return (WaitEvent
	// looks here first).
	events []Event
}

// Dial connects to the monitor socket at path and negotiates capabilities.
func Dial(ctx context.Context, path string) (*Client, error) {
	conn, err := dialUnix(ctx, path)
	if err != nil {
		return nil, err
	}
	c := &Client{conn: conn, r: bufio.NewReaderSize(conn, 64<<10)}
	c.deadline(ctx)
	// Greeting: {"QMP": {...}}
	var greet struct {
		QMP json.RawMessage `json:"QMP"`
	}
	if err := c.readMsg(&greet); err != nil || greet.QMP == nil {
		conn.Close()
		return nil, fmt.Errorf("qmp: no greeting on %s: %v", path, err)
	}
	if err := c.Execute(ctx, "qmp_capabilities", nil, nil); err != nil {
		conn.Close()
		return nil, err
	}
	return c, nil
}

// dialUnix connects to the monitor socket. QEMU serves one QMP client at a
// time and listens with a backlog of one, so while another caller holds the
// monitor a second connect fails with EAGAIN: wait and retry rather than
// fail the operation.
func dialUnix(ctx context.Context, path string) (net.Conn, error) {
	var d net.Dialer
	wait := 5 * time.Millisecond
	giveUp := time.Now().Add(10 * time.Second)
	for {
		conn, err := d.DialContext(ctx, "unix", path)
		if err == nil || !errors.Is(err, syscall.EAGAIN) || time.Now().After(giveUp) {
			return conn, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(wait):
		}
		wait = min(2*wait, 200*time.Millisecond)
	}
}

func (c *Client) deadline(ctx context.Context) {
	if dl, ok := ctx.Deadline(); ok {
		c.conn.SetDeadline(dl)
	} else {
		c.conn.SetDeadline(time.Now().Add(30 * time.Second))
	}
}

// Close ends the session.
func (c *Client) Close() error { return c.conn.Close() }

func (c *Client) readMsg(v any) error {
	line, err := c.r.ReadBytes('\n')
	if err != nil {
		return err
	}
	return json.Unmarshal(line, v)
}

// Execute runs command with args (nil for none) and decodes its return
// value into out (nil to ignore). Events read meanwhile are kept for
// WaitEvent.
func (c *Client) Execute(ctx context.Context, command string, args, out any) error {
	c.deadline(ctx)
	id := c.id.Add(1)
	req := map[string]any{"execute": command, "id": id}
	if args != nil {
		req["arguments"] = args
	}
	b, err := json.Marshal(req)
	if err != nil {
		return err
	}
	if _, err := c.conn.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("qmp: %s: %w", command, err)
	}
	for {
		var resp struct {
			Return json.RawMessage `json:"return"`
			Error  *Error          `json:"error"`
			Event  string          `json:"event"`
			Data   json.RawMessage `json:"data"`
			ID     *int64          `json:"id"`
		}
		if err := c.readMsg(&resp); err != nil {
			return fmt.Errorf("qmp: %s: %w", command, err)
		}
		if resp.Event != "" {
			c.keep(Event{Event: resp.Event, Data: resp.Data})
			continue
		}
		if resp.ID == nil || *resp.ID != id {
			continue
		}
		if resp.Error != nil {
			return resp.Error
		}
		if out != nil && resp.Return != nil {
			return json.Unmarshal(resp.Return, out)
		}
		return nil
	}
}

// Status is the return of query-status.
type Status struct {
	Running bool   `json:"running"`
	Status  string `json:"status"` // running, paused, shutdown, postmigrate, ...
}

// QueryStatus returns the VM run state.
func (c *Client) QueryStatus(ctx context.Context) (Status, error) {
	var s Status
	err := c.Execute(ctx, "query-status", nil, &s)
	return s, err
}

// Do dials path, runs fn with the session and closes it.
func Do(ctx context.Context, path string, fn func(*Client) error) error {
	c, err := Dial(ctx, path)
	if err != nil {
		return err
	}
	defer c.Close()
	return fn(c)
}

// IsClosed reports whether err means QEMU closed the connection (as it does
// after "quit").
func IsClosed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
