package wsclient

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"
	"unicode/utf8"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsflate"
	"github.com/gobwas/ws/wsutil"
	"golang.org/x/sys/unix"

	"github.com/wsbench/wsbench/internal/netpoll"
	"github.com/wsbench/wsbench/internal/wsframe"
)

// Readiness-driven reading: instead of a goroutine blocked in ReadMessage,
// a reactor (internal/netpoll) calls ReadReady when the socket is
// readable, and ReadReady reads what the socket holds without blocking,
// decodes it incrementally (internal/wsframe) and hands over each complete
// message. Between two calls the connection holds no goroutine and no
// read buffer; a partial message keeps a pooled one. Messages, control
// frames and failures are handled exactly as ReadMessage handles them
// (the same close codes, causes and errors); only the replies it writes
// (pongs, close frames) never block the caller: see writeSoon.

// readChunk is the size of the pooled buffer one ReadReady reads into.
const readChunk = 16 << 10

// readsPerReady bounds the reads of one ReadReady, so that a fast server
// does not keep the reactor's goroutine from other connections; a
// level-triggered re-arm reports the rest at once.
const readsPerReady = 8

// poller is a Conn's readiness-driven reading state (Options.Poll).
type poller struct {
	rc syscall.RawConn
	// dec is taken from decoders for a ReadReady and given back when it
	// holds no partial frame or message: an idle connection holds none.
	dec     *wsframe.Decoder
	readFn  func(uintptr) bool // readCB, bound once: no allocation per read
	buf     []byte
	n       int
	err     error
	writeFn func(uintptr) bool // writeCB, bound once
	wb      []byte
	wn      int
	werr    error

	// During one ReadReady: where messages go and when their bytes came.
	h   PollHandler
	at  int64
	end error // a close frame or a violation ended the connection
}

// PollConn returns the socket to watch for readiness when the connection
// is read with ReadReady: Options.Poll was set and the connection is not
// TLS (whose records Go decrypts).
func (c *Conn) PollConn() (syscall.RawConn, bool) {
	if c.pl == nil {
		return nil, false
	}
	return c.pl.rc, true
}

// Pending reports whether bytes the dialer read past the upgrade response
// are waiting for ReadReady (no readiness will announce them).
func (c *Conn) Pending() bool { return c.br != nil && c.br.Buffered() > 0 }

// PollHandler receives what ReadReady reads.
type PollHandler interface {
	// Now returns the time to stamp the bytes of a read with; ReadReady
	// calls it right after each read.
	Now() int64
	// Message is called for each complete data message, with the time of
	// the read that completed it. m.Payload is valid only during the
	// call.
	Message(m Message, at int64)
}

// ReadReady reads what the socket holds without blocking and hands each
// complete data message to h. It returns nil when the socket has nothing
// more for now (wait for the next readiness), or why the connection
// ended, as ReadMessage would: a *CloseError, a *ProtocolError or an
// abrupt end. ReadReady must not be called concurrently with itself or
// ReadMessage; see doc.go.
func (c *Conn) ReadReady(h PollHandler) (err error) {
	pl := c.pl
	if pl == nil {
		return errors.New("wsclient: ReadReady on a connection dialed without Options.Poll")
	}
	pl.h = h
	if pl.dec == nil {
		pl.dec = decoders.Get().(*wsframe.Decoder)
		pl.dec.MaxMessageSize, pl.dec.AllowRSV1 = c.maxMsg, c.deflate
	}
	defer func() {
		pl.h = nil
		if err != nil || !pl.dec.Buffered() {
			putDecoder(pl.dec)
			pl.dec = nil
		}
	}()
	if c.br != nil {
		// Bytes the dialer read behind the 101: they are the stream's
		// first, and no readiness will announce them.
		if n := c.br.Buffered(); n > 0 {
			b, _ := c.br.Peek(n)
			pl.at = h.Now()
			err := c.feed(b)
			_, _ = c.br.Discard(n)
			if err != nil {
				return err
			}
		}
		ws.PutReader(c.br) // the dialer's, from its pool
		c.br = nil
	}
	bp := netpoll.GetBuffer(readChunk)
	pl.buf = *bp
	defer func() {
		pl.buf = nil
		netpoll.PutBuffer(bp)
	}()
	for range readsPerReady {
		err := pl.rc.Read(pl.readFn)
		pl.at = h.Now()
		if err == nil {
			err = pl.err
		}
		n := pl.n
		switch {
		case errors.Is(err, unix.EAGAIN):
			return nil
		case err != nil:
			return c.abrupt(err)
		case n == 0:
			return c.abrupt(io.EOF)
		}
		if err := c.feed(pl.buf[:n]); err != nil {
			return err
		}
		if n < len(pl.buf) {
			return nil // most likely drained; a level-triggered re-arm reports more
		}
	}
	return nil
}

// decoders are the client-side frame decoders of the connections that
// are reading now or hold a partial frame.
var decoders = sync.Pool{New: func() any { return new(wsframe.Decoder) }}

// putDecoder returns d, which may have failed or hold state, to the pool
// as new.
func putDecoder(d *wsframe.Decoder) {
	d.Release()
	*d = wsframe.Decoder{}
	decoders.Put(d)
}

// readCB is the RawConn.Read callback: one read that never parks.
func (pl *poller) readCB(fd uintptr) bool {
	pl.n, pl.err = netpoll.Read(fd, pl.buf)
	return true
}

// feed decodes b, mapping the decoder's errors to the ones ReadMessage
// returns for the same frames.
func (c *Conn) feed(b []byte) error {
	pl := c.pl
	pl.end = nil
	err := pl.dec.Feed(b, (*pollHandler)(c))
	if pl.end != nil {
		return pl.end
	}
	if err == nil {
		return nil
	}
	var pe ws.ProtocolError
	switch {
	case errors.Is(err, wsutil.ErrMessageTooLarge):
		return c.failSoon(CauseTooBig, int(ws.StatusMessageTooBig), fmt.Sprintf("message over %d bytes", c.maxMsg), true)
	case errors.Is(err, wsutil.ErrInvalidUTF8):
		return c.failSoon(CauseBadUTF8, int(ws.StatusInvalidFramePayloadData), "text message is not UTF-8", true)
	case errors.As(err, &pe), errors.Is(err, ws.ErrHeaderLengthMSB), errors.Is(err, wsframe.ErrRSV1):
		return c.failSoon(CauseProtocol, int(ws.StatusProtocolError), err.Error(), true)
	}
	return c.failSoon(CauseProtocol, int(ws.StatusProtocolError), err.Error(), true)
}

// pollHandler is Conn as the decoder's wsframe.Handler.
type pollHandler Conn

// errEnded stops the decoder after the connection ended; feed returns
// pl.end instead.
var errEnded = errors.New("connection ended")

func (h *pollHandler) Message(m wsframe.Message) error {
	c := (*Conn)(h)
	payload := m.Payload()
	if m.Compressed {
		out, err := wsflate.DefaultHelper.Decompress(payload)
		if err != nil {
			c.pl.end = c.failSoon(CauseProtocol, int(ws.StatusProtocolError), "bad deflate data: "+err.Error(), true)
			return errEnded
		}
		if int64(len(out)) > c.maxMsg {
			c.pl.end = c.failSoon(CauseTooBig, int(ws.StatusMessageTooBig), "inflated message over the limit", true)
			return errEnded
		}
		payload = out
	}
	if m.Op == ws.OpText && c.utf8 && !utf8.Valid(payload) {
		c.pl.end = c.failSoon(CauseBadUTF8, int(ws.StatusInvalidFramePayloadData), "text message is not UTF-8", true)
		return errEnded
	}
	c.pl.h.Message(Message{Op: m.Op, Payload: payload, Wire: m.Wire}, c.pl.at)
	return nil
}

func (h *pollHandler) Control(op ws.OpCode, p []byte) error {
	c := (*Conn)(h)
	if err := c.controlFrame(op, p, true); err != nil {
		c.pl.end = err
		return errEnded
	}
	return nil
}

// writeCB is the RawConn.Write callback: one write that never parks
// (EAGAIN comes back as an error instead).
func (pl *poller) writeCB(fd uintptr) bool {
	for {
		pl.wn, pl.werr = unix.Write(int(fd), pl.wb)
		if pl.werr != unix.EINTR {
			break
		}
	}
	if pl.wn < 0 {
		pl.wn = 0
	}
	return true
}

// writeSoon writes a control frame (a pong, a ping, a close frame when
// isClose) without blocking the caller, which is a reactor goroutine or a
// timer shared by many connections: one non-blocking attempt when no
// other write is in progress, and otherwise, or for what the socket did
// not take, a goroutine that finishes the write in order, under the write
// lock, with the usual deadlines. It returns the error of a connection
// already broken; a failure of the finishing goroutine breaks the
// connection for later writes, and the reader sees its end.
func (c *Conn) writeSoon(op ws.OpCode, p []byte, isClose bool) error {
	if !c.wmu.TryLock() {
		cp := append([]byte(nil), p...)
		c.later.Add(1)
		go func() {
			defer c.laterDone()
			c.wmu.Lock()
			defer c.wmu.Unlock()
			c.writeLaterLocked(op, cp, isClose)
		}()
		return nil
	}
	if c.broken != nil {
		err := c.broken
		c.wmu.Unlock()
		return err
	}
	if !isClose && c.closeSent() {
		// A pong or ping after the close frame: the peer must not get it.
		c.wmu.Unlock()
		return nil
	}
	b := appendFrame(c.wbuf[:0], op, false, p)
	if cap(b) <= 64<<10 {
		c.wbuf = b
	}
	pl := c.pl
	n := 0
	if pl != nil {
		pl.wb = b
		c.pushDeadlineLocked()
		err := pl.rc.Write(pl.writeFn)
		pl.wb = nil
		if err == nil {
			err = pl.werr
		}
		n = pl.wn
		if err == nil && n == len(b) {
			c.wmu.Unlock()
			return nil
		}
		if err != nil && !errors.Is(err, unix.EAGAIN) {
			c.broken = fmt.Errorf("write: %w", err)
			c.wmu.Unlock()
			return c.broken
		}
	}
	// The socket is full (or not ours to write without blocking: TLS):
	// the rest goes out from a goroutine, which holds the lock until it
	// is written so that frames stay in order.
	rest := append([]byte(nil), b[n:]...)
	c.later.Add(1)
	go func() {
		defer c.laterDone()
		defer c.wmu.Unlock()
		if isClose {
			c.closeDeadlineLocked()
		}
		_ = c.send(rest)
	}()
	return nil
}

// laterDone ends a goroutine writeSoon started, closing the socket if
// CloseAfterWrites asked for it meanwhile.
func (c *Conn) laterDone() {
	if c.later.Add(-1) == 0 && c.closeAfter.Load() {
		_ = c.nc.Close()
	}
}

// CloseAfterWrites closes the socket once the writes writeSoon handed to
// goroutines are done (a close frame answering the server's, typically),
// without waiting for them: the reader's end calls it, so that the last
// frames are not cut off. Those writes are bounded by their deadlines.
func (c *Conn) CloseAfterWrites() error {
	c.closeAfter.Store(true)
	if c.later.Load() > 0 {
		// The last goroutine to finish closes (laterDone): it sees
		// closeAfter, since it decrements after this store.
		return nil
	}
	return c.nc.Close()
}

// writeLaterLocked writes a control frame that writeSoon could not try at
// once, under wmu.
func (c *Conn) writeLaterLocked(op ws.OpCode, p []byte, isClose bool) {
	if c.broken != nil || (!isClose && c.closeSent()) {
		return
	}
	if isClose {
		c.closeDeadlineLocked()
	}
	_, _ = c.writeFrameLocked(op, false, p)
}

// WritePingSoon sends a ping with payload p without blocking the caller
// (see writeSoon): for heartbeats run from a shared timer.
func (c *Conn) WritePingSoon(p []byte) error {
	if c.closeSent() {
		return net.ErrClosed
	}
	return c.writeSoon(ws.OpPing, p, false)
}

// SendCloseSoon is SendClose without blocking the caller (see writeSoon).
func (c *Conn) SendCloseSoon(code int, reason string) error {
	if !c.closeCode.CompareAndSwap(0, int32(code)) {
		return nil
	}
	return c.writeSoon(ws.OpClose, ws.NewCloseFrameBody(ws.StatusCode(code), reason), true)
}
