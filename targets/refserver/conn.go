package refserver

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// initialReadBuffer is the first size of a connection's message buffer; it
// grows as bytes arrive, up to the message limit.
const initialReadBuffer = 4096

var (
	// errPeerClosed ends the read loop after the peer's close frame.
	errPeerClosed = errors.New("peer sent close")
	// errClosing is returned by writes after the server sent its close frame.
	errClosing = errors.New("close frame already sent")
)

// outFrame is one queued frame for a connection's writer.
type outFrame struct {
	frame []byte // complete frame, shared between broadcast members: never modified
	n     int64  // payload length, for Stats
	due   int64  // Server.now() at which it may be written
}

// conn is one upgraded WebSocket connection.
type conn struct {
	s        *Server
	nc       net.Conn
	br       *bufio.Reader
	ep       endpoint
	roomName string
	room     *room // set by Server.join, under roomsMu
	ready    bool  // the 101 response is out; guarded by Server.mu

	// Owned by the reader goroutine.
	rd  wsutil.Reader
	buf []byte // maxHeaderLen bytes of headroom, then the message being read
	ctl [ws.MaxControlFramePayloadSize]byte

	// wmu serialises writes to nc; cbuf and the closeSent transition are
	// guarded by it.
	wmu       sync.Mutex
	cbuf      [2 + ws.MaxControlFramePayloadSize]byte
	closeSent atomic.Bool

	// Outbound queue, filled by any goroutine, drained by the writer.
	qmu      sync.Mutex
	q        []outFrame
	overflow bool
	wake     chan struct{} // capacity 1

	// Owned by the writer goroutine.
	local []outFrame // frames taken from q, written from local[li:]
	li    int
	iov   [][]byte

	// Heartbeat state, guarded by hbMu.
	hbMu       sync.Mutex
	hbTimer    *time.Timer
	hbStopped  bool
	nextPing   int64
	unanswered []int64 // send times of pings not answered by a later pong
	pongAt     atomic.Int64

	done chan struct{} // closed when the read loop has ended
	bg   sync.WaitGroup

	msgsIn, msgsOut, bytesIn, bytesOut atomic.Int64
}

func newConn(s *Server, nc net.Conn, br *bufio.Reader, ep endpoint) *conn {
	return &conn{
		s:    s,
		nc:   nc,
		br:   br,
		ep:   ep,
		wake: make(chan struct{}, 1),
		done: make(chan struct{}),
	}
}

func (c *conn) addStats(st *Stats) {
	st.MessagesIn += c.msgsIn.Load()
	st.MessagesOut += c.msgsOut.Load()
	st.BytesIn += c.bytesIn.Load()
	st.BytesOut += c.bytesOut.Load()
}

// queued reports whether replies on c go through the outbound queue.
func (c *conn) queued() bool {
	cfg := &c.s.cfg
	return c.ep == epBroadcast || c.ep == epEcho && (cfg.ProcessDelay > 0 || cfg.ServiceTime > 0)
}

// start launches c's background work: writer, pusher and heartbeat.
func (c *conn) start(push pushParams) {
	if c.queued() {
		c.bg.Go(c.writeLoop)
	}
	if c.ep == epPush {
		c.bg.Go(func() { c.pushLoop(push) })
	}
	if iv := c.s.cfg.PingInterval; iv > 0 {
		c.hbMu.Lock()
		c.nextPing = c.s.now() + int64(iv)
		c.hbTimer = time.AfterFunc(iv, c.heartbeat)
		c.hbMu.Unlock()
	}
}

// serve runs the read loop and tears the connection down when it ends.
func (c *conn) serve() {
	c.rd = wsutil.Reader{
		Source:         c.br,
		State:          ws.StateServerSide,
		CheckUTF8:      true,
		MaxMessageSize: c.s.cfg.MaxMessageSize,
		OnIntermediate: c.control,
	}
	c.buf = make([]byte, maxHeaderLen+initialReadBuffer)
	err := c.readLoop()
	c.finish(err)
}

func (c *conn) readLoop() error {
	for {
		hdr, err := c.rd.NextFrame()
		if err != nil {
			return err
		}
		if hdr.OpCode.IsControl() {
			err = c.control(hdr, &c.rd)
			if err == nil {
				err = c.rd.Discard()
			}
			if err != nil {
				return err
			}
			continue
		}
		n, err := c.readPayload()
		if err != nil {
			return err
		}
		c.msgsIn.Add(1)
		c.bytesIn.Add(int64(n))
		if c.closeSent.Load() || c.ep == epPush {
			continue
		}
		c.handle(hdr.OpCode, n)
	}
}

// readPayload reads the current data message into c.buf[maxHeaderLen:] and
// returns its length. The buffer grows as bytes arrive, never on a length
// the peer declares; the Reader enforces the message limit.
func (c *conn) readPayload() (int, error) {
	limit := maxHeaderLen + int(c.s.cfg.MaxMessageSize)
	n := 0
	for {
		if maxHeaderLen+n == len(c.buf) && len(c.buf) < limit {
			nb := make([]byte, min(2*len(c.buf), limit))
			copy(nb, c.buf[:maxHeaderLen+n])
			c.buf = nb
		}
		m, err := c.rd.Read(c.buf[maxHeaderLen+n:])
		n += m
		switch {
		case err == io.EOF:
			return n, nil
		case err != nil:
			return n, err
		case m == 0 && maxHeaderLen+n == len(c.buf):
			// Unreachable while the Reader enforces MaxMessageSize; guards
			// against spinning on a full buffer.
			return n, wsutil.ErrMessageTooLarge
		}
	}
}

// handle replies to a data message held in c.buf.
func (c *conn) handle(op ws.OpCode, n int) {
	payload := c.buf[maxHeaderLen : maxHeaderLen+n]
	s := c.s
	switch {
	case c.ep == epBroadcast && s.jobs != nil:
		s.submit(job{room: c.room, frame: newFrame(op, payload), n: int64(n)})
	case c.ep == epBroadcast:
		c.room.fanout(newFrame(op, payload), int64(n), -1)
	case s.jobs != nil:
		s.submit(job{conn: c, frame: newFrame(op, payload), n: int64(n)})
	case s.cfg.ProcessDelay > 0:
		c.enqueue(outFrame{frame: newFrame(op, payload), n: int64(n), due: s.now() + int64(s.cfg.ProcessDelay)})
	default:
		// Zero-copy echo: the header goes into the headroom in front of
		// the payload and the frame leaves in one Write.
		h := headerLen(n)
		putHeader(c.buf[maxHeaderLen-h:], op, n)
		err := c.writeFrame(c.buf[maxHeaderLen-h:maxHeaderLen+n], 1, int64(n))
		if err != nil && !errors.Is(err, errClosing) {
			c.nc.Close()
		}
	}
}

// control handles a control frame whose unmasked payload is read from r.
// It is also the Reader's OnIntermediate hook for control frames inside a
// fragmented message.
func (c *conn) control(hdr ws.Header, r io.Reader) error {
	p := c.ctl[:hdr.Length]
	_, err := io.ReadFull(r, p)
	if err != nil {
		return err
	}
	switch hdr.OpCode {
	case ws.OpPing:
		err := c.writeControl(ws.OpPong, p)
		if err != nil && !errors.Is(err, errClosing) {
			return err
		}
	case ws.OpPong:
		c.pongAt.Store(c.s.now())
	case ws.OpClose:
		code, reason := ws.ParseCloseFrameDataUnsafe(p)
		switch {
		case len(p) == 0:
			code = 0 // answer with an empty close frame
		case len(p) == 1 || ws.CheckCloseFrameData(code, reason) != nil:
			code = ws.StatusProtocolError
		}
		c.sendClose(code, "") // a no-op when this closes our own close handshake
		return errPeerClosed
	}
	return nil
}

// finish ends the connection after the read loop returned err: it sends
// the close frame err calls for, lets the peer finish the close handshake,
// and waits for c's other goroutines before unregistering c.
func (c *conn) finish(err error) {
	var pe ws.ProtocolError
	switch {
	case errors.Is(err, errPeerClosed):
	case errors.Is(err, wsutil.ErrMessageTooLarge), errors.Is(err, wsutil.ErrFrameTooLarge):
		c.sendClose(ws.StatusMessageTooBig, "message too big")
	case errors.Is(err, wsutil.ErrInvalidUTF8):
		c.sendClose(ws.StatusInvalidFramePayloadData, "invalid UTF-8 in text message")
	case errors.As(err, &pe), errors.Is(err, ws.ErrHeaderLengthMSB), errors.Is(err, ws.ErrHeaderLengthUnexpected):
		c.s.logf("refserver: %s: protocol error: %v", c.nc.RemoteAddr(), err)
		c.sendClose(ws.StatusProtocolError, err.Error())
	}
	var ne net.Error
	if c.closeSent.Load() && !(errors.As(err, &ne) && ne.Timeout()) {
		c.linger()
	}
	c.nc.Close()
	close(c.done)

	c.hbMu.Lock()
	c.hbStopped = true
	if c.hbTimer != nil {
		c.hbTimer.Stop()
	}
	c.hbMu.Unlock()
	if c.room != nil {
		c.s.leave(c)
	}
	c.bg.Wait()
	c.s.unregister(c)
}

// linger half-closes the connection after both close frames (or ours
// alone) and discards what the peer still sends until it closes or
// CloseTimeout passes. Closing with unread input would make the kernel send
// a reset that can destroy the close frame before the peer reads it.
func (c *conn) linger() {
	if cw, ok := c.nc.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	c.nc.SetReadDeadline(time.Now().Add(c.s.cfg.CloseTimeout))
	io.Copy(io.Discard, c.br)
}

// writeFrame writes one or more complete data frames in b with a single
// Write and counts them. After an error other than errClosing the caller
// closes nc, which ends the read loop.
func (c *conn) writeFrame(b []byte, msgs, payload int64) error {
	c.wmu.Lock()
	if c.closeSent.Load() {
		c.wmu.Unlock()
		return errClosing
	}
	c.countOut(msgs, payload)
	_, err := c.nc.Write(b)
	c.wmu.Unlock()
	if err != nil {
		c.countOut(-msgs, -payload)
		return err
	}
	return nil
}

// countOut adds to the sent counters. Writers count before they write, so
// a client that has received a message finds it in Stats; a failed write
// takes its count back.
func (c *conn) countOut(msgs, payload int64) {
	c.msgsOut.Add(msgs)
	c.bytesOut.Add(payload)
}

// writeFrames writes frames with one writev and counts them.
func (c *conn) writeFrames(frames [][]byte, payload int64) error {
	if len(frames) == 1 {
		return c.writeFrame(frames[0], 1, payload)
	}
	c.wmu.Lock()
	if c.closeSent.Load() {
		c.wmu.Unlock()
		return errClosing
	}
	msgs := int64(len(frames))
	c.countOut(msgs, payload)
	bufs := net.Buffers(frames)
	_, err := bufs.WriteTo(c.nc)
	c.wmu.Unlock()
	if err != nil {
		c.countOut(-msgs, -payload)
		return err
	}
	return nil
}

// writeControl writes a ping or pong frame.
func (c *conn) writeControl(op ws.OpCode, p []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closeSent.Load() {
		return errClosing
	}
	_, err := c.nc.Write(appendFrame(c.cbuf[:0], op, p))
	return err
}

// sendClose writes a close frame with code (0: empty body) once and then
// gives the peer CloseTimeout to answer. It may be called from any
// goroutine; calls after the first do nothing.
func (c *conn) sendClose(code ws.StatusCode, reason string) {
	deadline := time.Now().Add(c.s.cfg.CloseTimeout)
	// Set before locking, so a write stuck on a peer that does not read
	// fails at the deadline and releases the lock.
	c.nc.SetWriteDeadline(deadline)
	c.wmu.Lock()
	if c.closeSent.Load() {
		c.wmu.Unlock()
		return
	}
	c.closeSent.Store(true)
	c.nc.SetWriteDeadline(deadline) // a ping may have changed it meanwhile
	var body []byte
	if code != 0 {
		var b [ws.MaxControlFramePayloadSize]byte
		binary.BigEndian.PutUint16(b[:], uint16(code))
		n := copy(b[2:], reason)
		body = b[:2+n]
	}
	_, err := c.nc.Write(appendFrame(c.cbuf[:0], ws.OpClose, body))
	c.wmu.Unlock()
	c.nc.SetReadDeadline(deadline)
	if err != nil {
		c.nc.Close()
	}
}

// heartbeat runs on c's heartbeat timer: it closes the connection with 1011
// when a ping went unanswered for PingTimeout, sends the next ping when due
// and re-arms the timer.
func (c *conn) heartbeat() {
	c.hbMu.Lock()
	defer c.hbMu.Unlock()
	if c.hbStopped {
		return
	}
	s := c.s
	interval, timeout := int64(s.cfg.PingInterval), int64(s.cfg.PingTimeout)
	now := s.now()
	pong := c.pongAt.Load()
	k := 0
	for k < len(c.unanswered) && c.unanswered[k] <= pong {
		k++
	}
	c.unanswered = c.unanswered[:copy(c.unanswered, c.unanswered[k:])]
	if len(c.unanswered) > 0 && now-c.unanswered[0] >= timeout {
		s.logf("refserver: %s: no pong within %v, closing", c.nc.RemoteAddr(), s.cfg.PingTimeout)
		c.sendClose(ws.StatusInternalServerError, "ping timeout")
		return
	}
	if now >= c.nextPing {
		// A ping the peer does not take from the socket within the timeout
		// fails, and so does any data write stuck on that peer: the
		// connection is dead either way.
		c.nc.SetWriteDeadline(time.Now().Add(s.cfg.PingTimeout))
		c.wmu.Lock()
		if c.closeSent.Load() {
			c.wmu.Unlock()
			return
		}
		_, err := c.nc.Write(appendFrame(c.cbuf[:0], ws.OpPing, nil))
		c.nc.SetWriteDeadline(time.Time{})
		c.wmu.Unlock()
		if err != nil {
			c.nc.Close()
			return
		}
		c.unanswered = append(c.unanswered, now)
		c.nextPing += interval
		if c.nextPing <= now {
			c.nextPing = now + interval
		}
	}
	wait := c.nextPing - now
	if len(c.unanswered) > 0 {
		wait = min(wait, c.unanswered[0]+timeout-now)
	}
	c.hbTimer.Reset(time.Duration(max(wait, 0)))
}

// enqueue adds f to c's outbound queue. On overflow c is marked for close
// with 1008, and a write stuck on the slow peer is aborted (which closes the
// connection without a close frame).
func (c *conn) enqueue(f outFrame) {
	c.qmu.Lock()
	if c.overflow {
		c.qmu.Unlock()
		return
	}
	if len(c.q) >= c.s.cfg.SendQueue {
		c.overflow = true
		clear(c.q)
		c.q = c.q[:0]
		c.qmu.Unlock()
		c.nc.SetWriteDeadline(time.Now())
	} else {
		c.q = append(c.q, f)
		c.qmu.Unlock()
	}
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// maxBatch bounds the frames of one writev.
const maxBatch = 64

// writeLoop drains c's outbound queue, writing each frame once it is due,
// and batching frames that are due together.
func (c *conn) writeLoop() {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		next, ok := c.flush()
		if !ok {
			return
		}
		if next > 0 {
			timer.Reset(time.Duration(next - c.s.now()))
		}
		select {
		case <-c.done:
			return
		case <-c.wake:
		case <-timer.C:
		}
	}
}

// flush writes every queued frame that is due. It returns the due time of
// the next frame (0 if none) and false when the writer should stop.
func (c *conn) flush() (next int64, ok bool) {
	for {
		if c.li == len(c.local) {
			// Frames in local are older than any in q, so swapping keeps
			// order.
			clear(c.local)
			c.qmu.Lock()
			c.local, c.q = c.q, c.local[:0]
			overflow := c.overflow
			c.qmu.Unlock()
			c.li = 0
			if overflow {
				c.tooSlow()
				return 0, false
			}
			if len(c.local) == 0 {
				return 0, true
			}
		}
		now := c.s.now()
		iov := c.iov[:0]
		var payload int64
		j := c.li
		for j < len(c.local) && len(iov) < maxBatch && c.local[j].due <= now {
			iov = append(iov, c.local[j].frame)
			payload += c.local[j].n
			j++
		}
		if len(iov) == 0 {
			return c.local[c.li].due, true
		}
		err := c.writeFrames(iov, payload)
		clear(iov)
		c.iov = iov
		c.li = j
		if err != nil {
			// A failed write may have left part of a frame on the wire:
			// no close frame can follow it.
			if !errors.Is(err, errClosing) {
				c.nc.Close()
			}
			return 0, false
		}
	}
}

func (c *conn) tooSlow() {
	c.s.logf("refserver: %s: more than %d messages queued, closing", c.nc.RemoteAddr(), c.s.cfg.SendQueue)
	c.sendClose(ws.StatusPolicyViolation, "send queue overflow")
}
