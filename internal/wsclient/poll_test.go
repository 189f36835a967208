package wsclient

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/wsbench/wsbench/internal/netpoll"
	"github.com/wsbench/wsbench/targets/refserver"
)

// readerKinds are the two ways a connection is read: a goroutine blocked
// in ReadMessage, and ReadReady driven by a reactor (Options.Poll). Both
// must see the same messages and end a connection the same way.
var readerKinds = []string{"ReadMessage", "ReadReady"}

// polled is a connection read with ReadReady from a real reactor, as the
// engine reads light connections.
type polled struct {
	c     *Conn
	p     *netpoll.Poller
	d     *netpoll.Desc
	start sync.Once
	got   chan polledResult
	clock time.Time
}

type polledResult struct {
	msg Message
	err error
}

func (p *polled) Now() int64 { return int64(time.Since(p.clock)) }

func (p *polled) Message(m Message, at int64) {
	if at <= 0 {
		panic("a message without its read time")
	}
	m.Payload = append([]byte(nil), m.Payload...) // valid only during the call
	p.got <- polledResult{msg: m}
}

func (p *polled) Ready() bool {
	err := p.c.ReadReady(p)
	if err == nil {
		return true
	}
	_ = p.d.Close()
	p.got <- polledResult{err: err}
	return false
}

// dialReader dials url and returns the connection and a function that
// reads its next message the given way. ReadReady starts on the first
// read, so callbacks can be set before it.
func dialReader(t *testing.T, url string, o Options, kind string) (*Conn, func() (Message, error)) {
	t.Helper()
	if kind == "ReadMessage" {
		c := dial(t, url, o)
		return c, c.ReadMessage
	}
	o.Poll = true
	c := dial(t, url, o)
	rc, ok := c.PollConn()
	if !ok {
		t.Fatal("a ws:// connection dialed with Poll has no socket to poll")
	}
	if c.br != nil && c.Pending() == false {
		t.Fatal("the dialer's reader is kept without bytes in it")
	}
	pl, err := netpoll.New(netpoll.Config{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pl.Close() })
	p := &polled{c: c, p: pl, got: make(chan polledResult, 1024), clock: time.Now()}
	return c, func() (Message, error) {
		p.start.Do(func() {
			d, err := pl.Register(rc, p)
			if err != nil {
				t.Fatal(err)
			}
			p.d = d
			if err := d.Resume(); err != nil {
				t.Fatal(err)
			}
			if c.Pending() {
				d.Kick()
			}
		})
		select {
		case r := <-p.got:
			return r.msg, r.err
		case <-time.After(30 * time.Second):
			t.Fatal("no message and no end in 30 s")
			return Message{}, nil
		}
	}
}

// TestWriteSoonDoesNotWaitForABlockedWriter: a ping from a shared timer
// (WritePingSoon) returns at once while another write holds the
// connection (here the test holds its write lock, as a write blocked on a
// server that stopped reading would), and CloseAfterWrites leaves the
// socket's close to that ping's goroutine, which closes it once the ping
// is out.
func TestWriteSoonDoesNotWaitForABlockedWriter(t *testing.T) {
	pinged := make(chan struct{}, 1)
	url := server(t, func(c net.Conn) {
		for {
			f, err := readFrame(c)
			if err != nil {
				return
			}
			if f.Header.OpCode == ws.OpPing {
				pinged <- struct{}{}
			}
		}
	})
	c := dial(t, url, Options{Poll: true})
	rc, _ := c.PollConn()
	c.wmu.Lock() // a write in progress
	if err := c.WritePingSoon([]byte("p")); err != nil {
		t.Fatal(err)
	}
	if n := c.later.Load(); n != 1 {
		t.Fatalf("%d writes handed to goroutines, want the ping", n)
	}
	if err := c.CloseAfterWrites(); err != nil {
		t.Fatal(err)
	}
	if err := rc.Control(func(uintptr) {}); err != nil {
		t.Fatalf("the socket was closed under the pending ping: %v", err)
	}
	c.wmu.Unlock() // the write is done: the ping goes out, then the socket closes
	select {
	case <-pinged:
	case <-time.After(30 * time.Second):
		t.Fatal("the ping did not reach the server")
	}
	deadline := time.Now().Add(30 * time.Second)
	for rc.Control(func(uintptr) {}) == nil {
		if time.Now().After(deadline) {
			t.Fatal("the socket was never closed")
		}
		time.Sleep(time.Millisecond)
	}
}

// BenchmarkEchoRoundTripPolled is BenchmarkEchoRoundTrip with the reply
// read by ReadReady from a reactor instead of a goroutine in ReadMessage:
// the difference is what a light connection's reads cost a closed loop.
func BenchmarkEchoRoundTripPolled(b *testing.B) {
	srv := refserver.New(refserver.Config{})
	addr, err := srv.Start("127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Shutdown(context.Background())
	c, _, err := Dial(context.Background(), "ws://"+addr+"/echo", Options{Poll: true})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	pl, err := netpoll.New(netpoll.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer pl.Close()
	got := make(chan struct{}, 1)
	h := &benchReader{c: c, got: got}
	rc, _ := c.PollConn()
	d, err := pl.Register(rc, h)
	if err != nil {
		b.Fatal(err)
	}
	if err := d.Resume(); err != nil {
		b.Fatal(err)
	}
	p := make([]byte, 64)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := c.WriteMessage(ws.OpBinary, p); err != nil {
			b.Fatal(err)
		}
		<-got
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

type benchReader struct {
	c   *Conn
	got chan struct{}
}

func (h *benchReader) Now() int64             { return 1 }
func (h *benchReader) Message(Message, int64) { h.got <- struct{}{} }
func (h *benchReader) Ready() bool            { return h.c.ReadReady(h) == nil }
