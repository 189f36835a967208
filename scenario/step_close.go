package scenario

func init() {
	defineStep(KindClose, &stepDef{
		name:      "close",
		needsConn: true,
		conn:      connCloses,
		bare:      true,
		validate: func(c *stepCheck) {
			code := c.s.Close.Code
			if code != 1000 && (code < 3000 || code > 4999) && code != 1001 {
				c.add(".code", "%d cannot be sent by a client: use 1000, 1001 or 3000-4999", code)
			}
		},
		complete: func(s *Step) {
			if s.Close.Code == 0 {
				s.Close.Code = 1000
			}
		},
	})
}
