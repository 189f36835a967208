package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/gobwas/ws"
)

// stats mirrors the /stats document of the contract.
type stats struct {
	ConnectionsTotal int64 `json:"connections_total"`
	ConnectionsOpen  int64 `json:"connections_open"`
	MessagesIn       int64 `json:"messages_in"`
	MessagesOut      int64 `json:"messages_out"`
	BytesIn          int64 `json:"bytes_in"`
	BytesOut         int64 `json:"bytes_out"`
}

// stats fetches /stats and checks that every counter is present and an
// integer.
func (t *target) stats(ctx context.Context) (stats, error) {
	var s stats
	status, body, err := t.get(ctx, "/stats")
	if err != nil {
		return s, fmt.Errorf("GET /stats: %w", err)
	}
	if status != 200 {
		return s, fmt.Errorf("GET /stats: status %d", status)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return s, fmt.Errorf("GET /stats: %w in %.200q", err, body)
	}
	var missing []string
	rt := reflect.TypeFor[stats]()
	for i := range rt.NumField() {
		key := rt.Field(i).Tag.Get("json")
		if _, ok := raw[key]; !ok {
			missing = append(missing, key)
		}
	}
	if len(missing) > 0 {
		return s, fmt.Errorf("GET /stats: missing %s in %.200q", strings.Join(missing, ", "), body)
	}
	if err := json.Unmarshal(body, &s); err != nil {
		return s, fmt.Errorf("GET /stats: counters must be integers: %w", err)
	}
	return s, nil
}

// field returns the counter named by a stats field name.
func (s stats) field(name string) int64 {
	return reflect.ValueOf(s).FieldByName(name).Int()
}

// expectStatsDelta checks that the named counters moved by exactly want
// since before. Servers may update counters a moment after the client saw
// the traffic, so it polls for up to a second before reporting a mismatch.
func (t *target) expectStatsDelta(ctx context.Context, before, want stats, fields ...string) error {
	deadline := time.Now().Add(time.Second)
	for {
		now, err := t.stats(ctx)
		if err != nil {
			return err
		}
		var wrong []string
		for _, f := range fields {
			if d := now.field(f) - before.field(f); d != want.field(f) {
				wrong = append(wrong, fmt.Sprintf("%s moved by %d, want %d", jsonName(f), d, want.field(f)))
			}
		}
		if len(wrong) == 0 {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("/stats: %s", strings.Join(wrong, "; "))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func jsonName(field string) string {
	f, _ := reflect.TypeFor[stats]().FieldByName(field)
	return f.Tag.Get("json")
}

// stableStats returns /stats once two reads in a row agree, so connections
// an earlier check closed have been accounted for.
func (t *target) stableStats(ctx context.Context) (stats, error) {
	prev, err := t.stats(ctx)
	if err != nil {
		return prev, err
	}
	for range 40 {
		time.Sleep(50 * time.Millisecond)
		cur, err := t.stats(ctx)
		if err != nil {
			return cur, err
		}
		if cur == prev {
			return cur, nil
		}
		prev = cur
	}
	return prev, nil
}

// checkStats sends a known mix of messages on a fresh echo connection and
// expects every counter to move by exactly that much, and connections_open
// to go up by one while the connection is open and back down after.
func checkStats(ctx context.Context, t *target) (string, error) {
	before, err := t.stableStats(ctx)
	if err != nil {
		return "", err
	}
	c, err := t.dial(ctx, "/echo")
	if err != nil {
		return "", err
	}
	defer c.Close()

	// Multi-byte text: bytes_in counts bytes, not characters.
	msgs := []struct {
		op ws.OpCode
		p  []byte
	}{
		{ws.OpText, []byte("wsb1:stats")},
		{ws.OpText, []byte("héllo ☃ 𝄞")},
		{ws.OpText, []byte{}},
		{ws.OpText, textPayload(1000)},
		{ws.OpBinary, binaryPayload(1)},
		{ws.OpBinary, binaryPayload(300)},
		{ws.OpBinary, binaryPayload(5000)},
	}
	var sent int64
	for _, m := range msgs {
		if _, _, err := c.roundTrip(m.op, m.p); err != nil {
			return "", err
		}
		sent += int64(len(m.p))
	}
	n := int64(len(msgs))
	want := stats{ConnectionsTotal: 1, ConnectionsOpen: 1, MessagesIn: n, MessagesOut: n, BytesIn: sent, BytesOut: sent}
	if err := t.expectStatsDelta(ctx, before, want, "ConnectionsTotal", "ConnectionsOpen", "MessagesIn", "MessagesOut", "BytesIn", "BytesOut"); err != nil {
		return "", fmt.Errorf("while open: %w", err)
	}
	if err := c.writeClose(ws.StatusNormalClosure, ""); err != nil {
		return "", fmt.Errorf("write close: %w", err)
	}
	_, _ = c.readClose()
	_ = c.Close()
	want.ConnectionsOpen = 0
	if err := t.expectStatsDelta(ctx, before, want, "ConnectionsOpen", "MessagesIn", "MessagesOut"); err != nil {
		return "", fmt.Errorf("after close: %w", err)
	}
	return fmt.Sprintf("%d messages, %d bytes each way; connections_open back to %d", n, sent, before.ConnectionsOpen), nil
}
