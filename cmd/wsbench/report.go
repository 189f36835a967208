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
	register("report", "render a JSON report as HTML or text", runReport)
}

// reportOptions are the report command's flags and argument.
type reportOptions struct {
	in       string // the JSON report to read
	out      string // where to write; "-" is stdout, "" the format's default
	format   string // html, text or json
	baseline string // a JSON report the HTML overlays on this one's charts
}

// reportFormats maps each output format to its renderer.
var reportFormats = map[string]func(io.Writer, *report.Report) error{
	"html": report.WriteHTML,
	"text": report.WriteText,
	"json": report.WriteJSON,
}

// runReport renders a JSON report written by run, capacity or merge. The
// HTML goes next to the input (IN.html) unless -o says otherwise; text and
// JSON go to stdout.
func runReport(_ context.Context, args []string, stdout, stderr io.Writer) int {
	var o reportOptions
	fs := pflag.NewFlagSet("report", pflag.ContinueOnError)
	fs.StringVarP(&o.out, "output", "o", "", "write to this `file` (- for stdout); default: IN.html beside the input for html, stdout for text and json")
	fs.StringVar(&o.format, "format", "html", "output `format`: html (self-contained page with charts), text (terminal summary) or json (checked, re-indented)")
	fs.StringVar(&o.baseline, "baseline", "", "with html: draw this earlier JSON `report`'s latency percentiles over time and spectra under this one's, and compare their numbers")
	setUsage(fs, stderr,
		"Usage: wsbench report [flags] IN.json",
		"\nRenders a JSON report (from run, capacity or merge) as a self-contained HTML page,",
		"the terminal summary, or checked JSON. The HTML page loads nothing from the network.",
	)
	if code, done := parseFlags(fs, args); done {
		return code
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return exitCannotStart
	}
	o.in = fs.Arg(0)
	out, err := reportOutput(o)
	if err != nil {
		fmt.Fprintf(stderr, "wsbench report: %v\n", err)
		return exitCannotStart
	}
	r, err := report.ReadJSONFile(o.in)
	if err != nil {
		fmt.Fprintf(stderr, "wsbench report: %v\n", err)
		return exitCannotStart
	}
	render := reportFormats[o.format]
	if o.baseline != "" {
		base, err := report.ReadJSONFile(o.baseline)
		if err != nil {
			fmt.Fprintf(stderr, "wsbench report: --baseline: %v\n", err)
			return exitCannotStart
		}
		render = report.HTMLOptions{Baseline: base, BaselineLabel: o.baseline}.Write
	}
	if out == "-" {
		if err := render(stdout, r); err != nil {
			fmt.Fprintf(stderr, "wsbench report: %v\n", err)
			return exitFailed
		}
		return exitOK
	}
	if err := report.WriteFile(out, func(w io.Writer) error { return render(w, r) }); err != nil {
		fmt.Fprintf(stderr, "wsbench report: %v\n", err)
		return exitFailed
	}
	fmt.Fprintf(stderr, "wrote %s report to %s\n", o.format, out)
	return exitOK
}

// reportOutput checks the format and works out where the output goes.
func reportOutput(o reportOptions) (string, error) {
	if _, ok := reportFormats[o.format]; !ok {
		return "", fmt.Errorf("unknown --format %q (want html, text or json)", o.format)
	}
	if o.baseline != "" && o.format != "html" {
		return "", fmt.Errorf("--baseline draws on the HTML report's charts; it does nothing with --format %s", o.format)
	}
	out := o.out
	if out == "" {
		if o.format != "html" {
			return "-", nil
		}
		out = strings.TrimSuffix(o.in, filepath.Ext(o.in)) + ".html"
	}
	if out != "-" && filepath.Clean(out) == filepath.Clean(o.in) {
		return "", fmt.Errorf("output %s would overwrite the input; choose another with -o", out)
	}
	return out, nil
}
