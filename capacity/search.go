package capacity

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/wsbench/wsbench/engine"
	"github.com/wsbench/wsbench/gate"
	"github.com/wsbench/wsbench/report"
	"github.com/wsbench/wsbench/scenario"
	"github.com/wsbench/wsbench/threshold"
)

// RunFunc runs one step's scenario and returns its report. engine.Run
// (through a closure) is the usual one; a coordinator of several
// generator processes can stand in for it. Like engine.Run it should
// return a report even with an error, and a report whose end_reason is
// interrupted when ctx is cancelled.
type RunFunc func(ctx context.Context, sc *scenario.Scenario) (*report.Report, error)

// ErrInterrupted is returned (wrapped) by Search when its context was
// cancelled: the capacity and reports returned beside it hold the steps
// that finished.
var ErrInterrupted = errors.New("capacity search interrupted")

// Bottleneck rule: a step whose achieved load is below achievedMin of the
// intended level while the generator's mean CPU in the hold window is at
// least cpuBusy of its capacity measured the generator, not the target.
const (
	achievedMin = 0.90
	cpuBusy     = 0.75
)

// Search finds the highest load level of the variable cfg names that
// meets every SLO. It runs one step per level of cfg.Levels, each a fresh
// run of a copy of sc (which must be valid) set to that
// level, and stops at the first step that breaks an SLO, at the first
// whose load generator was the bottleneck (the result is then a lower
// bound), at cfg.Max, or when the budget has no room for another step.
// Between the last passing and the first failing level it then runs up to
// cfg.Refine bisection steps. Each step is judged on its hold window only
// (see windowReport).
//
// Search returns the result, and the full report of every step in the
// order they ran (reports[i] is capacity.Steps[i], with the SLO results
// of its hold window as thresholds). It returns an error without results
// when cfg or an SLO is invalid or the first step could not start; with
// the results so far when a later step could not be judged, or (wrapping
// ErrInterrupted) when ctx is cancelled. Search calls run from its own
// goroutine, one step at a time.
func Search(ctx context.Context, sc *scenario.Scenario, cfg Config, run RunFunc) (*report.Capacity, []*report.Report, error) {
	if err := cfg.Validate(); err != nil {
		return nil, nil, err
	}
	var errs []error
	var slo []gate.Threshold
	for _, expr := range cfg.SLO {
		t, err := gate.Parse(expr)
		if err != nil {
			errs = append(errs, fmt.Errorf("SLO %q: %w", expr, err))
			continue
		}
		slo = append(slo, t)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, nil, err
	}
	base, err := clone(sc)
	if err != nil {
		return nil, nil, err
	}
	base.Complete()
	known := threshold.Known(base.MetricNames())
	for _, t := range slo {
		if err := threshold.Validate(t, known); err != nil {
			errs = append(errs, fmt.Errorf("SLO %q: %w", t.Expr, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, nil, err
	}
	// Build the first step's scenario now, so a scenario the variable
	// cannot drive fails before anything runs.
	if _, err := stepScenario(base, cfg.Variable, cfg.Start, cfg.Warmup, cfg.StepDuration); err != nil {
		return nil, nil, err
	}

	s := &searcher{
		base:     base,
		cfg:      cfg,
		run:      run,
		slo:      slo,
		primary:  latencyMetric(base, slo),
		started:  time.Now(),
		overhead: cfg.Overhead,
		logf:     cfg.Logf,
		failWhy:  map[float64]string{},
		capa:     &report.Capacity{Variable: cfg.Variable, SLO: append([]string(nil), cfg.SLO...), Steps: []report.CapacityStep{}},
	}
	if s.overhead <= 0 {
		s.overhead = base.Client.Drain.D() + time.Second
	}
	if s.logf == nil {
		s.logf = func(string, ...any) {}
	}
	plan := NewPlan(cfg, s.overhead)
	if plan.Fit() == 0 {
		return nil, nil, fmt.Errorf("the %s budget is shorter than one step (about %s: warmup, hold and overhead)", cfg.Budget, plan.StepCost.Round(100*time.Millisecond))
	}
	s.logf("capacity: %s", plan)

	err = s.search(ctx, plan)
	s.finish()
	if err != nil && len(s.capa.Steps) == 0 && !errors.Is(err, ErrInterrupted) {
		return nil, nil, err
	}
	return s.capa, s.reps, err
}

type searcher struct {
	base     *scenario.Scenario
	cfg      Config
	run      RunFunc
	slo      []gate.Threshold
	primary  string // latency metric of the p50/p99 columns and the knee
	started  time.Time
	overhead time.Duration // largest measured (or the first estimate)
	logf     func(format string, args ...any)

	capa *report.Capacity
	reps []*report.Report
	// The outcome so far.
	lo, hi        *float64           // last passing and first failing level
	failWhy       map[float64]string // what broke, by failing level
	bottleneckAt  *float64
	bottleneckWhy string
	refineStopped string // why refinement stopped early
	stoppedBy     string // why the search stopped before its plan ended
}

// stepResult is what one step came to.
type stepResult int

const (
	stepPassed stepResult = iota
	stepFailed
	stepBottleneck
)

// errBudget stops the search when the budget has no room for a step.
var errBudget = errors.New("budget exhausted")

func (s *searcher) search(ctx context.Context, plan Plan) error {
ramp:
	for _, level := range plan.Levels {
		res, err := s.step(ctx, level)
		if err != nil {
			return s.stop(err, fmt.Sprintf("levels %s … %s not tried", formatLoad(level), formatLoad(plan.Levels[len(plan.Levels)-1])))
		}
		switch res {
		case stepPassed:
			s.lo = ptr(level)
		case stepFailed:
			s.hi = ptr(level)
			break ramp
		case stepBottleneck:
			s.capa.LowerBound = true
			break ramp
		}
	}
	if s.lo == nil || s.hi == nil {
		return nil
	}
	for i := range s.cfg.Refine {
		mid, ok := midpoint(s.cfg.Variable, *s.lo, *s.hi)
		if !ok {
			s.refineStopped = fmt.Sprintf("no level between %s and %s", formatLoad(*s.lo), formatLoad(*s.hi))
			return nil
		}
		res, err := s.step(ctx, mid)
		if err != nil {
			return s.stop(err, fmt.Sprintf("%d of %d refinement steps not run", s.cfg.Refine-i, s.cfg.Refine))
		}
		switch res {
		case stepPassed:
			s.lo = ptr(mid)
		case stepFailed:
			s.hi = ptr(mid)
		case stepBottleneck:
			// The bracket found so far stands; the generator cannot judge
			// the levels inside it.
			s.refineStopped = fmt.Sprintf("the generator was the bottleneck at %s", formatLoad(mid))
			return nil
		}
	}
	return nil
}

// stop records why the search ended before its plan did (notRun says
// what was left out) and returns the error Search should return: nil
// when the results so far stand.
func (s *searcher) stop(err error, notRun string) error {
	var se *startError
	switch {
	case errors.Is(err, errBudget):
		s.stoppedBy = fmt.Sprintf("the %s budget had no room for another step after %s (%s)",
			s.cfg.Budget, time.Since(s.started).Round(time.Second), notRun)
		return nil
	case errors.Is(err, ErrInterrupted):
		s.stoppedBy = fmt.Sprintf("interrupted after %d step(s) (%s)", len(s.capa.Steps), notRun)
		return err
	case errors.As(err, &se) && len(s.capa.Steps) > 0:
		// A later step that cannot even start means the target went
		// away, most likely under the previous load: say so and keep the
		// results.
		s.stoppedBy = fmt.Sprintf("a step could not start (%v): the target may have failed under the previous load (%s)", err, notRun)
		return nil
	}
	s.stoppedBy = fmt.Sprintf("%v (%s)", err, notRun)
	return err
}

// startError is a step that could not start: its runner returned no
// report or an *engine.StartError.
type startError struct{ err error }

func (e *startError) Error() string { return e.err.Error() }
func (e *startError) Unwrap() error { return e.err }

// step runs the search at one level and records it.
func (s *searcher) step(ctx context.Context, level float64) (stepResult, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("%w: %w", ErrInterrupted, err)
	}
	cost := s.cfg.Warmup + s.cfg.StepDuration + s.overhead
	elapsed := time.Since(s.started)
	if s.cfg.Budget > 0 && stepsThatFit(s.cfg.Budget-elapsed, cost) < 1 {
		return 0, errBudget
	}
	sc, err := stepScenario(s.base, s.cfg.Variable, level, s.cfg.Warmup, s.cfg.StepDuration)
	if err != nil {
		return 0, err
	}
	stepCtx, cancel := ctx, context.CancelFunc(func() {})
	if s.cfg.Budget > 0 {
		// A safety net: a step that overruns its estimate by more than a
		// whole step's cost past the budget is cut off.
		stepCtx, cancel = context.WithDeadline(ctx, s.started.Add(s.cfg.Budget+cost))
	}
	s.logf("capacity: step %d: %s %s (warmup %s, hold %s)", len(s.capa.Steps)+1, s.cfg.Variable, formatLoad(level), s.cfg.Warmup, s.cfg.StepDuration)
	t0 := time.Now()
	rep, runErr := s.run(stepCtx, sc)
	wall := time.Since(t0)
	budgetCut := stepCtx.Err() != nil && ctx.Err() == nil
	cancel()
	s.overhead = max(s.overhead, wall-s.cfg.Warmup-s.cfg.StepDuration)

	switch {
	case ctx.Err() != nil:
		return 0, fmt.Errorf("%w: %w", ErrInterrupted, ctx.Err())
	case budgetCut:
		return 0, errBudget
	}
	var se *engine.StartError
	if rep == nil || errors.As(runErr, &se) {
		if runErr == nil {
			runErr = errors.New("the runner returned no report")
		}
		return 0, &startError{fmt.Errorf("%s %s: %w", s.cfg.Variable, formatLoad(level), runErr)}
	}

	st, res, err := s.judge(rep, level)
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w", s.cfg.Variable, formatLoad(level), err)
	}
	s.capa.Steps = append(s.capa.Steps, st)
	s.reps = append(s.reps, rep)
	if s.cfg.OnStep != nil {
		s.cfg.OnStep(st)
	}
	return res, nil
}

// judge evaluates one step's report on its hold window.
func (s *searcher) judge(rep *report.Report, level float64) (report.CapacityStep, stepResult, error) {
	st := report.CapacityStep{Load: level, Unreliable: rep.Generator.Unreliable}
	w, werr := holdWindow(rep, s.cfg.Warmup, s.cfg.StepDuration)
	if werr != nil {
		if rep.EndReason == report.EndCompleted {
			return st, 0, werr
		}
		// The run ended early (the target failed): a failed step with
		// nothing to measure.
		st.Failed = []string{"run " + rep.EndReason + ": " + rep.EndDetail}
		s.failWhy[level] = st.Failed[0]
		passed := false
		rep.Passed = &passed
		return st, stepFailed, nil
	}
	arrivals := 0.0
	if s.cfg.Variable == ArrivalRate {
		arrivals = level
	}
	wrep, err := windowReport(rep, w, arrivals)
	if err != nil {
		return st, 0, err
	}
	results := gate.Evaluate(s.slo, wrep)
	passed := rep.EndReason == report.EndCompleted
	var why []string
	if !passed {
		st.Failed = append(st.Failed, "run "+rep.EndReason+": "+rep.EndDetail)
		why = append(why, st.Failed[0])
	}
	for _, r := range results {
		if !r.Passed {
			passed = false
			st.Failed = append(st.Failed, r.Expr)
			why = append(why, describeResult(r))
		}
	}
	if !passed {
		s.failWhy[level] = strings.Join(why, "; ")
	}
	rep.Thresholds, rep.Passed = results, &passed

	c := &wrep.Counters
	st.DurationS = w.dur
	st.Passed = passed
	st.Throughput = float64(c.MessagesReceived) / w.dur
	if ops := c.MessagesSent + c.ConnectsAttempted; ops > 0 {
		st.ErrorRate = float64(c.Errors()) / float64(ops)
	}
	switch s.cfg.Variable {
	case Clients:
		st.Achieved = w.meanActive()
	case ArrivalRate:
		st.Achieved = wrep.Rates.SessionsAchievedPerS
	case MessageRate:
		st.Achieved = wrep.Rates.SendsAchievedPerS
	}
	if m := wrep.Metrics[s.primary]; m != nil {
		st.P50US, st.P99US = m.P50US, m.P99US
	}
	st.Metrics = map[string]*report.Metric{}
	for name, m := range wrep.Metrics {
		if m.Count == 0 {
			continue
		}
		sum := *m
		sum.HDR = "" // a summary: the step's full report keeps the histograms
		st.Metrics[name] = &sum
	}

	capacityCPU := rep.Generator.CPUCapacity
	if capacityCPU <= 0 {
		capacityCPU = 100 * float64(max(rep.Environment.GOMAXPROCS, 1))
	}
	cpu := w.meanCPU()
	starved := st.Achieved < achievedMin*level && cpu >= cpuBusy*capacityCPU
	switch {
	case rep.Generator.Unreliable:
		st.Unreliable = true
		s.setBottleneck(level, strings.Join(rep.Generator.Reasons, "; "))
		return st, stepBottleneck, nil
	case starved:
		st.Unreliable = true
		s.setBottleneck(level, fmt.Sprintf("achieved %s of %s while the generator's CPU averaged %.0f%% of %.0f%%",
			formatLoad(st.Achieved), formatLoad(level), cpu, capacityCPU))
		return st, stepBottleneck, nil
	case passed:
		return st, stepPassed, nil
	}
	return st, stepFailed, nil
}

func (s *searcher) setBottleneck(level float64, why string) {
	if s.bottleneckAt == nil {
		s.bottleneckAt, s.bottleneckWhy = ptr(level), why
	}
}

// finish fills the result's bounds, knee and verdict.
func (s *searcher) finish() {
	c := s.capa
	c.MaxOK, c.FirstFail = s.lo, s.hi
	var pts []Point
	for _, st := range c.Steps {
		if !st.Unreliable && st.P99US > 0 {
			pts = append(pts, Point{Load: st.Load, Latency: float64(st.P99US)})
		}
	}
	if k, ok := Knee(pts); ok {
		c.Knee = ptr(k)
	}
	c.Verdict = s.verdict()
}

func (s *searcher) verdict() string {
	c := s.capa
	unit := loadUnit(s.cfg.Variable)
	load := func(x float64) string { return formatLoad(x) + " " + unit }
	var parts []string
	switch {
	case len(c.Steps) == 0:
		parts = append(parts, "no step finished")
	case c.LowerBound && c.MaxOK == nil:
		parts = append(parts, fmt.Sprintf("the load generator was the bottleneck at the first step (%s: %s): nothing is known about the target; use more generators or a lower start",
			load(*s.bottleneckAt), s.bottleneckWhy))
	case c.LowerBound:
		parts = append(parts, fmt.Sprintf("capacity is at least %s (a lower bound): the load generator, not the target, was the bottleneck at %s (%s)",
			load(*c.MaxOK), load(*s.bottleneckAt), s.bottleneckWhy))
	case c.MaxOK == nil && c.FirstFail != nil:
		parts = append(parts, fmt.Sprintf("the first step, %s, already broke the SLO (%s): capacity is below it; lower the start",
			load(*c.FirstFail), s.failWhy[*c.FirstFail]))
	case c.FirstFail == nil && c.MaxOK != nil && s.stoppedBy == "":
		parts = append(parts, fmt.Sprintf("every step up to %s met the SLO: capacity is at least that; raise max", load(*c.MaxOK)))
	case c.FirstFail == nil && c.MaxOK != nil:
		parts = append(parts, fmt.Sprintf("every step run, up to %s, met the SLO", load(*c.MaxOK)))
	default:
		parts = append(parts, fmt.Sprintf("highest load that met the SLO: %s; first that broke it: %s (%s)",
			load(*c.MaxOK), load(*c.FirstFail), s.failWhy[*c.FirstFail]))
	}
	if s.refineStopped != "" {
		parts = append(parts, "refinement ended early: "+s.refineStopped)
	}
	if c.Knee != nil {
		parts = append(parts, fmt.Sprintf("latency (%s p99) starts rising steeply after %s (knee)", s.primary, load(*c.Knee)))
	}
	if s.stoppedBy != "" {
		parts = append(parts, "stopped early: "+s.stoppedBy)
	}
	return strings.Join(parts, "; ")
}

// LatencyMetric returns the latency metric whose p50 and p99 a search of
// sc with these SLOs shows per step and draws its knee from: the first
// one an SLO names, else the first one a step records (rtt for the short
// form), else connect. Unparseable SLOs are skipped.
func LatencyMetric(sc *scenario.Scenario, slo []string) string {
	var ts []gate.Threshold
	for _, expr := range slo {
		if t, err := gate.Parse(expr); err == nil {
			ts = append(ts, t)
		}
	}
	return latencyMetric(sc, ts)
}

func latencyMetric(sc *scenario.Scenario, slo []gate.Threshold) string {
	for _, t := range slo {
		if threshold.IsLatency(t.Metric) && t.Metric != "schedule_lag" {
			return t.Metric
		}
	}
	var first string
	for _, f := range sc.Flows {
		scenario.WalkSteps(f.Steps, func(s *scenario.Step) bool {
			first = s.StepMetric()
			return first == ""
		})
		if first != "" {
			break
		}
	}
	if first == "" {
		return "connect"
	}
	return first
}

func ptr(x float64) *float64 { return &x }
