package scenario

func init() {
	defineStep(KindSend, &stepDef{
		name:      "send",
		needsConn: true,
		validate:  func(c *stepCheck) { c.payload(&c.s.Send.Payload) },
	})
}
