package wsclient

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/wsbench/wsbench/internal/faultserver"
	"github.com/wsbench/wsbench/targets/refserver"
)

// server starts a loopback listener whose every connection is upgraded and
// handed to handle, written with gobwas/ws directly so the client is tested
// against an independent peer.
func server(t *testing.T, handle func(c net.Conn)) string {
	t.Helper()
	return "ws://" + tcpServer(t, func(c net.Conn) {
		if _, err := ws.Upgrade(c); err != nil {
			return
		}
		handle(c)
	}) + "/"
}

// tcpServer serves each loopback TCP connection with handle, which gets
// the raw bytes (no upgrade), and returns the address.
func tcpServer(t *testing.T, handle func(c net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				handle(c)
			}()
		}
	}()
	return ln.Addr().String()
}

// readFrame reads one client frame of at most 1 MiB in the test servers.
func readFrame(c net.Conn) (ws.Frame, error) {
	h, err := ws.ReadHeader(c)
	if err != nil {
		return ws.Frame{}, err
	}
	if h.Length > 1<<20 {
		return ws.Frame{}, errors.New("test frame too large")
	}
	p := make([]byte, h.Length)
	if _, err := io.ReadFull(c, p); err != nil {
		return ws.Frame{}, err
	}
	return ws.Frame{Header: h, Payload: p}, nil
}

func echoHandler(c net.Conn) {
	for {
		msg, op, err := wsutil.ReadClientData(c)
		if err != nil {
			return
		}
		if err := wsutil.WriteServerMessage(c, op, msg); err != nil {
			return
		}
	}
}

func dial(t *testing.T, url string, o Options) *Conn {
	t.Helper()
	c, timing, err := Dial(context.Background(), url, o)
	if err != nil {
		t.Fatal(err)
	}
	if timing.Connect <= 0 || timing.Handshake <= 0 {
		t.Fatalf("timing %+v", timing)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestEchoFidelity(t *testing.T) {
	for _, kind := range readerKinds {
		t.Run(kind, func(t *testing.T) { testEchoFidelity(t, kind) })
	}
}

func testEchoFidelity(t *testing.T, kind string) {
	url := server(t, echoHandler)
	c, read := dialReader(t, url, Options{}, kind)
	for _, tc := range []struct {
		name string
		op   ws.OpCode
		size int
	}{
		{name: "empty text", op: ws.OpText, size: 0},
		{name: "short", op: ws.OpText, size: 125},
		{name: "16-bit length", op: ws.OpBinary, size: 126},
		{name: "16-bit max", op: ws.OpBinary, size: 65535},
		{name: "64-bit length", op: ws.OpBinary, size: 65536},
		{name: "large", op: ws.OpText, size: 300_000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := []byte(strings.Repeat("ab", tc.size/2+1)[:tc.size])
			wire, err := c.WriteMessage(tc.op, p)
			if err != nil {
				t.Fatal(err)
			}
			if wire <= len(p) {
				t.Fatalf("wire %d for payload %d: header and mask missing", wire, len(p))
			}
			msg, err := read()
			if err != nil {
				t.Fatal(err)
			}
			if msg.Op != tc.op || string(msg.Payload) != string(p) {
				t.Fatalf("got op %v len %d", msg.Op, len(msg.Payload))
			}
			if hdr := 2 + map[bool]int{true: 2}[tc.size >= 126 && tc.size < 65536] + map[bool]int{true: 8}[tc.size >= 65536]; msg.Wire != len(p)+hdr {
				t.Fatalf("wire %d for a payload of %d: want its one frame, %d bytes", msg.Wire, len(p), len(p)+hdr)
			}
		})
	}
}

func TestFragmentedWithInterleavedPing(t *testing.T) {
	for _, kind := range readerKinds {
		t.Run(kind, func(t *testing.T) { testFragmentedWithInterleavedPing(t, kind) })
	}
}

func testFragmentedWithInterleavedPing(t *testing.T, kind string) {
	url := server(t, func(c net.Conn) {
		ws.WriteFrame(c, ws.NewFrame(ws.OpText, false, []byte("hel")))
		ws.WriteFrame(c, ws.NewPingFrame([]byte("p")))
		ws.WriteFrame(c, ws.NewFrame(ws.OpContinuation, true, []byte("lo")))
		// The client must have answered the ping with a pong.
		h, err := ws.ReadHeader(c)
		if err != nil || h.OpCode != ws.OpPong {
			ws.WriteFrame(c, ws.NewCloseFrame(ws.NewCloseFrameBody(4000, "no pong")))
			return
		}
		buf := make([]byte, h.Length)
		c.Read(buf)
		ws.WriteFrame(c, ws.NewTextFrame([]byte("pong seen")))
		time.Sleep(100 * time.Millisecond)
	})
	c, read := dialReader(t, url, Options{}, kind)
	pings := 0
	c.OnPing = func() { pings++ }
	msg, err := read()
	if err != nil || string(msg.Payload) != "hello" || msg.Wire != 2+3+2+2 {
		t.Fatalf("got %q (wire %d), %v", msg.Payload, msg.Wire, err)
	}
	msg, err = read()
	if err != nil || string(msg.Payload) != "pong seen" || pings != 1 {
		t.Fatalf("got %q, %v, pings %d", msg.Payload, err, pings)
	}
}

func TestServerMisbehaviour(t *testing.T) {
	for _, kind := range readerKinds {
		t.Run(kind, func(t *testing.T) { testServerMisbehaviour(t, kind) })
	}
}

func testServerMisbehaviour(t *testing.T, kind string) {
	tests := []struct {
		name  string
		send  ws.Frame
		limit int64
		cause string
		code  int
	}{
		{name: "too big", send: ws.NewBinaryFrame(make([]byte, 2000)), limit: 1000, cause: CauseTooBig, code: 1009},
		{name: "bad utf8", send: ws.NewTextFrame([]byte{0xff, 0xfe}), cause: CauseBadUTF8, code: 1007},
		{name: "masked", send: ws.MaskFrame(ws.NewTextFrame([]byte("x"))), cause: CauseProtocol, code: 1002},
		{name: "orphan continuation", send: ws.NewFrame(ws.OpContinuation, true, []byte("x")), cause: CauseProtocol, code: 1002},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gotClose := make(chan int, 1)
			url := server(t, func(c net.Conn) {
				ws.WriteFrame(c, tt.send)
				f, err := readFrame(c)
				if err != nil || f.Header.OpCode != ws.OpClose {
					gotClose <- -1
					return
				}
				f = ws.UnmaskFrameInPlace(f)
				code, _ := ws.ParseCloseFrameData(f.Payload)
				gotClose <- int(code)
			})
			_, read := dialReader(t, url, Options{MaxMessageSize: tt.limit}, kind)
			_, err := read()
			if Classify(err) != tt.cause {
				t.Fatalf("cause %q (%v), want %q", Classify(err), err, tt.cause)
			}
			if code := <-gotClose; code != tt.code {
				t.Fatalf("client sent close %d, want %d", code, tt.code)
			}
		})
	}
}

func TestServerCloseIsEchoed(t *testing.T) {
	for _, kind := range readerKinds {
		t.Run(kind, func(t *testing.T) { testServerCloseIsEchoed(t, kind) })
	}
}

func testServerCloseIsEchoed(t *testing.T, kind string) {
	echoed := make(chan int, 1)
	url := server(t, func(c net.Conn) {
		ws.WriteFrame(c, ws.NewCloseFrame(ws.NewCloseFrameBody(1001, "bye")))
		f, err := readFrame(c)
		if err != nil {
			echoed <- -1
			return
		}
		f = ws.UnmaskFrameInPlace(f)
		code, _ := ws.ParseCloseFrameData(f.Payload)
		echoed <- int(code)
	})
	_, read := dialReader(t, url, Options{}, kind)
	_, err := read()
	var ce *CloseError
	if !errors.As(err, &ce) || ce.Code != 1001 || ce.Initiator != "server" || ce.Reason != "bye" {
		t.Fatalf("err %v", err)
	}
	if code := <-echoed; code != 1001 {
		t.Fatalf("echoed %d", code)
	}
	if Classify(err) != "server_close_1001" {
		t.Fatalf("cause %q", Classify(err))
	}
}

func TestDialFailuresAreClassified(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := ln.Addr().String()
	ln.Close()

	busy, _ := net.Listen("tcp", "127.0.0.1:0")
	defer busy.Close()
	go http.Serve(busy, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "full", http.StatusServiceUnavailable)
	}))

	silent, _ := net.Listen("tcp", "127.0.0.1:0")
	defer silent.Close()
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()

	// A 101 whose headers are cut by a WebSocket frame, as a server that
	// writes a message before its handshake response is done sends.
	garbled := tcpServer(t, func(c net.Conn) {
		if _, err := http.ReadRequest(bufio.NewReader(c)); err == nil {
			_, _ = io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\n\x81\x05hello\r\n\r\n")
		}
	})

	tests := []struct {
		name, url, cause string
	}{
		{name: "refused", url: "ws://" + closed + "/", cause: CauseRefused},
		{name: "malformed", url: "ws://" + garbled + "/", cause: CauseHandshake},
		{name: "status", url: "ws://" + busy.Addr().String() + "/", cause: "handshake_status_503"},
		{name: "timeout", url: "ws://" + silent.Addr().String() + "/", cause: CauseTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Dial(context.Background(), tt.url, Options{ConnectTimeout: 300 * time.Millisecond})
			if got := Classify(err); got != tt.cause {
				t.Fatalf("cause %q (%v), want %q", got, err, tt.cause)
			}
		})
	}
}

func TestCompressionRoundTrip(t *testing.T) {
	for _, kind := range readerKinds {
		t.Run(kind, func(t *testing.T) { testCompressionRoundTrip(t, kind) })
	}
}

func testCompressionRoundTrip(t *testing.T, kind string) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		e := wsflateExt()
		u := ws.Upgrader{Negotiate: e.Negotiate}
		if _, err := u.Upgrade(c); err != nil {
			return
		}
		for {
			f, err := readFrame(c)
			if err != nil {
				return
			}
			f = ws.UnmaskFrameInPlace(f)
			if f.Header.OpCode == ws.OpClose {
				return
			}
			// Echo the compressed frame as is: RSV1 stays set.
			f.Header.Masked = false
			ws.WriteFrame(c, f)
		}
	}()
	c, read := dialReader(t, "ws://"+ln.Addr().String()+"/", Options{Compression: true}, kind)
	if !c.Compressed() {
		t.Fatal("permessage-deflate not negotiated")
	}
	p := []byte(strings.Repeat("compress me ", 200))
	wire, err := c.WriteMessage(ws.OpText, p)
	if err != nil {
		t.Fatal(err)
	}
	if wire >= len(p) {
		t.Fatalf("wire %d not smaller than payload %d", wire, len(p))
	}
	msg, err := read()
	if err != nil || string(msg.Payload) != string(p) || msg.Wire >= len(p) {
		t.Fatalf("got len %d wire %d err %v", len(msg.Payload), msg.Wire, err)
	}
}

// TestBytesBehindThe101 has the server send its first message in the
// same write as the upgrade response: the dialer reads it with the
// response, and both readers must still hand it over first (a reactor
// gets no readiness for bytes already read).
func TestBytesBehindThe101(t *testing.T) {
	for _, kind := range readerKinds {
		t.Run(kind, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ln.Close() })
			go func() {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				defer c.Close()
				var out bytes.Buffer
				if _, err := ws.Upgrade(struct {
					io.Reader
					io.Writer
				}{c, &out}); err != nil {
					return
				}
				_ = ws.WriteFrame(&out, ws.NewTextFrame([]byte("first")))
				_, _ = c.Write(out.Bytes()) // the 101 and the frame in one write
				_ = ws.WriteFrame(c, ws.NewTextFrame([]byte("second")))
				time.Sleep(time.Second)
			}()
			c, read := dialReader(t, "ws://"+ln.Addr().String()+"/", Options{}, kind)
			if kind == "ReadReady" && !c.Pending() {
				// One write on loopback arrives in one piece, which the
				// dialer reads with the response.
				t.Fatal("the dialer read no bytes behind the 101")
			}
			for _, want := range []string{"first", "second"} {
				msg, err := read()
				if err != nil || string(msg.Payload) != want {
					t.Fatalf("got %q, %v; want %q", msg.Payload, err, want)
				}
			}
		})
	}
}

// BenchmarkEchoRoundTrip measures one connection's write-then-read round
// trip against the reference server, so the allocations reported are the
// client's (the server allocates nothing per echo).
func BenchmarkEchoRoundTrip(b *testing.B) {
	srv := refserver.New(refserver.Config{})
	addr, err := srv.Start("127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Shutdown(context.Background())
	c, _, err := Dial(context.Background(), "ws://"+addr+"/echo", Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	p := make([]byte, 64)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := c.WriteMessage(ws.OpBinary, p); err != nil {
			b.Fatal(err)
		}
		if _, err := c.ReadMessage(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// TestHostileFrames runs every hostile frame of the fault server against
// the client: each must end the connection with the close code RFC 6455
// prescribes, sent to the server, and the matching cause.
func TestHostileFrames(t *testing.T) {
	for _, kind := range readerKinds {
		t.Run(kind, func(t *testing.T) { testHostileFrames(t, kind) })
	}
}

func testHostileFrames(t *testing.T, kind string) {
	srv, err := faultserver.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	causes := map[int]string{1002: CauseProtocol, 1007: CauseBadUTF8, 1009: CauseTooBig}
	for _, name := range faultserver.FrameNames() {
		h := faultserver.Frames[name]
		t.Run(name, func(t *testing.T) {
			// The connection's first message from the server is the frame.
			c, read := dialReader(t, srv.URL()+"/echo?fault=frame&frame="+name, Options{MaxMessageSize: 1 << 20}, kind)
			if _, err := c.WriteMessage(ws.OpText, []byte("x")); err != nil {
				t.Fatal(err)
			}
			_, err := read()
			var pe *ProtocolError
			if !errors.As(err, &pe) || pe.Code != h.Code || Classify(err) != causes[h.Code] {
				t.Fatalf("%s: %v (cause %q), want a protocol error closing with %d, cause %q", h.Doc, err, Classify(err), h.Code, causes[h.Code])
			}
		})
	}
	// Every connection's close code reached the server.
	want := map[int]int64{}
	for _, name := range faultserver.FrameNames() {
		want[faultserver.Frames[name].Code]++
	}
	deadline := time.Now().Add(10 * time.Second)
	for code, n := range want {
		for srv.Stat(fmt.Sprintf("client_close_%d", code)) != n && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if got := srv.Stat(fmt.Sprintf("client_close_%d", code)); got != n {
			t.Errorf("server received %d closes with %d, want %d (%v)", got, code, n, srv.Stats())
		}
	}
}

// fillUntilBlocked writes large messages to a server that stopped reading
// until a write fails, and returns that error and how many writes
// succeeded.
func fillUntilBlocked(c *Conn) (int, error) {
	p := make([]byte, 256<<10)
	for i := range 1000 {
		if _, err := c.WriteMessage(ws.OpBinary, p); err != nil {
			return i, err
		}
	}
	return 1000, errors.New("1000 writes of 256 KiB to a server that does not read all succeeded")
}

// A server that stops reading makes a write block once the socket's
// buffers are full; the write timeout fails it, and the connection is
// broken for every later write.
func TestWriteTimeout(t *testing.T) {
	srv, err := faultserver.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	c := dial(t, srv.URL()+"/echo?fault=stop_reading", Options{})
	c.SetWriteTimeout(200 * time.Millisecond)
	n, err := fillUntilBlocked(c)
	if !errors.Is(err, ErrWriteTimeout) || Classify(err) != CauseWriteTimeout {
		t.Fatalf("after %d writes: %v (cause %q), want a write timeout", n, err, Classify(err))
	}
	if _, again := c.WriteMessage(ws.OpText, []byte("x")); !errors.Is(again, ErrWriteTimeout) {
		t.Fatalf("a write after the failed one: %v, want the same error at once", again)
	}
	if err := c.SendClose(1000, ""); !errors.Is(err, ErrWriteTimeout) {
		t.Fatalf("close frame after the failed write: %v, want the same error", err)
	}
}

// InterruptWrite cuts a blocked write short, whatever the write timeout.
func TestInterruptWrite(t *testing.T) {
	srv, err := faultserver.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	c := dial(t, srv.URL()+"/echo?fault=stop_reading", Options{})
	c.SetWriteTimeout(time.Hour)
	done := make(chan error, 1)
	go func() {
		_, err := fillUntilBlocked(c)
		done <- err
	}()
	// Interrupt once a write has been in progress for a while: blocked.
	deadline := time.Now().Add(time.Minute)
	for {
		if c.writing.Load() {
			time.Sleep(50 * time.Millisecond)
			if c.writing.Load() {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no write ever blocked")
		}
		time.Sleep(time.Millisecond)
	}
	c.InterruptWrite()
	select {
	case err := <-done:
		if !errors.Is(err, ErrInterrupted) || Classify(err) != CauseCanceled {
			t.Fatalf("interrupted write: %v (cause %q)", err, Classify(err))
		}
	case <-time.After(30 * time.Second):
		t.Fatal("InterruptWrite did not end the blocked write")
	}
}

// A connection quiet for longer than its write timeout still answers a
// ping and writes: the deadline its last write set has passed, and must
// not fail the next one (it did for the pong of a light connection,
// which every server ping a minute into a slow open loop then killed as
// "timeout").
func TestWriteAfterQuietLongerThanWriteTimeout(t *testing.T) {
	for _, kind := range readerKinds {
		t.Run(kind, func(t *testing.T) {
			const timeout = 50 * time.Millisecond
			url := server(t, func(c net.Conn) {
				if f, err := readFrame(c); err != nil || f.Header.OpCode != ws.OpText {
					return
				}
				time.Sleep(4 * timeout) // the client's write deadline passes
				ws.WriteFrame(c, ws.NewPingFrame([]byte("p")))
				for _, want := range []ws.OpCode{ws.OpPong, ws.OpText} {
					if f, err := readFrame(c); err != nil || f.Header.OpCode != want {
						ws.WriteFrame(c, ws.NewCloseFrame(ws.NewCloseFrameBody(4000, fmt.Sprintf("want %v, got %v (%v)", want, f.Header.OpCode, err))))
						return
					}
				}
				ws.WriteFrame(c, ws.NewTextFrame([]byte("both seen")))
				time.Sleep(100 * time.Millisecond)
			})
			c, read := dialReader(t, url, Options{}, kind)
			c.SetWriteTimeout(timeout)
			pinged := make(chan struct{})
			c.OnPing = func() { close(pinged) }
			if _, err := c.WriteMessage(ws.OpText, []byte("first")); err != nil {
				t.Fatal(err)
			}
			done := make(chan struct{})
			var msg Message
			var err error
			go func() { defer close(done); msg, err = read() }()
			select {
			case <-pinged:
			case <-done:
				t.Fatalf("ended before the ping: %q, %v", msg.Payload, err)
			case <-time.After(30 * time.Second):
				t.Fatal("no ping in 30 s")
			}
			if _, werr := c.WriteMessage(ws.OpText, []byte("second")); werr != nil {
				t.Fatalf("a write after the ping: %v", werr)
			}
			<-done
			if err != nil || string(msg.Payload) != "both seen" {
				t.Fatalf("got %q, %v: want the server to have seen the pong and the second message", msg.Payload, err)
			}
		})
	}
}
