package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/wsbench/wsbench/internal/launch"
	"github.com/wsbench/wsbench/targets/conformance"
)

func init() {
	register("conform", "check a target server against the target contract", runConform)
}

func runConform(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("conform", pflag.ContinueOnError)
	start := fs.String("start", "", "start this target first (go, tornado, twisted, websockets, aiohttp), check it, including shutdown, and stop it")
	maxSize := fs.Int64("max-message-size", 65536, "the target's --max-message-size (passed to a started target)")
	pingInterval := fs.Duration("ping-interval", 200*time.Millisecond, "the target's --ping-interval (passed to a started target; 0 skips the ping checks)")
	pingTimeout := fs.Duration("ping-timeout", 300*time.Millisecond, "the target's --ping-timeout")
	only := fs.StringSlice("only", nil, "run only these checks (names or prefixes, e.g. echo,ping)")
	setUsage(fs, stderr,
		"Usage: wsbench conform ws://HOST:PORT [flags]",
		"       wsbench conform --start NAME [flags]",
		"\nRuns every clause of targets/CONTRACT.md as a check; exit 3 if any fails.",
		"Checks: "+strings.Join(conformance.CheckNames(), ", "),
	)
	if code, done := parseFlags(fs, args); done {
		return code
	}
	opts := conformance.Options{MaxMessageSize: *maxSize, PingInterval: *pingInterval, PingTimeout: *pingTimeout, Only: *only}
	var url string
	switch {
	case *start != "" && fs.NArg() == 0:
		p, err := launch.StartKnown(ctx, *start, launch.Settings{PingInterval: pingInterval, PingTimeout: *pingTimeout, MaxMessageSize: *maxSize})
		if err != nil {
			fmt.Fprintf(stderr, "wsbench conform: %v\n", err)
			return exitCannotStart
		}
		defer p.Stop(syscall.SIGKILL, time.Second)
		url = p.URL()
		opts.Shutdown = func() error { return p.Stop(syscall.SIGTERM, 10*time.Second) }
	case *start == "" && fs.NArg() == 1:
		url = fs.Arg(0)
		// A server this command did not start is not shut down.
	default:
		fs.Usage()
		return exitCannotStart
	}
	rep := conformance.Check(ctx, url, opts)
	fmt.Fprintln(stdout, rep.String())
	switch {
	case ctx.Err() != nil:
		return exitInterrupted
	case !rep.Passed():
		return exitThresholds
	}
	return exitOK
}
