package engine

import "github.com/wsbench/wsbench/scenario"

func init() {
	defineStep(scenario.KindThink, &stepImpl{
		parks: true,
		run: func(s *session, st *step) (stepStatus, error) {
			if s.sp.phase == 0 {
				s.sp.phase = 1
				s.sp.until = s.r.clock.Now() + int64(s.think(st.s.Think))
			}
			return s.pause()
		},
	})
}
