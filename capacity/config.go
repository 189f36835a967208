package capacity

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/wsbench/wsbench/report"
	"github.com/wsbench/wsbench/scenario"
	"github.com/wsbench/wsbench/threshold"
)

// The load variables a search can step.
const (
	Clients     = "clients"      // concurrent sessions (closed model)
	ArrivalRate = "arrival_rate" // new sessions per second (open model)
	MessageRate = "message_rate" // messages per second over all sessions
)

// Config is what a search does: which variable it steps, over which
// levels, how long it holds each, and what it judges them by.
type Config struct {
	// Variable is Clients, ArrivalRate or MessageRate.
	Variable string
	// Start is the first level; each further level adds Step or, with Step
	// 0, multiplies by Factor, up to Max (which is tried itself when the
	// progression steps over it).
	Start, Step, Factor, Max float64
	// Warmup ramps from zero to the level; the step is not judged on it.
	Warmup time.Duration
	// StepDuration is how long the level is held after Warmup; this hold
	// window is all a step is judged on.
	StepDuration time.Duration
	// Refine is how many bisection steps run between the last passing and
	// the first failing level; 0 for none.
	Refine int
	// Budget bounds the whole search: a step starts only when its expected
	// cost fits in what is left. 0 means no limit.
	Budget time.Duration
	// Overhead is the expected time a step takes beyond Warmup and
	// StepDuration (start-up, drain, shutdown). 0 means the scenario's
	// drain time plus one second. The search replaces the estimate by the
	// largest overhead it measures.
	Overhead time.Duration
	// SLO are threshold expressions (package gate) every step must meet.
	SLO []string

	// OnStep, if set, is called after each step with its result, from the
	// goroutine that called Search.
	OnStep func(step report.CapacityStep)
	// Logf receives diagnostics; nil discards them.
	Logf func(format string, args ...any)
}

// FromScenario returns the configuration a scenario's capacity section
// describes. A negative refine (which YAML needs to say "none", since 0
// means the default) becomes 0.
func FromScenario(cp *scenario.Capacity) Config {
	if cp == nil {
		return Config{}
	}
	return Config{
		Variable:     cp.Variable,
		Start:        cp.Start,
		Step:         cp.Step,
		Factor:       cp.Factor,
		Max:          cp.Max,
		Warmup:       cp.Warmup.D(),
		StepDuration: cp.StepDuration.D(),
		Refine:       max(cp.Refine, 0),
		Budget:       cp.Budget.D(),
		SLO:          append([]string(nil), cp.SLO...),
	}
}

// Validate reports every problem of c at once.
func (c Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	switch c.Variable {
	case Clients, ArrivalRate, MessageRate:
	case "":
		add("no load variable: give clients, arrival_rate or message_rate")
	default:
		add("variable %q: want clients, arrival_rate or message_rate", c.Variable)
	}
	if !(c.Start > 0) || math.IsInf(c.Start, 0) {
		add("start must be more than zero")
	}
	if c.Variable == Clients && c.Start > 0 && c.Start < 1 {
		add("start must be at least 1 client")
	}
	if !(c.Max >= c.Start) || math.IsInf(c.Max, 0) {
		add("max (%g) must be at least start (%g)", c.Max, c.Start)
	}
	switch {
	case c.Step < 0 || math.IsNaN(c.Step) || math.IsInf(c.Step, 0):
		add("step must be more than zero")
	case c.Step == 0 && !(c.Factor > 1):
		add("give step > 0 (linear) or factor > 1 (geometric)")
	}
	if c.StepDuration <= 0 {
		add("step duration must be more than zero")
	}
	if c.Warmup < 0 {
		add("warmup must not be negative")
	}
	if c.Refine < 0 {
		add("refine must not be negative")
	}
	if c.Budget < 0 {
		add("budget must not be negative")
	}
	if len(c.SLO) == 0 {
		add("no SLO: give at least one, e.g. 'rtt p99 < 100ms'")
	}
	return errors.Join(errs...)
}

// maxLevels bounds the ramp so a tiny step over a huge range cannot plan
// millions of steps; the budget would cut them anyway.
const maxLevels = 1000

// Levels returns the ramp's load levels in order: Start, then +Step (or
// ×Factor) while at most Max, then Max itself if the progression stepped
// over it. Client counts are rounded to whole numbers and duplicates
// dropped. c must be valid.
func (c Config) Levels() []float64 {
	const eps = 1e-9
	var out []float64
	add := func(x float64) {
		if c.Variable == Clients {
			x = math.Round(x)
		}
		if n := len(out); n == 0 || x > out[n-1] {
			out = append(out, x)
		}
	}
	x := c.Start
	for i := 1; x <= c.Max*(1+eps) && len(out) < maxLevels; i++ {
		add(min(x, c.Max))
		if c.Step > 0 {
			x = c.Start + float64(i)*c.Step // no accumulated rounding error
		} else {
			x = c.Start * math.Pow(c.Factor, float64(i))
		}
	}
	if len(out) < maxLevels {
		add(c.Max)
	}
	return out
}

// midpoint returns the level halfway between a passing level lo and a
// failing level hi, and false when there is none strictly between them
// (adjacent client counts).
func midpoint(variable string, lo, hi float64) (float64, bool) {
	mid := lo + (hi-lo)/2
	if variable == Clients {
		mid = math.Floor(mid)
	}
	return mid, mid > lo && mid < hi
}

// Plan is what a search intends to do and what the budget allows.
type Plan struct {
	Levels   []float64     // the ramp's levels
	Refine   int           // bisection steps after the ramp, at most
	StepCost time.Duration // expected wall time of one step: warmup + hold + overhead
	Budget   time.Duration // 0: no limit
}

// NewPlan plans a search of c whose steps take overhead beyond warmup
// and hold.
func NewPlan(c Config, overhead time.Duration) Plan {
	return Plan{Levels: c.Levels(), Refine: c.Refine, StepCost: c.Warmup + c.StepDuration + overhead, Budget: c.Budget}
}

// Steps returns the most steps the search may run.
func (p Plan) Steps() int { return len(p.Levels) + p.Refine }

// Fit returns how many steps the budget has room for, or -1 without a
// budget.
func (p Plan) Fit() int {
	if p.Budget <= 0 {
		return -1
	}
	return stepsThatFit(p.Budget, p.StepCost)
}

// stepsThatFit returns how many steps of the given cost fit in remaining.
func stepsThatFit(remaining, cost time.Duration) int {
	if remaining <= 0 {
		return 0
	}
	if cost <= 0 {
		return math.MaxInt
	}
	return int(remaining / cost)
}

// String describes the plan in one or two lines, saying when the budget
// cannot hold every step.
func (p Plan) String() string {
	var b strings.Builder
	n := len(p.Levels)
	fmt.Fprintf(&b, "%d level", n)
	if n != 1 {
		b.WriteString("s")
	}
	if n > 0 {
		fmt.Fprintf(&b, " (%s … %s)", formatLoad(p.Levels[0]), formatLoad(p.Levels[n-1]))
	}
	if p.Refine > 0 {
		fmt.Fprintf(&b, " + up to %d refinement step", p.Refine)
		if p.Refine != 1 {
			b.WriteString("s")
		}
	}
	fmt.Fprintf(&b, ", about %s each", p.StepCost.Round(100*time.Millisecond))
	if fit := p.Fit(); fit >= 0 {
		fmt.Fprintf(&b, "; the %s budget fits %d", p.Budget, fit)
		if fit < p.Steps() {
			fmt.Fprintf(&b, " of the %d: the search may stop before it finds the limit", p.Steps())
		}
	}
	return b.String()
}

// MergeSLOs returns the scenario's SLOs with those given by flag: a flag's
// SLO replaces the scenario's on the same metric and statistic ("rtt
// p99"), and the rest are added in order.
func MergeSLOs(fromScenario, fromFlags []string) ([]string, error) {
	key := func(expr string) (string, error) {
		t, err := threshold.Parse(expr)
		if err != nil {
			return "", fmt.Errorf("--slo %q: %w", expr, err)
		}
		return t.Metric + "[" + t.Select + "] " + t.Stat, nil
	}
	out := append([]string(nil), fromScenario...)
	for _, expr := range fromFlags {
		k, err := key(expr)
		if err != nil {
			return nil, err
		}
		replaced := false
		for i, have := range out {
			if hk, err := key(have); err == nil && hk == k {
				out[i], replaced = expr, true
			}
		}
		if !replaced {
			out = append(out, expr)
		}
	}
	return out, nil
}
