package scenario

func init() {
	defineStep(KindExpect, &stepDef{
		name:      "expect",
		needsConn: true,
		validate: func(c *stepCheck) {
			c.match("", &c.s.Expect.Match, true)
			c.capture(c.s.Expect.Capture)
		},
		// Only named expects are timed.
		metric:   func(s *Step) string { return s.Name },
		captures: func(s *Step) map[string]string { return s.Expect.Capture },
	})
}
