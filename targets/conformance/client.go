package conformance

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// CloseError is returned by conn.read when the server sent a close frame.
type CloseError struct {
	Code   ws.StatusCode
	Reason string
}

func (e *CloseError) Error() string {
	return fmt.Sprintf("server closed the connection with %d %q", e.Code, e.Reason)
}

// closeCode returns the code of the close frame behind err, or 0 with a
// description of what happened instead.
func closeCode(err error) (ws.StatusCode, string) {
	var ce *CloseError
	if errors.As(err, &ce) {
		return ce.Code, ce.Error()
	}
	if err == nil {
		return 0, "no close frame"
	}
	return 0, "no close frame: " + err.Error()
}

// conn is a minimal WebSocket client for the checks. It writes masked
// frames, reassembles fragmented messages, and reports control frames
// through callbacks so a check sees exactly what the server sent.
//
// read must be called from one goroutine at a time; write and the helpers
// built on it are safe for concurrent use (pongs are written from the
// reading goroutine while a check writes data from another).
type conn struct {
	nc       net.Conn
	r        *bufio.Reader
	deadline time.Time   // from the dial context; zero if none
	stop     func() bool // detaches the context watcher

	// autoPong answers server pings with a pong carrying the same payload.
	autoPong bool
	// onPing and onPong, when set, are called from read for every ping
	// and pong frame, with the time the frame was read.
	onPing func(payload []byte, at time.Time)
	onPong func(payload []byte, at time.Time)
	// maxMessage bounds what read accepts, so a broken server cannot make
	// a check allocate without limit.
	maxMessage int64

	wmu sync.Mutex
}

// dial opens a WebSocket connection to url. The connection's deadline is
// ctx's deadline, and cancelling ctx interrupts any blocked read or write.
func dial(ctx context.Context, url string, maxMessage int64) (*conn, error) {
	d := ws.Dialer{Timeout: 5 * time.Second}
	nc, br, _, err := d.Dial(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", url, err)
	}
	if br == nil {
		br = bufio.NewReaderSize(nc, 64<<10)
	}
	c := &conn{nc: nc, r: br, autoPong: true, maxMessage: maxMessage}
	if dl, ok := ctx.Deadline(); ok {
		c.deadline = dl
		_ = nc.SetDeadline(dl)
	}
	c.stop = context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Now()) })
	return c, nil
}

// Close closes the TCP connection without a closing handshake.
func (c *conn) Close() error {
	c.stop()
	return c.nc.Close()
}

// write sends one unfragmented, masked message or control frame.
func (c *conn) write(op ws.OpCode, payload []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return wsutil.WriteClientMessage(c.nc, op, payload)
}

// writeClose sends a close frame with code and reason.
func (c *conn) writeClose(code ws.StatusCode, reason string) error {
	return c.write(ws.OpClose, ws.NewCloseFrameBody(code, reason))
}

// closeHandshake answers the server's close frame behind err with the same
// code (RFC 6455 5.5.1), or starts a normal closure if there was none, and
// then closes the connection.
func (c *conn) closeHandshake(err error) {
	code := ws.StatusNormalClosure
	var ce *CloseError
	if errors.As(err, &ce) && ce.Code != ws.StatusNoStatusRcvd {
		code = ce.Code
	}
	_ = c.writeClose(code, "")
	if ce == nil {
		// Give the server a moment to answer so it sees a clean closure.
		_ = c.nc.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		for {
			if _, _, err := c.read(); err != nil {
				break
			}
		}
	}
	_ = c.Close()
}

// read returns the next data message. Pings and pongs are handled on the way
// (see autoPong, onPing, onPong). A close frame is returned as *CloseError.
func (c *conn) read() (ws.OpCode, []byte, error) {
	var (
		op      ws.OpCode
		msg     []byte
		started bool
	)
	for {
		h, err := ws.ReadHeader(c.r)
		if err != nil {
			return 0, nil, err
		}
		if h.Masked {
			return 0, nil, errors.New("server sent a masked frame")
		}
		if h.Rsv != 0 {
			return 0, nil, fmt.Errorf("server set reserved bits %03b without an extension", h.Rsv)
		}
		if h.OpCode.IsControl() && (h.Length > 125 || !h.Fin) {
			return 0, nil, fmt.Errorf("invalid control frame (opcode %d, length %d, fin %v)", h.OpCode, h.Length, h.Fin)
		}
		if int64(len(msg))+h.Length > c.maxMessage {
			return 0, nil, fmt.Errorf("server message exceeds %d bytes", c.maxMessage)
		}
		payload := make([]byte, h.Length)
		if _, err := io.ReadFull(c.r, payload); err != nil {
			return 0, nil, fmt.Errorf("read frame payload: %w", err)
		}
		now := time.Now()
		switch h.OpCode {
		case ws.OpPing:
			if c.onPing != nil {
				c.onPing(payload, now)
			}
			if c.autoPong {
				if err := c.write(ws.OpPong, payload); err != nil {
					return 0, nil, fmt.Errorf("answer ping: %w", err)
				}
			}
			continue
		case ws.OpPong:
			if c.onPong != nil {
				c.onPong(payload, now)
			}
			continue
		case ws.OpClose:
			if len(payload) == 0 {
				return 0, nil, &CloseError{Code: ws.StatusNoStatusRcvd}
			}
			code, reason := ws.ParseCloseFrameData(payload)
			return 0, nil, &CloseError{Code: code, Reason: reason}
		case ws.OpContinuation:
			if !started {
				return 0, nil, errors.New("continuation frame without a message to continue")
			}
			msg = append(msg, payload...)
		case ws.OpText, ws.OpBinary:
			if started {
				return 0, nil, errors.New("new data frame inside a fragmented message")
			}
			op, msg, started = h.OpCode, payload, true
		default:
			return 0, nil, fmt.Errorf("reserved opcode %d", h.OpCode)
		}
		if h.Fin {
			return op, msg, nil
		}
	}
}

// readClose reads until the server's close frame and returns it (or the
// error that ended the connection). Data messages are counted, not kept.
func (c *conn) readClose() (dataMessages int, err error) {
	for {
		if _, _, err := c.read(); err != nil {
			return dataMessages, err
		}
		dataMessages++
	}
}

// roundTrip sends one message and reads one back.
func (c *conn) roundTrip(op ws.OpCode, payload []byte) (ws.OpCode, []byte, error) {
	if err := c.write(op, payload); err != nil {
		return 0, nil, fmt.Errorf("write: %w", err)
	}
	gotOp, got, err := c.read()
	if err != nil {
		return 0, nil, fmt.Errorf("read: %w", err)
	}
	return gotOp, got, nil
}
