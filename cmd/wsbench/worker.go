package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/spf13/pflag"

	"github.com/wsbench/wsbench/internal/coord"
)

// Environment variables a remote worker reads.
const (
	// jobIndexEnv is set by Kubernetes in each pod of an Indexed Job:
	// the pod's completion index, which becomes its share.
	jobIndexEnv = "JOB_COMPLETION_INDEX"
	// clockSkewEnv shifts the worker's clock by a duration, to play a
	// machine whose clock is off (tests of the clock correction only).
	clockSkewEnv = "WSBENCH_TEST_CLOCK_SKEW"
)

func init() {
	register(&command{
		name:    "worker",
		summary: "run one share of a run for a coordinator (local: run --workers; remote: coordinate)",
		usage: []string{
			"wsbench worker --coordinator HOST:PORT [flags]",
			"wsbench worker",
		},
		about: []string{
			"With --coordinator, joins a coordinator (wsbench coordinate) over the network: it",
			"presents the run's token (--token-file, or $" + tokenEnv + "), measures its clock against",
			"the coordinator's, runs the share it is given from the common start, and streams",
			"its results. It keeps trying to reach a coordinator that is not up yet for",
			"--retry. The share is --index, or $" + jobIndexEnv + " in a Kubernetes Indexed Job, or",
			"any free one. If the coordinator disappears during the run, the worker stops at",
			"once and keeps its partial report in --report-dir (wsbench merge reads it).",
			"",
			"Without --coordinator it is the local worker that run --workers starts, reading",
			"its assignment on standard input; not meant to be run by hand.",
			"",
			"Exit codes: 0 share done and delivered, 1 the coordinator was lost (report kept),",
			"2 could not join (refused, or no coordinator within --retry).",
		},
		flags: func() *pflag.FlagSet { return workerFlags(new(workerOptions)) },
		run:   runWorker,
	})
}

type workerOptions struct {
	coordinator string
	tokenFile   string
	tlsCA       string
	serverName  string
	tlsCert     string
	tlsKey      string
	insecure    bool
	index       int
	retry       time.Duration
	reportDir   string
}

func workerFlags(o *workerOptions) *pflag.FlagSet {
	fs := newFlagSet("worker")
	fs.StringVar(&o.coordinator, "coordinator", "", "join the coordinator at this `host:port` (wsbench coordinate --listen)")
	fs.StringVar(&o.tokenFile, "token-file", "", "read the run's token from this `file` (default: $"+tokenEnv+")")
	fs.StringVar(&o.tlsCA, "tls-ca", "", "verify the coordinator's certificate against this CA (PEM `file`; default: the system's)")
	fs.StringVar(&o.serverName, "tls-server-name", "", "verify the coordinator's certificate for this `name` (default: the host of --coordinator)")
	fs.StringVar(&o.tlsCert, "tls-cert", "", "this worker's certificate, for a coordinator that requires one (PEM `file`)")
	fs.StringVar(&o.tlsKey, "tls-key", "", "the key of --tls-cert (PEM `file`)")
	fs.BoolVar(&o.insecure, "insecure", false, "plain HTTP/2 without TLS, to a coordinator started with --insecure")
	fs.IntVar(&o.index, "index", -1, "ask for share `I` (from 0; default $"+jobIndexEnv+", else any free share)")
	fs.DurationVar(&o.retry, "retry", 2*time.Minute, "keep trying to reach the coordinator for this `duration`")
	fs.StringVar(&o.reportDir, "report-dir", ".", "keep the partial report in this `directory` if the coordinator is lost")
	completeFiles(fs, "", "token-file")
	completeFiles(fs, "crt,pem", "tls-ca", "tls-cert")
	completeFiles(fs, "key,pem", "tls-key")
	return fs
}

// runWorker is a worker process: a remote one with --coordinator, else a
// local one whose assignment comes on standard input and whose intervals
// and report go to standard output as frames, diagnostics to standard
// error.
func runWorker(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var o workerOptions
	fs := workerFlags(&o)
	if code, done := parseFlags("worker", fs, args, stdout, stderr); done {
		return code
	}
	if fs.NArg() > 0 {
		return usageError("worker", stderr, "worker takes no arguments")
	}
	logf := func(format string, args ...any) { fmt.Fprintf(stderr, "wsbench worker: "+format+"\n", args...) }
	if o.coordinator == "" {
		changed := false
		fs.Visit(func(*pflag.Flag) { changed = true })
		if changed {
			return usageError("worker", stderr, "these flags need --coordinator")
		}
		if err := coord.Work(ctx, os.Stdin, stdout, logf); err != nil {
			logf("%v", err)
			return exitFailed
		}
		return exitOK
	}
	jo, err := joinOptions(fs, o)
	if err != nil {
		fmt.Fprintf(stderr, "wsbench worker: %v\n", err)
		return exitCannotStart
	}
	jo.Logf = logf
	if _, err := coord.Join(ctx, jo); err != nil {
		logf("%v", err)
		if errors.Is(err, coord.ErrJoin) {
			return exitCannotStart
		}
		return exitFailed
	}
	return exitOK
}

// joinOptions checks a remote worker's flags and loads what they name.
func joinOptions(fs *pflag.FlagSet, o workerOptions) (coord.JoinOptions, error) {
	jo := coord.JoinOptions{Coordinator: o.coordinator, Index: o.index, Retry: o.retry, ReportDir: o.reportDir}
	var err error
	if jo.Token, err = coord.ReadToken(o.tokenFile, tokenEnv); err != nil {
		return jo, err
	}
	if !fs.Changed("index") {
		if s := os.Getenv(jobIndexEnv); s != "" {
			if jo.Index, err = strconv.Atoi(s); err != nil || jo.Index < 0 {
				return jo, fmt.Errorf("$%s=%q: want a number from 0", jobIndexEnv, s)
			}
		}
	}
	if st, err := os.Stat(o.reportDir); err != nil || !st.IsDir() {
		return jo, fmt.Errorf("--report-dir %s: not a directory", o.reportDir)
	}
	if s := os.Getenv(clockSkewEnv); s != "" {
		skew, err := time.ParseDuration(s)
		if err != nil {
			return jo, fmt.Errorf("$%s: %w", clockSkewEnv, err)
		}
		jo.Clock = func() int64 { return time.Now().Add(skew).UnixNano() }
	}
	hasTLS := o.tlsCA != "" || o.serverName != "" || o.tlsCert != "" || o.tlsKey != ""
	switch {
	case o.insecure && hasTLS:
		return jo, fmt.Errorf("--insecure excludes the --tls-* flags")
	case o.insecure:
		return jo, nil
	}
	jo.TLS, err = coord.ClientTLS(o.tlsCA, o.serverName, o.tlsCert, o.tlsKey)
	return jo, err
}
