package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/wsbench/wsbench/engine"
	"github.com/wsbench/wsbench/gate"
	"github.com/wsbench/wsbench/internal/coord"
	"github.com/wsbench/wsbench/report"
	"github.com/wsbench/wsbench/scenario"
	"github.com/wsbench/wsbench/targets"
)

// tokenEnv is the environment variable a token may come from (a
// Kubernetes Secret, say) when no --token-file is given.
const tokenEnv = "WSBENCH_TOKEN"

func init() {
	register(&command{
		name:    "coordinate",
		summary: "run a scenario over remote workers (wsbench worker --coordinator) and merge their results",
		usage:   []string{"wsbench coordinate [flags] --listen ADDR --workers N SCENARIO.yaml"},
		about: []string{
			"Waits on --listen for N remote workers (wsbench worker --coordinator ADDR), has each",
			"measure its clock against this one, hands each its share of the scenario and a",
			"common start, merges their intervals live (progress, thresholds with abort_on_fail,",
			"which stop every worker), and writes one report, as run does. A worker that",
			"disconnects is reported and its share counted as failed (exit 1).",
			"",
			"Workers connect over HTTP/2 with TLS (--tls-cert, --tls-key; --tls-client-ca to",
			"require worker certificates too) and present the run's token (--token-file, or",
			"$" + tokenEnv + "). --insecure speaks plain HTTP/2 instead, for networks private to",
			"the run only. 'wsbench certs' makes a CA, certificates and a token for trials.",
			"The target must be a ws:// or wss:// address every worker can reach.",
			"",
			"Takes run's flags for the scenario and the reports; exit codes as run's.",
		},
		args:  argScenario,
		flags: func() *pflag.FlagSet { fs, _ := coordinateFlags(new(coordinateOptions)); return fs },
		run:   runCoordinate,
	})
}

type coordinateOptions struct {
	run         runOptions
	listen      string
	tokenFile   string
	tlsCert     string
	tlsKey      string
	tlsClientCA string
	insecure    bool
	joinTimeout time.Duration
	startDelay  time.Duration
	hold        time.Duration
}

func coordinateFlags(o *coordinateOptions) (*pflag.FlagSet, error) {
	fs := runFlags(&o.run)
	fs.Init("coordinate", pflag.ContinueOnError)
	fs.Lookup("workers").Usage = "the number of remote `workers` to wait for (required)"
	for _, n := range []string{"start-target", "shard", "start-at"} {
		if err := fs.MarkHidden(n); err != nil {
			return nil, err
		}
	}
	fs.StringVar(&o.listen, "listen", ":7070", "listen for workers on this `address`")
	fs.StringVar(&o.tokenFile, "token-file", "", "read the run's token from this `file` (default: $"+tokenEnv+")")
	fs.StringVar(&o.tlsCert, "tls-cert", "", "the coordinator's TLS certificate (PEM `file`)")
	fs.StringVar(&o.tlsKey, "tls-key", "", "the key of --tls-cert (PEM `file`)")
	fs.StringVar(&o.tlsClientCA, "tls-client-ca", "", "require worker certificates signed by this CA (PEM `file`): mutual TLS")
	fs.BoolVar(&o.insecure, "insecure", false, "plain HTTP/2 without TLS: token and results travel in clear (networks private to the run only)")
	fs.DurationVar(&o.joinTimeout, "join-timeout", 5*time.Minute, "give up when not every worker has joined after this `duration`")
	fs.DurationVar(&o.startDelay, "start-delay", 2*time.Second, "start the load this long after the last worker joined")
	fs.DurationVar(&o.hold, "hold", 0, "after writing the reports, keep running this `long` (a signal ends it), so a pod's reports can be copied out")
	completeFiles(fs, "", "token-file")
	completeFiles(fs, "crt,pem", "tls-cert", "tls-client-ca")
	completeFiles(fs, "key,pem", "tls-key")
	return fs, nil
}

func runCoordinate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var o coordinateOptions
	fs, err := coordinateFlags(&o)
	if err != nil {
		panic(err) // a flag name typo in this file
	}
	if code, done := parseFlags("coordinate", fs, args, stdout, stderr); done {
		return code
	}
	if fs.NArg() != 1 {
		return usageError("coordinate", stderr, "want one scenario file, got %d arguments", fs.NArg())
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "wsbench coordinate: %v\n", err)
		return exitCannotStart
	}
	for _, n := range []string{"start-target", "shard", "start-at"} {
		if fs.Changed(n) {
			return usageError("coordinate", stderr, "--%s does not apply: the workers run the shares, against a target they can all reach", n)
		}
	}
	if !fs.Changed("workers") || o.run.workers < 1 {
		return usageError("coordinate", stderr, "--workers N (at least 1) is required: the run waits for that many workers")
	}
	sc, err := scenario.Load(fs.Arg(0))
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitCannotStart
	}
	if err := applyRunFlags(fs, &o.run, sc); err != nil {
		return fail(err)
	}
	if !strings.HasPrefix(sc.Target, "ws://") && !strings.HasPrefix(sc.Target, "wss://") {
		return fail(fmt.Errorf("target %q: remote workers need a ws:// or wss:// address they can all reach (the scenario's target, or --target)", sc.Mask(sc.Target)))
	}
	nw, err := coordinateNetwork(o)
	if err != nil {
		return fail(err)
	}
	ts, err := sc.ParsedThresholds()
	if err != nil {
		return fail(err)
	}
	base, err := runBaseline(o.run)
	if err != nil {
		return fail(err)
	}
	var rep *report.Report
	outs := []output{
		reportOutput("--json", o.run.jsonPath, "JSON report", &rep, report.WriteJSON),
		reportOutput("--html", o.run.htmlPath, "HTML report", &rep, report.WriteHTML),
		reportOutput("--junit", o.run.junitPath, "JUnit report", &rep, report.WriteJUnit),
		reportOutput("--summary-md", o.run.mdPath, "markdown summary", &rep, report.WriteMarkdownSummary),
	}
	if err := checkOutputs([]string{fs.Arg(0), o.run.baseline, o.tokenFile}, outs...); err != nil {
		return fail(err)
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fail(fmt.Errorf("--listen: %w", err))
	}
	defer ln.Close()
	nw.Listener = ln
	mode := "HTTP/2 over TLS"
	if nw.TLS == nil {
		mode = "plain HTTP/2 (--insecure)"
	}
	// Always said, even with --quiet: workers need the address.
	fmt.Fprintf(stderr, "wsbench coordinate: listening on %s (%s); waiting for %d workers\n", ln.Addr(), mode, o.run.workers)

	live := gate.NewLive(ts)
	copts := coord.Options{Workers: o.run.workers, Sinks: []engine.Sink{live}, LagBudget: gate.LagBudget(ts), StartDelay: o.startDelay}
	copts.Logf = func(string, ...any) {}
	if !o.run.quiet {
		copts.Progress = stderr
		copts.ProgressTTY = isTerminal(stderr)
		copts.Logf = func(format string, args ...any) {
			fmt.Fprintln(stderr, "wsbench coordinate: "+sc.Mask(fmt.Sprintf(format, args...)))
		}
	}
	t, err := targets.Start(ctx, sc, copts.Logf)
	var runErr error
	if err != nil {
		rep, runErr = engine.NotStarted(sc, err), &engine.StartError{Err: err}
	} else {
		rep, runErr = t.RunWith(ctx, func(ctx context.Context) (*report.Report, error) {
			return coord.Coordinate(ctx, sc, t.URL(), nw, copts)
		})
		_ = t.Stop()
	}
	gate.Judge(rep, live.Final(rep), base)
	if !o.run.quiet {
		summary := stdout
		if anyToStdout(outs...) {
			summary = stderr
		}
		if err := report.WriteText(summary, rep); err != nil {
			fmt.Fprintf(stderr, "wsbench coordinate: terminal summary: %v\n", err)
		}
	}
	writeErr := writeOutputs("coordinate", o.run.quiet, stdout, stderr, outs...)
	if runErr != nil {
		fmt.Fprintf(stderr, "wsbench coordinate: %v\n", runErr)
	}
	out := runOutcome(rep, runErr)
	out.failed = out.failed || writeErr != nil
	if o.hold > 0 && ctx.Err() == nil {
		fmt.Fprintf(stderr, "wsbench coordinate: holding for %s, so the reports can be copied out (a signal ends it)\n", o.hold)
		select {
		case <-time.After(o.hold):
		case <-ctx.Done():
		}
	}
	return out.code()
}

// coordinateNetwork checks the security flags and loads what they name:
// TLS or an explicit --insecure, and the token.
func coordinateNetwork(o coordinateOptions) (coord.Network, error) {
	nw := coord.Network{JoinTimeout: o.joinTimeout}
	var err error
	if nw.Token, err = coord.ReadToken(o.tokenFile, tokenEnv); err != nil {
		return nw, err
	}
	hasTLS := o.tlsCert != "" || o.tlsKey != "" || o.tlsClientCA != ""
	switch {
	case o.insecure && hasTLS:
		return nw, fmt.Errorf("--insecure excludes --tls-cert, --tls-key and --tls-client-ca")
	case o.insecure:
		return nw, nil
	case o.tlsCert == "" || o.tlsKey == "":
		return nw, fmt.Errorf("give --tls-cert and --tls-key (wsbench certs makes a pair for trials), or --insecure on a network private to the run")
	}
	nw.TLS, err = coord.ServerTLS(o.tlsCert, o.tlsKey, o.tlsClientCA)
	return nw, err
}
