package wsframe

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// event is what a recorder saw, rendered for comparison.
type recorder struct {
	events []string
	// fail makes the handler return an error at event number fail (1-based).
	fail int
}

var errStop = errors.New("handler stop")

func (r *recorder) add(e string) error {
	r.events = append(r.events, e)
	if r.fail > 0 && len(r.events) == r.fail {
		return errStop
	}
	return nil
}

// opName names an opcode (ws.OpCode has no String method).
func opName(op ws.OpCode) string {
	switch op {
	case ws.OpText:
		return "text"
	case ws.OpBinary:
		return "binary"
	case ws.OpPing:
		return "ping"
	case ws.OpPong:
		return "pong"
	case ws.OpClose:
		return "close"
	}
	return fmt.Sprintf("op%d", op)
}

func (r *recorder) Message(m Message) error {
	c := ""
	if m.Compressed {
		c = " compressed"
	}
	return r.add(fmt.Sprintf("%s%s %q", opName(m.Op), c, m.Payload()))
}

func (r *recorder) Control(op ws.OpCode, p []byte) error {
	return r.add(fmt.Sprintf("%s %q", opName(op), p))
}

// frame builds one frame; masked frames use a fixed mask.
func frame(op ws.OpCode, fin, masked bool, p string) []byte {
	f := ws.NewFrame(op, fin, []byte(p))
	if masked {
		f = ws.MaskFrameWith(f, [4]byte{1, 2, 3, 4})
	}
	var buf bytes.Buffer
	if err := ws.WriteFrame(&buf, f); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

func cat(frames ...[]byte) []byte { return bytes.Join(frames, nil) }

// feedChunks feeds stream in pieces of size n (0: all at once) to a fresh
// copy of d and returns the events and the error.
func feedChunks(d Decoder, stream []byte, n int) ([]string, error) {
	stream = append([]byte(nil), stream...)
	r := &recorder{}
	defer d.Release()
	if n == 0 {
		n = len(stream)
	}
	for len(stream) > 0 {
		k := min(n, len(stream))
		err := d.Feed(stream[:k], r)
		if err != nil {
			return r.events, err
		}
		stream = stream[k:]
	}
	return r.events, nil
}

func TestDecode(t *testing.T) {
	server := Decoder{Server: true, MaxMessageSize: 1000, CheckUTF8: true}
	client := Decoder{MaxMessageSize: 1000, CheckUTF8: true}
	big := strings.Repeat("b", 300)  // 16-bit length
	long := strings.Repeat("é", 500) // the limit exactly, in two-byte runes
	tests := []struct {
		name   string
		d      Decoder
		stream []byte
		want   []string
		err    error
	}{
		{
			name:   "text and binary",
			d:      server,
			stream: cat(frame(ws.OpText, true, true, "hello"), frame(ws.OpBinary, true, true, "\x00\xff")),
			want:   []string{`text "hello"`, `binary "\x00\xff"`},
		},
		{
			name:   "empty messages",
			d:      server,
			stream: cat(frame(ws.OpText, true, true, ""), frame(ws.OpBinary, false, true, ""), frame(ws.OpContinuation, true, true, "")),
			want:   []string{`text ""`, `binary ""`},
		},
		{
			name:   "16-bit length and the limit",
			d:      server,
			stream: cat(frame(ws.OpBinary, true, true, big), frame(ws.OpText, true, true, long)),
			want:   []string{fmt.Sprintf("binary %q", big), fmt.Sprintf("text %q", long)},
		},
		{
			name: "fragmented with a ping between, rune split across fragments",
			d:    server,
			stream: cat(
				frame(ws.OpText, false, true, "€"[:1]),
				frame(ws.OpPing, true, true, "p"),
				frame(ws.OpContinuation, false, true, "€"[1:]+"uro"),
				frame(ws.OpContinuation, true, true, "!"),
			),
			want: []string{`ping "p"`, `text "€uro!"`},
		},
		{
			name:   "control frames",
			d:      server,
			stream: cat(frame(ws.OpPong, true, true, ""), frame(ws.OpClose, true, true, "\x03\xe8bye")),
			want:   []string{`pong ""`, `close "\x03\xe8bye"`},
		},
		{
			name:   "client side reads unmasked frames",
			d:      client,
			stream: cat(frame(ws.OpText, true, false, "from server"), frame(ws.OpPing, true, false, "")),
			want:   []string{`text "from server"`, `ping ""`},
		},
		{
			name:   "unmasked frame to a server",
			d:      server,
			stream: frame(ws.OpText, true, false, "x"),
			err:    ws.ErrProtocolMaskRequired,
		},
		{
			name:   "masked frame to a client",
			d:      client,
			stream: frame(ws.OpText, true, true, "x"),
			err:    ws.ErrProtocolMaskUnexpected,
		},
		{
			name:   "reserved opcode",
			d:      server,
			stream: frame(ws.OpCode(3), true, true, "x"),
			err:    ws.ErrProtocolOpCodeReserved,
		},
		{
			name:   "rsv2",
			d:      server,
			stream: func() []byte { f := frame(ws.OpText, true, true, "x"); f[0] |= 0x20; return f }(),
			err:    ws.ErrProtocolNonZeroRsv,
		},
		{
			name:   "rsv1 not negotiated",
			d:      server,
			stream: func() []byte { f := frame(ws.OpText, true, true, "x"); f[0] |= 0x40; return f }(),
			err:    ErrRSV1,
		},
		{
			name: "rsv1 negotiated",
			d:    Decoder{Server: true, AllowRSV1: true},
			stream: func() []byte {
				f := cat(frame(ws.OpBinary, false, true, "a"), frame(ws.OpContinuation, true, true, "b"))
				f[0] |= 0x40
				return f
			}(),
			want: []string{`binary compressed "ab"`},
		},
		{
			name: "rsv1 on a continuation",
			d:    Decoder{Server: true, AllowRSV1: true},
			stream: func() []byte {
				a := frame(ws.OpBinary, false, true, "a")
				b := frame(ws.OpContinuation, true, true, "b")
				b[0] |= 0x40
				return cat(a, b)
			}(),
			err: ErrRSV1,
		},
		{
			name:   "control frame too long",
			d:      server,
			stream: frame(ws.OpPing, true, true, strings.Repeat("x", 126)),
			err:    ws.ErrProtocolControlPayloadOverflow,
		},
		{
			name:   "fragmented control frame",
			d:      server,
			stream: frame(ws.OpPing, false, true, "x"),
			err:    ws.ErrProtocolControlNotFinal,
		},
		{
			name:   "continuation without a message",
			d:      server,
			stream: frame(ws.OpContinuation, true, true, "x"),
			err:    ws.ErrProtocolContinuationUnexpected,
		},
		{
			name:   "new message inside a fragmented one",
			d:      server,
			stream: cat(frame(ws.OpText, false, true, "a"), frame(ws.OpBinary, true, true, "b")),
			err:    ws.ErrProtocolContinuationExpected,
		},
		{
			name:   "one byte over the limit",
			d:      server,
			stream: frame(ws.OpBinary, true, true, strings.Repeat("x", 1001)),
			err:    wsutil.ErrMessageTooLarge,
		},
		{
			name:   "fragments over the limit together",
			d:      server,
			stream: cat(frame(ws.OpBinary, false, true, strings.Repeat("x", 600)), frame(ws.OpContinuation, true, true, strings.Repeat("x", 401))),
			err:    wsutil.ErrMessageTooLarge,
		},
		{
			name:   "declared length over the limit, nothing sent",
			d:      server,
			stream: []byte{0x82, 0xff, 0, 0, 0, 0, 0x10, 0, 0, 0, 1, 2, 3, 4},
			err:    wsutil.ErrMessageTooLarge,
		},
		{
			name:   "64-bit length with the top bit",
			d:      server,
			stream: []byte{0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4},
			err:    ws.ErrHeaderLengthMSB,
		},
		{
			name:   "invalid UTF-8",
			d:      server,
			stream: frame(ws.OpText, true, true, "ok\xff"),
			err:    wsutil.ErrInvalidUTF8,
		},
		{
			name:   "text ending inside a rune",
			d:      server,
			stream: cat(frame(ws.OpText, false, true, "ok"), frame(ws.OpContinuation, true, true, "\xc3")),
			err:    wsutil.ErrInvalidUTF8,
		},
		{
			name:   "surrogate split across fragments",
			d:      server,
			stream: cat(frame(ws.OpText, false, true, "\xed"), frame(ws.OpContinuation, true, true, "\xa0\x80")),
			err:    wsutil.ErrInvalidUTF8,
		},
		{
			name:   "binary is not checked",
			d:      server,
			stream: frame(ws.OpBinary, true, true, "\xff"),
			want:   []string{`binary "\xff"`},
		},
	}
	for _, tt := range tests {
		for _, chunk := range []int{0, 1, 2, 3, 7} {
			t.Run(fmt.Sprintf("%s/chunk=%d", tt.name, chunk), func(t *testing.T) {
				got, err := feedChunks(tt.d, tt.stream, chunk)
				if !errors.Is(err, tt.err) {
					t.Fatalf(
						"error = %v, want %v",
						err, tt.err)
				}
				if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
					t.Errorf(
						"events:\n%s\nwant:\n%s",
						strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
				}
			})
		}
	}
}

// TestInPlace checks that a message arriving whole in one chunk is handed
// over inside that chunk with room for an unmasked header in front.
func TestInPlace(t *testing.T) {
	for _, n := range []int{0, 125, 126, 65535, 65536} {
		stream := frame(ws.OpBinary, true, true, strings.Repeat("z", n))
		d := Decoder{Server: true}
		var got Message
		err := d.Feed(stream, handlerFunc(func(m Message) error { got = m; return nil }))
		if err != nil {
			t.Fatal(err)
		}
		if &got.Buf[0] != &stream[0] {
			t.Errorf("%d bytes: message not handed over in place", n)
		}
		hdr := len(frame(ws.OpBinary, true, false, strings.Repeat("z", n))) - n
		if got.Off < hdr || len(got.Payload()) != n {
			t.Errorf(
				"%d bytes: Off %d, want >= %d; payload %d bytes",
				n, got.Off, hdr, len(got.Payload()))
		}
	}
}

type handlerFunc func(Message) error

func (f handlerFunc) Message(m Message) error         { return f(m) }
func (f handlerFunc) Control(ws.OpCode, []byte) error { return nil }

func TestHandlerErrorStopsFeed(t *testing.T) {
	stream := cat(frame(ws.OpText, true, true, "a"), frame(ws.OpText, true, true, "b"))
	d := Decoder{Server: true}
	r := &recorder{fail: 1}
	if err := d.Feed(stream, r); !errors.Is(err, errStop) {
		t.Fatalf(
			"Feed = %v, want the handler's error",
			err)
	}
	if len(r.events) != 1 {
		t.Errorf(
			"%d events after the handler failed, want 1",
			len(r.events))
	}
}

func TestBufferedAndRelease(t *testing.T) {
	d := Decoder{Server: true}
	r := &recorder{}
	f := frame(ws.OpBinary, true, true, strings.Repeat("q", 5000))
	if err := d.Feed(f[:100], r); err != nil {
		t.Fatal(err)
	}
	if !d.Buffered() || d.msg == nil {
		t.Fatalf("partial message: Buffered %v, buffer %v", d.Buffered(), d.msg != nil)
	}
	if err := d.Feed(f[100:], r); err != nil {
		t.Fatal(err)
	}
	if d.Buffered() || d.msg != nil || len(r.events) != 1 {
		t.Errorf(
			"after the message: Buffered %v, buffer held %v, %d events",
			d.Buffered(), d.msg != nil, len(r.events))
	}
	d.Feed(f[:100], r)
	d.Release()
	if d.msg != nil {
		t.Errorf("Release kept the buffer")
	}
}

// reference decodes stream with gobwas/ws's wsutil.Reader, the way the
// reference server read before the reactor, and renders the same events.
func reference(stream []byte, max int64) ([]string, error) {
	r := &recorder{}
	rd := wsutil.Reader{
		Source:         bytes.NewReader(stream),
		State:          ws.StateServerSide,
		CheckUTF8:      true,
		MaxMessageSize: max,
	}
	control := func(h ws.Header, src io.Reader) error {
		p := make([]byte, h.Length)
		_, err := io.ReadFull(src, p)
		if err != nil {
			return err
		}
		return r.Control(h.OpCode, p)
	}
	rd.OnIntermediate = control
	for {
		h, err := rd.NextFrame()
		if err != nil {
			return r.events, err
		}
		if h.OpCode.IsControl() {
			err = control(h, &rd)
			if err != nil {
				return r.events, err
			}
			continue
		}
		p, err := io.ReadAll(&rd)
		if err != nil {
			return r.events, err
		}
		r.Message(Message{Op: h.OpCode, Buf: p})
	}
}

func FuzzDecoder(f *testing.F) {
	f.Add(cat(frame(ws.OpText, true, true, "hello"), frame(ws.OpBinary, true, true, "\x00\x01")), uint8(1))
	f.Add(cat(
		frame(ws.OpText, false, true, "é"[:1]),
		frame(ws.OpPing, true, true, "p"),
		frame(ws.OpContinuation, true, true, "é"[1:]),
	), uint8(3))
	f.Add(frame(ws.OpBinary, true, true, strings.Repeat("x", 300)), uint8(7))
	f.Add(cat(frame(ws.OpClose, true, true, "\x03\xe8"), frame(ws.OpText, true, true, "\xff")), uint8(2))
	f.Fuzz(func(t *testing.T, stream []byte, chunk uint8) {
		const max = 4096
		d := Decoder{Server: true, MaxMessageSize: max, CheckUTF8: true}
		whole, werr := feedChunks(d, stream, 0)
		pieces, perr := feedChunks(d, stream, int(chunk%16)+1)
		// Chunking changes nothing.
		if (werr == nil) != (perr == nil) || strings.Join(whole, "\n") != strings.Join(pieces, "\n") {
			t.Fatalf(
				"whole: %q %v\nchunked: %q %v",
				whole, werr, pieces, perr)
		}
		// Same messages as gobwas/ws until the first error; both fail or
		// neither does (a stream cut inside a frame is an error there, a
		// wait for more here).
		ref, rerr := reference(stream, max)
		if rerr == io.EOF {
			rerr = nil
		}
		if errors.Is(rerr, io.ErrUnexpectedEOF) || d.Buffered() {
			ref = ref[:min(len(ref), len(whole))]
			rerr = werr
		}
		if strings.Join(whole, "\n") != strings.Join(ref, "\n") || (werr == nil) != (rerr == nil) {
			t.Fatalf(
				"decoder: %q %v\ngobwas: %q %v",
				whole, werr, ref, rerr)
		}
	})
}
