package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/pflag"

	"github.com/wsbench/wsbench/gate"
	"github.com/wsbench/wsbench/report"
	"github.com/wsbench/wsbench/scenario"
)

func init() {
	register(&command{
		name:    "merge",
		summary: "merge reports of generators that ran together into one",
		usage:   []string{"wsbench merge [flags] A.json B.json ... -o ALL.json"},
		about: []string{
			"Merges the reports of several load generators (or runs) of one scenario into one,",
			"exactly: histograms are merged count for count, counters added, time series aligned",
			"by wall clock. The scenario's thresholds are evaluated on the merged run. Reports of",
			"different scenarios are refused unless --force (the merged report then carries the",
			"first report's scenario and thresholds). Shards (run --shard, or the reports",
			"workers keep when their coordinator is lost) must be all the shards of one run,",
			"each once; a missing one is refused unless --force, which marks the merged run",
			"failed.",
			"\nExit codes: 0 merged (thresholds passed), 1 could not write, 2 bad input,",
			"3 a threshold failed on the merged run, 4 a generator was unreliable.",
		},
		args:  argReport,
		flags: func() *pflag.FlagSet { return mergeFlags(new(mergeOptions)) },
		run:   runMerge,
	})
}

// mergeOptions are the merge command's flags and arguments.
type mergeOptions struct {
	in         []string
	out        string
	junitPath  string
	mdPath     string
	thresholds bool
	force      bool
}

func mergeFlags(o *mergeOptions) *pflag.FlagSet {
	fs := newFlagSet("merge")
	fs.StringVarP(&o.out, "output", "o", "", "write the merged JSON report to this `file` (- for stdout); required")
	fs.StringVar(&o.junitPath, "junit", "", "also write the merged run's thresholds as JUnit XML to this `file`")
	fs.StringVar(&o.mdPath, "summary-md", "", "also write a one-screen markdown summary of the merged run to this `file`")
	fs.BoolVar(&o.thresholds, "thresholds", true, "re-evaluate the scenario's thresholds on the merged run (exit 3 if one fails)")
	fs.BoolVar(&o.force, "force", false, "merge reports of different scenarios anyway")
	completeFiles(fs, "json", "output")
	completeFiles(fs, "xml", "junit")
	completeFiles(fs, "md", "summary-md")
	return fs
}

// runMerge merges JSON reports exactly (histograms, counters, time series
// aligned by wall clock), re-evaluates the scenario's thresholds on the
// merged run, and writes the result atomically.
func runMerge(_ context.Context, args []string, stdout, stderr io.Writer) int {
	var o mergeOptions
	fs := mergeFlags(&o)
	if code, done := parseFlags("merge", fs, args, stdout, stderr); done {
		return code
	}
	o.in = fs.Args()
	switch {
	case len(o.in) == 0:
		return usageError("merge", stderr, "no reports to merge")
	case o.out == "":
		return usageError("merge", stderr, "-o (--output) is required")
	}
	fail := func(format string, args ...any) int {
		fmt.Fprintf(stderr, "wsbench merge: "+format+"\n", args...)
		return exitCannotStart
	}
	var merged *report.Report
	outs := []output{
		reportOutput("--output", o.out, fmt.Sprintf("merged report of %s", plural(len(o.in), "run")), &merged, report.WriteJSON),
		reportOutput("--junit", o.junitPath, "JUnit report", &merged, report.WriteJUnit),
		reportOutput("--summary-md", o.mdPath, "markdown summary", &merged, report.WriteMarkdownSummary),
	}
	if err := checkOutputs(o.in, outs...); err != nil {
		return fail("%v", err)
	}
	rs, err := readReportArgs(o.in)
	if err != nil {
		return fail("%v", err)
	}
	if err := report.ScenarioMismatch(rs...); err != nil {
		if !o.force {
			return fail("%v: merging them would label the result with one of them; merge reports of one scenario, or give --force", err)
		}
		fmt.Fprintf(stderr, "wsbench merge: warning: %v; merging anyway (--force): the result carries the first report's scenario and thresholds\n", err)
	}
	// Shards (run --shard, a worker's kept report) must be one run's,
	// each once, all there.
	shardErr := report.CheckShards(rs...)
	if shardErr != nil {
		if !o.force {
			return fail("%v; give them all, or --force to merge anyway", shardErr)
		}
		fmt.Fprintf(stderr, "wsbench merge: warning: %v; merging anyway (--force)\n", shardErr)
	}
	if merged, err = report.Merge(rs...); err != nil {
		return fail("%v", err)
	}
	if shardErr == nil || report.IsMissingShards(shardErr) {
		report.DescribeShards(merged, rs)
	}
	if report.IsMissingShards(shardErr) {
		// The counts are part of a run's: say so where a reader looks.
		merged.EndReason = report.EndFailed
		merged.EndDetail = strings.TrimSpace(shardErr.Error() + ". " + merged.EndDetail)
	}
	var results []report.ThresholdResult
	if o.thresholds {
		ts, err := embeddedThresholds(merged.Scenario)
		if err != nil {
			return fail("thresholds of the embedded scenario: %v", err)
		}
		results = gate.Evaluate(ts, merged)
	}
	gate.Judge(merged, results, nil)

	writeErr := writeOutputs("merge", false, stdout, stderr, outs...)
	for _, t := range merged.Thresholds {
		if !t.Passed {
			fmt.Fprintf(stderr, "threshold failed: %s\n", t.Describe())
		}
	}
	out := runOutcome(merged, nil)
	// A merged run that ended badly was measured; the merge did not fail.
	out.failed, out.interrupted = writeErr != nil, false
	return out.code()
}

// embeddedThresholds parses the thresholds of the scenario embedded in a
// report, with their options, as the scenario does for a run.
func embeddedThresholds(raw json.RawMessage) ([]gate.Threshold, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var sc scenario.Scenario
	var part struct {
		Thresholds []scenario.ThresholdSpec `json:"thresholds"`
	}
	if err := json.Unmarshal(raw, &part); err != nil {
		return nil, err
	}
	sc.Thresholds = part.Thresholds
	return sc.ParsedThresholds()
}
