package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/pflag"

	"github.com/wsbench/wsbench/capacity"
	"github.com/wsbench/wsbench/engine"
	"github.com/wsbench/wsbench/gate"
	"github.com/wsbench/wsbench/report"
	"github.com/wsbench/wsbench/scenario"
	"github.com/wsbench/wsbench/targets"
)

func init() {
	register(&command{
		name:    "capacity",
		summary: "find the highest load that meets an SLO",
		usage:   []string{"wsbench capacity [flags] SCENARIO.yaml"},
		about: []string{
			"Steps the load up until an SLO breaks (or the generator becomes the bottleneck),",
			"bisects between the last passing and the first failing level, and reports the",
			"highest load that met the SLO. Flags override the scenario's capacity section.",
			"The step table goes to stdout (to stderr when the JSON goes to stdout).",
			"Exit codes: 0 found, 1 failed, 2 could not start, 3 the first step already broke",
			"the SLO, 4 the generator was the bottleneck from the first step, 5 interrupted.",
			"See docs/capacity.md.",
		},
		args:  argScenario,
		flags: func() *pflag.FlagSet { return capacityFlags(new(capacityOptions)) },
		run:   runCapacity,
	})
}

// capacityOptions are the capacity command's flags; like run's, a flag
// overrides the scenario's capacity section only when it was given.
type capacityOptions struct {
	slo          []string
	variable     string
	start        float64
	step         float64
	factor       float64
	max          float64
	stepDuration time.Duration
	warmup       time.Duration
	refine       int
	budget       time.Duration
	target       string
	jsonPath     string
	htmlPath     string
	quiet        bool
	export       exportOptions
}

func capacityFlags(o *capacityOptions) *pflag.FlagSet {
	fs := newFlagSet("capacity")
	fs.StringArrayVar(&o.slo, "slo", nil, "an `SLO` every step must meet, e.g. 'rtt p99 < 100ms' (repeatable; replaces the scenario's SLO on the same metric and statistic, adds to the others)")
	fs.StringVar(&o.variable, "variable", "", "the load to step: clients, arrival_rate or message_rate")
	fs.Float64Var(&o.start, "start", 0, "first load level")
	fs.Float64Var(&o.step, "step", 0, "add this much load per step (linear)")
	fs.Float64Var(&o.factor, "factor", 0, "multiply the load by this per step (geometric)")
	fs.Float64Var(&o.max, "max", 0, "highest load level to try")
	fs.DurationVar(&o.stepDuration, "step-duration", 0, "hold each level this long after the warmup; only the hold is judged (default 10s)")
	fs.DurationVar(&o.warmup, "warmup", 0, "ramp from zero to each level over this long (default 2s)")
	fs.IntVar(&o.refine, "refine", 0, "bisection steps between the last passing and first failing level (default 2)")
	fs.DurationVar(&o.budget, "budget", 0, "stop starting steps when this much time would be exceeded (default 10m)")
	fs.StringVar(&o.target, "target", "", "target: builtin or a ws:// `URL` (overrides the scenario)")
	fs.StringVar(&o.jsonPath, "json", "wsbench-capacity.json", "write the JSON report (the highest passing step's, with the search) to this `file` (- for stdout, empty for none)")
	fs.StringVar(&o.htmlPath, "html", "", "also write the self-contained HTML report, with the capacity chart, to this `file`")
	fs.BoolVarP(&o.quiet, "quiet", "q", false, "no progress and no table")
	completeFiles(fs, "json", "json")
	completeFiles(fs, "html", "html")
	completeValues(fs, "variable", "clients", "arrival_rate", "message_rate")
	o.export.addFlags(fs)
	return fs
}

func runCapacity(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var o capacityOptions
	fs := capacityFlags(&o)
	if code, done := parseFlags("capacity", fs, args, stdout, stderr); done {
		return code
	}
	if fs.NArg() != 1 {
		return usageError("capacity", stderr, "want one scenario file, got %d arguments", fs.NArg())
	}
	sc, err := scenario.Load(fs.Arg(0))
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitCannotStart
	}
	cfg, err := applyCapacityFlags(fs, &o, sc, fs.Arg(0))
	if err != nil {
		fmt.Fprintf(stderr, "wsbench capacity: %v\n", err)
		return exitCannotStart
	}
	var rep *report.Report
	outs := []output{
		reportOutput("--json", o.jsonPath, "JSON report", &rep, report.WriteJSON),
		reportOutput("--html", o.htmlPath, "HTML report", &rep, report.WriteHTML),
	}
	if err := checkOutputs([]string{fs.Arg(0)}, outs...); err != nil {
		fmt.Fprintf(stderr, "wsbench capacity: %v\n", err)
		return exitCannotStart
	}
	metric := capacity.LatencyMetric(sc, cfg.SLO)

	// With the JSON on stdout, the table goes to stderr.
	tableOut := stdout
	if anyToStdout(outs...) {
		tableOut = stderr
	}
	var slos []gate.Threshold
	for _, expr := range cfg.SLO {
		if t, err := gate.Parse(expr); err == nil {
			slos = append(slos, t)
		}
	}
	eopts := engine.Options{LagBudget: gate.LagBudget(slos)}
	exp, err := o.export.start(sc, "capacity", stderr, o.quiet)
	if err != nil {
		fmt.Fprintf(stderr, "wsbench capacity: %v\n", err)
		return exitCannotStart
	}
	defer exp.finish(ctx, "capacity", stderr)
	eopts.Sinks = exp.sinks()
	if !o.quiet {
		cfg.Logf = func(format string, args ...any) { fmt.Fprintf(stderr, format+"\n", args...) }
		if isTerminal(stderr) {
			eopts.Progress, eopts.ProgressTTY = stderr, true
		}
		cfg.OnStep = func(st report.CapacityStep) {
			result := "pass"
			switch {
			case st.Unreliable:
				result = "generator-bound"
			case !st.Passed:
				result = "FAIL"
			}
			fmt.Fprintf(stderr, "capacity: %s %g: achieved %.4g, %s p50 %s p99 %s: %s\n", cfg.Variable, st.Load, st.Achieved,
				metric, report.FormatUS(st.P50US), report.FormatUS(st.P99US), result)
		}
	}
	// The target starts once and serves every step.
	logf := cfg.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	target, err := targets.Start(ctx, sc, logf)
	if err != nil {
		fmt.Fprintf(stderr, "wsbench capacity: %v\n", err)
		return exitCannotStart
	}
	defer func() {
		if err := target.Stop(); err != nil {
			logf("target: %v", err)
		}
	}()
	run := func(ctx context.Context, sc *scenario.Scenario) (*report.Report, error) {
		return target.Run(ctx, sc, eopts)
	}

	c, reps, err := capacity.Search(ctx, sc, cfg, run)
	if c == nil {
		fmt.Fprintf(stderr, "wsbench capacity: %v\n", err)
		return exitCannotStart
	}
	if !o.quiet {
		if werr := capacity.WriteTable(tableOut, c, metric); werr != nil {
			fmt.Fprintf(stderr, "wsbench capacity: %v\n", werr)
		}
	}
	var writeErr error
	if rep = capacity.Result(c, reps); rep != nil {
		writeErr = writeOutputs("capacity", o.quiet, stdout, stderr, outs...)
	} else if o.jsonPath != "" || o.htmlPath != "" {
		fmt.Fprintln(stderr, "wsbench capacity: no step finished: no report written")
	}

	var out outcome
	switch {
	case errors.Is(err, capacity.ErrInterrupted):
		out.interrupted = true
	case err != nil:
		fmt.Fprintf(stderr, "wsbench capacity: %v\n", err)
		out.failed = true
	case len(c.Steps) == 0:
		out.failed = true // nothing was judged; the verdict says why
	case c.LowerBound && c.MaxOK == nil:
		out.unreliable = true
	case c.MaxOK == nil && c.FirstFail != nil:
		out.gateFailed = true
	}
	out.failed = out.failed || writeErr != nil
	return out.code()
}

// applyCapacityFlags applies the flags that were given to the scenario's
// capacity section (creating it if the scenario has none), fills its
// defaults, validates it and returns the search configuration.
func applyCapacityFlags(fs *pflag.FlagSet, o *capacityOptions, sc *scenario.Scenario, path string) (capacity.Config, error) {
	if fs.Changed("target") {
		sc.Target = o.target
		if o.target != "builtin" {
			sc.Builtin = nil
		}
	}
	cp := sc.Capacity
	if cp == nil {
		for _, name := range []string{"variable", "start", "max"} {
			if !fs.Changed(name) {
				return capacity.Config{}, fmt.Errorf("%s has no capacity section: give at least --variable, --start, --max and --slo", path)
			}
		}
		cp = &scenario.Capacity{}
	}
	if fs.Changed("step") && fs.Changed("factor") {
		return capacity.Config{}, errors.New("give --step (linear) or --factor (geometric), not both")
	}
	if fs.Changed("variable") {
		cp.Variable = o.variable
	}
	if fs.Changed("start") {
		cp.Start = o.start
	}
	if fs.Changed("step") {
		cp.Step, cp.Factor = o.step, 0
	}
	if fs.Changed("factor") {
		cp.Factor, cp.Step = o.factor, 0
	}
	if fs.Changed("max") {
		cp.Max = o.max
	}
	if fs.Changed("step-duration") {
		cp.StepDuration = scenario.Duration(o.stepDuration)
	}
	if fs.Changed("warmup") {
		cp.Warmup = scenario.Duration(o.warmup)
	}
	if fs.Changed("budget") {
		cp.Budget = scenario.Duration(o.budget)
	}
	slo, err := capacity.MergeSLOs(cp.SLO, o.slo)
	if err != nil {
		return capacity.Config{}, err
	}
	cp.SLO = slo
	sc.Capacity = cp
	sc.Complete()
	if ps := sc.Validate(); len(ps) > 0 {
		for i := range ps {
			ps[i].File = path
		}
		return capacity.Config{}, fmt.Errorf("after applying flags:\n%w", ps)
	}
	cfg := capacity.FromScenario(cp)
	if fs.Changed("refine") {
		// After Complete, which reads 0 as "the default".
		cfg.Refine = o.refine
	}
	return cfg, cfg.Validate()
}
