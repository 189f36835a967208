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
	register(&command{
		name:    "conform",
		summary: "check a target server against the target contract",
		usage: []string{
			"wsbench conform [flags] ws://HOST:PORT",
			"wsbench conform --start NAME [flags]",
		},
		about: []string{
			"Runs every clause of targets/CONTRACT.md as a check; exit 3 if any fails.",
			"Checks: " + strings.Join(conformance.CheckNames(), ", "),
			"",
			"Some checks depend on the target's settings, which conform cannot ask it for.",
			"Against a URL it assumes the contract's defaults, those of a plain 'wsbench serve':",
			fmt.Sprintf("--max-message-size %d --ping-interval %s --ping-timeout %s (ping checks then",
				conformance.DefaultMaxMessageSize, conformance.DefaultPingInterval, conformance.DefaultPingTimeout),
			"skip: too slow). Give the flags the target was started with. With --start, conform",
			fmt.Sprintf("starts the target with --max-message-size %d --ping-interval %s --ping-timeout %s",
				conformStartMaxSize, conformStartPingInterval, conformStartPingTimeout),
			"(or the flags given), so every check runs quickly. A failed check that depends on",
			"a setting says which.",
		},
		args:  argURL,
		flags: func() *pflag.FlagSet { return conformFlags(new(conformOptions)) },
		run:   runConform,
	})
}

// The settings conform starts a target with: short pings so the ping
// checks finish in a second or two, a timeout long enough that a busy
// machine does not close a connection under a check that is not about
// pings, and a max message size the echo checks reach.
const (
	conformStartMaxSize      = 65536
	conformStartPingInterval = 200 * time.Millisecond
	conformStartPingTimeout  = time.Second
)

type conformOptions struct {
	start        string
	maxSize      int64
	pingInterval time.Duration
	pingTimeout  time.Duration
	pingSlack    time.Duration
	only         []string
}

func conformFlags(o *conformOptions) *pflag.FlagSet {
	fs := newFlagSet("conform")
	fs.StringVar(&o.start, "start", "", "start this target first ("+strings.Join(launch.Known, ", ")+"), check it, including shutdown, and stop it")
	fs.Int64Var(&o.maxSize, "max-message-size", 0, "the target's --max-message-size in `bytes` (passed to a started target; default: see above)")
	fs.DurationVar(&o.pingInterval, "ping-interval", 0, "the target's --ping-interval (passed to a started target; 0 skips the ping checks; default: see above)")
	fs.DurationVar(&o.pingTimeout, "ping-timeout", 0, "the target's --ping-timeout (default: see above)")
	fs.DurationVar(&o.pingSlack, "ping-slack", conformance.DefaultPingSlack, "how late a server ping or ping timeout may come beyond the settings (raise it on a busy machine)")
	fs.StringSliceVar(&o.only, "only", nil, "run only these `checks` (names or prefixes, e.g. echo,ping)")
	completeValues(fs, "start", launch.Known...)
	completeValues(fs, "only", conformance.CheckNames()...)
	return fs
}

func runConform(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var o conformOptions
	fs := conformFlags(&o)
	if code, done := parseFlags("conform", fs, args, stdout, stderr); done {
		return code
	}
	switch {
	case o.start != "" && fs.NArg() > 0:
		return usageError("conform", stderr, "give a URL or --start, not both")
	case o.start == "" && fs.NArg() != 1:
		return usageError("conform", stderr, "want the target's ws:// URL (or --start NAME), got %d arguments", fs.NArg())
	}
	// The settings the checks assume: given, or the defaults of what runs.
	maxSize, interval, timeout := int64(conformance.DefaultMaxMessageSize), conformance.DefaultPingInterval, conformance.DefaultPingTimeout
	if o.start != "" {
		maxSize, interval, timeout = conformStartMaxSize, conformStartPingInterval, conformStartPingTimeout
	}
	if fs.Changed("max-message-size") {
		maxSize = o.maxSize
	}
	if fs.Changed("ping-interval") {
		interval = o.pingInterval
	}
	if fs.Changed("ping-timeout") {
		timeout = o.pingTimeout
	}
	if maxSize <= 0 {
		return usageError("conform", stderr, "--max-message-size must be positive")
	}
	opts := conformance.Options{MaxMessageSize: maxSize, PingInterval: interval, PingTimeout: timeout, PingSlack: o.pingSlack, Only: o.only}
	var url string
	if o.start != "" {
		p, err := launch.StartKnown(ctx, o.start, launch.Settings{PingInterval: &interval, PingTimeout: timeout, MaxMessageSize: maxSize})
		if err != nil {
			fmt.Fprintf(stderr, "wsbench conform: %v\n", err)
			return exitCannotStart
		}
		defer p.Stop(syscall.SIGKILL, time.Second)
		url = p.URL()
		opts.Shutdown = func() error { return p.Stop(syscall.SIGTERM, 10*time.Second) }
	} else {
		url = fs.Arg(0)
		// A server this command did not start is not shut down.
		fmt.Fprintf(stderr, "wsbench conform: assuming %s runs with --max-message-size %d --ping-interval %s --ping-timeout %s%s\n",
			url, maxSize, interval, timeout, conformAssumed(fs))
	}
	rep := conformance.Check(ctx, url, opts)
	fmt.Fprint(stdout, rep.String())
	return outcome{interrupted: ctx.Err() != nil, gateFailed: !rep.Passed()}.code()
}

// conformAssumed says where the assumed settings came from.
func conformAssumed(fs *pflag.FlagSet) string {
	for _, f := range []string{"max-message-size", "ping-interval", "ping-timeout"} {
		if !fs.Changed(f) {
			return " (the contract's defaults where not given)"
		}
	}
	return ""
}
