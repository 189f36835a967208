package wsframe

import (
	"encoding/binary"
	"unicode/utf8"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/wsbench/wsbench/internal/netpoll"
)

// Headroom is the number of scratch bytes in front of a buffered message's
// payload (Message.Off of a message that did not arrive in one chunk): room
// for any frame header, so a reply can be sent from the same buffer.
const Headroom = ws.MaxHeaderSize

// ErrRSV1 is returned for a frame with the RSV1 bit where the decoder does
// not allow it.
var ErrRSV1 = ws.ProtocolError("rsv1 set on a frame that cannot carry it")

// Message is a complete data message handed to Handler.Message. Its
// payload is Buf[Off:]; Buf[:Off] is scratch the handler may overwrite,
// and Off is at least the length of an unmasked frame header for the
// payload (so a reply header fits in front of it). Buf is valid only
// during the call.
type Message struct {
	Op         ws.OpCode // OpText or OpBinary
	Compressed bool      // RSV1 was set on the first frame (permessage-deflate)
	Buf        []byte
	Off        int
	// Wire is the message's size on the wire: its frames, headers
	// included (control frames between its fragments are not).
	Wire int
}

// Payload returns the message's payload.
func (m Message) Payload() []byte { return m.Buf[m.Off:] }

// Handler receives what a Decoder decodes. An error returned by either
// method stops Feed, which returns it.
type Handler interface {
	// Message is called for each complete data message.
	Message(m Message) error
	// Control is called for each control frame (ping, pong, close) with its
	// unmasked payload (at most 125 bytes), valid only during the call. A
	// control frame inside a fragmented message arrives between the
	// message's fragments, as on the wire.
	Control(op ws.OpCode, payload []byte) error
}

// Decoder decodes a stream of WebSocket frames fed to it in chunks of any
// size, keeping the state of a partial frame or message between chunks: a
// few hundred bytes, plus a pooled buffer only while a data message is
// incomplete. It enforces RFC 6455's framing rules (masking by role,
// reserved bits and opcodes, control frame limits, fragmentation order),
// the message size limit (on the declared length, before anything is
// buffered) and, if asked, UTF-8 validity of text messages as their bytes
// arrive. Errors are gobwas/ws's values (ws.ProtocolError,
// ws.ErrHeaderLengthMSB, wsutil.ErrMessageTooLarge, wsutil.ErrInvalidUTF8),
// so callers map them to close codes as they would for wsutil.Reader.
//
// Set the configuration fields before the first Feed. A Decoder is not
// safe for concurrent use; after an error it must not be fed again.
type Decoder struct {
	// Server decodes frames a client sent (they must be masked); otherwise
	// frames a server sent (they must not be).
	Server bool
	// MaxMessageSize bounds the payload of one data message; 0 means no
	// limit.
	MaxMessageSize int64
	// CheckUTF8 rejects text messages that are not valid UTF-8.
	CheckUTF8 bool
	// AllowRSV1 accepts RSV1 on the first frame of a data message
	// (permessage-deflate was negotiated); Message.Compressed reports it.
	AllowRSV1 bool

	hbuf [ws.MaxHeaderSize]byte // a header split across chunks
	hn   int

	h       ws.Header // the frame being read, while inFrame
	inFrame bool
	left    int64 // payload bytes of the frame still to come
	pos     int   // payload bytes of the frame seen, for the mask

	msgOp   ws.OpCode // opcode of the data message in progress; 0: none
	msgRSV1 bool
	msgLen  int64   // declared payload bytes of the message so far
	msgWire int     // wire bytes of the message's frames so far
	msg     *[]byte // pooled: Headroom bytes, then the payload so far
	msgN    int     // payload bytes in msg
	utf8    utf8State

	ctl  [ws.MaxControlFramePayloadSize]byte
	ctlN int
}

// Buffered reports whether the decoder holds a partial message or frame
// (and so, possibly, a pooled buffer).
func (d *Decoder) Buffered() bool { return d.hn > 0 || d.inFrame || d.msgOp != 0 }

// Release returns the decoder's pooled buffer, if any; call it when the
// connection ends. The decoder must not be fed afterwards.
func (d *Decoder) Release() {
	if d.msg != nil {
		netpoll.PutBuffer(d.msg)
		d.msg = nil
	}
}

// headerLen returns the length of a header from its first two bytes.
func headerLen(b0, b1 byte) int {
	n := 2
	if b1&0x80 != 0 {
		n += 4
	}
	switch b1 & 0x7f {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	return n
}

// parseHeader parses a complete header.
func parseHeader(b []byte) (ws.Header, error) {
	h := ws.Header{
		Fin:    b[0]&0x80 != 0,
		Rsv:    (b[0] & 0x70) >> 4,
		OpCode: ws.OpCode(b[0] & 0x0f),
		Masked: b[1]&0x80 != 0,
	}
	i := 2
	switch l := b[1] & 0x7f; l {
	case 126:
		h.Length = int64(binary.BigEndian.Uint16(b[2:4]))
		i = 4
	case 127:
		if b[2]&0x80 != 0 {
			return h, ws.ErrHeaderLengthMSB
		}
		h.Length = int64(binary.BigEndian.Uint64(b[2:10]))
		i = 10
	default:
		h.Length = int64(l)
	}
	if h.Masked {
		copy(h.Mask[:], b[i:i+4])
	}
	return h, nil
}

// Feed decodes p, calling h for every complete message and control frame.
// It unmasks p in place. It returns the first error of the stream or of h;
// bytes after it are not decoded.
func (d *Decoder) Feed(p []byte, h Handler) error {
	i := 0
	for {
		if !d.inFrame {
			if i == len(p) {
				return nil
			}
			// The header: straight from p when it is whole there, else
			// gathered in hbuf across chunks.
			inP := false
			var hb []byte
			if d.hn == 0 && len(p)-i >= 2 && len(p)-i >= headerLen(p[i], p[i+1]) {
				n := headerLen(p[i], p[i+1])
				hb = p[i : i+n]
				i += n
				inP = true
			} else {
				for d.hn < 2 && i < len(p) {
					d.hbuf[d.hn] = p[i]
					d.hn++
					i++
				}
				if d.hn < 2 {
					return nil
				}
				need := headerLen(d.hbuf[0], d.hbuf[1])
				k := copy(d.hbuf[d.hn:need], p[i:])
				d.hn += k
				i += k
				if d.hn < need {
					return nil
				}
				hb = d.hbuf[:need]
				d.hn = 0
			}
			err := d.startFrame(hb)
			if err != nil {
				return err
			}
			// Fast path: a whole single-frame data message in p after its
			// own header is handed over in place, with no copy.
			if inP && d.msg == nil && d.h.Fin && d.h.OpCode != ws.OpContinuation &&
				!d.h.OpCode.IsControl() && d.left <= int64(len(p)-i) {
				n := int(d.left)
				payload := p[i : i+n]
				if d.h.Masked {
					ws.Cipher(payload, d.h.Mask, 0)
				}
				if d.CheckUTF8 && d.h.OpCode == ws.OpText && !utf8.Valid(payload) {
					return wsutil.ErrInvalidUTF8
				}
				d.inFrame = false
				d.msgOp = 0
				err := h.Message(Message{Op: d.h.OpCode, Compressed: d.msgRSV1, Buf: p[:i+n], Off: i, Wire: d.msgWire})
				if err != nil {
					return err
				}
				i += n
				continue
			}
		}

		// Payload bytes of the current frame.
		k := int(min(d.left, int64(len(p)-i)))
		chunk := p[i : i+k]
		i += k
		if d.h.Masked {
			ws.Cipher(chunk, d.h.Mask, d.pos)
		}
		d.pos += k
		d.left -= int64(k)
		if d.h.OpCode.IsControl() {
			d.ctlN += copy(d.ctl[d.ctlN:], chunk)
		} else if k > 0 {
			if d.CheckUTF8 && d.msgOp == ws.OpText && !d.utf8.feed(chunk) {
				return wsutil.ErrInvalidUTF8
			}
			d.appendPayload(chunk)
		}
		if d.left > 0 {
			return nil // i == len(p): wait for more
		}

		// End of frame.
		d.inFrame = false
		if d.h.OpCode.IsControl() {
			err := h.Control(d.h.OpCode, d.ctl[:d.ctlN])
			if err != nil {
				return err
			}
			continue
		}
		if !d.h.Fin {
			continue
		}
		if d.CheckUTF8 && d.msgOp == ws.OpText && !d.utf8.end() {
			return wsutil.ErrInvalidUTF8
		}
		op := d.msgOp
		d.msgOp = 0
		var buf []byte
		if d.msg != nil {
			buf = (*d.msg)[:Headroom+d.msgN]
		} else {
			buf = make([]byte, Headroom) // an empty message fragmented into empty frames
		}
		err := h.Message(Message{Op: op, Compressed: d.msgRSV1, Buf: buf, Off: Headroom, Wire: d.msgWire})
		if d.msg != nil {
			netpoll.PutBuffer(d.msg)
			d.msg = nil
		}
		d.msgN = 0
		if err != nil {
			return err
		}
	}
}

// startFrame checks the header hb of a new frame and sets up its state.
func (d *Decoder) startFrame(hb []byte) error {
	hdr, err := parseHeader(hb)
	if err != nil {
		return err
	}
	rsv1 := hdr.Rsv&0x4 != 0
	if hdr.Rsv&0x3 != 0 {
		return ws.ErrProtocolNonZeroRsv
	}
	if rsv1 && (!d.AllowRSV1 || hdr.OpCode.IsControl() || hdr.OpCode == ws.OpContinuation) {
		return ErrRSV1
	}
	state := ws.StateClientSide
	if d.Server {
		state = ws.StateServerSide
	}
	if d.msgOp != 0 {
		state = state.Set(ws.StateFragmented)
	}
	check := hdr
	check.Rsv = 0
	err = ws.CheckHeader(check, state)
	if err != nil {
		return err
	}
	d.h = hdr
	d.inFrame = true
	d.left = hdr.Length
	d.pos = 0
	if hdr.OpCode.IsControl() {
		d.ctlN = 0
		return nil
	}
	if hdr.OpCode != ws.OpContinuation {
		d.msgOp = hdr.OpCode
		d.msgRSV1 = rsv1
		d.msgLen = 0
		d.msgN = 0
		d.msgWire = 0
		d.utf8 = utf8State{}
	}
	d.msgWire += len(hb) + int(hdr.Length)
	if m := d.MaxMessageSize; m > 0 && hdr.Length > m-d.msgLen {
		return wsutil.ErrMessageTooLarge
	}
	d.msgLen += hdr.Length
	return nil
}

// appendPayload adds b to the buffered message, growing the buffer as
// bytes arrive (never to a length the peer only declared).
func (d *Decoder) appendPayload(b []byte) {
	need := Headroom + d.msgN + len(b)
	if d.msg == nil {
		d.msg = netpoll.GetBuffer(max(need, 4096))
	} else if need > cap(*d.msg) {
		nb := netpoll.GetBuffer(max(need, 2*cap(*d.msg)))
		copy(*nb, (*d.msg)[:Headroom+d.msgN])
		netpoll.PutBuffer(d.msg)
		d.msg = nb
	}
	*d.msg = (*d.msg)[:cap(*d.msg)]
	copy((*d.msg)[Headroom+d.msgN:], b)
	d.msgN += len(b)
}

// utf8State validates UTF-8 text fed in pieces that may split a rune.
type utf8State struct {
	pend [utf8.UTFMax]byte // the start of a rune split across pieces
	n    int
}

// feed reports whether b continues a valid UTF-8 text.
func (u *utf8State) feed(b []byte) bool {
	if u.n > 0 {
		for len(b) > 0 && !utf8.FullRune(u.pend[:u.n]) {
			u.pend[u.n] = b[0]
			u.n++
			b = b[1:]
		}
		if !utf8.FullRune(u.pend[:u.n]) {
			return true
		}
		if r, size := utf8.DecodeRune(u.pend[:u.n]); r == utf8.RuneError && size <= 1 {
			return false
		}
		u.n = 0
	}
	// Hold back a rune the piece ends inside of.
	end := len(b)
	for j := len(b) - 1; j >= 0 && j >= len(b)-(utf8.UTFMax-1); j-- {
		if utf8.RuneStart(b[j]) {
			if !utf8.FullRune(b[j:]) {
				end = j
			}
			break
		}
	}
	if !utf8.Valid(b[:end]) {
		return false
	}
	u.n = copy(u.pend[:], b[end:])
	return true
}

// end reports whether the text ended on a rune boundary.
func (u *utf8State) end() bool { return u.n == 0 }
