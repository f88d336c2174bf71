// Package bus is Gureum's message bus: NATS, embedded in `gureum server` by
// default (nats-server as a library, so the all-in-one cloud needs no
// broker to install) or external when a URL is configured. Controllers and
// agents use the same subjects either way; only the connection differs
// (in-process instead of TCP).
//
// Libraries: github.com/nats-io/nats-server/v2 and github.com/nats-io/nats.go,
// NATS's own maintained server and client; request/reply and queue groups
// are exactly the controller↔agent patterns we need, with no broker users or
// vhosts to provision (RabbitMQ's pain in OpenStack).
package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// Options configure the bus.
type Options struct {
	// URL of an external NATS; empty embeds one.
	URL string
	// Listen is the embedded server's TCP address for remote agents; empty
	// means in-process connections only.
	Listen string
	// Name labels connections in NATS's monitoring.
	Name string
	Log  *slog.Logger
}

// Bus owns the embedded server (if any) and hands out connections.
type Bus struct {
	opts Options
	srv  *server.Server
	nc   *nats.Conn
}

// Start embeds a NATS server or connects to the external one, and waits
// until it accepts connections.
func Start(ctx context.Context, o Options) (*Bus, error) {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	b := &Bus{opts: o}
	if o.URL == "" {
		so := &server.Options{ServerName: "gureum", NoSigs: true, NoLog: true, DontListen: true, MaxPayload: 8 << 20}
		if o.Listen != "" {
			host, port, err := net.SplitHostPort(o.Listen)
			if err != nil {
				return nil, fmt.Errorf("bus: listen %q: %w", o.Listen, err)
			}
			p, err := strconv.Atoi(port)
			if err != nil {
				return nil, fmt.Errorf("bus: listen %q: bad port", o.Listen)
			}
			if p == 0 {
				p = server.RANDOM_PORT
			}
			so.DontListen, so.Host, so.Port = false, host, p
		}
		srv, err := server.NewServer(so)
		if err != nil {
			return nil, fmt.Errorf("bus: embedded nats: %w", err)
		}
		go srv.Start()
		if !srv.ReadyForConnections(10 * time.Second) {
			srv.Shutdown()
			return nil, errors.New("bus: embedded nats not ready after 10s")
		}
		b.srv = srv
	}
	nc, err := b.Connect(ctx, o.Name)
	if err != nil {
		b.Close()
		return nil, err
	}
	b.nc = nc
	return b, nil
}

// Conn is the bus's shared connection.
func (b *Bus) Conn() *nats.Conn { return b.nc }

// ClientURL is the embedded server's TCP URL for remote agents ("" when it
// serves in-process connections only or the bus is external).
func (b *Bus) ClientURL() string {
	if b.srv == nil || b.opts.Listen == "" {
		return b.opts.URL
	}
	return b.srv.ClientURL()
}

// Connect opens a new connection: in-process to the embedded server, over
// TCP to an external one. The in-process agent gets its own connection so
// it behaves exactly like a remote one.
func (b *Bus) Connect(ctx context.Context, name string) (*nats.Conn, error) {
	opts := []nats.Option{nats.Name(name), nats.MaxReconnects(-1), nats.ReconnectWait(time.Second)}
	url := b.opts.URL
	if b.srv != nil {
		opts = append(opts, nats.InProcessServer(b.srv))
		url = ""
	}
	return Dial(ctx, url, opts...)
}

// Dial connects to a NATS URL, retrying until ctx ends or 30s pass (the
// server may be starting at the same time as the agent).
func Dial(ctx context.Context, url string, opts ...nats.Option) (*nats.Conn, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		nc, err := nats.Connect(url, opts...)
		if err == nil {
			return nc, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("bus: connect %s: %w", url, err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// Close drains the shared connection and stops the embedded server.
func (b *Bus) Close() {
	if b.nc != nil {
		_ = b.nc.Drain()
		b.nc.Close()
	}
	if b.srv != nil {
		b.srv.Shutdown()
		b.srv.WaitForShutdown()
	}
}

// Request sends req as JSON on subject and decodes the JSON reply into
// resp, bounded by ctx.
func Request(ctx context.Context, nc *nats.Conn, subject string, req, resp any) error {
	data, err := json.Marshal(req)
	if err != nil {
		return err
	}
	msg, err := nc.RequestWithContext(ctx, subject, data)
	if err != nil {
		if errors.Is(err, nats.ErrNoResponders) {
			return fmt.Errorf("%w: %s", ErrNoResponders, subject)
		}
		return err
	}
	if resp == nil {
		return nil
	}
	return json.Unmarshal(msg.Data, resp)
}

// ErrNoResponders means nobody listens on the subject (agent not running).
var ErrNoResponders = errors.New("bus: no responders")

// Publish sends v as JSON on subject.
func Publish(nc *nats.Conn, subject string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return nc.Publish(subject, data)
}

// Reply answers msg with v as JSON.
func Reply(msg *nats.Msg, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return msg.Respond(data)
}
