package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/spf13/pflag"

	"github.com/wsbench/wsbench/gate"
	"github.com/wsbench/wsbench/report"
	"github.com/wsbench/wsbench/scenario"
)

func init() {
	register("merge", "merge reports of generators that ran together into one", runMerge)
}

// mergeOptions are the merge command's flags and arguments.
type mergeOptions struct {
	in         []string
	out        string
	junitPath  string
	mdPath     string
	thresholds bool
}

// runMerge merges JSON reports exactly (histograms, counters, time series
// aligned by wall clock), re-evaluates the scenario's thresholds on the
// merged run, and writes the result atomically.
func runMerge(_ context.Context, args []string, stdout, stderr io.Writer) int {
	var o mergeOptions
	fs := pflag.NewFlagSet("merge", pflag.ContinueOnError)
	fs.StringVarP(&o.out, "output", "o", "", "write the merged JSON report to this `file` (- for stdout); required")
	fs.StringVar(&o.junitPath, "junit", "", "also write the merged run's thresholds as JUnit XML here")
	fs.StringVar(&o.mdPath, "summary-md", "", "also write a one-screen markdown summary of the merged run here")
	fs.BoolVar(&o.thresholds, "thresholds", true, "re-evaluate the scenario's thresholds on the merged run (exit 3 if one fails)")
	setUsage(fs, stderr,
		"Usage: wsbench merge [flags] A.json B.json ... -o ALL.json",
		"\nMerges the reports of several load generators (or runs) into one, exactly: histograms",
		"are merged count for count, counters added, time series aligned by wall clock. The",
		"thresholds of the first report's scenario are evaluated on the merged run.",
		"\nExit codes: 0 merged (thresholds passed), 1 could not write, 2 bad input,",
		"3 a threshold failed on the merged run, 4 a generator was unreliable.",
	)
	if code, done := parseFlags(fs, args); done {
		return code
	}
	o.in = fs.Args()
	if len(o.in) == 0 || o.out == "" {
		fs.Usage()
		return exitCannotStart
	}
	for _, p := range o.in {
		if o.out != "-" && filepath.Clean(p) == filepath.Clean(o.out) {
			fmt.Fprintf(stderr, "wsbench merge: output %s would overwrite an input; choose another with -o\n", o.out)
			return exitCannotStart
		}
	}
	rs, err := readReportArgs(o.in)
	if err != nil {
		fmt.Fprintf(stderr, "wsbench merge: %v\n", err)
		return exitCannotStart
	}
	merged, err := report.Merge(rs...)
	if err != nil {
		fmt.Fprintf(stderr, "wsbench merge: %v\n", err)
		return exitCannotStart
	}
	if o.thresholds {
		ts, err := mergeThresholds(merged.Scenario)
		if err != nil {
			fmt.Fprintf(stderr, "wsbench merge: thresholds of the embedded scenario: %v\n", err)
			return exitCannotStart
		}
		if len(ts) > 0 {
			merged.Thresholds = gate.Evaluate(ts, merged)
			passed := gate.AllPassed(merged.Thresholds)
			merged.Passed = &passed
		}
	}

	var errs []error
	write := func(path, what string, f func(io.Writer, *report.Report) error) {
		switch path {
		case "":
			return
		case "-":
			errs = append(errs, f(stdout, merged))
			return
		}
		if err := report.WriteFile(path, func(w io.Writer) error { return f(w, merged) }); err != nil {
			errs = append(errs, err)
			return
		}
		fmt.Fprintf(stderr, "wrote %s to %s\n", what, path)
	}
	write(o.out, fmt.Sprintf("merged report of %d runs", len(rs)), report.WriteJSON)
	write(o.junitPath, "JUnit", report.WriteJUnit)
	write(o.mdPath, "markdown summary", report.WriteMarkdownSummary)
	if err := errors.Join(errs...); err != nil {
		fmt.Fprintf(stderr, "wsbench merge: %v\n", err)
		return exitFailed
	}
	for _, t := range merged.Thresholds {
		if !t.Passed {
			fmt.Fprintf(stderr, "threshold failed: %s\n", t.Describe())
		}
	}
	switch {
	case merged.Generator.Unreliable:
		return exitUnreliable
	case merged.Passed != nil && !*merged.Passed:
		return exitThresholds
	}
	return exitOK
}

// mergeThresholds parses the thresholds of a scenario embedded in a
// report, with their options.
func mergeThresholds(raw json.RawMessage) ([]gate.Threshold, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var sc struct {
		Thresholds []scenario.ThresholdSpec `json:"thresholds"`
	}
	if err := json.Unmarshal(raw, &sc); err != nil {
		return nil, err
	}
	var out []gate.Threshold
	for i, spec := range sc.Thresholds {
		t, err := gate.Parse(spec.Expr)
		if err != nil {
			return nil, fmt.Errorf("thresholds[%d]: %w", i, err)
		}
		t.AbortOnFail, t.Delay, t.Window = spec.AbortOnFail, spec.Delay.D(), spec.Window.D()
		out = append(out, t)
	}
	return out, nil
}
