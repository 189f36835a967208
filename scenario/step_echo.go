package scenario

func init() {
	defineStep(KindEcho, &stepDef{
		name:          "echo",
		needsConn:     true,
		builtinMetric: "rtt",
		validate:      validateEcho,
		complete:      completeEcho,
		metric:        func(s *Step) string { return s.Echo.Metric },
		service:       func(s *Step) bool { return s.Echo.Rate > 0 },
		rate:          func(s *Step) *float64 { return &s.Echo.Rate },
	})
}

func validateEcho(c *stepCheck) {
	e := c.s.Echo
	c.nonNegative(".rate", e.Rate)
	c.nonNegative(".size", float64(e.Size))
	c.nonNegative(".count", float64(e.Count))
	if e.Rate > 0 && e.Inflight > 0 {
		c.add("", "rate (open loop) and inflight (closed loop) exclude each other")
	}
	if e.Inflight < 0 {
		c.add(".inflight", "must be at least 1")
	}
	if e.Rate > 1e6 {
		c.add(".rate", "%g messages/s on one connection is beyond any generator; spread it over connections", e.Rate)
	}
}

func completeEcho(s *Step) {
	e := s.Echo
	if e.Size == 0 {
		e.Size = DefaultMessageSize
	}
	if e.Rate == 0 && e.Inflight == 0 {
		e.Inflight = 1
	}
	if e.Metric == "" {
		e.Metric = s.Name
	}
	if e.Metric == "" {
		e.Metric = "rtt"
	}
}
