package engine

import (
	"math"
	"time"

	"github.com/wsbench/wsbench/report"
	"github.com/wsbench/wsbench/scenario"
)

func init() {
	defineStep(scenario.KindListen, &stepImpl{
		compile: func(cc *compiler, _ *step) error {
			cc.f.member = true
			return nil
		},
		parks: true,
		run:   listen,
	})
}

// listenPoll is how often a stopping member looks whether the run's
// publishers are done.
const listenPoll = 5 * time.Millisecond

// maxTime is a deadline that never comes.
const maxTime = math.MaxInt64

// Where a listen step is (stepState.phase).
const (
	listenStart   = iota
	listenOpen    // listening until its duration, the connection's end or the session's stop
	listenDrain   // stopping: waiting for the run's publishers to drain
	listenLeaving // stopping: the last deliveries' grace
)

// listen keeps the connection open while the reader records deliveries,
// without a goroutine: the session parks until the step's duration is
// over, the connection ends, or the session must stop.
func listen(s *session, st *step) (stepStatus, error) {
	c := s.c
	for {
		switch s.sp.phase {
		case listenStart:
			s.sp.phase = listenOpen
			if d := st.s.Listen.Duration; d > 0 {
				s.sp.until = s.r.clock.Now() + int64(d)
			}
		case listenOpen:
			until := s.end
			if s.sp.until > 0 {
				until = min(s.sp.until, until)
			}
			if until == maxTime {
				until = 0
			}
			if s.park(until, true, c) {
				return stepParked, nil
			}
			switch {
			case s.sp.until > 0 && s.r.clock.Now() >= s.sp.until:
				return stepNext, nil
			case ended(c):
				return stepNext, c.err
			}
			// The run is stopping (or the enclosing loop's time is up).
			// A member that left now would miss the messages publishers
			// are still draining; stay until they are done (bounded by
			// the drain time) so the broadcast accounting sees every
			// delivery.
			if c.member == nil {
				return stepNext, nil
			}
			s.sp.phase = listenDrain
			s.sp.limit = s.r.clock.Now() + int64(s.r.sc.Client.Drain)
		case listenDrain:
			if ended(c) || s.r.hard.Err() != nil {
				return stepNext, nil
			}
			if now := s.r.clock.Now(); s.r.publishing.Load() > 0 && now < s.sp.limit {
				// Look again in 5 ms (or when the connection ends, or
				// the grace is over).
				if s.park(now+int64(listenPoll), false, c) {
					return stepParked, nil
				}
				continue
			}
			s.sp.phase = listenLeaving
			s.sp.until = s.r.clock.Now() + int64(2*report.LeaveGrace)
		case listenLeaving:
			if s.r.hard.Err() != nil || !s.park(s.sp.until, false, nil) {
				return stepNext, nil
			}
			return stepParked, nil
		}
	}
}
