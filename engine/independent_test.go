package engine

import (
	"context"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// delayEcho is an echo server written independently of the reference
// server (net/http upgrade, wsutil helpers, one goroutine per connection)
// that holds every reply for a fixed delay and counts what it received: a
// second opinion on what wsbench measures.
type delayEcho struct {
	delay    time.Duration
	received atomic.Int64
}

func (d *delayEcho) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	conn, _, _, err := ws.UpgradeHTTP(r, w)
	if err != nil {
		return
	}
	defer conn.Close()
	for {
		msg, op, err := wsutil.ReadClientData(conn)
		if err != nil {
			return
		}
		d.received.Add(1)
		time.Sleep(d.delay)
		if err := wsutil.WriteServerMessage(conn, op, msg); err != nil {
			return
		}
	}
}

func TestIndependentDelayedEchoServer(t *testing.T) {
	const delay = 10 * time.Millisecond
	srv := &delayEcho{delay: delay}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: srv}
	go hs.Serve(ln)
	defer hs.Close()

	sc := mustScenario(t, `
name: independent
target: ws://`+ln.Addr().String()+`
clients: 10
duration: 3s
message: {size: 64, rate: 20}
`)
	rep, err := Run(context.Background(), sc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	m := rep.Metrics["rtt"]
	c := rep.Counters
	if rep.Generator.IncludesTarget {
		t.Error("an external target is reported as sharing the generator's process")
	}
	t.Logf("p50 %dus p90 %dus p99 %dus min %dus; client received %d, server received %d",
		m.P50US, m.P90US, m.P99US, m.MinUS, c.MessagesReceived, srv.received.Load())
	if c.MessagesReceived != srv.received.Load() || c.MessagesSent != c.MessagesReceived {
		t.Fatalf("client sent %d received %d, server received %d", c.MessagesSent, c.MessagesReceived, srv.received.Load())
	}
	// The lower bound is exact: no reply can beat the server's delay.
	// How far above it the round trips land depends on how busy the
	// machine is, so it is a benchmark's figure (scripts/bench accuracy),
	// not a test's.
	if m.MinUS < delay.Microseconds() {
		t.Fatalf("min %dus is below the server's delay", m.MinUS)
	}
}
