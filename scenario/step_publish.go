package scenario

func init() {
	defineStep(KindPublish, &stepDef{
		name:      "publish",
		needsConn: true,
		validate: func(c *stepCheck) {
			pb := c.s.Publish
			if pb.Rate <= 0 {
				c.add(".rate", "must be more than zero messages per second")
			}
			c.nonNegative(".count", float64(pb.Count))
			c.nonNegative(".size", float64(pb.Size))
		},
		complete: func(s *Step) {
			if s.Publish.Size == 0 {
				s.Publish.Size = DefaultMessageSize
			}
		},
		rate: func(s *Step) *float64 { return &s.Publish.Rate },
	})
}
