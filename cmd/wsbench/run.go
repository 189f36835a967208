package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/wsbench/wsbench/engine"
	"github.com/wsbench/wsbench/gate"
	"github.com/wsbench/wsbench/internal/coord"
	"github.com/wsbench/wsbench/report"
	"github.com/wsbench/wsbench/scenario"
	"github.com/wsbench/wsbench/targets"
	"github.com/wsbench/wsbench/targets/catalog"
)

func init() {
	register(&command{
		name:    "run",
		summary: "run a scenario and write its reports",
		usage:   []string{"wsbench run [flags] SCENARIO.yaml"},
		about: []string{
			"Runs a scenario against its target, prints the terminal summary (on stdout, or on",
			"stderr when a report goes to stdout) and writes the reports. Report paths are",
			"checked before the run starts; an existing report is replaced atomically, and a",
			"device, FIFO or symlink is written through, never replaced.",
			"",
			"With --baseline the run is compared with an earlier JSON report and the regressed",
			"metrics are shown; only --fail-on-regression makes a regression fail the run.",
			"",
			"Exit codes: 0 passed, 1 run failed or a report could not be written, 2 could not",
			"start, 3 a threshold failed (or a regression, with --fail-on-regression),",
			"4 generator unreliable, 5 interrupted.",
		},
		args:  argScenario,
		flags: func() *pflag.FlagSet { return runFlags(new(runOptions)) },
		run:   runRun,
	})
}

// runOptions are the run command's flags; a flag overrides the scenario
// only when it was given (pflag's Changed), never by its default value.
type runOptions struct {
	target    string
	duration  time.Duration
	clients   int
	rate      float64
	seed      uint64
	jsonPath  string
	htmlPath  string
	junitPath string
	mdPath    string
	quiet     bool
	baseline  string
	tolerance string
	start     string
	workers   int
	export    exportOptions
	shard     string // --shard I/N (shard.go)
	startAt   string
}

func runFlags(o *runOptions) *pflag.FlagSet {
	fs := newFlagSet("run")
	fs.StringVar(&o.target, "target", "", "target: builtin or a ws:// `URL` (overrides the scenario)")
	fs.StringVar(&o.start, "start-target", "", "start the target as a child process: a `name` ("+catalog.List()+") or a command line with {{addr}}")
	fs.DurationVar(&o.duration, "duration", 0, "total run time (short form: replaces duration; phases: scaled to it)")
	fs.IntVar(&o.clients, "clients", 0, "concurrent clients (short form: replaces clients; phases: scales the peak to it)")
	fs.Float64Var(&o.rate, "rate", 0, "messages per second per client of the short form's echo flow")
	fs.Uint64Var(&o.seed, "seed", 0, "random seed for payloads, think times and sizes (0: from the clock)")
	fs.StringVar(&o.jsonPath, "json", "wsbench-report.json", "write the JSON report to this `file` (- for stdout, empty for none)")
	fs.StringVar(&o.htmlPath, "html", "", "also write the self-contained HTML report to this `file`")
	fs.StringVar(&o.junitPath, "junit", "", "write thresholds (and baseline regressions) as JUnit XML to this `file`")
	fs.StringVar(&o.mdPath, "summary-md", "", "write a one-screen markdown summary to this `file` (for a pull-request comment)")
	fs.BoolVarP(&o.quiet, "quiet", "q", false, "no progress line and no terminal summary")
	fs.StringVar(&o.baseline, "baseline", "", "compare the run with this earlier JSON `report` and show what regressed (gates only with --fail-on-regression)")
	fs.StringVar(&o.tolerance, "fail-on-regression", "", "with --baseline: fail the run (exit 3) when a metric regressed by more than this `tolerance` (10% or 0.1) and beyond noise")
	completeFiles(fs, "json", "json", "baseline")
	completeFiles(fs, "html", "html")
	completeFiles(fs, "xml", "junit")
	completeFiles(fs, "md", "summary-md")
	fs.IntVar(&o.workers, "workers", 0, "split the load over this many worker `processes` on this machine (0: one, or as many as the connection plan needs)")
	fs.StringVar(&o.shard, "shard", "", "run share `I/N` of the run (I from 0), for merging with the other shards' reports (wsbench merge)")
	fs.StringVar(&o.startAt, "start-at", "", "with --shard: start the load at this `time` (RFC 3339), the same for every shard")
	completeValues(fs, "start-target", catalog.Names()...)
	o.export.addFlags(fs)
	return fs
}

func runRun(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var o runOptions
	fs := runFlags(&o)
	if code, done := parseFlags("run", fs, args, stdout, stderr); done {
		return code
	}
	if fs.NArg() != 1 {
		return usageError("run", stderr, "want one scenario file, got %d arguments", fs.NArg())
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "wsbench run: %v\n", err)
		return exitCannotStart
	}
	sc, err := scenario.Load(fs.Arg(0))
	if err != nil {
		fmt.Fprintln(stderr, err) // every line already says file:line:col
		return exitCannotStart
	}
	if err := applyRunFlags(fs, &o, sc); err != nil {
		return fail(err)
	}
	ts, err := sc.ParsedThresholds()
	if err != nil {
		return fail(err)
	}
	base, err := runBaseline(o)
	if err != nil {
		return fail(err)
	}
	var rep *report.Report
	html := report.WriteHTML
	if base != nil {
		// The page draws the baseline's percentiles under the run's.
		html = report.HTMLOptions{Baseline: base.Report, BaselineLabel: o.baseline}.Write
	}
	outs := []output{
		reportOutput("--json", o.jsonPath, "JSON report", &rep, report.WriteJSON),
		reportOutput("--html", o.htmlPath, "HTML report", &rep, html),
		reportOutput("--junit", o.junitPath, "JUnit report", &rep, report.WriteJUnit),
		reportOutput("--summary-md", o.mdPath, "markdown summary", &rep, report.WriteMarkdownSummary),
	}
	// Before the run: a typo in a path should not cost a run.
	if err := checkOutputs([]string{fs.Arg(0), o.baseline}, outs...); err != nil {
		return fail(err)
	}

	shard, err := parseShard(o.shard, o.startAt, time.Now())
	if err != nil {
		return fail(err)
	}
	if shard != nil && o.workers > 1 {
		return fail(fmt.Errorf("--shard runs one share in this process; it excludes --workers"))
	}
	// A shard is one process's share of a run split elsewhere: it plans
	// no workers of its own.
	plan := &coord.Plan{Workers: 1}
	if shard == nil {
		if plan, err = coord.PlanFor(sc, o.workers); err != nil {
			return fail(err)
		}
	}
	live := gate.NewLive(ts)
	eopts := engine.Options{Sinks: []engine.Sink{live}, LagBudget: gate.LagBudget(ts)}
	exp, err := o.export.start(sc, "run", stderr, o.quiet)
	if err != nil {
		return fail(err)
	}
	defer exp.finish(ctx, "run", stderr)
	eopts.Sinks = append(eopts.Sinks, exp.sinks()...)
	if shard != nil {
		shard.apply(&eopts)
	}
	logf := func(string, ...any) {}
	if !o.quiet {
		eopts.Progress = stderr
		eopts.ProgressTTY = isTerminal(stderr)
		logf = func(format string, args ...any) {
			fmt.Fprintln(stderr, "wsbench run: "+sc.Mask(fmt.Sprintf(format, args...)))
		}
	}
	rep, runErr := runScenario(ctx, sc, eopts, plan, o.workers > 1, logf)
	if shard != nil {
		shard.record(rep)
	}
	gate.Judge(rep, live.Final(rep), base)

	if !o.quiet {
		summary := stdout
		if anyToStdout(outs...) {
			summary = stderr // a report on stdout keeps stdout for itself
		}
		if err := report.WriteText(summary, rep); err != nil {
			fmt.Fprintf(stderr, "wsbench run: terminal summary: %v\n", err)
		}
	}
	writeErr := writeOutputs("run", o.quiet, stdout, stderr, outs...)
	if runErr != nil {
		fmt.Fprintf(stderr, "wsbench run: %v\n", runErr)
	}
	out := runOutcome(rep, runErr)
	out.failed = out.failed || writeErr != nil
	return out.code()
}

// runBaseline reads the --baseline report before the run, so a typo does
// not cost a run.
func runBaseline(o runOptions) (*gate.Baseline, error) {
	if o.baseline == "" {
		if o.tolerance != "" {
			return nil, fmt.Errorf("--fail-on-regression needs --baseline")
		}
		return nil, nil
	}
	b := &gate.Baseline{Path: o.baseline, Gate: o.tolerance != ""}
	var err error
	if b.Report, err = report.ReadJSONFile(o.baseline); err != nil {
		return nil, fmt.Errorf("--baseline: %w", err)
	}
	if b.Gate {
		if b.Tolerance, err = report.ParseTolerance(o.tolerance); err != nil {
			return nil, fmt.Errorf("--fail-on-regression: %w", err)
		}
		if b.Tolerance == 0 {
			// Zero reads as "the default" downstream; a zero tolerance
			// means any change beyond noise.
			b.Tolerance = 1e-12
		}
	}
	return b, nil
}

// applyRunFlags applies the flags that were given to the scenario: the
// target, the seed, and the scaling (scenario.Scale).
func applyRunFlags(fs *pflag.FlagSet, o *runOptions, sc *scenario.Scenario) error {
	if fs.Changed("target") && fs.Changed("start-target") {
		return fmt.Errorf("--target and --start-target exclude each other")
	}
	if fs.Changed("target") {
		sc.Target = o.target
		sc.StartTarget = nil
		if o.target != "builtin" {
			sc.Builtin = nil
		}
	}
	if fs.Changed("start-target") {
		st := &scenario.StartTarget{}
		if catalog.IsKnown(o.start) {
			st.Name = o.start
		} else {
			st.Command = strings.Fields(o.start)
		}
		if old := sc.StartTarget; old != nil && old.Name == st.Name && st.Name != "" {
			st = old // keep the scenario's settings for the same target
		}
		sc.Target, sc.Builtin, sc.StartTarget = "", nil, st
	}
	if fs.Changed("seed") {
		sc.Seed = o.seed
	}
	// Each flag is applied on its own, so an error names the flag.
	if fs.Changed("clients") {
		if o.clients < 1 {
			return fmt.Errorf("--clients must be at least 1")
		}
		if err := sc.Scale(scenario.Scaling{Clients: o.clients}); err != nil {
			return fmt.Errorf("--%w", err)
		}
	}
	if fs.Changed("duration") {
		if o.duration <= 0 {
			return fmt.Errorf("--duration must be positive")
		}
		if err := sc.Scale(scenario.Scaling{Duration: o.duration}); err != nil {
			return fmt.Errorf("--%w", err)
		}
	}
	if fs.Changed("rate") {
		if err := sc.Scale(scenario.Scaling{Rate: &o.rate}); err != nil {
			return fmt.Errorf("--%w", err)
		}
	}
	if ps := sc.Validate(); len(ps) > 0 {
		return fmt.Errorf("after applying flags: %w", ps)
	}
	return nil
}

// runScenario starts the scenario's target, runs the scenario against it
// (over worker processes when the plan needs several, or when asked) and
// stops it. A target that cannot start is a run that could not start.
func runScenario(ctx context.Context, sc *scenario.Scenario, eopts engine.Options, plan *coord.Plan, split bool, logf func(string, ...any)) (*report.Report, error) {
	t, err := targets.StartWith(ctx, sc, targets.Options{ServerProcs: plan.ServerProcs, Logf: logf})
	if err != nil {
		return engine.NotStarted(sc, err), &engine.StartError{Err: err}
	}
	defer func() {
		if err := t.Stop(); err != nil {
			logf("target: %v", err)
		}
	}()
	if plan.Workers <= 1 && !split {
		return t.Run(ctx, sc, eopts)
	}
	reachable := t.Preflight(ctx, sc)
	return t.RunWith(ctx, func(ctx context.Context) (*report.Report, error) {
		return coord.Run(ctx, sc, t.URL(), coord.Options{
			Workers: plan.Workers, SourceAddrs: plan.SourceAddrs, Reachable: reachable,
			Sinks: eopts.Sinks, Progress: eopts.Progress, ProgressTTY: eopts.ProgressTTY,
			LagBudget: eopts.LagBudget, Logf: logf,
		})
	})
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0 && !strings.EqualFold(os.Getenv("TERM"), "dumb")
}
