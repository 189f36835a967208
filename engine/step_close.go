package engine

import "github.com/wsbench/wsbench/scenario"

func init() {
	defineStep(scenario.KindClose, &stepImpl{
		parks: true,
		run: func(s *session, st *step) (stepStatus, error) {
			if s.closeConnPark(st.s.Close.Code, st.s.Close.Reason) {
				return stepParked, nil
			}
			return stepNext, nil
		},
	})
}
