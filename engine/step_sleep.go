package engine

import "github.com/wsbench/wsbench/scenario"

func init() {
	defineStep(scenario.KindSleep, &stepImpl{
		parks: true,
		run: func(s *session, st *step) (stepStatus, error) {
			if s.sp.phase == 0 {
				s.sp.phase = 1
				s.sp.until = s.r.clock.Now() + int64(*st.s.Sleep)
			}
			return s.pause()
		},
	})
}

// pause waits until s.sp.until without blocking (sleep, think). On a
// connection it also watches it, so that a connection that ends during a
// sleep or think fails the step that was holding it; the session's stop
// and its loop's end cut the wait short (errStopped).
func (s *session) pause() (stepStatus, error) {
	t := s.sp.until
	if s.park(min(t, s.end), true, s.c) {
		return stepParked, nil
	}
	switch {
	case s.c != nil && ended(s.c):
		return stepNext, s.c.err
	case s.r.clock.Now() >= t:
		return stepNext, nil
	default:
		return stepNext, errStopped
	}
}
