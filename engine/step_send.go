package engine

import (
	"context"

	"github.com/wsbench/wsbench/scenario"
)

func init() {
	defineStep(scenario.KindSend, &stepImpl{
		compile: func(_ *compiler, st *step) (err error) {
			st.text, err = scenario.ParseTemplate(st.s.Send.Text)
			return err
		},
		run: blocking(func(ctx context.Context, s *session, st *step) error {
			p, op := s.payload(&st.s.Send.Payload, st)
			if err := s.write(op, p); err != nil {
				return s.lost(ctx, s.c, err)
			}
			return nil
		}),
	})
}
