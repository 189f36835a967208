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

// finishSchedule waits until the schedule's end when it stopped for lack of time
// rather than count: a step that sends at 0.5/s for 2 s lasts 2 s, not
// until its only message.
func (s *session) finishSchedule(ctx context.Context, sc schedule, sent int64) error {
	if sc.end == math.MaxInt64 || (sc.count > 0 && sent >= sc.count) {
		return nil
	}
	if !s.waitUntil(ctx, sc.end) {
		return s.lost(s.c, nil)
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

// nextSend waits until send i of sch is due and returns its time; done
// when the schedule is over or the session must stop first, with the
// step's error (the connection's end, counted with the sends it cost).
func (s *session) nextSend(ctx context.Context, sch schedule, i int64) (due int64, done bool, err error) {
	due, ok := sch.due(i)
	if !ok {
		return 0, true, s.finishSchedule(ctx, sch, i)
	}
	if !s.waitUntil(ctx, due) {
		err = s.lost(s.c, nil)
		s.dropUnsent(sch, i, 0, err)
		return 0, true, err
	}
	return due, false, nil
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
