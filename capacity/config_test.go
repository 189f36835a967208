package capacity

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wsbench/wsbench/scenario"
)

func TestLevels(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want []float64
	}{
		{"linear exact", Config{Variable: MessageRate, Start: 100, Step: 100, Max: 500}, []float64{100, 200, 300, 400, 500}},
		{"linear overshoots max", Config{Variable: MessageRate, Start: 100, Step: 150, Max: 500}, []float64{100, 250, 400, 500}},
		{"linear decimal steps keep no float noise", Config{Variable: ArrivalRate, Start: 0.1, Step: 0.1, Max: 0.5}, []float64{0.1, 0.2, 0.30000000000000004, 0.4, 0.5}},
		{"geometric", Config{Variable: ArrivalRate, Start: 10, Factor: 2, Max: 100}, []float64{10, 20, 40, 80, 100}},
		{"geometric exact", Config{Variable: ArrivalRate, Start: 1, Factor: 10, Max: 1000}, []float64{1, 10, 100, 1000}},
		{"start is max", Config{Variable: Clients, Start: 50, Step: 10, Max: 50}, []float64{50}},
		{"clients round and dedupe", Config{Variable: Clients, Start: 1, Factor: 1.3, Max: 4}, []float64{1, 2, 3, 4}},
		{"clients linear", Config{Variable: Clients, Start: 10, Step: 10, Max: 60}, []float64{10, 20, 30, 40, 50, 60}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.cfg.Levels(); !slices.Equal(got, tc.want) {
				t.Errorf("Levels() = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestLevelsBounded(t *testing.T) {
	got := Config{Variable: MessageRate, Start: 1, Step: 1, Max: 1e9}.Levels()
	if len(got) != maxLevels {
		t.Fatalf("%d levels, want the cap %d", len(got), maxLevels)
	}
}

func TestMidpoint(t *testing.T) {
	for _, tc := range []struct {
		variable string
		lo, hi   float64
		want     float64
		ok       bool
	}{
		{MessageRate, 500, 600, 550, true},
		{MessageRate, 500, 550, 525, true},
		{ArrivalRate, 1, 2, 1.5, true},
		{Clients, 30, 40, 35, true},
		{Clients, 30, 35, 32, true},
		{Clients, 32, 35, 33, true},
		{Clients, 33, 34, 33, false},
		{Clients, 33, 35, 34, true},
	} {
		got, ok := midpoint(tc.variable, tc.lo, tc.hi)
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("midpoint(%s, %g, %g) = %g, %v; want %g, %v", tc.variable, tc.lo, tc.hi, got, ok, tc.want, tc.ok)
		}
	}
}

func TestValidateReportsEverything(t *testing.T) {
	err := Config{Variable: "users", Start: 0, Max: -1, Step: -1, StepDuration: 0, Refine: -1}.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"variable", "start", "max", "step", "step duration", "refine", "SLO"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %s:\n%v", want, err)
		}
	}
	ok := Config{Variable: Clients, Start: 1, Factor: 2, Max: 8, StepDuration: time.Second, SLO: []string{"errors == 0"}}
	if err := ok.Validate(); err != nil {
		t.Errorf("valid config: %v", err)
	}
	ok.Start = 0.5
	if err := ok.Validate(); err == nil {
		t.Error("half a client accepted")
	}
}

func TestFromScenario(t *testing.T) {
	cp := &scenario.Capacity{Variable: "clients", Start: 10, Step: 5, Max: 50,
		StepDuration: scenario.Duration(3 * time.Second), Warmup: scenario.Duration(time.Second),
		Refine: -1, Budget: scenario.Duration(time.Minute), SLO: []string{"errors == 0"}}
	c := FromScenario(cp)
	if c.Variable != Clients || c.Start != 10 || c.Step != 5 || c.Max != 50 || c.StepDuration != 3*time.Second ||
		c.Warmup != time.Second || c.Refine != 0 || c.Budget != time.Minute || !slices.Equal(c.SLO, cp.SLO) {
		t.Errorf("FromScenario = %+v", c)
	}
	c.SLO[0] = "changed"
	if cp.SLO[0] != "errors == 0" {
		t.Error("FromScenario shares the SLO slice")
	}
}

func TestStepsThatFit(t *testing.T) {
	for _, tc := range []struct {
		remaining, cost time.Duration
		want            int
	}{
		{5 * time.Minute, 13 * time.Second, 23},
		{13 * time.Second, 13 * time.Second, 1},
		{13*time.Second - 1, 13 * time.Second, 0},
		{0, time.Second, 0},
		{-time.Second, time.Second, 0},
	} {
		if got := stepsThatFit(tc.remaining, tc.cost); got != tc.want {
			t.Errorf("stepsThatFit(%s, %s) = %d, want %d", tc.remaining, tc.cost, got, tc.want)
		}
	}
}

func TestPlan(t *testing.T) {
	cfg := Config{Variable: MessageRate, Start: 100, Step: 100, Max: 1000, Warmup: 2 * time.Second,
		StepDuration: 10 * time.Second, Refine: 2, Budget: time.Minute}
	p := NewPlan(cfg, time.Second)
	if p.StepCost != 13*time.Second || p.Steps() != 12 || p.Fit() != 4 {
		t.Fatalf("cost %s steps %d fit %d, want 13s 12 4", p.StepCost, p.Steps(), p.Fit())
	}
	s := p.String()
	for _, want := range []string{"10 levels (100 … 1000)", "up to 2 refinement steps", "13s each", "fits 4 of the 12", "may stop before"} {
		if !strings.Contains(s, want) {
			t.Errorf("plan %q lacks %q", s, want)
		}
	}
	cfg.Budget = 10 * time.Minute
	if s := NewPlan(cfg, time.Second).String(); strings.Contains(s, "may stop") || !strings.Contains(s, "fits 46") {
		t.Errorf("roomy budget: %q", s)
	}
	cfg.Budget = 0
	if p := NewPlan(cfg, time.Second); p.Fit() != -1 || strings.Contains(p.String(), "budget") {
		t.Errorf("no budget: fit %d, %q", p.Fit(), p.String())
	}
}
