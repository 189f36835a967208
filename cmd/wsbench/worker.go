package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/spf13/pflag"

	"github.com/wsbench/wsbench/internal/coord"
)

func init() {
	register("worker", "run one share of a run split over processes (run --workers starts these)", runWorker)
}

// runWorker is a worker process: its assignment comes on standard input,
// its intervals and report go to standard output as frames, diagnostics
// to standard error.
func runWorker(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("worker", pflag.ContinueOnError)
	setUsage(fs, stderr,
		"Usage: wsbench worker",
		"\nRuns one share of a run for a coordinator (wsbench run --workers N starts",
		"these itself): reads its assignment on standard input, writes intervals",
		"and its report to standard output. Not meant to be run by hand.",
	)
	if code, done := parseFlags(fs, args); done {
		return code
	}
	logf := func(format string, args ...any) { fmt.Fprintf(stderr, "wsbench worker: "+format+"\n", args...) }
	if err := coord.Work(ctx, os.Stdin, stdout, logf); err != nil {
		logf("%v", err)
		return exitFailed
	}
	return exitOK
}
