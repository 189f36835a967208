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
	register(&command{
		name:    "worker",
		summary: "run one share of a run split over processes (run --workers starts it)",
		usage:   []string{"wsbench worker"},
		about: []string{
			"Runs one share of a run for a coordinator: wsbench run --workers N starts",
			"these itself. It reads its assignment on standard input and writes its",
			"intervals and report to standard output. Not meant to be run by hand.",
		},
		flags: func() *pflag.FlagSet { return newFlagSet("worker") },
		run:   runWorker,
	})
}

// runWorker is a worker process: its assignment comes on standard input,
// its intervals and report go to standard output as frames, diagnostics
// to standard error.
func runWorker(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("worker")
	if code, done := parseFlags("worker", fs, args, stdout, stderr); done {
		return code
	}
	if fs.NArg() > 0 {
		return usageError("worker", stderr, "worker takes no arguments")
	}
	logf := func(format string, args ...any) { fmt.Fprintf(stderr, "wsbench worker: "+format+"\n", args...) }
	if err := coord.Work(ctx, os.Stdin, stdout, logf); err != nil {
		logf("%v", err)
		return exitFailed
	}
	return exitOK
}
