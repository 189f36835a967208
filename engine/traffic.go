package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/wsbench/wsbench/internal/shard"
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

// due returns when send i is due, and whether the schedule has it.
func (sc schedule) due(i int64) (int64, bool) {
	if sc.count > 0 && i >= sc.count {
		return 0, false
	}
	t := sc.start + int64(float64(i)*sc.period)
	return t, t < sc.end
}

// Open-loop sends far enough apart park the session between them, so
// that a slow sender holds no goroutine (19,900 senders at 0.1 msg/s took
// 14.4 KiB a connection waiting on the pacer, 5.3 parked). The wheel
// wakes it parkAhead before its send, early enough for the wheel's 1 ms
// tick and the resume pool, and the last stretch waits on the pacer on a
// goroutine of the session's own, as a fast sender always does: a send's
// lateness is latency, and only the pacer wakes within microseconds.
const (
	parkGap   = time.Second           // a send at least this far off parks the session
	parkAhead = 20 * time.Millisecond // how long before its send a parked sender wakes
)

// sendWait is what an open-loop step's run holds while it blocks on the
// pacer: the context it waits under, made on its first wait.
type sendWait struct {
	ctx    context.Context
	cancel context.CancelFunc
}

func (w *sendWait) done() {
	if w.cancel != nil {
		w.cancel()
	}
}

// awaitSend brings an open-loop step to its next send, s.sp.next of the
// schedule s.sp.sch. With send true it is time to send it (due at due),
// on a goroutine of the session's own. Otherwise the step returns status
// if it is stepParked or stepHandoff (run again, it goes on from here);
// stepNext means the schedule is over, with err: nil when it ran to its
// count or its end, or why it stopped first (the session's stop or the
// loop's end: errStopped; the connection's end), the sends that were due
// by then counted as dropped.
func (s *session) awaitSend(w *sendWait) (due int64, send bool, status stepStatus, err error) {
	sp := &s.sp
	c := s.c
	due, ok := sp.sch.due(sp.next)
	if !ok {
		// A schedule that ran out of time, not count, lasts until its
		// end: a step that sends at 0.5/s for 2 s takes 2 s.
		sch := sp.sch
		if sch.end == math.MaxInt64 || (sch.count > 0 && sp.next >= sch.count) {
			return 0, false, stepNext, nil
		}
		if s.park(min(sch.end, s.end), true, c) {
			return 0, false, stepParked, nil
		}
		if s.r.clock.Now() >= sch.end {
			return 0, false, stepNext, nil
		}
		return 0, false, stepNext, s.lost(c, nil)
	}
	if due-s.r.clock.Now() >= int64(parkGap) {
		if s.park(min(due-int64(parkAhead), s.end), true, c) {
			return 0, false, stepParked, nil
		}
		if s.stopping() || ended(c) || s.r.clock.Now() >= s.end {
			err := s.lost(c, nil)
			s.dropUnsent(sp.sch, sp.next, 0, err)
			return 0, false, stepNext, err
		}
	}
	if s.pooled {
		return 0, false, stepHandoff, nil
	}
	if w.ctx == nil {
		w.ctx, w.cancel = s.stepContext()
	}
	if !s.waitUntil(w.ctx, due) {
		err := s.lost(c, nil)
		s.dropUnsent(sp.sch, sp.next, 0, err)
		return 0, false, stepNext, err
	}
	return due, true, stepNext, nil
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

func (s *session) replyTimeout(d scenario.Duration) time.Duration {
	if d > 0 {
		return d.D()
	}
	return s.r.sc.Client.ReplyTimeout.D()
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
			return nil, s.lost(c, nil)
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
		if s.vars == nil {
			s.vars = map[string]string{}
		}
		s.vars[name] = stringify(got)
	}
	return nil
}

// replyMissing counts a request whose reply did not come.
func (s *session) replyMissing() {
	s.shard.Do(func(set *shard.Rec) { set.Counters.RepliesMissing++ })
}
