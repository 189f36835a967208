package scenario

func init() {
	defineStep(KindPing, &stepDef{
		name:          "ping",
		needsConn:     true,
		bare:          true,
		builtinMetric: "ping",
		metric:        func(s *Step) string { return orDefault(s.Name, "ping") },
	})
}
