package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/pflag"

	"github.com/wsbench/wsbench/report"
)

func init() {
	register(&command{
		name:    "compare",
		summary: "compare runs with a baseline; fail on regressions",
		usage:   []string{"wsbench compare [flags] BASE.json NEW.json"},
		about: []string{
			"Compares latency percentiles (p50 p90 p99 p99.9 max mean of every metric), throughput,",
			"error rate, failed connects and dropped load. With several runs per side (--base, --new)",
			"the medians are compared. A row is 'regressed' only when it changed by more than its",
			"tolerance (default 10%) in the worse direction AND the 95% confidence intervals of the",
			"two sides do not overlap; max rows are shown but gate only when --tolerance names them.",
			"Reports of different scenarios (or of one scenario with different load) are compared",
			"with a warning at the top and on stderr.",
			"\nExit codes: 0 no gated regression (or no --fail-on-regression), 1 could not write,",
			"2 bad input, 3 regressed.",
		},
		args:  argReport,
		flags: func() *pflag.FlagSet { return compareFlags(new(compareOptions)) },
		run:   runCompare,
	})
}

// compareOptions are the compare command's flags and arguments.
type compareOptions struct {
	base, cur  []string // report files of each side
	failOn     string   // --fail-on-regression: gate, with this tolerance
	tolerances []string // --tolerance KEY=TOL
	format     string   // text, markdown or json
	out        string   // "-" for stdout
}

// compareFormats maps each output format to its renderer.
var compareFormats = map[string]func(*report.Comparison, io.Writer) error{
	"text":     (*report.Comparison).WriteText,
	"markdown": (*report.Comparison).WriteMarkdown,
	"md":       (*report.Comparison).WriteMarkdown,
	"json":     (*report.Comparison).WriteJSON,
}

// runCompare compares one or more runs (NEW) with one or more baseline
// runs (BASE) and, with --fail-on-regression, exits 3 when a statistic
// got worse beyond both the tolerance and the noise.
func compareFlags(o *compareOptions) *pflag.FlagSet {
	fs := newFlagSet("compare")
	fs.StringArrayVar(&o.base, "base", nil, "another baseline run `REPORT.json` (repeatable): each side's median is compared")
	fs.StringArrayVar(&o.cur, "new", nil, "another new run `REPORT.json` (repeatable)")
	fs.StringVar(&o.failOn, "fail-on-regression", "", "exit 3 when a statistic is worse by more than this `tolerance` (10% or 0.1) and beyond noise")
	fs.StringSliceVar(&o.tolerances, "tolerance", nil, "tolerance of one statistic, `KEY=TOL` (rtt.p99=15%, or rtt=15% for every rtt row); repeatable")
	fs.StringVar(&o.format, "format", "text", "output `format`: text, markdown or json")
	fs.StringVarP(&o.out, "output", "o", "-", "write the comparison to this `file` (- for stdout)")
	completeFiles(fs, "json", "base", "new")
	completeFiles(fs, "", "output")
	completeValues(fs, "format", "text", "markdown", "json")
	return fs
}

// runCompare compares one or more runs (NEW) with one or more baseline
// runs (BASE) and, with --fail-on-regression, exits 3 when a statistic
// got worse beyond both the tolerance and the noise.
func runCompare(_ context.Context, args []string, stdout, stderr io.Writer) int {
	var o compareOptions
	fs := compareFlags(&o)
	if code, done := parseFlags("compare", fs, args, stdout, stderr); done {
		return code
	}
	if fs.NArg() != 2 {
		return usageError("compare", stderr, "want two reports, BASE.json and NEW.json, got %d arguments", fs.NArg())
	}
	o.base = append([]string{fs.Arg(0)}, o.base...)
	o.cur = append([]string{fs.Arg(1)}, o.cur...)

	opts, err := compareOpts(o, fs.Changed("fail-on-regression"))
	if err != nil {
		fmt.Fprintf(stderr, "wsbench compare: %v\n", err)
		return exitCannotStart
	}
	render, ok := compareFormats[o.format]
	if !ok {
		return usageError("compare", stderr, "unknown --format %q (want text, markdown or json)", o.format)
	}
	if err := checkOutputs(slices.Concat(o.base, o.cur), output{flag: "--output", path: o.out}); err != nil {
		fmt.Fprintf(stderr, "wsbench compare: %v\n", err)
		return exitCannotStart
	}
	base, errB := readReportArgs(o.base)
	cur, errN := readReportArgs(o.cur)
	if err := errors.Join(errB, errN); err != nil {
		fmt.Fprintf(stderr, "wsbench compare: %v\n", err)
		return exitCannotStart
	}

	cmp := report.Compare(base, cur, opts)
	if err := checkToleranceKeys(cmp, opts.PerMetric); err != nil {
		fmt.Fprintf(stderr, "wsbench compare: %v\n", err)
		return exitCannotStart
	}
	for _, w := range cmp.Warnings {
		fmt.Fprintf(stderr, "wsbench compare: WARNING: %s\n", w)
	}
	err = writeOutputs("compare", false, stdout, stderr, output{
		flag: "--output", path: o.out, what: o.format + " comparison",
		write: func(w io.Writer) error { return render(cmp, w) },
	})
	var out outcome
	out.failed = err != nil
	if reg := cmp.Regressions(); fs.Changed("fail-on-regression") && len(reg) > 0 {
		fmt.Fprintf(stderr, "wsbench compare: regressed beyond %s and noise:\n", report.FormatLimit(opts.Tolerance, "ratio"))
		for _, r := range reg {
			fmt.Fprintf(stderr, "  %s\n", r.Explain())
		}
		out.gateFailed = true
	}
	return out.code()
}

// compareOpts turns the tolerance flags into CompareOptions.
func compareOpts(o compareOptions, gating bool) (report.CompareOptions, error) {
	opts := report.CompareOptions{Tolerance: report.DefaultTolerance}
	if gating {
		tol, err := report.ParseTolerance(o.failOn)
		if err != nil {
			return opts, fmt.Errorf("--fail-on-regression: %w", err)
		}
		if tol == 0 {
			// CompareOptions reads zero as "default"; a zero tolerance
			// means any change beyond noise.
			tol = 1e-12
		}
		opts.Tolerance = tol
	}
	for _, kv := range o.tolerances {
		key, tol, err := report.ParseMetricTolerance(kv)
		if err != nil {
			return opts, fmt.Errorf("--tolerance: %w", err)
		}
		if opts.PerMetric == nil {
			opts.PerMetric = map[string]float64{}
		}
		opts.PerMetric[key] = tol
	}
	return opts, nil
}

// checkToleranceKeys rejects --tolerance keys that name no row, so a typo
// does not silently leave the default in place.
func checkToleranceKeys(cmp *report.Comparison, per map[string]float64) error {
	var bad []string
	for key := range per {
		found := false
		for _, r := range cmp.Rows {
			found = found || r.Key == key || r.Metric == key
		}
		if !found {
			bad = append(bad, key)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	var keys []string
	for _, r := range cmp.Rows {
		keys = append(keys, r.Key)
	}
	return fmt.Errorf("--tolerance: no row %s; rows are %s (or a metric name alone)", strings.Join(bad, ", "), strings.Join(keys, ", "))
}

// readReportArgs reads report files, reporting every bad one.
func readReportArgs(paths []string) ([]*report.Report, error) {
	var out []*report.Report
	var errs []error
	for _, p := range paths {
		r, err := report.ReadJSONFile(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, r)
	}
	return out, errors.Join(errs...)
}
