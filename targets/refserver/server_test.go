package refserver

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

const testMaxSize = 64 << 10

func TestEchoFidelity(t *testing.T) {
	_, addr := startServer(t, Config{MaxMessageSize: testMaxSize})
	rng := rand.New(rand.NewPCG(1, 2))
	random := func(n int) []byte {
		p := make([]byte, n)
		for i := range p {
			p[i] = byte(rng.UintN(256))
		}
		return p
	}
	tests := []struct {
		name    string
		op      ws.OpCode
		payload []byte
	}{
		{
			name:    "empty text",
			op:      ws.OpText,
			payload: []byte{},
		},
		{
			name:    "ascii text",
			op:      ws.OpText,
			payload: []byte("wsb1:conn-7:42:1732240000123456789:xxxx"),
		},
		{
			name:    "multibyte text",
			op:      ws.OpText,
			payload: []byte("héllo, 世界 🎉"),
		},
		{
			name:    "empty binary",
			op:      ws.OpBinary,
			payload: []byte{},
		},
		{
			name:    "binary 125, longest 7-bit length",
			op:      ws.OpBinary,
			payload: random(125),
		},
		{
			name:    "binary 126, shortest 16-bit length",
			op:      ws.OpBinary,
			payload: random(126),
		},
		{
			name:    "binary 65535, longest 16-bit length",
			op:      ws.OpBinary,
			payload: random(65535),
		},
		{
			name:    "binary at the limit, 64-bit length",
			op:      ws.OpBinary,
			payload: random(testMaxSize),
		},
		{
			name:    "text at the limit",
			op:      ws.OpText,
			payload: bytes.Repeat([]byte("é"), testMaxSize/2),
		},
	}
	c := dial(t, addr, "/echo")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.send(t, tt.op, tt.payload)
			got, op := c.mustRecv(t)
			if op != tt.op {
				t.Errorf(
					"opcode = %v, want %v",
					op, tt.op)
			}
			if !bytes.Equal(got, tt.payload) {
				t.Errorf(
					"payload differs: got %d bytes, want %d",
					len(got), len(tt.payload))
			}
		})
	}
}

func TestEchoFragmentedWithInterleavedPing(t *testing.T) {
	_, addr := startServer(t, Config{MaxMessageSize: testMaxSize})
	c := dial(t, addr, "/echo")
	msg := []byte("fragmented €uro")
	cut := bytes.IndexRune(msg, '€') + 1 // split inside the rune
	c.sendFrame(t, ws.OpText, false, msg[:cut])
	c.sendFrame(t, ws.OpPing, true, []byte("mid"))
	c.sendFrame(t, ws.OpContinuation, false, msg[cut:cut+2])
	c.sendFrame(t, ws.OpContinuation, true, msg[cut+2:])

	pong := c.readFrame(t)
	if pong.Header.OpCode != ws.OpPong || string(pong.Payload) != "mid" {
		t.Fatalf(
			"first frame = %v %q, want pong \"mid\"",
			pong.Header.OpCode, pong.Payload)
	}
	echo := c.readFrame(t)
	if echo.Header.OpCode != ws.OpText || !echo.Header.Fin || !bytes.Equal(echo.Payload, msg) {
		t.Fatalf(
			"echo = %v fin=%v %q, want one text frame %q",
			echo.Header.OpCode, echo.Header.Fin, echo.Payload, msg)
	}
}

func TestPipelinedFrameAfterHandshake(t *testing.T) {
	_, addr := startServer(t, Config{})
	frame := ws.MustCompileFrame(ws.MaskFrame(ws.NewTextFrame([]byte("early"))))
	_, br := rawRequest(t, addr, upgradeRequest("/echo")+string(frame))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf(
			"read response: %v",
			err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf(
			"status = %d, want 101",
			resp.StatusCode)
	}
	f, err := readFrameFrom(br)
	if err != nil {
		t.Fatalf(
			"read frame: %v",
			err)
	}
	if f.Header.OpCode != ws.OpText || string(f.Payload) != "early" {
		t.Fatalf(
			"got %v %q, want text \"early\"",
			f.Header.OpCode, f.Payload)
	}
}

func TestCloseCodes(t *testing.T) {
	tests := []struct {
		name string
		send func(t *testing.T, c *client)
		want ws.StatusCode
	}{
		{
			name: "one byte over the limit",
			send: func(t *testing.T, c *client) { c.send(t, ws.OpBinary, make([]byte, testMaxSize+1)) },
			want: ws.StatusMessageTooBig,
		},
		{
			name: "far over the limit",
			send: func(t *testing.T, c *client) { c.send(t, ws.OpBinary, make([]byte, 16*testMaxSize)) },
			want: ws.StatusMessageTooBig,
		},
		{
			name: "fragments over the limit together",
			send: func(t *testing.T, c *client) {
				c.sendFrame(t, ws.OpBinary, false, make([]byte, testMaxSize/2+1))
				c.sendFrame(t, ws.OpContinuation, true, make([]byte, testMaxSize/2))
			},
			want: ws.StatusMessageTooBig,
		},
		{
			name: "invalid UTF-8",
			send: func(t *testing.T, c *client) { c.send(t, ws.OpText, []byte("ok\xff\xfe")) },
			want: ws.StatusInvalidFramePayloadData,
		},
		{
			name: "truncated rune at the end of a fragmented text",
			send: func(t *testing.T, c *client) {
				c.sendFrame(t, ws.OpText, false, []byte("ok"))
				c.sendFrame(t, ws.OpContinuation, true, []byte("\xc3"))
			},
			want: ws.StatusInvalidFramePayloadData,
		},
		{
			name: "unmasked frame",
			send: func(t *testing.T, c *client) {
				err := ws.WriteFrame(c, ws.NewTextFrame([]byte("bare")))
				if err != nil {
					t.Fatal(err)
				}
			},
			want: ws.StatusProtocolError,
		},
		{
			name: "client close 1000 echoed",
			send: func(t *testing.T, c *client) {
				c.sendFrame(t, ws.OpClose, true, ws.NewCloseFrameBody(ws.StatusNormalClosure, ""))
			},
			want: ws.StatusNormalClosure,
		},
		{
			name: "client close 4000 echoed",
			send: func(t *testing.T, c *client) {
				c.sendFrame(t, ws.OpClose, true, ws.NewCloseFrameBody(4000, "bye"))
			},
			want: 4000,
		},
		{
			name: "empty client close answered empty",
			send: func(t *testing.T, c *client) { c.sendFrame(t, ws.OpClose, true, nil) },
			want: 0,
		},
		{
			name: "reserved close code 1005",
			send: func(t *testing.T, c *client) {
				c.sendFrame(t, ws.OpClose, true, ws.NewCloseFrameBody(ws.StatusNoStatusRcvd, ""))
			},
			want: ws.StatusProtocolError,
		},
	}
	_, addr := startServer(t, Config{MaxMessageSize: testMaxSize, CloseTimeout: 2 * time.Second})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dial(t, addr, "/echo")
			done := make(chan struct{})
			go func() {
				defer close(done)
				tt.send(t, c)
			}()
			got := c.closeCode(t)
			<-done
			if got != tt.want {
				t.Errorf(
					"close code = %d, want %d",
					got, tt.want)
			}
			// Answer, then the server closes TCP.
			c.sendFrame(t, ws.OpClose, true, ws.NewCloseFrameBody(got, ""))
			_, err := io.Copy(io.Discard, c)
			if err != nil {
				t.Errorf(
					"after close: %v, want EOF",
					err)
			}
		})
	}
}

func TestPingAnswered(t *testing.T) {
	_, addr := startServer(t, Config{})
	c := dial(t, addr, "/push?rate=1&count=1")
	c.mustRecv(t) // push message 0
	c.sendFrame(t, ws.OpPing, true, []byte("hello"))
	f := c.readFrame(t)
	if f.Header.OpCode != ws.OpPong || string(f.Payload) != "hello" {
		t.Fatalf(
			"got %v %q, want pong \"hello\"",
			f.Header.OpCode, f.Payload)
	}
}

func TestBroadcast(t *testing.T) {
	const (
		members = 4
		senders = 3
		perSend = 200
	)
	_, addr := startServer(t, Config{})
	room := make([]*client, members)
	for i := range room {
		room[i] = dial(t, addr, "/broadcast?room=r1")
	}
	other := dial(t, addr, "/broadcast?room=r2")

	got := make([][]string, members)
	var wg sync.WaitGroup
	for i, c := range room {
		wg.Go(func() {
			for range senders * perSend {
				p, op, err := c.recv()
				if err != nil {
					t.Errorf(
						"member %d: %v",
						i, err)
					return
				}
				var seq int
				_, err = fmt.Sscanf(string(p[2:]), "%d", &seq)
				if err != nil {
					t.Errorf(
						"member %d: bad message %q",
						i, p)
					return
				}
				if want := []ws.OpCode{ws.OpText, ws.OpBinary}[seq%2]; op != want {
					t.Errorf(
						"member %d: %q has opcode %v, want %v",
						i, p, op, want)
				}
				got[i] = append(got[i], string(p))
			}
		})
	}
	for s := range senders {
		wg.Go(func() {
			for seq := range perSend {
				op := []ws.OpCode{ws.OpText, ws.OpBinary}[seq%2]
				room[s].send(t, op, fmt.Appendf(nil, "%d:%d", s, seq))
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}

	// Every member saw the same sequence, with each sender's messages
	// complete and in order.
	for i := 1; i < members; i++ {
		if strings.Join(got[i], ",") != strings.Join(got[0], ",") {
			t.Errorf("member %d saw a different order than member 0", i)
		}
	}
	next := make([]int, senders)
	for _, m := range got[0] {
		var s, seq int
		fmt.Sscanf(m, "%d:%d", &s, &seq)
		if seq != next[s] {
			t.Fatalf(
				"sender %d: got seq %d, want %d",
				s, seq, next[s])
		}
		next[s]++
	}

	// Room r2 received none of it: its first message is its own.
	other.send(t, ws.OpText, []byte("r2 only"))
	if p, _ := other.mustRecv(t); string(p) != "r2 only" {
		t.Errorf(
			"room r2 got %q, want its own message",
			p)
	}
	st := httpStats(t, addr)
	if st.MessagesIn != senders*perSend+1 || st.MessagesOut != members*senders*perSend+1 {
		t.Errorf(
			"stats in/out = %d/%d, want %d/%d",
			st.MessagesIn, st.MessagesOut, senders*perSend+1, members*senders*perSend+1)
	}
}

func TestBroadcastSlowMemberClosed(t *testing.T) {
	const msgs = 600
	s, addr := startServer(t, Config{SendQueue: 8, CloseTimeout: 200 * time.Millisecond})
	sender := dial(t, addr, "/broadcast?room=slow")
	slow := dial(t, addr, "/broadcast?room=slow")
	payload := make([]byte, 32<<10)

	// The sender reads its own copies with a window of 4, so it never falls
	// behind itself; the other member never reads.
	const window = 4
	for i := range msgs + window {
		if i < msgs {
			binary.BigEndian.PutUint32(payload, uint32(i))
			sender.send(t, ws.OpBinary, payload)
		}
		if i >= window {
			_, _, err := sender.recv()
			if err != nil {
				t.Fatalf(
					"healthy member: %v",
					err)
			}
		}
	}

	// The slow member gets a gapless prefix, then the connection ends.
	waitFor(t, "the slow member to be dropped", func() bool { return s.Stats().ConnectionsOpen == 1 })
	n := 0
	for ; n <= msgs; n++ {
		p, _, err := slow.recv()
		if err != nil {
			break
		}
		if got := binary.BigEndian.Uint32(p); got != uint32(n) {
			t.Fatalf(
				"slow member: message %d has seq %d",
				n, got)
		}
	}
	if n >= msgs {
		t.Fatalf(
			"slow member received all %d messages; want it dropped",
			n)
	}
}

// pushMsg is the /push message format.
type pushMsg struct {
	Seq  int64  `json:"seq"`
	TsNs int64  `json:"ts_ns"`
	Pad  string `json:"pad"`
}

func TestPush(t *testing.T) {
	tests := []struct {
		name     string
		query    string
		count    int
		size     int // exact payload size; 0: the minimum for the message
		minTotal time.Duration
	}{
		{
			name:     "schedule",
			query:    "rate=1000&size=100&count=100",
			count:    100,
			size:     100,
			minTotal: 99 * time.Millisecond, // message 99 is due 99ms after the upgrade
		},
		{
			name:  "below the minimum size",
			query: "rate=100000&size=10&count=20",
			count: 20,
		},
		{
			name:  "large messages",
			query: "rate=100000&size=70000&count=5",
			count: 5,
			size:  70000,
		},
		{
			name:     "defaults",
			query:    "count=3",
			count:    3,
			size:     64,
			minTotal: 200 * time.Millisecond,
		},
	}
	_, addr := startServer(t, Config{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			c := dial(t, addr, "/push?"+tt.query)
			for i := range tt.count {
				p, op := c.mustRecv(t)
				after := time.Now()
				if op != ws.OpText {
					t.Fatalf(
						"message %d: opcode %v",
						i, op)
				}
				var m pushMsg
				err := json.Unmarshal(p, &m)
				if err != nil || !bytes.HasPrefix(p, fmt.Appendf(nil, `{"seq":%d,"ts_ns":%d,"pad":"`, m.Seq, m.TsNs)) {
					t.Fatalf(
						"message %d: %q is not the push format (%v)",
						i, p, err)
				}
				if m.Seq != int64(i) {
					t.Fatalf(
						"message %d: seq %d",
						i, m.Seq)
				}
				if strings.Trim(m.Pad, "x") != "" {
					t.Fatalf(
						"message %d: pad %q",
						i, m.Pad)
				}
				switch {
				case tt.size > 0 && len(p) != tt.size:
					t.Fatalf(
						"message %d: %d bytes, want %d",
						i, len(p), tt.size)
				case tt.size == 0 && m.Pad != "":
					t.Fatalf(
						"message %d: padded to %d bytes though the minimum is above the size",
						i, len(p))
				}
				if m.TsNs < start.UnixNano() || m.TsNs > after.UnixNano() {
					t.Fatalf(
						"message %d: ts_ns %d outside [%d, %d]",
						i, m.TsNs, start.UnixNano(), after.UnixNano())
				}
			}
			if total := time.Since(start); total < tt.minTotal {
				t.Errorf(
					"%d messages took %v, faster than the schedule allows (%v)",
					tt.count, total, tt.minTotal)
			}
			// count reached: nothing more.
			c.nc.SetReadDeadline(time.Now().Add(150 * time.Millisecond))
			p, _, err := c.recv()
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				t.Errorf(
					"after count: got %q, %v; want a read timeout",
					p, err)
			}
		})
	}
}

func TestPushRate(t *testing.T) {
	const rate = 200
	_, addr := startServer(t, Config{})
	start := time.Now()
	c := dial(t, addr, fmt.Sprintf("/push?rate=%d&size=32", rate))
	c.nc.SetReadDeadline(time.Now().Add(time.Second))
	n := 0
	for ; n < 10*rate; n++ {
		_, _, err := c.recv()
		if err != nil {
			break
		}
	}
	elapsed := time.Since(start)
	// The absolute schedule caps the count exactly; the floor is generous so
	// a slow machine passes.
	if hi := int(float64(rate)*elapsed.Seconds()) + 1; n > hi {
		t.Errorf(
			"got %d messages in %v, more than the schedule allows (%d)",
			n, elapsed, hi)
	}
	if n < rate/4 {
		t.Errorf(
			"got %d messages in %v at rate %d",
			n, elapsed, rate)
	}
}

func TestPushBadParams(t *testing.T) {
	_, addr := startServer(t, Config{MaxMessageSize: testMaxSize})
	for _, q := range []string{
		"rate=0",
		"rate=-5",
		"rate=100001",
		"rate=abc",
		"rate=NaN",
		"size=-1",
		fmt.Sprintf("size=%d", testMaxSize+1),
		"count=-1",
		"count=1.5",
	} {
		t.Run(q, func(t *testing.T) {
			_, err := dialErr(t, addr, "/push?"+q)
			var se ws.StatusError
			if !errors.As(err, &se) || int(se) != http.StatusBadRequest {
				t.Errorf(
					"dial error = %v, want HTTP 400",
					err)
			}
		})
	}
}

func TestHeartbeat(t *testing.T) {
	const (
		interval = 50 * time.Millisecond
		timeout  = 100 * time.Millisecond
	)
	t.Run("silent client gets 1011", func(t *testing.T) {
		_, addr := startServer(t, Config{PingInterval: interval, PingTimeout: timeout})
		start := time.Now()
		c := dial(t, addr, "/echo")
		pings := 0
		var code ws.StatusCode
		for code == 0 {
			f := c.readFrame(t)
			switch f.Header.OpCode {
			case ws.OpPing:
				pings++
			case ws.OpClose:
				code, _ = ws.ParseCloseFrameData(f.Payload)
			default:
				t.Fatalf(
					"unexpected %v frame",
					f.Header.OpCode)
			}
		}
		elapsed := time.Since(start)
		if code != ws.StatusInternalServerError {
			t.Errorf(
				"close code = %d, want 1011",
				code)
		}
		if pings == 0 || elapsed < interval+timeout || elapsed > 5*time.Second {
			t.Errorf(
				"closed after %v and %d pings; want at least one ping and >= %v",
				elapsed, pings, interval+timeout)
		}
	})

	t.Run("answering client stays", func(t *testing.T) {
		// Its own server with a longer timeout: the client answers at
		// once from a reader goroutine, so only a scheduling stall of
		// half a second on a loaded machine could fail it, and it stays
		// for many timeouts' worth of pings, so a server that ignored
		// pongs would have closed it.
		const (
			timeout = 500 * time.Millisecond
			pings   = 3 * int(timeout/interval)
		)
		_, addr := startServer(t, Config{PingInterval: interval, PingTimeout: timeout})
		c := dial(t, addr, "/echo")
		c.nc.SetDeadline(time.Time{})
		var answered atomic.Int32
		done := make(chan error, 1)
		go func() {
			for {
				f, err := readFrameFrom(c)
				if err != nil {
					done <- err
					return
				}
				switch f.Header.OpCode {
				case ws.OpPing:
					pong := ws.MaskFrame(ws.NewPongFrame(f.Payload))
					if err := ws.WriteFrame(c, pong); err != nil {
						done <- err
						return
					}
					answered.Add(1)
				case ws.OpClose:
					code, _ := ws.ParseCloseFrameData(f.Payload)
					done <- fmt.Errorf("closed with %d after %d pings", code, answered.Load())
					return
				}
			}
		}()
		deadline := time.Now().Add(30 * time.Second)
		for int(answered.Load()) < pings && time.Now().Before(deadline) {
			select {
			case err := <-done:
				t.Fatalf(
					"answering client: %v",
					err)
			case <-time.After(10 * time.Millisecond):
			}
		}
		if n := int(answered.Load()); n < pings {
			t.Fatalf(
				"answered %d pings in 30s, want %d",
				n, pings)
		}
		c.nc.Close()
	})
}

func TestProcessDelay(t *testing.T) {
	const delay = 40 * time.Millisecond
	_, addr := startServer(t, Config{ProcessDelay: delay})
	tests := []struct {
		name string
		path string
	}{
		{
			name: "echo",
			path: "/echo",
		},
		{
			name: "broadcast",
			path: "/broadcast?room=delay",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dial(t, addr, tt.path)
			for range 3 {
				start := time.Now()
				c.send(t, ws.OpText, []byte("x"))
				c.mustRecv(t)
				if rtt := time.Since(start); rtt < delay || rtt > delay+2*time.Second {
					t.Errorf(
						"round trip %v, want >= %v",
						rtt, delay)
				}
			}
			// The delay overlaps between messages: 20 at once take about
			// one delay, not twenty.
			const burst = 20
			start := time.Now()
			for i := range burst {
				c.send(t, ws.OpBinary, []byte{byte(i)})
			}
			for i := range burst {
				p, _ := c.mustRecv(t)
				if p[0] != byte(i) {
					t.Fatalf(
						"reply %d is message %d",
						i, p[0])
				}
			}
			if total := time.Since(start); total < delay || total >= burst*delay {
				t.Errorf(
					"%d messages took %v, want in [%v, %v)",
					burst, total, delay, burst*delay)
			}
		})
	}
}

func TestServiceTime(t *testing.T) {
	const (
		service = 10 * time.Millisecond
		conns   = 3
		each    = 10
	)
	_, addr := startServer(t, Config{ServiceTime: service})
	cs := make([]*client, conns)
	for i := range cs {
		cs[i] = dial(t, addr, "/echo")
	}
	start := time.Now()
	for _, c := range cs {
		for i := range each {
			c.send(t, ws.OpBinary, []byte{byte(i)})
		}
	}
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Go(func() {
			for i := range each {
				p, _, err := c.recv()
				if err != nil || p[0] != byte(i) {
					t.Errorf(
						"reply %d: %v %v",
						i, p, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if total, min := time.Since(start), conns*each*service; total < min {
		t.Errorf(
			"%d messages served in %v, faster than capacity allows (%v)",
			conns*each, total, min)
	}
}

func TestMaxConns(t *testing.T) {
	s, addr := startServer(t, Config{MaxConns: 2})
	a := dial(t, addr, "/echo")
	dial(t, addr, "/push?rate=1")
	_, err := dialErr(t, addr, "/broadcast")
	var se ws.StatusError
	if !errors.As(err, &se) || int(se) != http.StatusServiceUnavailable {
		t.Fatalf(
			"third dial error = %v, want HTTP 503",
			err)
	}
	if code, body := httpGet(t, addr, "/healthz"); code != http.StatusOK || body != "ok" {
		t.Errorf(
			"/healthz at the cap = %d %q",
			code, body)
	}
	a.nc.Close()
	waitFor(t, "a free slot", func() bool { return s.Stats().ConnectionsOpen == 1 })
	dial(t, addr, "/echo")
}

func TestDropEvery(t *testing.T) {
	const (
		members = 3
		msgs    = 50
		every   = 7
	)
	s, addr := startServer(t, Config{DropEvery: every})
	cs := make([]*client, members)
	for i := range cs {
		cs[i] = dial(t, addr, "/broadcast?room=drop")
	}
	for i := range msgs {
		cs[0].send(t, ws.OpBinary, []byte{byte(i)})
	}
	const delivered = msgs*members - msgs*members/every
	waitFor(t, "all deliveries", func() bool { return s.Stats().MessagesOut == delivered })

	total := 0
	for i, c := range cs {
		c.nc.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		last := -1
		for {
			p, _, err := c.recv()
			if err != nil {
				break
			}
			if int(p[0]) <= last {
				t.Errorf(
					"member %d: message %d after %d",
					i, p[0], last)
			}
			last = int(p[0])
			total++
		}
	}
	st := s.Stats()
	if total != delivered || st.Dropped != msgs*members/every {
		t.Errorf(
			"received %d, dropped %d; want %d and %d",
			total, st.Dropped, delivered, msgs*members/every)
	}
}

func TestShutdown(t *testing.T) {
	t.Run("1001 to every connection", func(t *testing.T) {
		s := New(Config{CloseTimeout: 2 * time.Second, Logf: t.Logf})
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		served := make(chan error, 1)
		go func() { served <- s.Serve(ln) }()
		addr := ln.Addr().String()
		cs := []*client{
			dial(t, addr, "/echo"),
			dial(t, addr, "/broadcast"),
			dial(t, addr, "/broadcast"),
			dial(t, addr, "/push?rate=1000"),
		}
		codes := make([]ws.StatusCode, len(cs))
		var wg sync.WaitGroup
		for i, c := range cs {
			wg.Go(func() {
				for range 1 << 20 {
					_, _, err := c.recv() // answers the close
					if err != nil {
						codes[i], _ = closedWith(err)
						return
					}
				}
			})
		}
		time.Sleep(50 * time.Millisecond)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err = s.Shutdown(ctx)
		if err != nil {
			t.Errorf(
				"Shutdown: %v",
				err)
		}
		wg.Wait()
		for i, code := range codes {
			if code != ws.StatusGoingAway {
				t.Errorf(
					"connection %d: close code %d, want 1001",
					i, code)
			}
		}
		if err := <-served; err != nil {
			t.Errorf(
				"Serve returned %v, want nil",
				err)
		}
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf(
				"second Shutdown: %v",
				err)
		}
		checkNoLeaks(t)
		if _, err := dialErr(t, addr, "/echo"); err == nil {
			t.Errorf("dial after Shutdown succeeded")
		}
	})

	t.Run("unresponsive client bounded by CloseTimeout", func(t *testing.T) {
		const closeTimeout = 200 * time.Millisecond
		s := New(Config{CloseTimeout: closeTimeout, Logf: t.Logf})
		addr, err := s.Start("127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		dial(t, addr, "/echo") // never reads, never answers
		start := time.Now()
		err = s.Shutdown(context.Background())
		if d := time.Since(start); err != nil || d < closeTimeout || d > 3*time.Second {
			t.Errorf(
				"Shutdown = %v after %v, want nil after about %v",
				err, d, closeTimeout)
		}
		checkNoLeaks(t)
	})

	t.Run("context expiry closes connections", func(t *testing.T) {
		s := New(Config{CloseTimeout: time.Minute, Logf: t.Logf})
		addr, err := s.Start("127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		dial(t, addr, "/broadcast")
		dial(t, addr, "/push?rate=10")
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		err = s.Shutdown(ctx)
		if d := time.Since(start); !errors.Is(err, context.DeadlineExceeded) || d > 3*time.Second {
			t.Errorf(
				"Shutdown = %v after %v, want DeadlineExceeded after about 100ms",
				err, d)
		}
		checkNoLeaks(t)
	})

	t.Run("before Serve", func(t *testing.T) {
		s := New(Config{ServiceTime: time.Millisecond})
		err := s.Shutdown(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Serve(ln); err != nil {
			t.Errorf(
				"Serve after Shutdown = %v, want nil",
				err)
		}
		checkNoLeaks(t)
	})
}

func TestStatsAndHTTP(t *testing.T) {
	const (
		conns = 2
		msgs  = 10
		size  = 100
	)
	s, addr := startServer(t, Config{})
	if code, body := httpGet(t, addr, "/healthz"); code != http.StatusOK || body != "ok" {
		t.Errorf(
			"/healthz = %d %q, want 200 \"ok\"",
			code, body)
	}
	if code, _ := httpGet(t, addr, "/nope"); code != http.StatusNotFound {
		t.Errorf(
			"/nope = %d, want 404",
			code)
	}
	if code, _ := httpGet(t, addr, "/echo"); code != http.StatusBadRequest {
		t.Errorf(
			"plain GET /echo = %d, want 400",
			code)
	}
	_, br := rawRequest(t, addr, "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusBadRequest || !resp.Close {
		t.Errorf(
			"rejected upgrade: status %d, Connection: close %v; want 400 and close",
			resp.StatusCode, resp.Close)
	}
	resp, err = http.Post("http://"+addr+"/stats", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf(
			"POST /stats = %d, want 405",
			resp.StatusCode)
	}

	cs := make([]*client, conns)
	for i := range cs {
		cs[i] = dial(t, addr, "/echo")
		for range msgs {
			cs[i].send(t, ws.OpBinary, make([]byte, size))
			cs[i].mustRecv(t)
		}
	}
	want := Stats{
		ConnectionsTotal: conns,
		ConnectionsOpen:  conns,
		MessagesIn:       conns * msgs,
		MessagesOut:      conns * msgs,
		BytesIn:          conns * msgs * size,
		BytesOut:         conns * msgs * size,
	}
	if got := httpStats(t, addr); got != want {
		t.Errorf(
			"/stats = %+v, want %+v",
			got, want)
	}
	for _, c := range cs {
		c.nc.Close()
	}
	want.ConnectionsOpen = 0
	waitFor(t, "connections to close", func() bool { return s.Stats() == want })
}

func TestRequestHeadTooLarge(t *testing.T) {
	_, addr := startServer(t, Config{})
	_, br := rawRequest(t, addr, "GET /healthz HTTP/1.1\r\nX-Long: "+strings.Repeat("a", 2*readBufferSize)+"\r\n\r\n")
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf(
			"status = %d, want 431",
			resp.StatusCode)
	}
}

func TestAppendPushSize(t *testing.T) {
	pad := bytes.Repeat([]byte("x"), 200)
	for _, tt := range []struct {
		seq  int64
		size int
	}{
		{seq: 0, size: 200},
		{seq: 123456789, size: 200},
		{seq: 0, size: 0},
	} {
		frame, n := appendPush(nil, tt.seq, 1732240000123456789, tt.size, pad)
		payload := frame[headerLen(n):]
		if len(payload) != n || tt.size > 0 && n != tt.size {
			t.Errorf(
				"seq %d size %d: payload %d bytes, n=%d",
				tt.seq, tt.size, len(payload), n)
		}
		var m pushMsg
		err := json.Unmarshal(payload, &m)
		if err != nil || m.Seq != tt.seq {
			t.Errorf(
				"seq %d: %q: %v",
				tt.seq, payload, err)
		}
	}
}

// TestBroadcastDuringHandshake: a member joins its room before its 101
// goes out, so a message sent to the room meanwhile is queued on it. The
// member must still get a clean handshake, then that message. (Seen as
// "malformed HTTP response" on a busy room before the queue waited.)
func TestBroadcastDuringHandshake(t *testing.T) {
	s, addr := startServer(t, Config{})
	sender := dial(t, addr, "/broadcast?room=busy")
	var once sync.Once
	s.afterJoin = func(c *conn) {
		once.Do(func() {
			// The joining member is in the room now: deliver a message to
			// it, as the sender's would be, before the Upgrader writes the 101.
			s.broadcast(c.room, newFrame(ws.OpText, []byte("meanwhile")), int64(len("meanwhile")), -1)
		})
	}
	late, err := dialErr(t, addr, "/broadcast?room=busy")
	if err != nil {
		t.Fatalf("handshake with a broadcast in the middle: %v", err)
	}
	if p, _ := late.mustRecv(t); string(p) != "meanwhile" {
		t.Fatalf("the joining member got %q first, want the message sent during its handshake", p)
	}
	// The sender, a member already, got it too.
	if p, _ := sender.mustRecv(t); string(p) != "meanwhile" {
		t.Fatalf("sender got %q", p)
	}
}
