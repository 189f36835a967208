package scenario

func init() {
	defineStep(KindThink, &stepDef{
		name:     "think",
		validate: validateThink,
	})
}

func validateThink(c *stepCheck) {
	t := c.s.Think
	switch t.Dist {
	case "", "uniform":
		if t.Max < t.Min || t.Max == 0 {
			c.add("", "uniform think time needs max > 0 and max >= min")
		}
	case "exponential":
		if t.Mean <= 0 {
			c.add(".mean", "exponential think time needs mean > 0")
		}
	case "normal":
		if t.Mean <= 0 {
			c.add(".mean", "normal think time needs mean > 0")
		}
	default:
		c.add(".dist", "%q: want uniform, exponential or normal", t.Dist)
	}
}
