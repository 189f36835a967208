package scenario

func init() {
	defineStep(KindSleep, &stepDef{name: "sleep"})
}
