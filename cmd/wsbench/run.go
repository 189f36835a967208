package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/wsbench/wsbench/engine"
	"github.com/wsbench/wsbench/internal/launch"
	"github.com/wsbench/wsbench/report"
	"github.com/wsbench/wsbench/scenario"
)

func init() {
	register("run", "run a scenario and write its reports", runRun)
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
}

func runFlags(o *runOptions) *pflag.FlagSet {
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	fs.StringVar(&o.target, "target", "", "target: `builtin` or a ws:// URL (overrides the scenario)")
	fs.StringVar(&o.start, "start-target", "", "start the target as a child process: a name (go, tornado, twisted, websockets, aiohttp) or a command line with {{addr}}")
	fs.DurationVar(&o.duration, "duration", 0, "total run time (short form: replaces duration; phases: scaled to it)")
	fs.IntVar(&o.clients, "clients", 0, "concurrent clients (short form: replaces clients; phases: scales the peak to it)")
	fs.Float64Var(&o.rate, "rate", 0, "messages per second per client of the short form's echo flow")
	fs.Uint64Var(&o.seed, "seed", 0, "random seed for payloads, think times and sizes (0: from the clock)")
	fs.StringVar(&o.jsonPath, "json", "wsbench-report.json", "write the JSON report here (- for stdout, empty for none)")
	fs.StringVar(&o.htmlPath, "html", "", "also write the self-contained HTML report here")
	fs.StringVar(&o.junitPath, "junit", "", "write thresholds as JUnit XML here (one test case each)")
	fs.StringVar(&o.mdPath, "summary-md", "", "write a one-screen markdown summary here (for a pull-request comment)")
	fs.BoolVarP(&o.quiet, "quiet", "q", false, "no progress line and no terminal summary")
	fs.StringVar(&o.baseline, "baseline", "", "judge the run against this earlier JSON report")
	fs.StringVar(&o.tolerance, "fail-on-regression", "", "with --baseline: fail when a metric regressed by more than this (e.g. 10%)")
	return fs
}

func runRun(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var o runOptions
	fs := runFlags(&o)
	setUsage(fs, stderr,
		"Usage: wsbench run [flags] SCENARIO.yaml",
		"\nRuns a scenario against its target and writes the terminal summary and reports.",
		"Exit codes: 0 passed, 1 run failed, 2 could not start, 3 thresholds failed,",
		"4 generator unreliable, 5 interrupted.",
	)
	if code, done := parseFlags(fs, args); done {
		return code
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return exitCannotStart
	}
	sc, err := scenario.Load(fs.Arg(0))
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitCannotStart
	}
	if err := applyRunFlags(fs, &o, sc); err != nil {
		fmt.Fprintf(stderr, "wsbench run: %v\n", err)
		return exitCannotStart
	}
	gate, err := newRunGate(sc, o)
	if err != nil {
		fmt.Fprintf(stderr, "wsbench run: %v\n", err)
		return exitCannotStart
	}

	eopts := engine.Options{Live: gate.live.Check}
	if !o.quiet {
		eopts.Progress = stderr
		eopts.ProgressTTY = isTerminal(stderr)
	}
	rep, runErr := engine.Run(ctx, sc, eopts)
	gate.judge(rep)

	if !o.quiet {
		// A report going to stdout keeps stdout for itself.
		summary := stdout
		if o.jsonPath == "-" || o.htmlPath == "-" || o.junitPath == "-" || o.mdPath == "-" {
			summary = stderr
		}
		if err := report.WriteText(summary, rep); err != nil {
			fmt.Fprintf(stderr, "wsbench run: %v\n", err)
		}
	}
	writeErr := writeReports("run", rep, o.quiet, stdout, stderr,
		reportFile{o.jsonPath, "JSON", report.WriteJSON},
		reportFile{o.htmlPath, "HTML", report.HTMLOptions{Baseline: gate.baseline, BaselineLabel: o.baseline}.Write},
		reportFile{o.junitPath, "JUnit", report.WriteJUnit},
		reportFile{o.mdPath, "markdown", report.WriteMarkdownSummary})

	code := runExitCode(rep, runErr)
	if writeErr != nil && code == exitOK {
		code = exitFailed
	}
	if runErr != nil {
		fmt.Fprintf(stderr, "wsbench run: %v\n", runErr)
	}
	return code
}

// runExitCode maps the outcome to the documented exit codes. An unreliable
// generator outranks failed thresholds: a threshold that failed because
// the generator was starved says nothing about the target.
func runExitCode(rep *report.Report, runErr error) int {
	var se *engine.StartError
	switch {
	case errors.As(runErr, &se):
		return exitCannotStart
	case runErr != nil || rep.EndReason == report.EndFailed:
		return exitFailed
	case rep.EndReason == report.EndInterrupted:
		return exitInterrupted
	case rep.Generator.Unreliable:
		return exitUnreliable
	case rep.Passed != nil && !*rep.Passed:
		return exitThresholds
	}
	return exitOK
}

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
		if launch.IsKnown(o.start) {
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
	shortForm := sc.Clients > 0
	if fs.Changed("clients") {
		if o.clients < 1 {
			return fmt.Errorf("--clients must be at least 1")
		}
		if shortForm {
			sc.Clients = o.clients
		} else {
			scaleClients(sc, o.clients)
		}
	}
	if fs.Changed("duration") {
		if o.duration <= 0 {
			return fmt.Errorf("--duration must be positive")
		}
		if shortForm {
			sc.Duration = scenario.Duration(o.duration)
			if sc.RampUp >= sc.Duration {
				sc.RampUp = sc.Duration / 5
			}
		} else {
			scaleDuration(sc, o.duration)
		}
	}
	if fs.Changed("rate") {
		if sc.Message == nil {
			return fmt.Errorf("--rate applies to the short form's message: the scenario has flows; edit their steps")
		}
		sc.Message.Rate = o.rate
	}
	if shortForm && (fs.Changed("clients") || fs.Changed("duration") || fs.Changed("rate")) {
		// Re-expand the short form with the new values.
		sc.Phases, sc.Flows = nil, nil
		sc.Complete()
	}
	if ps := sc.Validate(); len(ps) > 0 {
		return fmt.Errorf("after applying flags: %w", ps)
	}
	return nil
}

func scaleClients(sc *scenario.Scenario, peak int) {
	maxC := 0
	for _, p := range sc.Phases {
		if p.Clients != nil {
			maxC = max(maxC, *p.Clients)
		}
	}
	if maxC == 0 {
		return
	}
	for i := range sc.Phases {
		if c := sc.Phases[i].Clients; c != nil {
			n := (*c*peak + maxC/2) / maxC
			sc.Phases[i].Clients = &n
		}
	}
}

func scaleDuration(sc *scenario.Scenario, total time.Duration) {
	old := sc.TotalDuration()
	if old <= 0 {
		return
	}
	f := float64(total) / float64(old)
	for i := range sc.Phases {
		sc.Phases[i].Duration = scenario.Duration(float64(sc.Phases[i].Duration) * f)
	}
}

// reportFile is one report a command was asked to write.
type reportFile struct {
	path, what string
	write      func(io.Writer, *report.Report) error
}

// writeReports writes rep to every output with a path, each file
// atomically ("-" is stdout), and goes on past a failed one so that one bad
// path does not cost the others.
func writeReports(cmd string, rep *report.Report, quiet bool, stdout, stderr io.Writer, outs ...reportFile) error {
	var errs []error
	for _, o := range outs {
		if o.path == "" {
			continue
		}
		if o.path == "-" {
			errs = append(errs, o.write(stdout, rep))
			continue
		}
		if err := report.WriteFile(o.path, func(w io.Writer) error { return o.write(w, rep) }); err != nil {
			errs = append(errs, err)
			fmt.Fprintf(stderr, "wsbench %s: %v\n", cmd, err)
			continue
		}
		if !quiet {
			fmt.Fprintf(stderr, "wrote %s report to %s\n", o.what, o.path)
		}
	}
	return errors.Join(errs...)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0 && !strings.EqualFold(os.Getenv("TERM"), "dumb")
}
