package scenario

func init() {
	defineStep(KindLoop, &stepDef{
		name: "loop",
		validate: func(c *stepCheck) {
			l := c.s.Loop
			c.nonNegative(".count", float64(l.Count))
			if len(l.Steps) == 0 {
				c.add(".steps", "a loop needs at least one step")
			}
			c.steps(".steps", l.Steps)
		},
		steps: func(s *Step) []Step { return s.Loop.Steps },
	})
}
