package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/gobwas/ws"

	"github.com/wsbench/wsbench/internal/shard"
	"github.com/wsbench/wsbench/report"
	"github.com/wsbench/wsbench/scenario"
)

// schedule is an absolute open-loop schedule: send i is due at
// start + i*period, whatever happened to send i-1.
type schedule struct {
	start  int64
	period float64 // ns
	end    int64   // no send due at or after end
	count  int64   // 0: unlimited
}

func (s *session) newSchedule(rate float64, d scenario.Duration, count int) schedule {
	start := s.r.clock.Now()
	sc := schedule{start: start, period: float64(time.Second) / rate, end: math.MaxInt64, count: int64(count)}
	if d > 0 {
		sc.end = start + int64(d)
	}
	return sc
}

// finish waits until the schedule's end when it stopped for lack of time
// rather than count: a step that sends at 0.5/s for 2 s lasts 2 s, not
// until its only message.
func (s *session) finish(ctx context.Context, sc schedule, sent int64) error {
	if sc.end == math.MaxInt64 || (sc.count > 0 && sent >= sc.count) {
		return nil
	}
	if !s.waitUntil(ctx, sc.end) {
		return s.lost(ctx, s.c, nil)
	}
	return nil
}

func (sc schedule) due(i int64) (int64, bool) {
	if sc.count > 0 && i >= sc.count {
		return 0, false
	}
	t := sc.start + int64(float64(i)*sc.period)
	return t, t < sc.end
}

// waitUntil sleeps until run time t. It returns false when the session
// must stop or the connection died; the caller returns s.lost, which says
// which. It sleeps on the run's pacer, not a Go
// timer: a send's lateness counts in its latency, and a Go timer in an idle
// process wakes up to a millisecond late (see package pacer).
func (s *session) waitUntil(ctx context.Context, t int64) bool {
	if s.waiter == nil {
		s.waiter = s.r.pacer.NewWaiter()
	}
	return s.waiter.Wait(ctx, s.r.clock.At(t), s.c.done)
}

// dropUnsent counts the sends a step could not make when it ended on err:
// intended and dropped, so that intended = sent + dropped over the
// schedule that elapsed. If the connection failed or stalled under the
// step, that is every send from index i on that was due by now. If the
// run's end stopped the step, it is only the n sends from i that it had
// taken up (a write the end cut short): sends due after the end, which a
// late-waking goroutine would find due, were never intended.
func (s *session) dropUnsent(sch schedule, i, n int64, err error) {
	now := s.r.clock.Now()
	stopped := errors.Is(err, errStopped)
	for k := int64(0); !stopped || k < n; k++ {
		d, ok := sch.due(i + k)
		if !ok || d > now {
			return
		}
		s.shard.DroppedSend((now - d) / 1000)
	}
}

// echo sends marked messages and lets the reader record their round trips.
// Open loop (rate): each message carries its intended send time and the
// round trip is measured from it, so a server stall shows as latency for
// every message that should have been sent during it. A send more than
// max_lag late is dropped and counted, not queued. Closed loop (inflight):
// at most Inflight messages are outstanding; the round trip is measured
// from the actual send, and the report says the loop was closed.
func (s *session) echo(ctx context.Context, st *step) error {
	e := st.s.Echo
	c := s.c
	op := opcode(e.Binary)
	m := marker{kind: 'e', metric: int(st.metric), worker: s.r.worker, conn: c.id}
	maxLag := int64(s.r.sc.Client.MaxLag)
	var err error
	if e.Rate > 0 {
		sch := s.newSchedule(e.Rate, e.Duration, e.Count)
		var lags []int64
		for i := int64(0); ; {
			due, ok := sch.due(i)
			if !ok {
				err = s.finish(ctx, sch, i)
				break
			}
			if !s.waitUntil(ctx, due) {
				err = s.lost(ctx, c, nil)
				s.dropUnsent(sch, i, 0, err)
				break
			}
			// Gather every message already due, so a generator that woke
			// late catches up with one write instead of many.
			now := s.r.clock.Now()
			first := i
			lags = lags[:0]
			for len(lags) < maxBatch {
				d, ok := sch.due(i)
				if !ok || d > now {
					break
				}
				lag := now - d
				if lag > maxLag {
					// Lags fall along the batch, so drops are a prefix.
					s.shard.DroppedSend(lag / 1000)
					i++
					first = i
					continue
				}
				lags = append(lags, lag)
				i++
			}
			if len(lags) == 0 {
				continue
			}
			c.outstanding.Add(int64(len(lags)))
			payload := 0
			wire, werr := c.ws.WriteMessages(op, len(lags), func(k int, dst []byte) []byte {
				m.seq = first + int64(k)
				m.ts, _ = sch.due(m.seq)
				m.sent = now
				b := appendMarker(dst, m, e.Size)
				payload += len(b) - len(dst)
				return b
			})
			if werr != nil {
				c.outstanding.Add(-int64(len(lags)))
				err = s.lost(ctx, c, werr)
				s.dropUnsent(sch, first, int64(len(lags)), err)
				break
			}
			s.shard.SentBatch(len(lags), payload, wire, lags)
		}
	} else {
		err = s.echoClosed(ctx, st, m, op)
	}
	if !s.drain(c) && err == nil {
		// The connection ended before the step's replies came back.
		err = c.err
	}
	return err
}

func (s *session) echoClosed(ctx context.Context, st *step, m marker, op ws.OpCode) error {
	e := st.s.Echo
	c := s.c
	// The window was made at connect; start this step with exactly
	// Inflight free slots whatever an earlier step left in it.
	for len(c.window) > 0 {
		<-c.window
	}
	for range e.Inflight {
		c.window <- struct{}{}
	}
	end := int64(math.MaxInt64)
	if e.Duration > 0 {
		end = s.r.clock.Now() + int64(e.Duration)
	}
	var deadline <-chan time.Time
	if e.Duration > 0 {
		t := time.NewTimer(e.Duration.D())
		defer t.Stop()
		deadline = t.C
	}
	for i := int64(0); e.Count == 0 || i < int64(e.Count); {
		select {
		case <-c.window:
		case <-ctx.Done():
			return s.lost(ctx, c, nil)
		case <-c.done:
			return c.err
		case <-deadline:
			return nil
		}
		// Every reply that arrived meanwhile freed a slot: send them all
		// in one write.
		n := 1
		for n < maxBatch && (e.Count == 0 || i+int64(n) < int64(e.Count)) {
			select {
			case <-c.window:
				n++
				continue
			default:
			}
			break
		}
		now := s.r.clock.Now()
		if now >= end {
			return nil
		}
		first := i
		c.outstanding.Add(int64(n))
		payload := 0
		wire, err := c.ws.WriteMessages(op, n, func(k int, dst []byte) []byte {
			m.seq, m.ts, m.sent = first+int64(k), now, now
			b := appendMarker(dst, m, e.Size)
			payload += len(b) - len(dst)
			return b
		})
		if err != nil {
			c.outstanding.Add(-int64(n))
			return s.lost(ctx, c, err)
		}
		i += int64(n)
		s.shard.SentBatch(n, payload, wire, nil)
	}
	return nil
}

// maxBatch bounds how many messages one write carries.
const maxBatch = 64

// drain waits (at most the scenario's drain time, even when the run is
// stopping) for outstanding replies, then counts the ones still missing so
// no unanswered message disappears from the report. It returns false when
// the connection ended with replies outstanding.
func (s *session) drain(c *conn) bool {
	deadline := time.Now().Add(s.r.sc.Client.Drain.D())
	alive := true
	for c.outstanding.Load() > 0 && time.Now().Before(deadline) {
		select {
		case <-c.done:
			deadline, alive = time.Now(), false
		case <-s.r.hard.Done():
			deadline = time.Now()
		case <-time.After(time.Millisecond):
		}
	}
	if n := c.outstanding.Swap(0); n > 0 {
		s.shard.Do(func(set *shard.Rec) { set.Counters.RepliesMissing += n })
	}
	return alive
}

// publish sends marked messages into the connection's broadcast room on an
// absolute schedule and registers each with the ledger.
func (s *session) publish(ctx context.Context, st *step) error {
	p := st.s.Publish
	c := s.c
	if c.member == nil {
		return fmt.Errorf("publish on a connection outside the broadcast ledger")
	}
	s.r.publishing.Add(1)
	defer s.r.publishing.Add(-1)
	op := opcode(p.Binary)
	m := marker{kind: 'b', worker: s.r.worker, conn: c.id}
	maxLag := int64(s.r.sc.Client.MaxLag)
	sch := s.newSchedule(p.Rate, p.Duration, p.Count)
	var sent int64
	var err error
	for i := int64(0); ; i++ {
		due, ok := sch.due(i)
		if !ok {
			err = s.finish(ctx, sch, i)
			break
		}
		if !s.waitUntil(ctx, due) {
			err = s.lost(ctx, c, nil)
			s.dropUnsent(sch, i, 0, err)
			break
		}
		now := s.r.clock.Now()
		lag := now - due
		if lag > maxLag {
			s.shard.DroppedSend(lag / 1000)
			continue
		}
		m.seq, m.ts, m.sent = i, due, now
		s.buf = appendMarker(s.buf[:0], m, p.Size)
		c.member.room.published(report.PubID{Worker: s.r.worker, Conn: c.id}, i, now)
		wire, werr := c.ws.WriteMessage(op, s.buf)
		if werr != nil {
			// Not sent: no member can be expected to get it.
			c.member.room.unpublished(report.PubID{Worker: s.r.worker, Conn: c.id}, i)
			err = s.lost(ctx, c, werr)
			s.dropUnsent(sch, i, 1, err)
			break
		}
		sent++
		s.shard.SentOnSchedule(len(s.buf), wire, lag/1000)
	}
	// The publisher is a member of its own room: waiting for its own
	// messages to come back means the server has fanned them all out
	// before this connection moves on or closes.
	deadline := time.Now().Add(s.r.sc.Client.Drain.D())
	for c.ownBack.Load() < sent && time.Now().Before(deadline) {
		select {
		case <-c.done:
			if err == nil || errors.Is(err, errStopped) {
				// The connection ended while the step waited for its
				// messages: the step did not finish.
				err = c.err
			}
			return err
		case <-s.r.hard.Done():
			return err
		case <-time.After(time.Millisecond):
		}
	}
	return err
}

// listen keeps the connection open while the reader records deliveries.
func (s *session) listen(ctx context.Context, d time.Duration) error {
	var deadline <-chan time.Time
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		deadline = t.C
	}
	select {
	case <-deadline:
		return nil
	case <-s.c.done:
		return s.c.err
	case <-ctx.Done():
		if err := s.lost(ctx, s.c, nil); !errors.Is(err, errStopped) {
			return err
		}
	}
	// The run is stopping. A member that left now would miss the messages
	// publishers are still draining; stay until they are done (bounded by
	// the drain time) so the broadcast accounting sees every delivery.
	if s.c.member == nil {
		return nil
	}
	limit := time.Now().Add(s.r.sc.Client.Drain.D())
	for s.r.publishing.Load() > 0 && time.Now().Before(limit) {
		select {
		case <-s.c.done:
			return nil
		case <-s.r.hard.Done():
			return nil
		case <-time.After(5 * time.Millisecond):
		}
	}
	sleepCtx(s.r.hard, 2*report.LeaveGrace)
	return nil
}

func (s *session) replyTimeout(d scenario.Duration) time.Duration {
	if d > 0 {
		return d.D()
	}
	return s.r.sc.Client.ReplyTimeout.D()
}

// expect waits for an unmarked message matching the step, capturing
// variables from it. A named expect records the wait as a latency.
func (s *session) expect(ctx context.Context, st *step) error {
	e := st.s.Expect
	start := s.r.clock.Now()
	msg, err := s.await(ctx, s.replyTimeout(e.Timeout), causeExpectTimeout, func(p []byte) bool {
		return match(p, &e.Match, st.re)
	})
	if err != nil {
		return err
	}
	if st.metric >= 0 {
		s.shard.Record(st.metric, (s.r.clock.Now()-start)/1000)
	}
	return s.capture(msg, e.Capture)
}

func (s *session) await(ctx context.Context, timeout time.Duration, cause string, ok func([]byte) bool) ([]byte, error) {
	c := s.c
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		select {
		case p := <-c.inbox:
			if ok(p) {
				return p, nil
			}
		case <-t.C:
			return nil, &timeoutError{cause: cause}
		case <-c.done:
			return nil, c.err
		case <-ctx.Done():
			return nil, s.lost(ctx, c, nil)
		}
	}
}

func match(p []byte, m *scenario.Match, re interface{ Match([]byte) bool }) bool {
	if m.Contains != "" && !bytes.Contains(p, []byte(m.Contains)) {
		return false
	}
	if m.Regex != "" && (re == nil || !re.Match(p)) {
		return false
	}
	if len(m.JSON) > 0 {
		var v any
		if json.Unmarshal(p, &v) != nil {
			return false
		}
		for path, want := range m.JSON {
			got, ok := jsonField(v, path)
			if !ok || !jsonEqual(got, want) {
				return false
			}
		}
	}
	return true
}

func (s *session) capture(p []byte, capture map[string]string) error {
	if len(capture) == 0 {
		return nil
	}
	var v any
	if err := json.Unmarshal(p, &v); err != nil {
		return fmt.Errorf("capture: reply is not JSON: %w", err)
	}
	for name, path := range capture {
		got, ok := jsonField(v, path)
		if !ok {
			return fmt.Errorf("capture %s: no field %q in reply", name, path)
		}
		s.vars[name] = stringify(got)
	}
	return nil
}

// request sends a message and waits for its reply, recording the latency
// from the send under the step's metric.
func (s *session) request(ctx context.Context, st *step) error {
	rq := st.s.Request
	c := s.c
	timeout := s.replyTimeout(rq.Timeout)
	payload, op := s.payload(&rq.Payload, st)
	now := s.r.clock.Now()
	var field, id string
	if f, ok := strings.CutPrefix(rq.Correlate, "json:"); ok {
		field = f
		id = fmt.Sprintf("%d-%d", c.id, s.seq)
		var v map[string]any
		if err := json.Unmarshal(payload, &v); err != nil {
			return fmt.Errorf("request payload is not a JSON object: %w", err)
		}
		v[field] = id
		payload, _ = json.Marshal(v)
	}
	var got chan int64
	if field == "" && rq.Reply == nil {
		got = make(chan int64, 1)
		seq := s.seq
		c.reqMu.Lock()
		if c.reqWait == nil {
			c.reqWait = map[int64]chan int64{}
		}
		c.reqWait[seq] = got
		c.reqMu.Unlock()
		payload = append(appendMarker(nil, marker{kind: 'r', metric: int(st.metric), worker: s.r.worker, conn: c.id, seq: seq, ts: now, sent: now}, 0), payload...)
		defer func() {
			c.reqMu.Lock()
			delete(c.reqWait, seq)
			c.reqMu.Unlock()
		}()
	}
	if err := s.write(op, payload); err != nil {
		return s.lost(ctx, c, err)
	}
	if got != nil {
		t := time.NewTimer(timeout)
		defer t.Stop()
		select {
		case at := <-got:
			s.shard.Record(st.metric, (at-now)/1000)
			return nil
		case <-t.C:
			s.replyMissing()
			return &timeoutError{cause: causeReplyTimeout}
		case <-c.done:
			s.replyMissing()
			return c.err
		case <-ctx.Done():
		}
		// The run is stopping with the reply in flight: give it the
		// drain time, as echo does, and count it missing if it does not
		// come.
		d := time.NewTimer(s.r.sc.Client.Drain.D())
		defer d.Stop()
		select {
		case at := <-got:
			s.shard.Record(st.metric, (at-now)/1000)
		case <-d.C:
			s.replyMissing()
		case <-c.done:
			s.replyMissing()
		case <-s.r.hard.Done():
			s.replyMissing()
		}
		return s.lost(ctx, c, nil)
	}
	matches := func(p []byte) bool {
		if field != "" {
			var v any
			if json.Unmarshal(p, &v) != nil {
				return false
			}
			got, ok := jsonField(v, field)
			if !ok || stringify(got) != id {
				return false
			}
		}
		return rq.Reply == nil || match(p, rq.Reply, st.replyRe)
	}
	reply, err := s.await(ctx, timeout, causeReplyTimeout, matches)
	if errors.Is(err, errStopped) {
		// Stopping with the reply in flight: the drain time, as above.
		if _, derr := s.await(s.r.hard, s.r.sc.Client.Drain.D(), causeReplyTimeout, matches); derr == nil {
			s.shard.Record(st.metric, (s.r.clock.Now()-now)/1000)
			return err
		}
	}
	if err != nil {
		// Timed out, stopped, or the connection ended: no reply.
		s.replyMissing()
		return err
	}
	s.shard.Record(st.metric, (s.r.clock.Now()-now)/1000)
	return s.capture(reply, rq.Capture)
}

// replyMissing counts a request whose reply did not come.
func (s *session) replyMissing() {
	s.shard.Do(func(set *shard.Rec) { set.Counters.RepliesMissing++ })
}
