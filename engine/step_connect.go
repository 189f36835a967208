package engine

import (
	"strings"

	"github.com/wsbench/wsbench/scenario"
)

func init() {
	defineStep(scenario.KindConnect, &stepImpl{
		compile: func(cc *compiler, st *step) (err error) {
			c := st.s.Connect
			raw := c.URL
			if raw == "" {
				raw = strings.TrimRight(cc.base, "/") + c.Path
			}
			st.raw = raw
			if st.url, err = scenario.ParseTemplate(raw); err != nil {
				return err
			}
			st.hdrs = map[string]scenario.Template{}
			for k, v := range c.Headers {
				if st.hdrs[k], err = scenario.ParseTemplate(v); err != nil {
					return err
				}
			}
			return nil
		},
		// The dial waits on the run's hard end only (a dial the load's
		// end interrupts would count as a failure of the target).
		run: blocks(func(s *session, st *step) error {
			s.closeConn(1000, "")
			s.lastConnect = st
			return s.connect(st)
		}),
	})
}
