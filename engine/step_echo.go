package engine

import (
	"context"
	"math"
	"time"

	"github.com/gobwas/ws"

	"github.com/wsbench/wsbench/internal/shard"
	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/scenario"
)

func init() {
	defineStep(scenario.KindEcho, &stepImpl{
		compile: func(cc *compiler, st *step) error {
			e := st.s.Echo
			if e.Rate == 0 {
				cc.f.inflight = max(cc.f.inflight, e.Inflight)
				return nil
			}
			if st.metric >= 0 {
				if cc.f.service == nil {
					cc.f.service = map[metrics.ID]metrics.ID{}
				}
				cc.f.service[st.metric] = cc.reg.Add(cc.reg.Names()[st.metric] + metrics.ServiceSuffix)
			}
			return nil
		},
		run: blocking(func(ctx context.Context, s *session, st *step) error { return s.echo(ctx, st) }),
	})
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
			_, done, werr := s.nextSend(ctx, sch, i)
			if done {
				err = werr
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
				err = s.lost(c, werr)
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
			return s.lost(c, nil)
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
			return s.lost(c, err)
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
