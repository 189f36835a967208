package conformance

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gobwas/ws"
)

// dial connects to path (with query) on the target. The connection accepts
// messages up to twice the max message size, so a server that echoes an
// oversized message is caught rather than cut off.
func (t *target) dial(ctx context.Context, path string) (*conn, error) {
	return dial(ctx, t.wsURL+path, 2*t.opts.MaxMessageSize+1024)
}

// get fetches an HTTP endpoint and returns status and body.
func (t *target) get(ctx context.Context, path string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.httpURL+path, nil)
	if err != nil {
		return 0, nil, err
	}
	resp, err := t.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, body, err
}

// uniqueName returns prefix followed by random hex, for rooms no other
// client uses.
func uniqueName(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

func checkHealthz(ctx context.Context, t *target) (string, error) {
	status, body, err := t.get(ctx, "/healthz")
	if err != nil {
		return "", fmt.Errorf("GET /healthz: %w", err)
	}
	if status != http.StatusOK || strings.TrimSpace(string(body)) != "ok" {
		return "", fmt.Errorf("GET /healthz: status %d body %q, want 200 \"ok\"", status, body)
	}
	return "200 ok", nil
}

// echoSizes returns the message sizes the echo checks use: the boundaries of
// the frame length encodings and the max message size itself, none above it.
func echoSizes(limit int64) []int64 {
	var sizes []int64
	for _, n := range []int64{0, 1, 125, 126, 65535, 65536, limit} {
		if n <= limit && !slices.Contains(sizes, n) {
			sizes = append(sizes, n)
		}
	}
	slices.Sort(sizes)
	return sizes
}

// textPayload returns exactly n bytes of valid UTF-8 mixing one- to
// four-byte characters, so a server that confuses characters with bytes is
// caught.
func textPayload(n int64) []byte {
	const pattern = "wsb1:conform é ☃ 𝄞 "
	b := make([]byte, 0, n)
	for int64(len(b)) < n {
		for _, r := range pattern {
			if int64(len(b))+int64(len(string(r))) > n {
				break
			}
			b = append(b, string(r)...)
		}
		for int64(len(b)) < n && int64(len(b))+4 > n {
			b = append(b, 'x')
		}
	}
	return b
}

// binaryPayload returns n bytes covering every byte value.
func binaryPayload(n int64) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

func echoSizesCheck(ctx context.Context, t *target, op ws.OpCode, payload func(int64) []byte) (string, error) {
	c, err := t.dial(ctx, "/echo")
	if err != nil {
		return "", err
	}
	defer c.closeHandshake(nil)
	sizes := echoSizes(t.opts.MaxMessageSize)
	for _, n := range sizes {
		want := payload(n)
		gotOp, got, err := c.roundTrip(op, want)
		if err != nil {
			return "", fmt.Errorf("%d-byte message: %w", n, err)
		}
		if gotOp != op {
			return "", fmt.Errorf("%d-byte message: sent opcode %d, got opcode %d back", n, op, gotOp)
		}
		if !bytes.Equal(got, want) {
			return "", fmt.Errorf("%d-byte message: got %d bytes back, %s", n, len(got), firstDiff(got, want))
		}
	}
	return fmt.Sprintf("sizes %v", sizes), nil
}

func firstDiff(got, want []byte) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return fmt.Sprintf("first difference at byte %d", i)
		}
	}
	return "one is a prefix of the other"
}

func checkEchoText(ctx context.Context, t *target) (string, error) {
	return echoSizesCheck(ctx, t, ws.OpText, textPayload)
}

func checkEchoBinary(ctx context.Context, t *target) (string, error) {
	return echoSizesCheck(ctx, t, ws.OpBinary, binaryPayload)
}

// checkEchoOrder sends many messages without waiting and expects them back
// in order, each with its own opcode.
func checkEchoOrder(ctx context.Context, t *target) (string, error) {
	const n = 200
	c, err := t.dial(ctx, "/echo")
	if err != nil {
		return "", err
	}
	defer c.closeHandshake(nil)
	opFor := func(i int) ws.OpCode { return []ws.OpCode{ws.OpText, ws.OpBinary}[i%2] }
	werr := make(chan error, 1)
	go func() {
		for i := range n {
			if err := c.write(opFor(i), fmt.Appendf(nil, "order-%03d", i)); err != nil {
				werr <- err
				return
			}
		}
		werr <- nil
	}()
	for i := range n {
		op, got, err := c.read()
		if err != nil {
			return "", fmt.Errorf("after %d of %d echoes: %w", i, n, err)
		}
		if want := fmt.Sprintf("order-%03d", i); string(got) != want || op != opFor(i) {
			return "", fmt.Errorf("echo %d: got %q (opcode %d), want %q (opcode %d)", i, got, op, want, opFor(i))
		}
	}
	if err := <-werr; err != nil {
		return "", fmt.Errorf("write: %w", err)
	}
	return fmt.Sprintf("%d pipelined messages, alternating text and binary, in order", n), nil
}

func checkCloseEcho(ctx context.Context, t *target) (string, error) {
	c, err := t.dial(ctx, "/echo")
	if err != nil {
		return "", err
	}
	defer c.Close()
	const code = ws.StatusCode(4001)
	if err := c.writeClose(code, "conformance"); err != nil {
		return "", fmt.Errorf("write close: %w", err)
	}
	n, err := c.readClose()
	got, desc := closeCode(err)
	if got != code {
		return "", fmt.Errorf("sent close %d, want it echoed; got %s", code, desc)
	}
	if n > 0 {
		return "", fmt.Errorf("%d unexpected data messages before the close frame", n)
	}
	return fmt.Sprintf("close %d echoed", code), nil
}

func checkClientPing(ctx context.Context, t *target) (string, error) {
	c, err := t.dial(ctx, "/echo")
	if err != nil {
		return "", err
	}
	defer c.closeHandshake(nil)
	payload := []byte(uniqueName("conform-ping-"))
	var pong []byte
	c.onPong = func(p []byte, _ time.Time) {
		if pong == nil {
			pong = p
		}
	}
	if err := c.write(ws.OpPing, payload); err != nil {
		return "", fmt.Errorf("write ping: %w", err)
	}
	// The pong may come after the next echo; give it a few round trips.
	for i := 0; pong == nil && i < 10; i++ {
		if i > 0 {
			time.Sleep(50 * time.Millisecond)
		}
		if _, _, err := c.roundTrip(ws.OpText, []byte("after-ping")); err != nil {
			return "", fmt.Errorf("echo after ping: %w", err)
		}
	}
	switch {
	case pong == nil:
		return "", errors.New("no pong for the client's ping")
	case !bytes.Equal(pong, payload):
		return "", fmt.Errorf("pong payload %q, want %q", pong, payload)
	}
	return "pong with the ping's payload", nil
}

// expectClose reads until the server closes and checks the close code.
func expectClose(c *conn, want ws.StatusCode) error {
	n, err := c.readClose()
	got, desc := closeCode(err)
	c.closeHandshake(err)
	if got != want {
		return fmt.Errorf("want close %d, got %s", want, desc)
	}
	if n > 0 {
		return fmt.Errorf("close %d came after %d data messages, want none", want, n)
	}
	return nil
}

func checkTooBig(ctx context.Context, t *target) (string, error) {
	c, err := t.dial(ctx, "/echo")
	if err != nil {
		return "", err
	}
	defer c.Close()
	size := t.opts.MaxMessageSize + 1
	// The server may close before it has read the whole message, so write
	// from another goroutine and ignore the write error.
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = c.write(ws.OpBinary, binaryPayload(size))
	}()
	// A server with a larger limit echoes the message back: say so at
	// once rather than wait for a close that never comes.
	_, p, err := c.read()
	var echoed int
	if err == nil {
		echoed = len(p)
		err = errors.New("no close")
	}
	got, desc := closeCode(err)
	c.closeHandshake(err)
	<-done
	switch {
	case echoed > 0:
		return "", fmt.Errorf("sent %d bytes (max %d) and got a %d-byte message back instead of close 1009: the target's max message size is larger", size, t.opts.MaxMessageSize, echoed)
	case got != ws.StatusMessageTooBig:
		return "", fmt.Errorf("sent %d bytes (max %d): want close 1009, got %s", size, t.opts.MaxMessageSize, desc)
	}
	return fmt.Sprintf("%d-byte message closed with 1009", size), nil
}

func checkBadUTF8(ctx context.Context, t *target) (string, error) {
	c, err := t.dial(ctx, "/echo")
	if err != nil {
		return "", err
	}
	defer c.Close()
	if err := c.write(ws.OpText, []byte("wsb1:\xff\xfe\xc3")); err != nil {
		return "", fmt.Errorf("write: %w", err)
	}
	if err := expectClose(c, ws.StatusInvalidFramePayloadData); err != nil {
		return "", fmt.Errorf("sent invalid UTF-8 text: %w", err)
	}
	return "invalid UTF-8 text closed with 1007", nil
}

// checkBroadcast has two of three members of a fresh room send 50 messages
// each at the same time, and expects every member to receive all 100 in one
// order that keeps each sender's order.
func checkBroadcast(ctx context.Context, t *target) (string, error) {
	const (
		members   = 3
		perSender = 50
		total     = 2 * perSender
	)
	room := uniqueName("conform-")
	before, err := t.stats(ctx)
	if err != nil {
		return "", err
	}
	conns := make([]*conn, members)
	for i := range conns {
		c, err := t.dial(ctx, "/broadcast?room="+room)
		if err != nil {
			return "", fmt.Errorf("member %d: %w", i, err)
		}
		defer c.closeHandshake(nil)
		conns[i] = c
	}

	// Sender 0 sends text, sender 1 binary, so opcodes are checked too.
	senders := []struct {
		op     ws.OpCode
		prefix string
	}{{ws.OpText, "a"}, {ws.OpBinary, "b"}}
	var sentBytes int64
	for s := range senders {
		for i := range perSender {
			sentBytes += int64(len(fmt.Sprintf("%s-%02d", senders[s].prefix, i)))
		}
	}

	received := make([][]string, members)
	errs := make([]error, members+len(senders))
	var wg sync.WaitGroup
	for m, c := range conns {
		wg.Go(func() {
			for len(received[m]) < total {
				op, p, err := c.read()
				if err != nil {
					errs[m] = fmt.Errorf("member %d after %d messages: %w", m, len(received[m]), err)
					return
				}
				received[m] = append(received[m], fmt.Sprintf("%s/%d", p, op))
			}
		})
	}
	for s, sender := range senders {
		wg.Go(func() {
			for i := range perSender {
				if err := conns[s].write(sender.op, fmt.Appendf(nil, "%s-%02d", sender.prefix, i)); err != nil {
					errs[members+s] = fmt.Errorf("sender %d: %w", s, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return "", err
	}

	for m := 1; m < members; m++ {
		for i := range total {
			if received[m][i] != received[0][i] {
				lo, hi := max(i-3, 0), min(i+4, total)
				return "", fmt.Errorf("members 0 and %d received different orders from message %d on: member 0 got %v, member %d got %v",
					m, i, received[0][lo:hi], m, received[m][lo:hi])
			}
		}
	}
	next := map[string]int{}
	for _, key := range received[0] {
		var prefix string
		var seq int
		var op ws.OpCode
		if _, err := fmt.Sscanf(strings.Replace(key, "-", " ", 1), "%s %d/%d", &prefix, &seq, &op); err != nil {
			return "", fmt.Errorf("unexpected message %q", key)
		}
		for _, s := range senders {
			if s.prefix == prefix && s.op != op {
				return "", fmt.Errorf("message %q arrived with opcode %d, sent with %d", key, op, s.op)
			}
		}
		if seq != next[prefix] {
			return "", fmt.Errorf("sender %q: message %d arrived where %d was due", prefix, seq, next[prefix])
		}
		next[prefix]++
	}

	want := stats{
		ConnectionsTotal: members,
		MessagesIn:       total, BytesIn: sentBytes,
		MessagesOut: members * total, BytesOut: members * sentBytes,
	}
	if err := t.expectStatsDelta(ctx, before, want, "ConnectionsTotal", "MessagesIn", "BytesIn", "MessagesOut", "BytesOut"); err != nil {
		return "", err
	}
	return fmt.Sprintf("%d members received all %d messages in one order", members, total), nil
}

// parsePush checks one /push message against the contract's exact format
// and returns its seq, ts_ns and pad length.
func parsePush(op ws.OpCode, p []byte) (seq, ts int64, pad int, err error) {
	if op != ws.OpText {
		return 0, 0, 0, fmt.Errorf("opcode %d, want text", op)
	}
	var padStr string
	_, err = fmt.Sscanf(string(p), `{"seq":%d,"ts_ns":%d,"pad":"%s`, &seq, &ts, &padStr)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("message %.80q does not match the contract's format: %w", p, err)
	}
	pad = len(padStr) - 2 // the scanned word ends with `"}`
	want := fmt.Sprintf(`{"seq":%d,"ts_ns":%d,"pad":"%s"}`, seq, ts, strings.Repeat("x", max(pad, 0)))
	if string(p) != want {
		return 0, 0, 0, fmt.Errorf("message %.80q is not exactly {\"seq\":N,\"ts_ns\":T,\"pad\":\"x…\"}", p)
	}
	return seq, ts, pad, nil
}

// readPush reads n push messages and checks their format, sequence, size
// and timestamps. It returns the messages' ts_ns and when each arrived.
func readPush(c *conn, n int, size int) (tss []int64, arrived []time.Time, err error) {
	for i := range n {
		op, p, err := c.read()
		if err != nil {
			return nil, nil, fmt.Errorf("after %d of %d messages: %w", i, n, err)
		}
		arrived = append(arrived, time.Now())
		seq, ts, _, err := parsePush(op, p)
		if err != nil {
			return nil, nil, fmt.Errorf("message %d: %w", i, err)
		}
		if seq != int64(i) {
			return nil, nil, fmt.Errorf("message %d has seq %d", i, seq)
		}
		minimum := len(fmt.Sprintf(`{"seq":%d,"ts_ns":%d,"pad":""}`, seq, ts))
		if want := max(size, minimum); len(p) != want {
			return nil, nil, fmt.Errorf("message %d is %d bytes, want %d", i, len(p), want)
		}
		if d := time.Since(time.Unix(0, ts)); d.Abs() > 5*time.Second {
			return nil, nil, fmt.Errorf("message %d: ts_ns is %s away from this host's clock", i, d.Round(time.Millisecond))
		}
		tss = append(tss, ts)
	}
	return tss, arrived, nil
}

// expectQuiet checks that no further data message arrives for d. A close
// frame or the read timing out both count as quiet.
func expectQuiet(c *conn, d time.Duration) error {
	_ = c.nc.SetReadDeadline(time.Now().Add(d))
	defer c.nc.SetReadDeadline(c.deadline)
	op, p, err := c.read()
	if err == nil {
		return fmt.Errorf("unexpected extra message %.80q (opcode %d)", p, op)
	}
	return nil
}

func checkPush(ctx context.Context, t *target) (string, error) {
	const (
		count = 20
		rate  = 200
		size  = 100
	)
	before, err := t.stats(ctx)
	if err != nil {
		return "", err
	}
	c, err := t.dial(ctx, fmt.Sprintf("/push?count=%d&rate=%d&size=%d", count, rate, size))
	if err != nil {
		return "", err
	}
	defer c.closeHandshake(nil)
	start := time.Now()
	tss, arrived, err := readPush(c, count, size)
	if err != nil {
		return "", err
	}
	elapsed := arrived[count-1].Sub(start)
	spread := time.Duration(tss[count-1] - tss[0])
	// Message count-1 is due (count-1)/rate after the first.
	due := time.Duration(count-1) * time.Second / rate
	if spread < due*3/4 || spread > due+2*time.Second {
		return "", fmt.Errorf("first and last ts_ns are %s apart, want about %s (rate %d/s)", spread, due, rate)
	}
	if err := expectQuiet(c, 150*time.Millisecond); err != nil {
		return "", fmt.Errorf("after count=%d messages: %w", count, err)
	}
	want := stats{ConnectionsTotal: 1, MessagesOut: count, BytesOut: count * size}
	if err := t.expectStatsDelta(ctx, before, want, "ConnectionsTotal", "MessagesOut", "BytesOut"); err != nil {
		return "", err
	}
	return fmt.Sprintf("%d messages of %d bytes, seq 0..%d, ts_ns spread %s, received in %s",
		count, size, count-1, spread.Round(time.Millisecond), elapsed.Round(time.Millisecond)), nil
}

// checkPushSizes checks the minimum message size and the defaults
// (size 64, rate 10).
func checkPushSizes(ctx context.Context, t *target) (string, error) {
	c, err := t.dial(ctx, "/push?count=3&rate=1000&size=1")
	if err != nil {
		return "", err
	}
	_, _, err = readPush(c, 3, 1)
	c.closeHandshake(nil)
	if err != nil {
		return "", fmt.Errorf("size=1: %w", err)
	}

	c, err = t.dial(ctx, "/push?count=2")
	if err != nil {
		return "", err
	}
	defer c.closeHandshake(nil)
	upgraded := time.Now()
	tss, arrived, err := readPush(c, 2, 64)
	if err != nil {
		return "", fmt.Errorf("default size and rate: %w", err)
	}
	if gap := time.Duration(tss[1] - tss[0]); gap < 75*time.Millisecond || gap > 2*time.Second {
		return "", fmt.Errorf("default rate: messages 0 and 1 are %s apart, want about 100ms", gap)
	}
	// Message 1 is due 100ms after the upgrade completed, which was before
	// the dial returned; a server that starts its schedule one interval
	// late delivers it after about 200ms.
	if late := arrived[1].Sub(upgraded); late > 160*time.Millisecond {
		return "", fmt.Errorf("default rate: message 1 arrived %s after the upgrade, due after 100ms", late.Round(time.Millisecond))
	}
	return "size=1 gives minimal messages; defaults give 64 bytes at 10/s", nil
}

func (o Options) pingSlack() time.Duration {
	if o.PingSlack > 0 {
		return o.PingSlack
	}
	return DefaultPingSlack
}

// checkServerPing answers the server's pings and checks that they keep
// coming and that the connection survives well past interval+timeout.
func checkServerPing(ctx context.Context, t *target) (string, error) {
	interval, timeout, pingSlack := t.opts.PingInterval, t.opts.PingTimeout, t.opts.pingSlack()
	if interval <= 0 {
		return "", skipf("server pings disabled (ping interval 0)")
	}
	if interval > 3*time.Second || timeout > 3*time.Second {
		return "", skipf("ping interval %s / timeout %s too long for a quick check", interval, timeout)
	}
	c, err := t.dial(ctx, "/echo")
	if err != nil {
		return "", err
	}
	defer c.closeHandshake(nil)
	start := time.Now()
	var pings []time.Duration // read from this goroutine only
	c.onPing = func(_ []byte, at time.Time) { pings = append(pings, at.Sub(start)) }

	survive := 2*interval + timeout
	timer := time.AfterFunc(survive, func() { _ = c.write(ws.OpText, []byte("still-alive")) })
	defer timer.Stop()
	op, p, err := c.read()
	if err != nil {
		return "", fmt.Errorf("connection answering pings did not survive %s: %w (pings at %v)", survive, err, pings)
	}
	if op != ws.OpText || string(p) != "still-alive" {
		return "", fmt.Errorf("unexpected message %.80q", p)
	}
	if len(pings) == 0 {
		return "", fmt.Errorf("no server ping within %s (interval %s)", survive, interval)
	}
	if limit := 2*interval + pingSlack; pings[0] > limit {
		return "", fmt.Errorf("first ping after %s, want within %s", pings[0].Round(time.Millisecond), limit)
	}
	for i := 1; i < len(pings); i++ {
		if gap := pings[i] - pings[i-1]; gap > 2*interval+pingSlack {
			return "", fmt.Errorf("pings %d and %d are %s apart (interval %s)", i-1, i, gap.Round(time.Millisecond), interval)
		}
	}
	return fmt.Sprintf("%d pings in %s, first after %s; connection alive",
		len(pings), survive, pings[0].Round(time.Millisecond)), nil
}

// checkPingTimeout never answers pings and expects the server to close the
// connection with 1011 (or 1001) about interval+timeout later.
func checkPingTimeout(ctx context.Context, t *target) (string, error) {
	interval, timeout, pingSlack := t.opts.PingInterval, t.opts.PingTimeout, t.opts.pingSlack()
	if interval <= 0 || timeout <= 0 {
		return "", skipf("server pings or ping timeout disabled")
	}
	if interval+timeout > 5*time.Second {
		return "", skipf("ping interval %s + timeout %s too long for a quick check", interval, timeout)
	}
	c, err := t.dial(ctx, "/echo")
	if err != nil {
		return "", err
	}
	defer c.Close()
	start := time.Now()
	var firstPing time.Duration
	pings := 0
	c.autoPong = false
	// Until the first ping, wait only as long as the interval allows: a
	// target that pings less often fails here, quickly, not at the
	// check's timeout.
	firstDue := 2*interval + pingSlack
	_ = c.nc.SetReadDeadline(start.Add(firstDue))
	c.onPing = func(_ []byte, at time.Time) {
		if pings == 0 {
			firstPing = at.Sub(start)
			_ = c.nc.SetReadDeadline(c.deadline)
		}
		pings++
	}
	_, err = c.readClose()
	elapsed := time.Since(start)
	if pings == 0 && errors.Is(err, os.ErrDeadlineExceeded) {
		c.Close()
		return "", fmt.Errorf("no ping within %s (interval %s): the target pings less often, or not at all", firstDue, interval)
	}
	code, desc := closeCode(err)
	c.closeHandshake(err)
	if code != ws.StatusInternalServerError && code != ws.StatusGoingAway {
		return "", fmt.Errorf("want close 1011 (or 1001) for an unanswered ping, got %s after %s", desc, elapsed.Round(time.Millisecond))
	}
	if pings == 0 {
		return "", fmt.Errorf("closed with %d after %s without having sent a ping", code, elapsed.Round(time.Millisecond))
	}
	if limit := 2*interval + timeout + 2*pingSlack; elapsed > limit {
		return "", fmt.Errorf("closed %s after connecting, want within %s (interval %s + timeout %s)", elapsed.Round(time.Millisecond), limit, interval, timeout)
	}
	return fmt.Sprintf("closed with %d after %s (first ping after %s)", code, elapsed.Round(time.Millisecond), firstPing.Round(time.Millisecond)), nil
}

// checkShutdown holds connections on every endpoint, calls opts.Shutdown
// and expects 1001 on each of them, then a refused connection.
func checkShutdown(ctx context.Context, t *target) (string, error) {
	if t.opts.Shutdown == nil {
		return "", skipf("no Shutdown hook")
	}
	paths := []string{"/echo", "/broadcast?room=" + uniqueName("conform-"), "/push?rate=50"}
	conns := make([]*conn, len(paths))
	for i, path := range paths {
		c, err := t.dial(ctx, path)
		if err != nil {
			return "", err
		}
		defer c.Close()
		conns[i] = c
	}

	closeErrs := make([]error, len(conns))
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Go(func() {
			_, err := c.readClose()
			code, desc := closeCode(err)
			if code != ws.StatusGoingAway {
				closeErrs[i] = fmt.Errorf("%s: want close 1001, got %s", paths[i], desc)
			}
			// Answer like a client should, so the server can finish cleanly.
			c.closeHandshake(err)
		})
	}
	shutdownErr := make(chan error, 1)
	go func() { shutdownErr <- t.opts.Shutdown() }()

	readers := make(chan struct{})
	go func() { wg.Wait(); close(readers) }()
	select {
	case <-readers:
	case <-ctx.Done():
		return "", fmt.Errorf("connections not closed: %w", ctx.Err())
	}
	var err error
	select {
	case err = <-shutdownErr:
	case <-ctx.Done():
		return "", fmt.Errorf("shutdown did not finish: %w", ctx.Err())
	}
	if err := errors.Join(closeErrs...); err != nil {
		return "", err
	}
	if err != nil {
		return "", fmt.Errorf("shutdown: %w", err)
	}
	dctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if c, err := t.dial(dctx, "/echo"); err == nil {
		c.Close()
		return "", errors.New("server still accepts connections after shutdown")
	}
	return fmt.Sprintf("%d connections closed with 1001; server stopped accepting", len(conns)), nil
}
