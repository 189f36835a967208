package refserver

import (
	"encoding/binary"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"golang.org/x/sys/unix"

	"github.com/wsbench/wsbench/internal/netpoll"
	"github.com/wsbench/wsbench/internal/wsframe"
)

// readChunk is the size of the pooled buffer a Ready reads into. A message
// that arrives whole in one read is echoed from it in place.
const readChunk = 32 << 10

// readsPerReady bounds the reads of one Ready, so a fast sender does not
// keep a pool goroutine from the other connections; the Desc re-arms and
// the rest is read on the next turn.
const readsPerReady = 8

var (
	// errPeerClosed ends reading after the peer's close frame.
	errPeerClosed = errors.New("peer sent close")
	// errClosing is returned by writes after the server sent its close frame
	// or the connection failed.
	errClosing = errors.New("close frame already sent")
)

// readState is where the reader is in a connection's life.
type readState uint8

const (
	stOpen   readState = iota // reading frames
	stLinger                  // close frames exchanged or ours sent after an error: discard until EOF
	stDone                    // torn down
)

// outFrame is one frame (or a batch of push frames) waiting to be written.
type outFrame struct {
	frame   []byte // complete frame(s); broadcast shares it between members: never modified
	off     int    // bytes of frame already written
	msgs    int64  // data messages in frame; 0 for a control frame
	n       int64  // payload bytes of those messages, for Stats
	due     int64  // Server.now() at which it may be written
	counted bool   // msgs and n are in the counters (a write of it started)
}

// conn is one upgraded WebSocket connection. After the handshake it has no
// goroutine of its own: the server's netpoll.Poller runs Ready when it is
// readable, the server's Wheel runs its heartbeat, and a writer goroutine
// exists only while the socket does not take its output as fast as it is
// produced.
type conn struct {
	s        *Server
	nc       net.Conn
	rc       syscall.RawConn // nil when blocking
	blocking bool            // no descriptor to poll: a reader goroutine, and writes only by the writer goroutine
	desc     atomic.Pointer[netpoll.Desc]
	ep       endpoint
	roomName string
	room     *room // set by Server.join, under roomsMu
	ready    bool  // the 101 response is out; guarded by Server.mu

	// Reader state: owned by whoever runs Ready (one at a time), and by the
	// handshake goroutine before the Desc is armed.
	state  readState
	dec    wsframe.Decoder
	readFn func(uintptr) bool // c.readCB, bound once
	rbuf   []byte
	rn     int
	rerr   error

	abort atomic.Bool // another goroutine asks Ready to tear the connection down

	// Writer state, guarded by wmu. q holds frames in wire order;
	// q[:inflight] are being written by the writer goroutine; otherwise
	// only q[0] may be partly written.
	wmu          sync.Mutex
	q            []outFrame
	inflight     int
	writing      bool      // the writer goroutine runs
	flushBounded bool      // end set the write deadline for the writer's last flush
	drained      sync.Cond // on wmu: writing became false (the blocking reader waits for it)
	closeSent    bool
	shutWrite    bool // half-close once the close frame is out
	shutDone     bool
	dead         bool // no more writes: torn down or a write failed
	overflow     bool
	held         bool        // the 101 is not out yet: frames queue, nothing is written (see Server.upgrade)
	dueTimer     *time.Timer // ProcessDelay: the next queued frame is due
	closeTimer   *time.Timer // CloseTimeout after our close frame
	writeFn      func(uintptr) bool
	wiov         [][]byte
	wn           int
	werr         error

	// Heartbeat state, guarded by hbMu.
	hbMu       sync.Mutex
	hb         *netpoll.Timer
	hbStopped  bool
	nextPing   int64
	unanswered []int64 // send times of pings not answered by a later pong
	pongAt     atomic.Int64

	push *pusher

	// refs counts the connection itself and a running writer goroutine;
	// the last to drop it unregisters the connection.
	refs atomic.Int32

	msgsIn, msgsOut, bytesIn, bytesOut atomic.Int64
}

func newConn(s *Server, nc net.Conn, ep endpoint) *conn {
	c := &conn{s: s, nc: nc, ep: ep}
	c.drained.L = &c.wmu
	c.readFn = c.readCB
	c.writeFn = c.writeCB
	c.refs.Store(1)
	c.dec = wsframe.Decoder{
		Server:         true,
		MaxMessageSize: s.cfg.MaxMessageSize,
		CheckUTF8:      true,
	}
	return c
}

func (c *conn) addStats(st *Stats) {
	st.MessagesIn += c.msgsIn.Load()
	st.MessagesOut += c.msgsOut.Load()
	st.BytesIn += c.bytesIn.Load()
	st.BytesOut += c.bytesOut.Load()
}

// countOut adds to the sent counters. A frame is counted when its first
// write starts, so a client that has received a message finds it in Stats;
// a frame that never got out whole is taken back.
func (c *conn) countOut(msgs, payload int64) {
	c.msgsOut.Add(msgs)
	c.bytesOut.Add(payload)
}

// kick asks Ready to run (to tear down after abort was set). Before the
// connection is registered there is no Desc; the handshake goroutine
// checks abort after publishing it.
func (c *conn) kick() {
	if c.blocking {
		c.nc.SetReadDeadline(time.Now()) // wake the reader goroutine
		return
	}
	if d := c.desc.Load(); d != nil {
		d.Kick()
	}
}

// abortNow makes the connection end without a close handshake: a failed
// write, a peer that is too slow, or a close timeout.
func (c *conn) abortNow() {
	c.abort.Store(true)
	c.nc.SetWriteDeadline(time.Now()) // release a writer stuck on the peer
	c.kick()
}

// release drops a reference; the last one unregisters the connection.
func (c *conn) release() {
	if c.refs.Add(-1) == 0 {
		c.s.unregister(c)
	}
}

// ---- reading ----

// readCB is the callback of RawConn.Read: one read that never parks.
func (c *conn) readCB(fd uintptr) bool {
	c.rn, c.rerr = netpoll.Read(fd, c.rbuf)
	return true
}

// Ready implements netpoll.Handler: it reads what the socket has, decodes
// and handles it, and tears the connection down at the end of the stream or
// when asked to.
func (c *conn) Ready() bool {
	if c.state == stDone {
		return false
	}
	if c.abort.Load() {
		c.end()
		return false
	}
	bp := netpoll.GetBuffer(readChunk)
	c.rbuf = *bp
	defer func() {
		c.rbuf = nil
		netpoll.PutBuffer(bp)
	}()
	for range readsPerReady {
		err := c.rc.Read(c.readFn)
		if err == nil {
			err = c.rerr
		}
		n := c.rn
		if errors.Is(err, unix.EAGAIN) {
			break
		}
		if n == 0 || err != nil {
			// End of stream or a failed read: done, whatever state.
			c.abort.Store(true)
			c.end()
			return false
		}
		if c.state == stLinger {
			continue // discard until the peer closes
		}
		c.feed(c.rbuf[:n])
		if n < len(c.rbuf) {
			break // most likely drained; a level-triggered re-arm reports more
		}
	}
	if c.abort.Load() {
		c.end()
		return false
	}
	c.wmu.Lock()
	paused := c.writing // echo backpressure: no reading while output is stuck
	c.wmu.Unlock()
	return !paused
}

// end tears the connection down once its writer goroutine, if one runs,
// has written what it holds (a close frame, typically), for at most
// CloseTimeout: the writer kicks Ready again when it is done. Called by
// Ready with abort set.
func (c *conn) end() {
	c.wmu.Lock()
	pending := c.writing && !c.dead
	if pending && !c.flushBounded {
		c.flushBounded = true
		c.nc.SetWriteDeadline(time.Now().Add(c.s.cfg.CloseTimeout))
	}
	c.wmu.Unlock()
	if !pending {
		c.teardown()
	}
}

// serveBlocking is Ready's counterpart for a connection without a
// descriptor to poll: its goroutine reads (blocking) and handles input until
// the connection ends. Writes still go through the queue and the writer
// goroutine, so nothing else blocks on this peer; the reader waits for the
// writer after each read, which is the echo backpressure.
func (c *conn) serveBlocking() {
	// Held while the goroutine waits, so small: a bigger message is
	// assembled in the decoder's pooled buffer.
	bp := netpoll.GetBuffer(4096)
	defer netpoll.PutBuffer(bp)
	for {
		n, err := c.nc.Read(*bp)
		if c.abort.Load() {
			break
		}
		if n > 0 && c.state == stOpen {
			c.feed((*bp)[:n])
		}
		if err != nil || c.abort.Load() {
			break
		}
		c.waitWriter()
	}
	// Let the writer finish what it holds (a close frame, typically),
	// for at most CloseTimeout.
	c.wmu.Lock()
	if c.writing && !c.dead {
		c.nc.SetWriteDeadline(time.Now().Add(c.s.cfg.CloseTimeout))
	}
	c.wmu.Unlock()
	c.waitWriter()
	c.teardown()
}

// waitWriter waits until no writer goroutine runs.
func (c *conn) waitWriter() {
	c.wmu.Lock()
	for c.writing && !c.dead {
		c.drained.Wait()
	}
	c.wmu.Unlock()
}

// feed decodes p and handles what it holds. A protocol error or the peer's
// close frame sends the close frame that calls for and moves to lingering.
func (c *conn) feed(p []byte) {
	err := c.dec.Feed(p, c)
	if err == nil {
		return
	}
	var pe ws.ProtocolError
	switch {
	case errors.Is(err, errPeerClosed):
	case errors.Is(err, wsutil.ErrMessageTooLarge):
		c.sendClose(ws.StatusMessageTooBig, "message too big")
	case errors.Is(err, wsutil.ErrInvalidUTF8):
		c.sendClose(ws.StatusInvalidFramePayloadData, "invalid UTF-8 in text message")
	case errors.As(err, &pe), errors.Is(err, ws.ErrHeaderLengthMSB):
		c.s.logf("refserver: %s: protocol error: %v", c.nc.RemoteAddr(), err)
		c.sendClose(ws.StatusProtocolError, err.Error())
	default:
		c.abortNow()
		return
	}
	c.linger()
}

// linger stops handling input: the close frames are exchanged, or ours is
// sent after an error. Once our close frame is out the write side is shut,
// and the rest of the input is discarded until the peer closes or
// CloseTimeout passes. Closing with unread input would make the kernel send
// a reset that can destroy the close frame before the peer reads it.
func (c *conn) linger() {
	c.state = stLinger
	c.dec.Release()
	c.wmu.Lock()
	c.shutWrite = true
	c.maybeShutLocked()
	c.wmu.Unlock()
}

// Message implements wsframe.Handler: one complete data message.
func (c *conn) Message(m wsframe.Message) error {
	n := len(m.Payload())
	c.msgsIn.Add(1)
	c.bytesIn.Add(int64(n))
	if c.ep == epPush {
		return nil
	}
	c.wmu.Lock()
	closing := c.closeSent || c.dead
	c.wmu.Unlock()
	if closing {
		return nil
	}
	s := c.s
	switch {
	case c.ep == epBroadcast && s.jobs != nil:
		s.submit(job{room: c.room, frame: newFrame(m.Op, m.Payload()), n: int64(n)})
	case c.ep == epBroadcast:
		s.broadcast(c.room, newFrame(m.Op, m.Payload()), int64(n), -1)
	case s.jobs != nil:
		s.submit(job{conn: c, frame: newFrame(m.Op, m.Payload()), n: int64(n)})
	case s.cfg.ProcessDelay > 0:
		c.enqueue(outFrame{frame: newFrame(m.Op, m.Payload()), msgs: 1, n: int64(n), due: s.now() + int64(s.cfg.ProcessDelay)})
		c.flush()
	default:
		// Echo in place: the reply header goes into the scratch bytes in
		// front of the payload and the frame leaves with one write; only
		// what the socket does not take is copied.
		h := headerLen(n)
		putHeader(m.Buf[m.Off-h:], m.Op, n)
		c.send(m.Buf[m.Off-h:], 1, int64(n))
	}
	return nil
}

// Control implements wsframe.Handler: a ping, pong or close frame.
func (c *conn) Control(op ws.OpCode, p []byte) error {
	switch op {
	case ws.OpPing:
		c.sendControl(ws.OpPong, p)
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

// teardown ends the connection. It runs inside Ready (or on the handshake
// goroutine before registration), so no read is in progress.
func (c *conn) teardown() {
	if c.state == stDone {
		return
	}
	c.state = stDone
	c.hbMu.Lock()
	c.hbStopped = true
	if c.hb != nil {
		c.hb.Stop()
	}
	c.hbMu.Unlock()
	if c.push != nil {
		c.push.stop()
	}
	c.wmu.Lock()
	c.dead = true
	if c.dueTimer != nil {
		c.dueTimer.Stop()
	}
	if c.closeTimer != nil {
		c.closeTimer.Stop()
	}
	if !c.writing {
		c.dropQueueLocked()
	}
	c.wmu.Unlock()
	if d := c.desc.Load(); d != nil {
		d.Close()
	}
	c.nc.Close() // also fails a writer goroutine's write at once
	c.dec.Release()
	if c.room != nil {
		c.s.leave(c)
	}
	c.release()
}

// ---- writing ----

// writeCB is the callback of RawConn.Write: one writev that never parks.
func (c *conn) writeCB(fd uintptr) bool {
	for {
		c.wn, c.werr = unix.Writev(int(fd), c.wiov)
		if c.werr != unix.EINTR {
			break
		}
	}
	if c.wn < 0 {
		c.wn = 0
	}
	return true
}

// send writes one complete frame with msgs data messages (payload bytes)
// in b, which the caller may reuse afterwards: what the socket does not
// take at once is copied into the queue.
func (c *conn) send(b []byte, msgs, payload int64) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closeSent || c.dead {
		return errClosing
	}
	if len(c.q) > 0 || c.writing || c.blocking {
		c.q = append(c.q, outFrame{frame: clone(b), msgs: msgs, n: payload})
		c.flushLocked()
		return nil
	}
	c.countOut(msgs, payload)
	c.wiov = append(c.wiov[:0], b)
	n, err := c.writeNow()
	if err != nil {
		c.countOut(-msgs, -payload)
		c.failLocked(err)
		return err
	}
	if n < len(b) {
		c.q = append(c.q, outFrame{frame: clone(b[n:]), msgs: msgs, n: payload, counted: true})
		c.startWriterLocked()
	}
	return nil
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }

// writeNow writes c.wiov without blocking. EAGAIN is not an error.
func (c *conn) writeNow() (int, error) {
	err := c.rc.Write(c.writeFn)
	clear(c.wiov)
	c.wiov = c.wiov[:0]
	if err == nil {
		err = c.werr
	}
	if errors.Is(err, unix.EAGAIN) {
		err = nil
	}
	return c.wn, err
}

// sendControl writes a ping or pong frame ahead of data frames that have
// not started. Failures other than a sent close frame abort the
// connection.
func (c *conn) sendControl(op ws.OpCode, p []byte) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closeSent || c.dead {
		return
	}
	c.insertControlLocked(appendFrame(make([]byte, 0, 2+len(p)), op, p))
	c.flushLocked()
}

// insertControlLocked puts a control frame before the data frames that
// have not started (but behind earlier control frames).
func (c *conn) insertControlLocked(frame []byte) {
	i := c.inflight
	if i == 0 && len(c.q) > 0 && c.q[0].off > 0 {
		i = 1
	}
	for i < len(c.q) && c.q[i].msgs == 0 {
		i++
	}
	c.q = append(c.q, outFrame{})
	copy(c.q[i+1:], c.q[i:])
	c.q[i] = outFrame{frame: frame}
}

// sendClose queues a close frame with code (0: empty body) once, drops the
// data frames that have not started, and gives the peer CloseTimeout to
// finish the close handshake. It may be called from any goroutine; calls
// after the first do nothing.
func (c *conn) sendClose(code ws.StatusCode, reason string) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.sendCloseLocked(code, reason)
}

func (c *conn) sendCloseLocked(code ws.StatusCode, reason string) {
	if c.closeSent || c.dead {
		return
	}
	c.closeSent = true
	keep := c.inflight
	if keep == 0 && len(c.q) > 0 && c.q[0].off > 0 {
		keep = 1
	}
	q := c.q[:keep]
	for _, f := range c.q[keep:] {
		if f.msgs == 0 {
			q = append(q, f)
		}
	}
	clear(c.q[len(q):])
	c.q = q
	var body []byte
	if code != 0 {
		var b [ws.MaxControlFramePayloadSize]byte
		binary.BigEndian.PutUint16(b[:], uint16(code))
		n := copy(b[2:], reason)
		body = b[:2+n]
	}
	c.q = append(c.q, outFrame{frame: appendFrame(nil, ws.OpClose, body)})
	c.flushLocked()
	// A writer stuck on a peer that does not read gives up at the same
	// deadline.
	timeout := c.s.cfg.CloseTimeout
	c.nc.SetWriteDeadline(time.Now().Add(timeout))
	c.closeTimer = time.AfterFunc(timeout, c.abortNow)
}

// enqueue adds a data frame to the queue; flush writes it when due. On
// overflow (SendQueue frames waiting) the connection is closed with 1008,
// or aborted if a frame is half written.
func (c *conn) enqueue(f outFrame) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closeSent || c.dead || c.overflow {
		return
	}
	if len(c.q) >= c.s.cfg.SendQueue {
		c.overflow = true
		c.s.logf("refserver: %s: more than %d messages queued, closing", c.nc.RemoteAddr(), c.s.cfg.SendQueue)
		if c.writing || len(c.q) > 0 && c.q[0].off > 0 {
			// A frame is on its way: no close frame can follow it whole.
			c.abortNow()
			return
		}
		c.sendCloseLocked(ws.StatusPolicyViolation, "send queue overflow")
		return
	}
	c.q = append(c.q, f)
}

// flush writes the queued frames that are due, without blocking.
func (c *conn) flush() {
	c.wmu.Lock()
	c.flushLocked()
	c.wmu.Unlock()
}

// unhold lets the frames queued during the handshake out, once the 101 is.
func (c *conn) unhold() {
	c.wmu.Lock()
	c.held = false
	c.flushLocked()
	c.wmu.Unlock()
}

// keepQueue is the largest queue capacity a connection keeps once its
// queue is empty: enough that a broadcast member does not allocate per
// message, small enough that an idle member holds little.
const keepQueue = 4

// maxBatch bounds the frames of one writev.
const maxBatch = 64

// gatherLocked puts up to maxBatch due frames from the head of q into
// c.wiov, counts those not counted yet, and returns how many it took.
func (c *conn) gatherLocked(now int64) int {
	k := 0
	for k < len(c.q) && k < maxBatch && c.q[k].due <= now {
		f := &c.q[k]
		if !f.counted {
			f.counted = true
			c.countOut(f.msgs, f.n)
		}
		c.wiov = append(c.wiov, f.frame[f.off:])
		k++
	}
	return k
}

// advanceLocked removes what n written bytes completed from q[:k] and
// takes back the counts of frames in q[:k] that did not start (they are
// queued again as if never tried).
func (c *conn) advanceLocked(n, k int) {
	done := 0
	for done < k {
		f := &c.q[done]
		rest := len(f.frame) - f.off
		if n < rest {
			f.off += n
			break
		}
		n -= rest
		done++
	}
	for i := done; i < k; i++ {
		if f := &c.q[i]; f.off == 0 && f.counted {
			f.counted = false
			c.countOut(-f.msgs, -f.n)
		}
	}
	clear(c.q[:done])
	switch {
	case done < len(c.q):
		c.q = c.q[done:]
	case cap(c.q) > keepQueue:
		c.q = nil // let a burst's backing array go
	default:
		c.q = c.q[:0] // keep a small one: no allocation per message
	}
}

// flushLocked writes due frames until the socket is full (then the writer
// goroutine takes over) or none is due (then the due timer is armed).
func (c *conn) flushLocked() {
	if c.held {
		return
	}
	for !c.writing && !c.dead && len(c.q) > 0 {
		if c.blocking {
			if c.q[0].due <= c.s.now() {
				c.startWriterLocked() // the only way to write here
			} else {
				c.armDueLocked()
			}
			return
		}
		k := c.gatherLocked(c.s.now())
		if k == 0 {
			c.armDueLocked()
			return
		}
		n, err := c.writeNow()
		if err != nil {
			c.failLocked(err)
			return
		}
		c.advanceLocked(n, k)
		if len(c.q) > 0 && c.q[0].off > 0 || n == 0 {
			c.startWriterLocked()
			return
		}
	}
	c.maybeShutLocked()
}

// armDueLocked arms the due timer for the first queued frame.
func (c *conn) armDueLocked() {
	d := time.Duration(c.q[0].due - c.s.now())
	if c.dueTimer == nil {
		c.dueTimer = time.AfterFunc(d, c.flush)
	} else {
		c.dueTimer.Reset(d)
	}
}

// maybeShutLocked half-closes the connection once the close frame is out
// and lingering asked for it.
func (c *conn) maybeShutLocked() {
	if !c.shutWrite || c.shutDone || !c.closeSent || c.writing || len(c.q) > 0 || c.dead {
		return
	}
	c.shutDone = true
	if cw, ok := c.nc.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
}

// failLocked handles a failed write: the connection cannot carry another
// frame, so it is aborted.
func (c *conn) failLocked(err error) {
	if !c.dead {
		c.s.logf("refserver: %s: write: %v", c.nc.RemoteAddr(), err)
	}
	c.dead = true
	c.dropQueueLocked()
	c.abort.Store(true)
	c.kick()
}

// dropQueueLocked empties q, taking back the counts of frames that did not
// get out whole. Not while the writer goroutine has frames in flight.
func (c *conn) dropQueueLocked() {
	for _, f := range c.q {
		if f.counted {
			c.countOut(-f.msgs, -f.n)
		}
	}
	c.q = nil
}

// startWriterLocked hands the queue to a writer goroutine, which writes
// with blocking writes (parked in Go's netpoller) until it is empty. While
// it runs, the connection does not read (echo backpressure) and no other
// goroutine writes.
func (c *conn) startWriterLocked() {
	c.writing = true
	c.refs.Add(1)
	go c.writeLoop()
}

func (c *conn) writeLoop() {
	defer c.release()
	var iov net.Buffers
	for {
		c.wmu.Lock()
		if c.dead {
			c.writing = false
			c.drained.Broadcast()
			c.dropQueueLocked()
			c.wmu.Unlock()
			c.writerDone()
			return
		}
		k := c.gatherLocked(c.s.now())
		if k == 0 {
			c.writing = false
			c.drained.Broadcast()
			if len(c.q) > 0 {
				c.armDueLocked()
			}
			c.maybeShutLocked()
			c.wmu.Unlock()
			c.writerDone()
			return
		}
		iov = append(iov[:0], c.wiov...)
		clear(c.wiov)
		c.wiov = c.wiov[:0]
		c.inflight = k
		c.wmu.Unlock()

		n, err := iov.WriteTo(c.nc)

		c.wmu.Lock()
		c.inflight = 0
		c.advanceLocked(int(n), k)
		if err != nil {
			c.writing = false
			c.drained.Broadcast()
			if !c.dead {
				c.failLocked(err)
			} else {
				c.dropQueueLocked()
			}
			c.wmu.Unlock()
			c.writerDone()
			return
		}
		c.wmu.Unlock()
	}
}

// writerDone follows the writer goroutine's end: reading was paused while
// it wrote, or a teardown waits for it.
func (c *conn) writerDone() {
	if c.blocking {
		return // the reader waits on drained
	}
	d := c.desc.Load()
	if d == nil {
		return
	}
	if c.abort.Load() {
		d.Kick()
		return
	}
	d.Resume()
}

// ---- heartbeat ----

// startHeartbeat schedules the first ping on the server's wheel.
func (c *conn) startHeartbeat() {
	iv := c.s.cfg.PingInterval
	c.hbMu.Lock()
	defer c.hbMu.Unlock()
	if c.hbStopped {
		return
	}
	c.nextPing = c.s.now() + int64(iv)
	c.hb = c.s.wheel.NewTimer(c.heartbeat)
	c.hb.Schedule(iv)
}

// heartbeat runs on the wheel: it closes the connection with 1011 when a
// ping went unanswered for PingTimeout, sends the next ping when due and
// schedules itself again. It does not block.
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
		// A ping the peer does not take from the socket is queued behind
		// what it has not taken either; its pong then never comes.
		c.sendControl(ws.OpPing, nil)
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
	c.hb.Schedule(time.Duration(max(wait, 0)))
}
