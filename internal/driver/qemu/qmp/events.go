package qmp

import (
	"context"
	"encoding/json"
	"fmt"
)

// Event is an asynchronous QMP message (DEVICE_DELETED, SHUTDOWN, ...).
type Event struct {
	Event string          `json:"event"`
	Data  json.RawMessage `json:"data"`
}

// maxKept bounds the events a session keeps while nobody waits for them.
const maxKept = 64

func (c *Client) keep(e Event) {
	if len(c.events) >= maxKept {
		c.events = c.events[1:]
	}
	c.events = append(c.events, e)
}

// WaitEvent returns the first event of this session named name for which
// match (nil: any) is true, including events that arrived while a command
// ran; it gives up when ctx ends.
func (c *Client) WaitEvent(ctx context.Context, name string, match func(data json.RawMessage) bool) (Event, error) {
	ok := func(e Event) bool { return e.Event == name && (match == nil || match(e.Data)) }
	for i, e := range c.events {
		if ok(e) {
			c.events = append(c.events[:i:i], c.events[i+1:]...)
			return e, nil
		}
	}
	c.deadline(ctx)
	for {
		var msg struct {
			Event
			ID *int64 `json:"id"`
		}
		if err := c.readMsg(&msg); err != nil {
			if ctx.Err() != nil {
				return Event{}, fmt.Errorf("qmp: waiting for %s: %w", name, ctx.Err())
			}
			return Event{}, fmt.Errorf("qmp: waiting for %s: %w", name, err)
		}
		if msg.Event.Event == "" {
			continue
		}
		if ok(msg.Event) {
			return msg.Event, nil
		}
		c.keep(msg.Event)
	}
}
