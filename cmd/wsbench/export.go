package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/wsbench/wsbench/engine"
	promout "github.com/wsbench/wsbench/output/prometheus"
	"github.com/wsbench/wsbench/scenario"
)

// exportOptions are the flags that publish a run's metrics while it runs:
// a Prometheus endpoint and --out destinations.
type exportOptions struct {
	metricsAddr addrValue
	linger      time.Duration
	labels      labelsValue
	outs        outsValue
}

// outKinds are the kinds --out takes, each with the check of its target.
// A new kind of output is added here and in exportOptions.start.
var outKinds = map[string]struct {
	about string
	check func(string) error
}{
	"prometheus-rw": {"Prometheus remote write to URL", promout.CheckRemoteWriteURL},
}

// exportFlushTime bounds how long the end of a run waits for remote
// writes still queued.
const exportFlushTime = 10 * time.Second

func (o *exportOptions) addFlags(fs *pflag.FlagSet) {
	fs.Var(&o.metricsAddr, "metrics-addr", "serve live Prometheus metrics at http://`ADDR`/metrics while the run goes on (PORT or :PORT listen on 127.0.0.1; give a host to listen elsewhere)")
	fs.DurationVar(&o.linger, "metrics-linger", 15*time.Second, "after the run, keep serving --metrics-addr until a scrape has fetched the final values, at most this long (0: stop at once)")
	fs.Var(&o.labels, "metrics-label", "add the label `NAME=VALUE` to every exported series, e.g. run=$CI_JOB_ID (repeatable)")
	var kinds []string
	for k, v := range outKinds {
		kinds = append(kinds, k+"=URL: "+v.about)
	}
	sort.Strings(kinds)
	fs.Var(&o.outs, "out", "also send the metrics of every interval to `KIND=TARGET` ("+strings.Join(kinds, "; ")+"); repeatable")
}

// exporter is what the export flags started for a run.
type exporter struct {
	exp    *promout.Exporter
	linger time.Duration
}

// start starts the exporters the flags ask for, before the run: an
// address in use or a bad label stops the command before any load. nil
// when there is nothing to export.
func (o *exportOptions) start(sc *scenario.Scenario, cmd string, stderr io.Writer, quiet bool) (*exporter, error) {
	if o.metricsAddr == "" && len(o.outs) == 0 {
		return nil, nil
	}
	logf := func(string, ...any) {}
	if !quiet {
		logf = func(format string, args ...any) {
			fmt.Fprintf(stderr, "wsbench %s: %s\n", cmd, sc.Mask(fmt.Sprintf(format, args...)))
		}
	}
	target := sc.Target
	if st := sc.StartTarget; target == "" && st != nil {
		target = "start_target:" + st.Name
		if st.Name == "" {
			target = "start_target:command"
		}
	}
	exp, err := promout.New(promout.Options{
		Scenario:   sc.Mask(sc.Name),
		Labels:     o.labels,
		Target:     sc.Mask(target),
		Histograms: sc.MetricNames(),
		Logf:       logf,
	})
	if err != nil {
		return nil, err
	}
	x := &exporter{exp: exp, linger: o.linger}
	if o.metricsAddr != "" {
		url, err := exp.Listen(string(o.metricsAddr))
		if err != nil {
			return nil, fmt.Errorf("--metrics-addr: %w", err)
		}
		// Printed even with --quiet: with port 0 it is the only way to
		// learn the port.
		fmt.Fprintf(stderr, "wsbench %s: Prometheus metrics at %s\n", cmd, url)
	}
	for _, out := range o.outs {
		switch out.kind {
		case "prometheus-rw":
			if err := exp.RemoteWrite(out.target); err != nil {
				exp.Finish(context.Background(), 0, 0)
				return nil, fmt.Errorf("--out: %w", err)
			}
		}
	}
	return x, nil
}

// sinks returns the run's sinks for the exporters.
func (x *exporter) sinks() []engine.Sink {
	if x == nil {
		return nil
	}
	return []engine.Sink{x.exp}
}

// finish ends the export after the run and its reports: remote writes
// flush, the endpoint lingers for a last scrape, and what went wrong is
// said on stderr (even with --quiet: it is data that did not arrive).
func (x *exporter) finish(ctx context.Context, cmd string, stderr io.Writer) {
	if x == nil {
		return
	}
	linger := x.linger
	if ctx.Err() != nil {
		// Interrupted: no waiting for a scrape, but the partial run's
		// last intervals still go out (bounded; a second Ctrl-C exits).
		ctx, linger = context.Background(), 0
	}
	for _, note := range x.exp.Finish(ctx, linger, exportFlushTime) {
		fmt.Fprintf(stderr, "wsbench %s: %s\n", cmd, note)
	}
}

// addrValue is --metrics-addr, checked as it is parsed.
type addrValue string

func (a *addrValue) String() string { return string(*a) }
func (a *addrValue) Type() string   { return "addr" }
func (a *addrValue) Set(s string) error {
	if _, err := promout.ListenAddr(s); err != nil {
		return err
	}
	*a = addrValue(s)
	return nil
}

// labelsValue is --metrics-label, repeatable.
type labelsValue map[string]string

func (l *labelsValue) String() string {
	var out []string
	for k, v := range *l {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}
func (l *labelsValue) Type() string { return "label" }
func (l *labelsValue) Set(s string) error {
	name, value, ok := strings.Cut(s, "=")
	if !ok {
		return fmt.Errorf("want NAME=VALUE")
	}
	if err := promout.CheckLabel(name); err != nil {
		return err
	}
	if _, dup := (*l)[name]; dup {
		return fmt.Errorf("label %s given twice", name)
	}
	if *l == nil {
		*l = labelsValue{}
	}
	(*l)[name] = value
	return nil
}

// outsValue is --out, repeatable.
type outsValue []outSpec

type outSpec struct{ kind, target string }

func (o *outsValue) String() string {
	var out []string
	for _, s := range *o {
		out = append(out, s.kind+"="+s.target)
	}
	return strings.Join(out, ",")
}
func (o *outsValue) Type() string { return "output" }
func (o *outsValue) Set(s string) error {
	kind, target, _ := strings.Cut(s, "=")
	k, ok := outKinds[kind]
	if !ok {
		var known []string
		for name := range outKinds {
			known = append(known, name)
		}
		sort.Strings(known)
		return fmt.Errorf("unknown output %q; want KIND=TARGET with KIND one of: %s", kind, strings.Join(known, ", "))
	}
	if err := k.check(target); err != nil {
		return err
	}
	*o = append(*o, outSpec{kind, target})
	return nil
}
