package scenario

func init() {
	defineStep(KindListen, &stepDef{
		name:      "listen",
		needsConn: true,
		bare:      true,
	})
}
