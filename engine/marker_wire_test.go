package engine

import (
	"bytes"
	"context"
	"net"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// manglingServer echoes every message with its marker's metric ID
// replaced by a huge one, as a buggy or hostile server might.
func manglingServer(t *testing.T) string {
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
				if _, err := ws.Upgrade(c); err != nil {
					return
				}
				for {
					msg, op, err := wsutil.ReadClientData(c)
					if err != nil {
						return
					}
					if rest, ok := bytes.CutPrefix(msg, []byte("wsb2:e")); ok {
						if i := bytes.IndexByte(rest, ':'); i >= 0 {
							msg = append([]byte("wsb2:e9999999"), rest[i:]...)
						}
					}
					if err := wsutil.WriteServerMessage(c, op, msg); err != nil {
						return
					}
				}
			}()
		}
	}()
	return "ws://" + ln.Addr().String()
}

// TestEchoWithForeignMetricID: an echo whose marker names a metric the run
// does not have is not a latency sample (and must not crash the run); the
// echo it should have answered is missing.
func TestEchoWithForeignMetricID(t *testing.T) {
	t.Parallel()
	sc := mustScenario(t, "target: "+manglingServer(t)+"\nclients: 1\nduration: 500ms\nmessage: {rate: 20}\nclient: {drain: 200ms}\n")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rep, err := Run(ctx, sc, Options{Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	c := rep.Counters
	if c.MessagesReceived == 0 || rep.Metrics["rtt"].Count != 0 || c.RepliesMissing != c.MessagesSent {
		t.Fatalf("received %d, rtt samples %d, replies missing %d of %d sent", c.MessagesReceived, rep.Metrics["rtt"].Count, c.RepliesMissing, c.MessagesSent)
	}
}
