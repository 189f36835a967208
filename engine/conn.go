package engine

import (
	"encoding/binary"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsbench/wsbench/internal/netpoll"
	"github.com/wsbench/wsbench/internal/shard"
	"github.com/wsbench/wsbench/internal/wsclient"
	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/report"
)

// conn is one open connection and what its reader shares with the
// session.
//
// The reader is either a goroutine blocked in ReadMessage (read), or, for
// a light connection, the runner's reactor: the Poller calls Ready when
// the socket is readable, and between two calls the connection holds no
// goroutine and no read buffer. Both hand every message to onMessage with
// the time it was read, and end in readerExit. Heartbeats run on the
// runner's timer wheel for both.
type conn struct {
	ws      *wsclient.Conn
	s       *session // the session that opened it, woken when it ends
	id      int64
	done    chan struct{}         // closed when the reader has exited
	err     error                 // why the connection ended; read after done
	closing atomic.Bool           // the client started the close
	code    atomic.Int32          // the client's close code
	aborted atomic.Pointer[error] // why the client gave up on it (see abort)

	outstanding atomic.Int64  // echo replies awaited
	ownBack     atomic.Int64  // own broadcast messages received back
	window      chan struct{} // closed-loop echo: one token per reply
	inbox       chan []byte   // unmarked messages, for expect and json requests
	pong        chan int64    // ping step: pong round trips (ns); nil when the flow has none
	lastPong    atomic.Int64

	reqMu   sync.Mutex
	reqWait map[int64]chan int64 // request seq → receive time

	member   *member
	pushNext int64 // owned by the reader

	// A light connection's registration with the runner's Poller; nil
	// for one read by a goroutine.
	desc     *netpoll.Desc
	readDone bool // Ready saw the end (owned by Ready)

	// Heartbeats (client.ping_interval), on the runner's wheel.
	hbMu    sync.Mutex
	hb      *netpoll.Timer
	hbSent  int64 // when the heartbeat ping awaiting its pong went out (run clock); 0 for none
	hbEnded bool
}

// connect opens the session's connection for connect step st.
func (s *session) connect(st *step) error {
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
	opts.Poll = s.r.lightReads(s.flow)
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
		ws:   wc,
		s:    s,
		id:   s.r.connSeq.Add(1),
		done: make(chan struct{}),
	}
	if s.flow.pings {
		cn.pong = make(chan int64, 1)
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
	wc.OnPong = cn.onPong
	wc.OnPing = cn.onPing
	s.setConn(cn)
	if iv := s.r.sc.Client.PingInterval.D(); iv > 0 {
		cn.hb = s.r.wheel.NewTimer(cn.beat)
		cn.hb.Schedule(iv)
	}
	if rc, ok := wc.PollConn(); ok {
		d, err := s.r.poller.Register(rc, cn)
		if err == nil {
			// Published before Resume: Ready and aborts find it.
			cn.desc = d
			err = d.Resume()
		}
		if err != nil {
			// The reactor is closing (the run's end): the connection is
			// given up at once, and the step sees why.
			cn.abort(err, 0, "")
			cn.exit(err)
			return nil
		}
		if wc.Pending() {
			d.Kick() // bytes the dialer read behind the 101: no readiness announces them
		}
	} else {
		go cn.read()
	}
	return nil
}

// read is a connection's reader goroutine: it takes every message off
// the socket as soon as it arrives.
func (c *conn) read() {
	clock := c.s.r.clock
	for {
		msg, err := c.ws.ReadMessage()
		now := clock.Now()
		if err != nil {
			c.s.readerExit(c, err, now)
			return
		}
		c.s.onMessage(c, msg, now)
	}
}

// Ready implements netpoll.Handler for a light connection: it reads what
// the socket holds, timestamps it right after the read and handles every
// message, and ends the connection at the end of the stream (or when an
// abort closed the socket and kicked it).
func (c *conn) Ready() bool {
	if c.readDone {
		return false
	}
	err := c.ws.ReadReady(c)
	if err == nil {
		return true
	}
	c.exit(err)
	return false
}

// exit ends a light connection's reading (from Ready, or at once when it
// could not be registered).
func (c *conn) exit(err error) {
	c.readDone = true
	// readerExit closes the socket first, which drops its registration
	// from the reactor's epoll set: Desc.Close then only frees the slot
	// (one system call less per connection).
	c.s.readerExit(c, err, c.s.r.clock.Now())
	if c.desc != nil {
		_ = c.desc.Close()
	}
}

// Now and Message make a light connection its reads' wsclient.PollHandler.
func (c *conn) Now() int64                           { return c.s.r.clock.Now() }
func (c *conn) Message(m wsclient.Message, at int64) { c.s.onMessage(c, m, at) }

// shut closes the socket under the reader, which then sees its end: a
// light connection's reactor is kicked, since a closed socket reports no
// readiness.
func (c *conn) shut() {
	_ = c.ws.Close()
	if c.desc != nil {
		c.desc.Kick()
	}
}

// onMessage records what a message measures and hands unmarked ones to
// the steps waiting for them. now is when it was read. It runs on the
// connection's reader (never two at once for one connection).
func (s *session) onMessage(c *conn, msg wsclient.Message, now int64) {
	r := s.r
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
		return
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

// readerExit is the end of connection c, seen by its reader: it counts
// the close, closes the socket, and wakes the session if it is parked.
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
	// A close frame answering the server's may still be on its way out
	// (wsclient's non-blocking writes): it must not be cut off.
	_ = c.ws.CloseAfterWrites()
	c.stopHeartbeat()
	if c.member != nil {
		c.member.leave(now)
	}
	s.r.active.Add(-1)
	close(c.done)
	s.wake()
}

// closeConn runs the close handshake on the current connection, if any,
// waiting (blocking) a bounded time for the server's answer. Blocking
// steps use it; the session's own close does not block (closeConnPark).
func (s *session) closeConn(code int, reason string) {
	c := s.c
	if c == nil {
		return
	}
	s.c = nil
	defer s.cur.CompareAndSwap(c, nil)
	if ended(c) {
		return
	}
	c.code.Store(int32(code))
	c.closing.Store(true)
	if err := c.ws.SendClose(code, reason); err != nil {
		// The close frame could not go out: no answer will come.
		c.code.Store(1006)
		c.shut()
		<-c.done
		return
	}
	t := time.NewTimer(closeWait)
	defer t.Stop()
	select {
	case <-c.done:
	case <-t.C:
		c.shut()
		<-c.done
	}
}

// closeWait bounds how long a close handshake waits for the server's
// answer before the socket is closed.
const closeWait = 2 * time.Second

// closeState is a close handshake in progress that the session parked on.
type closeState struct {
	c        *conn
	deadline int64 // run clock: when to stop waiting for the answer
	forced   bool  // the socket was closed: waiting for the reader's exit only
}

// closeConnPark is closeConn without blocking: it returns true when the
// session parked waiting for the handshake (call it again when woken),
// false when the connection is closed.
func (s *session) closeConnPark(code int, reason string) bool {
	cs := &s.cs
	if cs.c == nil {
		c := s.c
		if c == nil {
			return false
		}
		s.c = nil
		if ended(c) {
			s.cur.CompareAndSwap(c, nil)
			return false
		}
		cs.c = c
		c.code.Store(int32(code))
		c.closing.Store(true)
		if err := c.ws.SendCloseSoon(code, reason); err != nil {
			c.code.Store(1006)
			c.shut()
			cs.forced = true
		} else {
			cs.deadline = s.r.clock.Now() + int64(closeWait)
		}
	}
	c := cs.c
	if !s.pooled && !ended(c) {
		// The session has a goroutine of its own: waiting on it costs
		// nothing more, and saves the hand-offs of a wake (a connection
		// churn is made of close handshakes).
		if !cs.forced {
			t := time.NewTimer(time.Duration(cs.deadline - s.r.clock.Now()))
			select {
			case <-c.done:
			case <-t.C:
			}
			t.Stop()
		}
	}
	for !ended(c) {
		if !cs.forced && s.r.clock.Now() >= cs.deadline {
			c.shut()
			cs.forced = true
		}
		until := cs.deadline
		if cs.forced {
			until = 0
		}
		if s.park(until, false, c) {
			return true
		}
	}
	s.cs = closeState{}
	s.cur.CompareAndSwap(c, nil)
	return false
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
func (s *session) lost(c *conn, werr error) error {
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
	if ended(c) {
		return c.err
	}
	return errStopped
}

// abort gives up on the connection for err (the first reason wins): it
// sends a close frame with code when code is not 0, closes the socket and
// lets the reader report err as the connection's end. It may block on
// the close frame's write (bounded by its deadline): goroutines that must
// not block call it on a goroutine of its own.
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
	c.shut()
}

// Ping payloads end with who sent the ping, so that the ping step and the
// heartbeat never take each other's pong: a stolen pong made a healthy
// server's ping step fail with pong_timeout.
const (
	pingByStep      = 's'
	pingByHeartbeat = 'h'
)

// onPong is the wsclient callback for every pong (on the reader).
func (c *conn) onPong(p []byte) {
	s := c.s
	now := s.r.clock.Now()
	c.lastPong.Store(now)
	if len(p) != 9 {
		return
	}
	rtt := now - int64(binary.BigEndian.Uint64(p))
	if p[8] == pingByHeartbeat {
		c.heartbeatPong(rtt)
		return
	}
	if c.pong != nil {
		select {
		case c.pong <- rtt:
		default:
		}
	}
}

// onPing is the wsclient callback for every server ping (answered).
func (c *conn) onPing() {
	c.s.shard.Do(func(set *shard.Rec) { set.Counters.ServerPings++ })
}

func (s *session) pingPayload(by byte) []byte {
	var b [9]byte
	binary.BigEndian.PutUint64(b[:], uint64(s.r.clock.Now()))
	b[8] = by
	return b[:]
}

// beat is the heartbeat's timer function, on the wheel's goroutine: it
// pings every client.ping_interval, like a production client library
// would, and gives up on the connection when a pong is later than
// client.pong_timeout. It never blocks: the ping goes out without waiting
// for the socket, and the abort on its own goroutine.
func (c *conn) beat() {
	s := c.s
	c.hbMu.Lock()
	defer c.hbMu.Unlock()
	if c.hbEnded {
		return
	}
	if c.hbSent == 0 {
		sent := s.r.clock.Now()
		if err := c.ws.WritePingSoon(s.pingPayload(pingByHeartbeat)); err != nil {
			return // the connection is ending; its reader says why
		}
		s.shard.Do(func(set *shard.Rec) { set.Counters.PingsSent++ })
		c.hbSent = max(sent, 1)
		c.hb.Schedule(s.r.sc.Client.PongTimeout.D())
		return
	}
	// The pong timeout: no pong for the heartbeat's ping.
	if c.lastPong.Load() >= c.hbSent {
		// Another pong (the ping step's) came since: the server is
		// alive. Ping again on time.
		c.nextBeatLocked()
		return
	}
	s.shard.Do(func(set *shard.Rec) { set.Counters.PongsMissed++ })
	c.hbEnded = true
	// The error is counted once, by the step that finds the connection
	// gone (see lost), like every other end.
	go c.abort(&timeoutError{cause: causePongTimeout}, 1011, "pong timeout")
}

// heartbeatPong records the pong of the heartbeat's ping, rtt after it.
func (c *conn) heartbeatPong(rtt int64) {
	c.hbMu.Lock()
	defer c.hbMu.Unlock()
	if c.hbEnded || c.hbSent == 0 {
		return
	}
	c.s.shard.Do(func(set *shard.Rec) {
		set.Counters.PongsReceived++
		set.Record(metrics.Ping, rtt/1000)
	})
	c.nextBeatLocked()
}

// nextBeatLocked schedules the next heartbeat ping one interval after the
// last one.
func (c *conn) nextBeatLocked() {
	s := c.s
	next := c.hbSent + int64(s.r.sc.Client.PingInterval) - s.r.clock.Now()
	c.hbSent = 0
	c.hb.Schedule(time.Duration(max(next, 0)))
}

// stopHeartbeat ends the heartbeat when the connection ends.
func (c *conn) stopHeartbeat() {
	if c.hb == nil {
		return
	}
	c.hbMu.Lock()
	c.hbEnded = true
	c.hb.Stop()
	c.hbMu.Unlock()
}
