package engine

import (
	"github.com/wsbench/wsbench/scenario"
)

func init() {
	defineStep(scenario.KindSend, &stepImpl{
		compile: func(_ *compiler, st *step) (err error) {
			st.text, err = scenario.ParseTemplate(st.s.Send.Text)
			return err
		},
		// A send waits for nothing but its write (which the session's
		// stop interrupts: session.stop).
		run: blocks(func(s *session, st *step) error {
			p, op := s.payload(&st.s.Send.Payload, st)
			if err := s.write(op, p); err != nil {
				return s.lost(s.c, err)
			}
			return nil
		}),
	})
}
