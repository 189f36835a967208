package engine

import (
	"context"
	"regexp"

	"github.com/wsbench/wsbench/scenario"
)

func init() {
	defineStep(scenario.KindExpect, &stepImpl{
		compile: func(cc *compiler, st *step) (err error) {
			cc.f.hasInbox = true
			if re := st.s.Expect.Regex; re != "" {
				st.re, err = regexp.Compile(re)
			}
			return err
		},
		run: blocking(func(ctx context.Context, s *session, st *step) error { return s.expect(ctx, st) }),
	})
}

// expect waits for an unmarked message matching the step, capturing
// variables from it. A named expect records the wait as a latency.
func (s *session) expect(ctx context.Context, st *step) error {
	e := st.s.Expect
	start := s.r.clock.Now()
	msg, err := s.await(ctx, s.replyTimeout(e.Timeout), causeExpectTimeout, func(p []byte) bool {
		return match(p, &e.Match, st.re)
	})
	if err != nil {
		return err
	}
	if st.metric >= 0 {
		s.shard.Record(st.metric, (s.r.clock.Now()-start)/1000)
	}
	return s.capture(msg, e.Capture)
}
