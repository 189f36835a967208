package engine

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"

	"github.com/wsbench/wsbench/internal/pacer"
	"github.com/wsbench/wsbench/internal/shard"
	"github.com/wsbench/wsbench/internal/wsclient"
	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/report"
	"github.com/wsbench/wsbench/scenario"
)

// Causes the engine itself assigns (wsclient.Classify names the network ones).
const (
	causeExpectTimeout = "expect_timeout"
	causeReplyTimeout  = "reply_timeout"
	causePongTimeout   = "pong_timeout"
	causeNotConnected  = "not_connected"
	causeReconnect     = "reconnect_failed"
)

var errStopped = errors.New("session stopped")

// stepError attributes an error to the step it happened in.
type stepError struct {
	st  *step
	err error
}

func (e *stepError) Error() string { return e.st.label + ": " + e.err.Error() }
func (e *stepError) Unwrap() error { return e.err }

// timeoutError is a wait that ran out, with the cause to count it under.
type timeoutError struct{ cause string }

func (e *timeoutError) Error() string { return strings.ReplaceAll(e.cause, "_", " ") }

func classify(err error) string {
	var te *timeoutError
	if errors.As(err, &te) {
		return te.cause
	}
	return wsclient.Classify(err)
}

// session runs one flow once (plus its reconnects) for one client.
type session struct {
	r           *runner
	id          int64
	client      int64
	iter        int64
	flow        *flow
	shard       *shard.Shard
	rng         *rand.Rand
	vars        map[string]string
	seq         int64
	c           *conn
	buf         []byte
	lastConnect *step
	waiter      *pacer.Waiter   // made on the first scheduled send
	rows        []int           // the row of each data source the flow uses
	dataErr     error           // no row left: the session fails at once
	ctx         context.Context // the session's whole life (run), not a loop's
}

// conn is one open connection and what its reader goroutine shares with
// the session.
type conn struct {
	ws      *wsclient.Conn
	id      int64
	done    chan struct{}         // closed when the reader has exited
	err     error                 // why the connection ended; read after done
	closing atomic.Bool           // the client started the close
	code    atomic.Int32          // the client's close code
	aborted atomic.Pointer[error] // why the client gave up on it (see abort)
	unwatch []func() bool         // stop the AfterFuncs watching the session's end

	outstanding atomic.Int64  // echo replies awaited
	ownBack     atomic.Int64  // own broadcast messages received back
	window      chan struct{} // closed-loop echo: one token per reply
	inbox       chan []byte   // unmarked messages, for expect and json requests
	pong        chan int64    // ping step: pong round trips (ns)
	hbPong      chan int64    // heartbeat: pong round trips (ns)
	lastPong    atomic.Int64

	reqMu   sync.Mutex
	reqWait map[int64]chan int64 // request seq → receive time

	member   *member
	pushNext int64
}

func (r *runner) newSession(client int64, f *flow) *session {
	id := r.sessionSeq.Add(1)
	s := &session{
		r:      r,
		id:     id,
		client: client,
		flow:   f,
		shard:  r.col.Shard(int(id)),
		rng:    rand.New(rand.NewPCG(r.seed, uint64(id))),
		vars:   map[string]string{},
	}
	for k, v := range f.f.Vars {
		s.vars[k] = v
	}
	s.rows, s.dataErr = r.data.bind(f.f, client)
	return s
}

func (s *session) lookup(name string) string {
	switch name {
	case "session":
		return strconv.FormatInt(s.id, 10)
	case "client":
		return strconv.FormatInt(s.client, 10)
	case "flow":
		return s.flow.f.Name
	case "iteration":
		return strconv.FormatInt(s.iter, 10)
	case "seq":
		return strconv.FormatInt(s.seq, 10)
	case "time_ms":
		return strconv.FormatInt(s.r.clock.Wall(s.r.clock.Now())/1e6, 10)
	case "random":
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], s.rng.Uint64())
		return hex.EncodeToString(b[:])
	}
	if v, ok := s.vars[name]; ok {
		return v
	}
	return s.r.data.value(s.rows, name)
}

func (s *session) render(t scenario.Template) string {
	return string(t.Render(nil, s.lookup))
}

// run executes the flow, reconnecting per on_error, and always closes.
func (s *session) run(ctx context.Context) error {
	s.ctx = ctx
	if s.dataErr != nil {
		return s.failData()
	}
	s.shard.Do(func(set *shard.Rec) { set.Counters.SessionsStarted++ })
	var err error
	attempt := 0
	for {
		err = s.steps(ctx, s.flow.steps)
		if err == nil || ctx.Err() != nil || s.flow.f.OnError != "reconnect" {
			break
		}
		if attempt >= s.flow.f.Backoff.MaxAttempts {
			break
		}
		s.closeConn(1000, "")
		if !sleepCtx(ctx, s.backoff(attempt)) {
			break
		}
		attempt++
		s.iter++
	}
	s.closeConn(1000, "")
	// A session the run's end (or a ramp-down) cut short is neither
	// completed nor failed: started − completed − failed counts them. A
	// session whose connection failed is failed even when the end came
	// before the slot could start another: its error is counted.
	failed := err != nil && !errors.Is(err, errStopped) && classify(err) != wsclient.CauseCanceled
	stopped := !failed && ctx.Err() != nil
	s.shard.Do(func(set *shard.Rec) {
		switch {
		case failed:
			set.Counters.SessionsFailed++
		case !stopped:
			set.Counters.SessionsCompleted++
		}
	})
	if !failed {
		return nil
	}
	return err
}

func (s *session) backoff(attempt int) time.Duration {
	b := s.flow.f.Backoff
	d := float64(b.Initial.D()) * math.Pow(b.Factor, float64(attempt))
	if d > float64(b.Max.D()) {
		d = float64(b.Max.D())
	}
	d += d * b.Jitter * s.rng.Float64()
	return time.Duration(d)
}

func (s *session) steps(ctx context.Context, steps []*step) error {
	for _, st := range steps {
		if ctx.Err() != nil {
			return nil
		}
		if err := s.step(ctx, st); err != nil {
			if ctx.Err() != nil && (errors.Is(err, errStopped) || errors.Is(err, context.Canceled)) {
				return nil
			}
			var inner *stepError
			if errors.As(err, &inner) {
				// A loop's step failed: counted there, under its own label.
				return err
			}
			cause := classify(err)
			if cause != wsclient.CauseCanceled {
				s.shard.Error(cause, st.label)
			}
			return &stepError{st: st, err: err}
		}
	}
	return nil
}

func (s *session) step(ctx context.Context, st *step) error {
	sc := st.s
	if st.kind != "connect" && st.kind != "sleep" && st.kind != "think" && st.kind != "loop" && st.kind != "reconnect" {
		if s.c == nil {
			return errors.New("no open connection (connect first)")
		}
		select {
		case <-s.c.done:
			return s.c.err
		default:
		}
	}
	switch {
	case sc.Connect != nil:
		s.closeConn(1000, "")
		s.lastConnect = st
		return s.connect(ctx, st)
	case sc.Reconnect != nil:
		return s.reconnect(ctx, st)
	case sc.Send != nil:
		p, op := s.payload(&sc.Send.Payload, st)
		if err := s.write(op, p); err != nil {
			return s.lost(ctx, s.c, err)
		}
	case sc.Echo != nil:
		return s.echo(ctx, st)
	case sc.Publish != nil:
		return s.publish(ctx, st)
	case sc.Listen != nil:
		return s.listen(ctx, sc.Listen.Duration.D())
	case sc.Expect != nil:
		return s.expect(ctx, st)
	case sc.Request != nil:
		return s.request(ctx, st)
	case sc.Sleep != nil:
		return s.pause(ctx, sc.Sleep.D())
	case sc.Think != nil:
		return s.pause(ctx, s.think(sc.Think))
	case sc.Loop != nil:
		return s.loop(ctx, st)
	case sc.Ping != nil:
		return s.ping(ctx, st)
	case sc.Close != nil:
		s.closeConn(sc.Close.Code, sc.Close.Reason)
		s.c = nil
	}
	return nil
}

func (s *session) connect(ctx context.Context, st *step) error {
	c := st.s.Connect
	url := s.render(st.url)
	opts := s.r.dialOpts
	if c.Timeout > 0 {
		opts.ConnectTimeout = c.Timeout.D()
	}
	if len(c.Subprotocols) > 0 {
		opts.Subprotocols = c.Subprotocols
	}
	if len(st.hdrs) > 0 {
		h := http.Header{}
		for k, v := range opts.Headers {
			h[k] = v
		}
		for k, t := range st.hdrs {
			h.Set(k, s.render(t))
		}
		opts.Headers = h
	}
	if n := len(s.r.sourceAddrs); n > 0 {
		opts.LocalAddr = s.r.sourceAddrs[int(s.id)%n]
	}
	wc, timing, err := wsclient.Dial(s.r.hard, url, opts)
	if err == nil {
		wc.SetWriteTimeout(s.r.sc.Client.WriteTimeout.D())
	}
	s.shard.Do(func(set *shard.Rec) {
		set.Counters.ConnectsAttempted++
		if err != nil {
			set.Counters.ConnectsFailed++
			return
		}
		set.Counters.ConnectsOK++
		set.Record(metrics.Connect, timing.Connect.Microseconds())
		set.Record(metrics.Handshake, timing.Handshake.Microseconds())
		if timing.TLS > 0 {
			set.Record(metrics.TLSHandshake, timing.TLS.Microseconds())
		}
	})
	if err != nil {
		return err
	}
	s.r.connOpened()
	cn := &conn{
		ws:     wc,
		id:     s.r.connSeq.Add(1),
		done:   make(chan struct{}),
		pong:   make(chan int64, 1),
		hbPong: make(chan int64, 1),
	}
	if s.flow.hasInbox {
		cn.inbox = make(chan []byte, 64)
	}
	if s.flow.inflight > 0 {
		// Made before the reader starts, which signals on it.
		cn.window = make(chan struct{}, s.flow.inflight)
	}
	if s.flow.member {
		cn.member = s.r.ledger.room(url, st.raw).join(s.r.clock.Now())
	}
	wc.OnPong = func(p []byte) { s.onPong(cn, p) }
	wc.OnPing = func() { s.shard.Do(func(set *shard.Rec) { set.Counters.ServerPings++ }) }
	s.c = cn
	// A session that must stop does not wait for a write the server is
	// not taking; and once the run's grace is over, nothing waits on the
	// connection at all.
	root := s.ctx
	if root == nil {
		root = ctx
	}
	cn.unwatch = []func() bool{
		context.AfterFunc(root, wc.InterruptWrite),
		context.AfterFunc(s.r.hard, func() { cn.abort(errStopped, 0, "") }),
	}
	go s.read(cn)
	if iv := s.r.sc.Client.PingInterval.D(); iv > 0 {
		go s.heartbeat(cn, iv)
	}
	return nil
}

func (s *session) reconnect(ctx context.Context, st *step) error {
	if s.lastConnect == nil {
		return errors.New("reconnect before any connect")
	}
	if d := st.s.Reconnect.Delay.D(); d > 0 && !sleepCtx(ctx, d) {
		return errStopped
	}
	s.closeConn(1000, "")
	var err error
	for attempt := 0; attempt < max(1, s.flow.f.Backoff.MaxAttempts); attempt++ {
		if attempt > 0 {
			s.shard.Error(classify(err), st.label)
			if !sleepCtx(ctx, s.backoff(attempt-1)) {
				return errStopped
			}
		}
		if err = s.connect(ctx, s.lastConnect); err == nil {
			return nil
		}
	}
	return fmt.Errorf("%s: %w", causeReconnect, err)
}

// read is the connection's reader goroutine: it takes every message off the
// socket as soon as it arrives (so a timestamp is never taken late because
// the flow was busy), records what marked messages measure, and hands the
// rest to waiting steps.
func (s *session) read(c *conn) {
	r := s.r
	for {
		msg, err := c.ws.ReadMessage()
		now := r.clock.Now()
		if err != nil {
			s.readerExit(c, err, now)
			return
		}
		id, us := metrics.ID(-1), int64(0)
		p := msg.Payload
		if m, ok := parseMarker(p); ok {
			switch m.kind {
			case 'e':
				if mid, ok := m.echoMetric(len(r.reg.Names())); ok && m.conn == c.id && m.worker == r.worker {
					id, us = mid, (now-m.ts)/1000
					if m.ts != m.sent {
						// Open loop: also the service view, from the
						// actual write, which leaves out the sender's
						// own lateness (wrk2's uncorrected latency).
						if svc := r.serviceOf(id); svc >= 0 {
							s.shard.Record(svc, (now-m.sent)/1000)
						}
					}
					c.outstanding.Add(-1)
					if c.window != nil {
						select {
						case c.window <- struct{}{}:
						default:
						}
					}
				}
			case 'b':
				if c.member != nil {
					lat := now - m.ts
					c.member.deliver(report.PubID{Worker: m.worker, Conn: m.conn}, m.seq, lat)
					id, us = metrics.BroadcastDelivery, lat/1000
				}
				if m.conn == c.id && m.worker == r.worker {
					c.ownBack.Add(1)
				}
			case 'r':
				if m.conn == c.id && m.worker == r.worker {
					c.reqMu.Lock()
					ch := c.reqWait[m.seq]
					delete(c.reqWait, m.seq)
					c.reqMu.Unlock()
					if ch != nil {
						ch <- now
					}
				}
			}
		} else if seq, ts, ok := parsePush(p); ok {
			s.pushed(c, seq, ts, len(p), msg.Wire, now)
			continue
		} else if c.inbox != nil {
			cp := append([]byte(nil), p...)
			select {
			case c.inbox <- cp:
			default:
				// Nobody is waiting and the backlog is full: the oldest
				// unread message is the least likely to be wanted.
				select {
				case <-c.inbox:
				default:
				}
				select {
				case c.inbox <- cp:
				default:
				}
			}
		}
		s.shard.Received(len(p), msg.Wire, id, us)
	}
}

func (s *session) pushed(c *conn, seq, tsNS int64, n, wire int, now int64) {
	delayUS := (s.r.clock.Wall(now) - tsNS) / 1000
	s.shard.Do(func(set *shard.Rec) {
		cn := &set.Counters
		cn.MessagesReceived++
		cn.BytesReceived += int64(n)
		cn.WireBytesReceived += int64(wire)
		cn.PushReceived++
		switch {
		case seq > c.pushNext:
			cn.PushGaps += seq - c.pushNext
		case seq < c.pushNext:
			cn.PushOutOfOrder++
		}
		set.Record(metrics.PushDelay, delayUS)
	})
	if seq >= c.pushNext {
		c.pushNext = seq + 1
	}
}

func (s *session) readerExit(c *conn, err error, now int64) {
	if a := c.aborted.Load(); a != nil {
		// The client gave up on the connection and closed the socket
		// under the reader: its reason, not the reader's "use of closed
		// connection", is why the connection ended.
		err = *a
	}
	c.err = err
	// Counted by what was on the wire: a close frame the server sent
	// first is the server's close even when the client was about to
	// close (the client then only answered it).
	var ce *wsclient.CloseError
	var pe *wsclient.ProtocolError
	switch {
	case errors.As(err, &pe):
		s.shard.Close(pe.Code, "client")
	case errors.As(err, &ce) && ce.Initiator == "server":
		s.shard.Close(ce.Code, ce.Initiator)
	case c.closing.Load():
		s.shard.Close(int(c.code.Load()), "client")
	case errors.As(err, &ce):
		s.shard.Close(ce.Code, ce.Initiator)
	default:
		s.shard.Close(1006, "none")
	}
	_ = c.ws.Close()
	for _, stop := range c.unwatch {
		stop()
	}
	if c.member != nil {
		c.member.leave(now)
	}
	s.r.active.Add(-1)
	close(c.done)
}

// closeConn runs the close handshake on the current connection, if any,
// waiting a bounded time for the server's answer.
func (s *session) closeConn(code int, reason string) {
	c := s.c
	if c == nil {
		return
	}
	s.c = nil
	select {
	case <-c.done:
		return
	default:
	}
	c.code.Store(int32(code))
	c.closing.Store(true)
	if err := c.ws.SendClose(code, reason); err != nil {
		// The close frame could not go out: no answer will come.
		c.code.Store(1006)
		_ = c.ws.Close()
		<-c.done
		return
	}
	t := time.NewTimer(2 * time.Second)
	defer t.Stop()
	select {
	case <-c.done:
	case <-t.C:
		_ = c.ws.Close()
		<-c.done
	}
}

func (s *session) write(op ws.OpCode, p []byte) error {
	wire, err := s.c.ws.WriteMessage(op, p)
	if err != nil {
		return err
	}
	s.shard.Sent(len(p), wire)
	return nil
}

func opcode(binary bool) ws.OpCode {
	if binary {
		return ws.OpBinary
	}
	return ws.OpText
}

// payload renders a send or request payload.
func (s *session) payload(pl *scenario.Payload, st *step) ([]byte, ws.OpCode) {
	s.seq++
	op := opcode(pl.Binary)
	switch {
	case pl.Text != "":
		return st.text.Render(s.buf[:0], s.lookup), op
	case pl.JSON != nil:
		v := renderJSON(pl.JSON, func(t string) string {
			tp, err := scenario.ParseTemplate(t)
			if err != nil {
				return t
			}
			return s.render(tp)
		})
		b, _ := json.Marshal(v)
		return b, op
	default:
		n := s.size(pl.Size)
		b := s.buf[:0]
		for range n {
			b = append(b, 'a'+byte(s.rng.IntN(26)))
		}
		return b, op
	}
}

func renderJSON(v any, render func(string) string) any {
	switch x := v.(type) {
	case string:
		return render(x)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = renderJSON(e, render)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = renderJSON(e, render)
		}
		return out
	}
	return v
}

func (s *session) size(d *scenario.SizeDist) int {
	if d == nil {
		return 0
	}
	var v float64
	switch d.Dist {
	case "":
		if d.Fixed > 0 || d.Max == 0 {
			return d.Fixed
		}
		fallthrough
	case "uniform":
		v = float64(d.Min) + s.rng.Float64()*float64(d.Max-d.Min)
	case "exponential":
		v = s.rng.ExpFloat64() * d.Mean
	case "normal":
		v = d.Mean + s.rng.NormFloat64()*d.StdDev
	}
	if d.Max > 0 && v > float64(d.Max) {
		v = float64(d.Max)
	}
	return max(0, int(v))
}

func (s *session) think(t *scenario.Think) time.Duration {
	var d float64
	switch t.Dist {
	case "", "uniform":
		d = float64(t.Min) + s.rng.Float64()*float64(t.Max-t.Min)
	case "exponential":
		d = s.rng.ExpFloat64() * float64(t.Mean)
	case "normal":
		d = float64(t.Mean) + s.rng.NormFloat64()*float64(t.StdDev)
	}
	if t.Max > 0 && d > float64(t.Max) {
		d = float64(t.Max)
	}
	return time.Duration(max(0, d))
}

func (s *session) loop(ctx context.Context, st *step) error {
	l := st.s.Loop
	var end int64 = math.MaxInt64
	if l.Duration > 0 {
		end = s.r.clock.Now() + int64(l.Duration)
	}
	for i := 0; l.Count == 0 || i < l.Count; i++ {
		if ctx.Err() != nil || s.r.clock.Now() >= end {
			return nil
		}
		if l.Duration > 0 {
			lctx, cancel := context.WithDeadline(ctx, s.r.clock.At(end))
			err := s.steps(lctx, st.loop)
			cancel()
			if err != nil {
				return err
			}
			continue
		}
		if err := s.steps(ctx, st.loop); err != nil {
			return err
		}
	}
	return nil
}

// Ping payloads end with who sent the ping, so that the ping step and the
// heartbeat never take each other's pong: a stolen pong made a healthy
// server's ping step fail with pong_timeout.
const (
	pingByStep      = 's'
	pingByHeartbeat = 'h'
)

func (s *session) onPong(c *conn, p []byte) {
	now := s.r.clock.Now()
	c.lastPong.Store(now)
	if len(p) != 9 {
		return
	}
	rtt := now - int64(binary.BigEndian.Uint64(p))
	ch := c.pong
	if p[8] == pingByHeartbeat {
		ch = c.hbPong
	}
	select {
	case ch <- rtt:
	default:
	}
}

func (s *session) pingPayload(by byte) []byte {
	var b [9]byte
	binary.BigEndian.PutUint64(b[:], uint64(s.r.clock.Now()))
	b[8] = by
	return b[:]
}

func (s *session) ping(ctx context.Context, st *step) error {
	c := s.c
	select {
	case <-c.pong:
	default:
	}
	if err := c.ws.WritePing(s.pingPayload(pingByStep)); err != nil {
		return s.lost(ctx, c, err)
	}
	s.shard.Do(func(set *shard.Rec) { set.Counters.PingsSent++ })
	timeout := st.s.Ping.Timeout.D()
	if timeout == 0 {
		timeout = s.r.sc.Client.PongTimeout.D()
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case rtt := <-c.pong:
		s.shard.Do(func(set *shard.Rec) {
			set.Counters.PongsReceived++
			set.Record(st.metric, rtt/1000)
		})
		return nil
	case <-t.C:
		s.shard.Do(func(set *shard.Rec) { set.Counters.PongsMissed++ })
		return &timeoutError{cause: causePongTimeout}
	case <-c.done:
		return c.err
	case <-ctx.Done():
		return s.lost(ctx, c, nil)
	}
}

// heartbeat pings every interval, like a production client library would,
// and gives up on the connection when a pong is late.
func (s *session) heartbeat(c *conn, every time.Duration) {
	timeout := s.r.sc.Client.PongTimeout.D()
	t := time.NewTicker(every)
	defer t.Stop()
	pingID := metrics.Ping
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
		}
		sent := s.r.clock.Now()
		if err := c.ws.WritePing(s.pingPayload(pingByHeartbeat)); err != nil {
			return
		}
		s.shard.Do(func(set *shard.Rec) { set.Counters.PingsSent++ })
		select {
		case <-c.done:
			return
		case rtt := <-c.hbPong:
			s.shard.Do(func(set *shard.Rec) {
				set.Counters.PongsReceived++
				set.Record(pingID, rtt/1000)
			})
		case <-time.After(timeout):
			if c.lastPong.Load() >= sent {
				continue
			}
			s.shard.Do(func(set *shard.Rec) { set.Counters.PongsMissed++ })
			// The error is counted once, by the step that finds the
			// connection gone (see lost), like every other end.
			c.abort(&timeoutError{cause: causePongTimeout}, 1011, "pong timeout")
			return
		}
	}
}

// writeVerdict bounds how long a failed write waits for the reader to say
// why the connection ended. The reader learns it at once in every case
// where a write can fail (the peer's close frame, reset or FIN is already
// in the socket); the bound only matters if that ever stops being true.
const writeVerdict = 2 * time.Second

// lost is what a step returns when a wait or a write on c was cut short:
// why the connection ended, counted as the step's error, or errStopped
// when the run's end (or a ramp-down) interrupted the step on a live
// connection, which is not an error.
//
// Every step kind goes through it (or returns c.err on c.done, which is
// the same value), so a connection's end has one cause whichever step
// noticed it: the reader's, which saw the close frame, the protocol
// violation, the oversized message, the reset or the EOF; or the reason
// the client gave up on it (abort: a missed pong, a write that could not
// complete). A failed write waits for that verdict instead of reporting
// its own error: a write fails because of what the reader is about to
// report (a server's close makes the next write fail with "closed", its
// reset with "broken pipe"), and one connection's end must not count
// under two causes.
func (s *session) lost(ctx context.Context, c *conn, werr error) error {
	switch {
	case werr == nil:
	case errors.Is(werr, wsclient.ErrInterrupted):
		// The session is stopping and a blocked write was cut short: the
		// run's end, not the server, ended the step. The connection is
		// unusable now (a frame may be half sent).
		c.abort(errStopped, 0, "")
		<-c.done
	case errors.Is(werr, wsclient.ErrWriteTimeout):
		// The reader sees nothing wrong with a server that stopped
		// reading: the write's verdict is the connection's.
		c.abort(werr, 0, "")
		<-c.done
	default:
		t := time.NewTimer(writeVerdict)
		select {
		case <-c.done:
		case <-t.C:
			c.abort(werr, 0, "")
			<-c.done
		}
		t.Stop()
	}
	select {
	case <-c.done:
		return c.err
	default:
	}
	return errStopped
}

// abort gives up on the connection for err (the first reason wins): it
// sends a close frame with code when code is not 0, closes the socket and
// lets the reader report err as the connection's end.
func (c *conn) abort(err error, code int, reason string) {
	c.aborted.CompareAndSwap(nil, &err)
	if code != 0 {
		c.code.Store(int32(code))
		c.closing.Store(true)
		_ = c.ws.SendClose(code, reason)
	} else if !c.closing.Load() {
		c.code.Store(1006)
		c.closing.Store(true)
	}
	_ = c.ws.Close()
}

// pause sleeps for d; on a connection it also watches it, so a connection
// that ends during a sleep or think fails the step that was holding it.
func (s *session) pause(ctx context.Context, d time.Duration) error {
	var done <-chan struct{}
	if s.c != nil {
		done = s.c.done
	}
	t := time.NewTimer(max(d, 0))
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
	case <-done:
	}
	if s.c == nil {
		return errStopped
	}
	return s.lost(ctx, s.c, nil)
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// jsonField reads a dotted path ("a.b.0.c") from a decoded JSON value.
func jsonField(v any, path string) (any, bool) {
	for _, part := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[part]; !ok {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(part)
			if err != nil || i < 0 || i >= len(x) {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}

func jsonEqual(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

func stringify(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}
