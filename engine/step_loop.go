package engine

import "github.com/wsbench/wsbench/scenario"

func init() {
	defineStep(scenario.KindLoop, &stepImpl{
		compile: func(cc *compiler, st *step) (err error) {
			st.loop, err = cc.steps(st.s.Loop.Steps, st.label)
			return err
		},
		// A loop only pushes a frame on the session's stack: the
		// interpreter (session.exec) runs its steps Count times, or until
		// its Duration is over (its steps' waits end then too), or until
		// the session ends.
		parks: true,
		run: func(s *session, st *step) (stepStatus, error) {
			l := st.s.Loop
			parent := &s.stack[len(s.stack)-1]
			end := parent.end
			if l.Duration > 0 {
				end = min(end, s.r.clock.Now()+int64(l.Duration))
			}
			parent.pc++ // when the loop's frame is popped, the flow goes on after it
			s.stack = append(s.stack, frame{steps: st.loop, loop: st, end: end})
			return stepEnter, nil
		},
	})
}
