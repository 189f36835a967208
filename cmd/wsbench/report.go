package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"

	"github.com/wsbench/wsbench/report"
)

func init() {
	register(&command{
		name:    "report",
		summary: "render a JSON report as HTML or text",
		usage:   []string{"wsbench report [flags] IN.json"},
		about: []string{
			"Renders a JSON report (from run, capacity or merge) as a self-contained HTML page,",
			"the terminal summary, or checked JSON. The HTML page loads nothing from the network.",
			"HTML goes beside the input (IN.html) unless -o says otherwise; text and JSON go to",
			"stdout.",
		},
		args:  argReport,
		flags: func() *pflag.FlagSet { return reportFlags(new(reportOptions)) },
		run:   runReport,
	})
}

// reportOptions are the report command's flags and argument.
type reportOptions struct {
	in       string // the JSON report to read
	out      string // where to write; "-" is stdout, "" the format's default
	format   string // html, text or json
	baseline string // html: an earlier report to draw under this one
}

// reportFormats maps each output format to its renderer.
var reportFormats = map[string]func(io.Writer, *report.Report) error{
	"html": report.WriteHTML,
	"text": report.WriteText,
	"json": report.WriteJSON,
}

func reportFlags(o *reportOptions) *pflag.FlagSet {
	fs := newFlagSet("report")
	fs.StringVarP(&o.out, "output", "o", "", "write to this `file` (- for stdout); default: IN.html beside the input for html, stdout for text and json")
	fs.StringVar(&o.format, "format", "html", "output `format`: html (self-contained page with charts), text (terminal summary) or json (checked, re-indented)")
	fs.StringVar(&o.baseline, "baseline", "", "with html: draw this earlier JSON `report`'s latency percentiles over time and spectra under this one's, and compare their numbers")
	completeFiles(fs, "", "output")
	completeFiles(fs, "json", "baseline")
	completeValues(fs, "format", "html", "text", "json")
	return fs
}

// runReport renders a JSON report written by run, capacity or merge.
func runReport(_ context.Context, args []string, stdout, stderr io.Writer) int {
	var o reportOptions
	fs := reportFlags(&o)
	if code, done := parseFlags("report", fs, args, stdout, stderr); done {
		return code
	}
	if fs.NArg() != 1 {
		return usageError("report", stderr, "want one JSON report, got %d arguments", fs.NArg())
	}
	o.in = fs.Arg(0)
	render, ok := reportFormats[o.format]
	if !ok {
		return usageError("report", stderr, "unknown --format %q (want html, text or json)", o.format)
	}
	if o.baseline != "" && o.format != "html" {
		return usageError("report", stderr, "--baseline draws on the HTML report's charts; it does nothing with --format %s", o.format)
	}
	if o.baseline != "" {
		base, err := report.ReadJSONFile(o.baseline)
		if err != nil {
			fmt.Fprintf(stderr, "wsbench report: --baseline: %v\n", err)
			return exitCannotStart
		}
		render = report.HTMLOptions{Baseline: base, BaselineLabel: o.baseline}.Write
	}
	var r *report.Report
	outs := []output{reportOutput("--output", reportDestination(o), o.format+" report", &r, render)}
	if err := checkOutputs([]string{o.in, o.baseline}, outs...); err != nil {
		fmt.Fprintf(stderr, "wsbench report: %v\n", err)
		return exitCannotStart
	}
	var err error
	if r, err = report.ReadJSONFile(o.in); err != nil {
		fmt.Fprintf(stderr, "wsbench report: %v\n", err)
		return exitCannotStart
	}
	if err := writeOutputs("report", false, stdout, stderr, outs...); err != nil {
		return exitFailed
	}
	return exitOK
}

// reportDestination works out where the output goes.
func reportDestination(o reportOptions) string {
	if o.out != "" {
		return o.out
	}
	if o.format != "html" {
		return "-"
	}
	return strings.TrimSuffix(o.in, filepath.Ext(o.in)) + ".html"
}
