package scenario

func init() {
	defineStep(KindReconnect, &stepDef{
		name: "reconnect",
		conn: connOpens,
		bare: true,
	})
}
