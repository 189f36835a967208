package capacity

import (
	"strings"
	"testing"
	"time"
)

const shortForm = `
name: short
target: builtin
clients: 8
ramp_up: 1s
duration: 5s
message: {size: 100, rate: 5}
`

const twoFlows = `
name: mixed
target: builtin
phases:
  - {duration: 2s, clients: 10}
  - {duration: 5s, clients: 20}
flows:
  - name: chat
    weight: 3
    steps:
      - connect: {path: /echo}
      - echo: {rate: 2, duration: 1s}
      - loop:
          steps:
            - echo: {rate: 4, count: 10, metric: fast}
            - sleep: 100ms
  - name: news
    weight: 1
    steps:
      - connect: {path: "/broadcast?room=r"}
      - publish: {rate: 1, count: 5}
      - listen: {}
`

func TestStepScenarioClients(t *testing.T) {
	base := mustParse(t, shortForm)
	sc, err := stepScenario(base, Clients, 30, 2*time.Second, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(sc.Phases) != 2 || *sc.Phases[0].Clients != 30 || *sc.Phases[1].Clients != 30 ||
		sc.Phases[0].Duration.D() != 2*time.Second || sc.Phases[1].Duration.D() != 10*time.Second {
		t.Fatalf("phases %+v", sc.Phases)
	}
	if sc.Clients != 0 || sc.Duration != 0 || sc.RampUp != 0 || sc.Capacity != nil {
		t.Errorf("short form or capacity left in the step: %+v", sc)
	}
	if sc.Flows[0].Steps[1].Echo.Rate != 5 {
		t.Errorf("clients changed the message rate: %+v", sc.Flows[0].Steps[1].Echo)
	}
	if !strings.Contains(sc.Name, "clients 30") {
		t.Errorf("name %q", sc.Name)
	}
	// The base is untouched.
	if base.Clients != 8 || len(base.Phases) != 2 || *base.Phases[1].Clients != 8 {
		t.Errorf("base modified: %+v", base.Phases)
	}
}

func TestStepScenarioArrivalRate(t *testing.T) {
	base := mustParse(t, shortForm)
	sc, err := stepScenario(base, ArrivalRate, 12.5, time.Second, 4*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(sc.Phases) != 2 || sc.Phases[0].Clients != nil || *sc.Phases[0].ArrivalRate != 12.5 || *sc.Phases[1].ArrivalRate != 12.5 {
		t.Fatalf("phases %+v", sc.Phases)
	}
	sc, err = stepScenario(base, ArrivalRate, 12.5, 0, 4*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(sc.Phases) != 1 || sc.Phases[0].Name != phaseHold {
		t.Fatalf("without warmup: phases %+v", sc.Phases)
	}
}

func TestStepScenarioMessageRateShortForm(t *testing.T) {
	base := mustParse(t, shortForm)
	sc, err := stepScenario(base, MessageRate, 400, time.Second, 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got := sc.Flows[0].Steps[1].Echo.Rate; got != 50 {
		t.Errorf("echo rate %g per client, want 400/8 = 50", got)
	}
	if *sc.Phases[0].Clients != 8 || *sc.Phases[1].Clients != 8 || sc.Phases[1].Duration.D() != 3*time.Second {
		t.Errorf("phases %+v", sc.Phases)
	}
	if base.Flows[0].Steps[1].Echo.Rate != 5 {
		t.Error("base modified")
	}
}

func TestStepScenarioMessageRateFlows(t *testing.T) {
	base := mustParse(t, twoFlows)
	sc, err := stepScenario(base, MessageRate, 150, time.Second, 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	// 20 clients: 15 chat (fastest step 4/s) and 5 news (1/s) make a
	// nominal 65/s; scaled to 150/s every rate grows by 150/65.
	k := 150.0 / 65
	chat, news := sc.Flows[0], sc.Flows[1]
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"chat echo", chat.Steps[1].Echo.Rate, 2 * k},
		{"chat loop echo", chat.Steps[2].Loop.Steps[0].Echo.Rate, 4 * k},
		{"news publish", news.Steps[1].Publish.Rate, 1 * k},
	} {
		if d := c.got - c.want; d > 1e-9 || d < -1e-9 {
			t.Errorf("%s rate %g, want %g", c.name, c.got, c.want)
		}
	}
	if *sc.Phases[1].Clients != 20 {
		t.Errorf("concurrency %d, want the scenario's peak 20", *sc.Phases[1].Clients)
	}
}

func TestStepScenarioMessageRateNeedsRates(t *testing.T) {
	closedLoop := mustParse(t, `
name: closed
target: builtin
clients: 4
duration: 2s
message: {size: 10, inflight: 2}
`)
	if _, err := stepScenario(closedLoop, MessageRate, 100, time.Second, time.Second); err == nil || !strings.Contains(err.Error(), "no rate to scale") {
		t.Errorf("closed-loop echo: err %v", err)
	}
	open := mustParse(t, `
name: open
target: builtin
phases: [{duration: 2s, arrival_rate: 5}]
flows: [{name: f, steps: [{connect: {path: /echo}}, {echo: {rate: 3, count: 3}}]}]
`)
	if _, err := stepScenario(open, MessageRate, 100, time.Second, time.Second); err == nil || !strings.Contains(err.Error(), "closed load profile") {
		t.Errorf("open profile: err %v", err)
	}
}

func TestCloneIsDeep(t *testing.T) {
	base := mustParse(t, `
name: deep
target: builtin
client: {headers: {X-A: "1"}}
phases: [{duration: 2s, clients: 2}]
flows:
  - name: f
    vars: {user: bob}
    steps:
      - connect: {path: /echo}
      - request: {json: {op: login, user: "{{user}}"}, correlate: "json:op"}
`)
	c, err := clone(base)
	if err != nil {
		t.Fatal(err)
	}
	c.Client.Headers["X-A"] = "2"
	c.Flows[0].Vars["user"] = "eve"
	c.Flows[0].Steps[1].Request.JSON.(map[string]any)["op"] = "logout"
	*c.Phases[0].Clients = 99
	if base.Client.Headers["X-A"] != "1" || base.Flows[0].Vars["user"] != "bob" || *base.Phases[0].Clients != 2 ||
		base.Flows[0].Steps[1].Request.JSON.(map[string]any)["op"] != "login" {
		t.Error("clone shares memory with its source")
	}
	if ps := c.Validate(); len(ps) > 0 {
		t.Errorf("clone invalid: %v", ps)
	}
}
