package wsclient

import (
	"bufio"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsflate"
)

// DefaultMaxMessageSize bounds what a server can make the client buffer
// when Options.MaxMessageSize is zero. A hostile server must not be able to
// make the generator allocate without limit.
const DefaultMaxMessageSize = 16 << 20

// Options configure a connection.
type Options struct {
	Headers        http.Header
	Subprotocols   []string
	ConnectTimeout time.Duration // TCP connect, TLS handshake and upgrade together; 0 means 10 s
	MaxMessageSize int64         // largest message accepted from the server; 0 means DefaultMaxMessageSize
	Compression    bool          // offer permessage-deflate (no context takeover)
	ReadBufferSize int           // bufio size; 0 means 4096
	LocalAddr      *net.TCPAddr  // source address, to spread connections over loopback addresses
	SkipUTF8Check  bool          // do not validate server text messages
	// TLS configures wss:// connections; nil verifies against the
	// system's roots. An empty ServerName is filled from the URL's host.
	TLS *tls.Config
	// Poll prepares a ws:// connection to be read with ReadReady, driven
	// by a reactor, instead of ReadMessage: it keeps no read buffer.
	// PollConn says whether it took (wss:// connections are read with
	// ReadMessage whatever Poll says).
	Poll bool
}

// Timing is how long each stage of opening a connection took.
type Timing struct {
	Connect   time.Duration // TCP three-way handshake
	TLS       time.Duration // TLS handshake (wss:// only), from connected to handshake done
	Handshake time.Duration // HTTP upgrade, from connected (or TLS done) to 101 parsed
}

// Message is one data message from the server. Payload is valid only until
// the next ReadMessage.
type Message struct {
	Op      ws.OpCode
	Payload []byte
	Wire    int // bytes on the wire, frame headers included
}

// Conn is a client WebSocket connection.
type Conn struct {
	nc       net.Conn
	br       *bufio.Reader
	pl       *poller // Options.Poll: readiness-driven reading
	protocol string
	deflate  bool
	maxMsg   int64
	utf8     bool

	// Reader side, owned by the ReadMessage goroutine.
	hdr  [ws.MaxHeaderSize - 2]byte
	rbuf []byte
	ctrl []byte

	// OnPong is called by ReadMessage for every pong, with its payload
	// (valid only during the call). Set it before the first ReadMessage.
	OnPong func(payload []byte)
	// OnPing is called by ReadMessage for every server ping, after the pong
	// has been written.
	OnPing func()

	// closeCode is the code of the close frame sent, 0 until one is: set
	// once, by whoever sends the first close frame (a CompareAndSwap from
	// 0); writes check it under wmu, and the readers read it without the
	// lock to tell who started the close.
	closeCode atomic.Int32

	// Goroutines writeSoon started that have not finished, and whether
	// CloseAfterWrites left the socket's close to the last of them.
	later      atomic.Int32
	closeAfter atomic.Bool

	wmu          sync.Mutex
	wbuf         []byte
	scratch      []byte // WriteMessages: one payload before framing
	broken       error  // the first failed write, under wmu (see send)
	writeTimeout time.Duration
	deadlineAt   time.Time // when send last pushed the write deadline out, under wmu

	writing     atomic.Bool // a write syscall is in progress
	interrupted atomic.Bool // InterruptWrite was called: the session is stopping
}

// Protocol returns the negotiated subprotocol.
func (c *Conn) Protocol() string { return c.protocol }

// Compressed reports whether permessage-deflate was negotiated.
func (c *Conn) Compressed() bool { return c.deflate }

// LocalAddr returns the connection's local address.
func (c *Conn) LocalAddr() net.Addr { return c.nc.LocalAddr() }

// SetReadDeadline bounds the current and future ReadMessage calls.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.nc.SetReadDeadline(t) }

// Close closes the socket without a close handshake.
func (c *Conn) Close() error { return c.nc.Close() }

// WriteMessage writes one data message as a single masked frame and returns
// the bytes written to the wire.
func (c *Conn) WriteMessage(op ws.OpCode, p []byte) (int, error) {
	rsv1 := false
	if c.deflate && len(p) > 0 {
		cp, err := wsflate.DefaultHelper.Compress(p)
		if err != nil {
			return 0, fmt.Errorf("compress: %w", err)
		}
		p, rsv1 = cp, true
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closeSent() {
		return 0, net.ErrClosed
	}
	return c.writeFrameLocked(op, rsv1, p)
}

// WriteMessages writes n data messages with a single write syscall and
// returns the bytes written; fill appends the payload of message i to dst
// and returns the result. Batching
// the messages that are due together halves the generator's syscalls at
// high rates, which is what lets one core drive ~100k echoes per second.
func (c *Conn) WriteMessages(op ws.OpCode, n int, fill func(i int, dst []byte) []byte) (wire int, err error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closeSent() {
		return 0, net.ErrClosed
	}
	if c.broken != nil {
		return 0, c.broken
	}
	b := c.wbuf[:0]
	for i := range n {
		p := fill(i, c.scratch[:0])
		c.scratch = p[:0]
		rsv1 := false
		if c.deflate && len(p) > 0 {
			cp, err := wsflate.DefaultHelper.Compress(p)
			if err != nil {
				return 0, fmt.Errorf("compress: %w", err)
			}
			p, rsv1 = cp, true
		}
		b = appendFrame(b, op, rsv1, p)
	}
	if cap(b) <= 256<<10 {
		c.wbuf = b
	}
	if err := c.send(b); err != nil {
		return 0, err
	}
	return len(b), nil
}

// WritePing sends a ping with payload p (at most 125 bytes).
func (c *Conn) WritePing(p []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closeSent() {
		return net.ErrClosed
	}
	_, err := c.writeFrameLocked(ws.OpPing, false, p)
	return err
}

// SendClose starts the close handshake with code and reason. The server's
// answer arrives through ReadMessage as a *CloseError with Initiator
// "client". Calling it again does nothing.
func (c *Conn) SendClose(code int, reason string) error {
	if !c.closeCode.CompareAndSwap(0, int32(code)) {
		return nil
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.closeDeadlineLocked()
	_, err := c.writeFrameLocked(ws.OpClose, false, ws.NewCloseFrameBody(ws.StatusCode(code), reason))
	return err
}

// closeSent reports whether a close frame was sent (or is being sent).
func (c *Conn) closeSent() bool { return c.closeCode.Load() != 0 }

// closeDeadline bounds the close frame's write: a close handshake with a
// server that stopped reading must not hang.
const closeDeadline = 2 * time.Second

func (c *Conn) closeDeadlineLocked() {
	d := closeDeadline
	if c.writeTimeout > 0 {
		d = min(d, c.writeTimeout)
	}
	now := time.Now()
	_ = c.nc.SetWriteDeadline(now.Add(d))
	// Fresh: send must not push it out to the longer write timeout.
	c.deadlineAt = now
}

// SetWriteTimeout bounds every later write: one the server does not take
// within d (it stopped reading, and the socket's send buffer is full)
// fails with an error Classify names "write_timeout". 0 (the default)
// means no bound. Call it before the first write.
//
// The deadline is pushed out lazily, at most once per d/8, so that a
// write costs no timer operation: a write fails between 7/8·d and d after
// it began to block.
func (c *Conn) SetWriteTimeout(d time.Duration) {
	c.wmu.Lock()
	c.writeTimeout, c.deadlineAt = d, time.Time{}
	c.wmu.Unlock()
}

// interruptGrace is how long InterruptWrite lets the write in progress
// finish: a write that is merely under way completes well within it (and
// the connection stays usable for its close handshake); one the server
// blocks fails.
const interruptGrace = 100 * time.Millisecond

// InterruptWrite makes the write in progress, if any, fail with an error
// matching ErrInterrupted unless it completes within interruptGrace; a
// session that must stop calls it so that a server that stopped reading
// cannot hold it. The close frame still goes out on a connection whose
// write was not cut short (SendClose sets its own deadline). After a write
// has failed the connection cannot be written (a frame may be half sent).
func (c *Conn) InterruptWrite() {
	c.interrupted.Store(true)
	if c.writing.Load() {
		_ = c.nc.SetWriteDeadline(time.Now().Add(interruptGrace))
	}
}

func (c *Conn) writeFrameLocked(op ws.OpCode, rsv1 bool, p []byte) (int, error) {
	if c.broken != nil {
		return 0, c.broken
	}
	b := appendFrame(c.wbuf[:0], op, rsv1, p)
	if cap(b) <= 64<<10 {
		c.wbuf = b // keep the grown buffer, but not a huge one
	}
	if err := c.send(b); err != nil {
		return 0, err
	}
	return len(b), nil
}

// send writes b to the socket under wmu. A write that fails leaves the
// stream possibly in the middle of a frame, so the connection is broken:
// every later write fails with the same error at once.
func (c *Conn) send(b []byte) error {
	c.pushDeadlineLocked()
	c.writing.Store(true)
	_, err := c.nc.Write(b)
	c.writing.Store(false)
	if err == nil {
		return nil
	}
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded) && c.interrupted.Load():
		err = fmt.Errorf("write: %w", ErrInterrupted)
	case errors.Is(err, os.ErrDeadlineExceeded) && c.writeTimeout > 0:
		err = fmt.Errorf("write: %w after %v (%w)", ErrWriteTimeout, c.writeTimeout, err)
	default:
		err = fmt.Errorf("write: %w", err)
	}
	c.broken = err
	return err
}

// pushDeadlineLocked moves the write deadline writeTimeout ahead when it
// was set more than writeTimeout/8 ago. Every write goes through it: a
// deadline left from an earlier write has passed on a connection that
// was quiet for longer than writeTimeout, and would fail the next one.
func (c *Conn) pushDeadlineLocked() {
	if c.writeTimeout <= 0 {
		return
	}
	if now := time.Now(); now.Sub(c.deadlineAt) > c.writeTimeout/8 {
		_ = c.nc.SetWriteDeadline(now.Add(c.writeTimeout))
		c.deadlineAt = now
	}
}

// appendFrame appends one masked client frame. Header, mask and payload go
// into one buffer so a frame leaves in one write syscall: with small
// messages the syscall is the cost, and a split write doubles it.
func appendFrame(b []byte, op ws.OpCode, rsv1 bool, p []byte) []byte {
	n := len(p)
	b0 := 0x80 | byte(op)
	if rsv1 {
		b0 |= 0x40
	}
	b = append(b, b0)
	switch {
	case n < 126:
		b = append(b, 0x80|byte(n))
	case n <= 0xffff:
		b = append(b, 0x80|126, byte(n>>8), byte(n))
	default:
		b = append(b, 0x80|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	var mask [4]byte
	binary.LittleEndian.PutUint32(mask[:], rand.Uint32())
	b = append(b, mask[:]...)
	start := len(b)
	b = append(b, p...)
	ws.Cipher(b[start:], mask, 0)
	return b
}

// ReadMessage reads the next data message, handling control frames on the
// way: pings are answered, pongs go to OnPong, and a close frame ends the
// connection with a *CloseError (answered with the same code when the
// server started the close). A message over the size limit or with invalid
// UTF-8 gets close code 1009 or 1007 and a *ProtocolError.
func (c *Conn) ReadMessage() (Message, error) {
	var (
		msg        Message
		inMessage  bool
		compressed bool
	)
	c.rbuf = c.rbuf[:0]
	for {
		h, err := ws.ReadHeaderBuffer(c.br, c.hdr[:])
		if errors.Is(err, ws.ErrHeaderLengthMSB) || errors.Is(err, ws.ErrHeaderLengthUnexpected) {
			return msg, c.fail(CauseProtocol, int(ws.StatusProtocolError), err.Error())
		}
		if err != nil {
			return msg, c.abrupt(err)
		}
		wire := 2 + int(h.Length)
		switch {
		case h.Length >= 65536:
			wire += 8
		case h.Length >= 126:
			wire += 2
		}
		if h.Masked {
			return msg, c.fail(CauseProtocol, int(ws.StatusProtocolError), "server frame is masked")
		}
		// RSV2 and RSV3 belong to extensions wsbench never negotiates;
		// RSV1 is permessage-deflate's, on the first frame of a data
		// message only.
		if h.Rsv2() || h.Rsv3() || h.Rsv1() && (!c.deflate || h.OpCode.IsControl() || h.OpCode == ws.OpContinuation) {
			return msg, c.fail(CauseProtocol, int(ws.StatusProtocolError), fmt.Sprintf("reserved bits %03b set", h.Rsv))
		}
		if h.OpCode.IsControl() {
			if err := c.control(h); err != nil {
				return msg, err
			}
			continue
		}
		switch {
		case h.OpCode == ws.OpContinuation && !inMessage:
			return msg, c.fail(CauseProtocol, int(ws.StatusProtocolError), "continuation without a message")
		case h.OpCode != ws.OpContinuation && inMessage:
			return msg, c.fail(CauseProtocol, int(ws.StatusProtocolError), "new message inside a fragmented one")
		case h.OpCode != ws.OpContinuation:
			if h.OpCode != ws.OpText && h.OpCode != ws.OpBinary {
				return msg, c.fail(CauseProtocol, int(ws.StatusProtocolError), fmt.Sprintf("reserved opcode %d", h.OpCode))
			}
			msg.Op = h.OpCode
			inMessage = true
			compressed = h.Rsv1()
		}
		if int64(len(c.rbuf))+h.Length > c.maxMsg {
			return msg, c.fail(CauseTooBig, int(ws.StatusMessageTooBig),
				fmt.Sprintf("message over %d bytes", c.maxMsg))
		}
		if err := c.readPayload(h.Length); err != nil {
			return msg, c.abrupt(err)
		}
		msg.Wire += wire
		if !h.Fin {
			continue
		}
		payload := c.rbuf
		if compressed {
			out, err := wsflate.DefaultHelper.Decompress(payload)
			if err != nil {
				return msg, c.fail(CauseProtocol, int(ws.StatusProtocolError), "bad deflate data: "+err.Error())
			}
			if int64(len(out)) > c.maxMsg {
				return msg, c.fail(CauseTooBig, int(ws.StatusMessageTooBig), "inflated message over the limit")
			}
			payload = out
		}
		if msg.Op == ws.OpText && c.utf8 && !utf8.Valid(payload) {
			return msg, c.fail(CauseBadUTF8, int(ws.StatusInvalidFramePayloadData), "text message is not UTF-8")
		}
		msg.Payload = payload
		return msg, nil
	}
}

// readPayload appends n bytes to rbuf, growing it as bytes arrive rather
// than trusting the declared length with one allocation.
func (c *Conn) readPayload(n int64) error {
	for n > 0 {
		chunk := n
		if chunk > 64<<10 {
			chunk = 64 << 10
		}
		l := len(c.rbuf)
		if cap(c.rbuf)-l < int(chunk) {
			// Doubling, but never past the message limit: a hostile
			// stream costs at most the limit, not twice it.
			grown := make([]byte, l, int(min(int64(max(2*cap(c.rbuf), l+int(chunk))), max(c.maxMsg, int64(l)+chunk))))
			copy(grown, c.rbuf)
			c.rbuf = grown
		}
		c.rbuf = c.rbuf[:l+int(chunk)]
		if _, err := io.ReadFull(c.br, c.rbuf[l:]); err != nil {
			return err
		}
		n -= chunk
	}
	return nil
}

func (c *Conn) control(h ws.Header) error {
	if h.Length > 125 || !h.Fin {
		return c.fail(CauseProtocol, int(ws.StatusProtocolError), "oversized or fragmented control frame")
	}
	if cap(c.ctrl) < 125 {
		c.ctrl = make([]byte, 125)
	}
	p := c.ctrl[:h.Length]
	if _, err := io.ReadFull(c.br, p); err != nil {
		return c.abrupt(err)
	}
	return c.controlFrame(h.OpCode, p, false)
}

// controlFrame handles a control frame's payload p for either reader:
// pings are answered, pongs handed to OnPong, and a close frame ends the
// connection with a *CloseError. soon makes the replies non-blocking
// (writeSoon), for a reader that must not wait for the socket.
func (c *Conn) controlFrame(op ws.OpCode, p []byte, soon bool) error {
	switch op {
	case ws.OpPing:
		var err error
		if soon {
			err = c.writeSoon(ws.OpPong, p, false)
		} else {
			c.wmu.Lock()
			if !c.closeSent() {
				_, err = c.writeFrameLocked(ws.OpPong, false, p)
			}
			c.wmu.Unlock()
		}
		if err != nil {
			return c.abrupt(err)
		}
		if c.OnPing != nil {
			c.OnPing()
		}
	case ws.OpPong:
		if c.OnPong != nil {
			c.OnPong(p)
		}
	case ws.OpClose:
		code, reason := 1005, ""
		if len(p) == 1 {
			return c.failSoon(CauseProtocol, int(ws.StatusProtocolError), "close frame with a 1-byte payload", soon)
		}
		if len(p) >= 2 {
			sc, r := ws.ParseCloseFrameData(p)
			code, reason = int(sc), r
			if !validCloseCode(code) {
				return c.failSoon(CauseProtocol, int(ws.StatusProtocolError), fmt.Sprintf("close code %d is not one a peer may send", code), soon)
			}
			if !utf8.ValidString(reason) {
				return c.failSoon(CauseBadUTF8, int(ws.StatusInvalidFramePayloadData), "close reason is not UTF-8", soon)
			}
		}
		initiator := "client"
		echo := code
		if echo == 1005 {
			echo = 1000
		}
		if c.closeCode.CompareAndSwap(0, int32(echo)) {
			initiator = "server"
			body := ws.NewCloseFrameBody(ws.StatusCode(echo), "")
			if soon {
				_ = c.writeSoon(ws.OpClose, body, true)
			} else {
				c.wmu.Lock()
				c.closeDeadlineLocked()
				_, _ = c.writeFrameLocked(ws.OpClose, false, body)
				c.wmu.Unlock()
			}
		}
		return &CloseError{Code: code, Reason: reason, Initiator: initiator}
	default:
		return c.failSoon(CauseProtocol, int(ws.StatusProtocolError), fmt.Sprintf("reserved control opcode %d", op), soon)
	}
	return nil
}

// validCloseCode reports whether a peer may send code in a close frame
// (RFC 6455 7.4, and the IANA registry's 1012–1014): 1004–1006 and 1015
// are reserved and must never be on the wire, 1016–2999 are unassigned,
// 3000–4999 belong to libraries and applications.
func validCloseCode(code int) bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1014:
		return true
	case code >= 3000 && code <= 4999:
		return true
	}
	return false
}

// abrupt is the end of a connection without a close frame. An EOF on a
// socket the peer reset is a reset whose ECONNRESET a write consumed (see
// wasReset): it is reported as the reset it was, so one server behaviour
// has one cause whichever syscall noticed it first.
func (c *Conn) abrupt(err error) error {
	if (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)) && wasReset(c.nc) {
		err = fmt.Errorf("%w (%w)", syscall.ECONNRESET, err)
	}
	return &CloseError{Code: 1006, Initiator: "none", Err: err}
}

// fail closes the connection with code for a server that broke the
// protocol or a limit. If the client had already sent a close frame (it
// was closing when the bad frame came), that frame's code is the one the
// error reports: closes are counted by what went on the wire.
func (c *Conn) fail(cause string, code int, msg string) error {
	return c.failSoon(cause, code, msg, false)
}

// failSoon is fail, with the close frame sent without blocking when soon.
func (c *Conn) failSoon(cause string, code int, msg string, soon bool) error {
	if soon {
		_ = c.SendCloseSoon(code, "")
	} else {
		_ = c.SendClose(code, "")
	}
	return &ProtocolError{Cause: cause, Code: int(c.closeCode.Load()), Msg: msg}
}
