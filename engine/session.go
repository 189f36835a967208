package engine

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"

	"github.com/wsbench/wsbench/internal/netpoll"
	"github.com/wsbench/wsbench/internal/pacer"
	"github.com/wsbench/wsbench/internal/shard"
	"github.com/wsbench/wsbench/internal/wsclient"
	"github.com/wsbench/wsbench/scenario"
)

// Causes the engine itself assigns (wsclient.Classify names the network ones).
const (
	causeExpectTimeout = "expect_timeout"
	causeReplyTimeout  = "reply_timeout"
	causePongTimeout   = "pong_timeout"
	causeNotConnected  = "not_connected"
	causeReconnect     = "reconnect_failed"
)

var errStopped = errors.New("session stopped")

// stepError attributes an error to the step it happened in.
type stepError struct {
	st  *step
	err error
}

func (e *stepError) Error() string { return e.st.label + ": " + e.err.Error() }
func (e *stepError) Unwrap() error { return e.err }

// timeoutError is a wait that ran out, with the cause to count it under.
type timeoutError struct{ cause string }

func (e *timeoutError) Error() string { return strings.ReplaceAll(e.cause, "_", " ") }

func classify(err error) string {
	var te *timeoutError
	if errors.As(err, &te) {
		return te.cause
	}
	return wsclient.Classify(err)
}

// session runs one flow once (plus its reconnects) for one client.
//
// Its state is all here, not on a goroutine's stack: where it is in its
// life (phase), in its flow (a program counter per frame of the stack of
// loops) and in the step it is running (sp). So a session can stop at a
// wait (park) and be resumed later by whoever wakes it, on any goroutine;
// a parked session holds no goroutine. See driver.go.
type session struct {
	r           *runner
	id          int64
	client      int64
	iter        int64
	flow        *flow
	shard       *shard.Shard
	rng         *rand.Rand
	vars        map[string]string // nil until the flow has variables or captures one
	seq         int64
	c           *conn // the open connection; owned by whoever drives the session
	buf         []byte
	lastConnect *step
	waiter      *pacer.Waiter   // made on the first scheduled send
	rows        []int           // the row of each data source the flow uses
	dataErr     error           // no row left: the session fails at once
	parent      context.Context // the run's load: done when every session must stop

	// The session's own context (see context), and its stop.
	stopped atomic.Bool
	ctxMu   sync.Mutex
	ctx     context.Context // nil until a step that waits by blocking needs it
	cancel  context.CancelFunc

	// Where the session is; see driver.go.
	phase   phase
	stack   []frame    // the flow's frames: the top level, then one per loop being run
	sp      stepState  // the running step's resumable state
	cs      closeState // a close handshake in progress (the close step, or the session's end)
	end     int64      // the running step's deadline: the enclosing duration loop's end
	err     error      // the flow's outcome
	attempt int        // on_error reconnect: attempts made
	until   int64      // the end of a backoff (run clock)
	counted bool       // the session's outcome is counted already (failData)
	pooled  bool       // the driver runs on the resume pool (see drive)
	slot    *slot      // the closed-model slot it runs for; nil for an open-model session

	// Parking (driver.go). cur is the connection the session is
	// responsible for (open, or closing), for the goroutines that stop
	// and abort sessions.
	parked  atomic.Bool
	tm      *netpoll.Timer // its wheel timer, made on its first timed park
	cur     atomic.Pointer[conn]
	regNext *session // the runner's registry of live sessions
	regPrev *session
}

// stepState is what a parked step needs to go on: its own phase and
// times. It is zeroed when a step starts.
type stepState struct {
	begun bool
	phase uint8
	until int64 // the step's own end (sleep, think, listen), or its next poll
	limit int64 // listen: how long to wait for publishers to drain
}

func (r *runner) newSession(client int64, f *flow) *session {
	id := r.sessionSeq.Add(1)
	s := &session{
		r:      r,
		id:     id,
		client: client,
		flow:   f,
		shard:  r.col.Shard(int(id)),
		rng:    rand.New(rand.NewPCG(r.seed, uint64(id))),
	}
	if len(f.f.Vars) > 0 {
		s.vars = make(map[string]string, len(f.f.Vars))
		for k, v := range f.f.Vars {
			s.vars[k] = v
		}
	}
	s.rows, s.dataErr = r.data.bind(f.f, client)
	return s
}

// setConn makes c the session's open connection.
func (s *session) setConn(c *conn) {
	s.c = c
	if c != nil {
		s.cur.Store(c)
	}
}

func (s *session) lookup(name string) string {
	switch name {
	case "session":
		return strconv.FormatInt(s.id, 10)
	case "client":
		return strconv.FormatInt(s.client, 10)
	case "flow":
		return s.flow.f.Name
	case "iteration":
		return strconv.FormatInt(s.iter, 10)
	case "seq":
		return strconv.FormatInt(s.seq, 10)
	case "time_ms":
		return strconv.FormatInt(s.r.clock.Wall(s.r.clock.Now())/1e6, 10)
	case "random":
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], s.rng.Uint64())
		return hex.EncodeToString(b[:])
	}
	if v, ok := s.vars[name]; ok {
		return v
	}
	return s.r.data.value(s.rows, name)
}

func (s *session) render(t scenario.Template) string {
	return string(t.Render(nil, s.lookup))
}

func (s *session) backoff(attempt int) time.Duration {
	b := s.flow.f.Backoff
	d := float64(b.Initial.D()) * math.Pow(b.Factor, float64(attempt))
	if d > float64(b.Max.D()) {
		d = float64(b.Max.D())
	}
	d += d * b.Jitter * s.rng.Float64()
	return time.Duration(d)
}

func (s *session) write(op ws.OpCode, p []byte) error {
	wire, err := s.c.ws.WriteMessage(op, p)
	if err != nil {
		return err
	}
	s.shard.Sent(len(p), wire)
	return nil
}

func opcode(binary bool) ws.OpCode {
	if binary {
		return ws.OpBinary
	}
	return ws.OpText
}

// payload renders a send or request payload.
func (s *session) payload(pl *scenario.Payload, st *step) ([]byte, ws.OpCode) {
	s.seq++
	op := opcode(pl.Binary)
	switch {
	case pl.Text != "":
		return st.text.Render(s.buf[:0], s.lookup), op
	case pl.JSON != nil:
		v := renderJSON(pl.JSON, func(t string) string {
			tp, err := scenario.ParseTemplate(t)
			if err != nil {
				return t
			}
			return s.render(tp)
		})
		b, _ := json.Marshal(v)
		return b, op
	default:
		n := s.size(pl.Size)
		b := s.buf[:0]
		for range n {
			b = append(b, 'a'+byte(s.rng.IntN(26)))
		}
		return b, op
	}
}

func renderJSON(v any, render func(string) string) any {
	switch x := v.(type) {
	case string:
		return render(x)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = renderJSON(e, render)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = renderJSON(e, render)
		}
		return out
	}
	return v
}

func (s *session) size(d *scenario.SizeDist) int {
	if d == nil {
		return 0
	}
	var v float64
	switch d.Dist {
	case "":
		if d.Fixed > 0 || d.Max == 0 {
			return d.Fixed
		}
		fallthrough
	case "uniform":
		v = float64(d.Min) + s.rng.Float64()*float64(d.Max-d.Min)
	case "exponential":
		v = s.rng.ExpFloat64() * d.Mean
	case "normal":
		v = d.Mean + s.rng.NormFloat64()*d.StdDev
	}
	if d.Max > 0 && v > float64(d.Max) {
		v = float64(d.Max)
	}
	return max(0, int(v))
}

func (s *session) think(t *scenario.Think) time.Duration {
	var d float64
	switch t.Dist {
	case "", "uniform":
		d = float64(t.Min) + s.rng.Float64()*float64(t.Max-t.Min)
	case "exponential":
		d = s.rng.ExpFloat64() * float64(t.Mean)
	case "normal":
		d = float64(t.Mean) + s.rng.NormFloat64()*float64(t.StdDev)
	}
	if t.Max > 0 && d > float64(t.Max) {
		d = float64(t.Max)
	}
	return time.Duration(max(0, d))
}

// jsonField reads a dotted path ("a.b.0.c") from a decoded JSON value.
func jsonField(v any, path string) (any, bool) {
	for _, part := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[part]; !ok {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(part)
			if err != nil || i < 0 || i >= len(x) {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}

func jsonEqual(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

func stringify(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}
