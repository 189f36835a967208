package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/wsbench/wsbench/internal/launch"
	"github.com/wsbench/wsbench/internal/pacer"
	"github.com/wsbench/wsbench/internal/wsclient"
	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/report"
	"github.com/wsbench/wsbench/scenario"
	"github.com/wsbench/wsbench/targets/refserver"
)

// Options control a run beyond what the scenario says.
type Options struct {
	// Progress receives a status line every interval; nil for none.
	Progress io.Writer
	// ProgressTTY redraws one line in place instead of printing lines.
	ProgressTTY bool
	// Live is called after every interval with the report so far (metrics
	// without histograms, counters, series). Returning stop ends the run
	// early with end_reason aborted and the given reason.
	Live func(partial *report.Report, elapsed time.Duration) (stop bool, reason string)
	// Logf receives diagnostics; nil discards them.
	Logf func(format string, args ...any)
}

// StartError means the run could not start: nothing was measured against
// the target. The report returned beside it says why.
type StartError struct{ Err error }

func (e *StartError) Error() string { return e.Err.Error() }
func (e *StartError) Unwrap() error { return e.Err }

// FailedError means the run started but could not go on.
type FailedError struct{ Err error }

func (e *FailedError) Error() string { return e.Err.Error() }
func (e *FailedError) Unwrap() error { return e.Err }

type runner struct {
	sc          *scenario.Scenario
	clock       *Clock
	pacer       *pacer.Pacer
	reg         *metrics.Registry
	col         *metrics.Collector
	ledger      *ledger
	flows       []*flow
	picker      *picker
	dialOpts    wsclient.Options
	sourceAddrs []*net.TCPAddr
	seed        uint64

	active     atomic.Int64 // open connections
	publishing atomic.Int64 // publish steps still sending or draining
	sessions   atomic.Int64 // running open-model sessions
	sessionSeq atomic.Int64
	connSeq    atomic.Int64
	wg         sync.WaitGroup
	hard       context.Context // cancelled when the grace period after the planned end is over
}

func (r *runner) pick() *flow { return r.picker.next() }

// Run executes sc and returns its report. The report is never nil: when
// the run cannot start (*StartError) or fails (*FailedError) it still says
// what happened, and a cancelled ctx gives a partial report with
// end_reason interrupted.
func Run(ctx context.Context, sc *scenario.Scenario, opts Options) (*report.Report, error) {
	logf := opts.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	rep := newReport(sc)
	fail := func(err error) (*report.Report, error) {
		rep.EndReason, rep.EndDetail = report.EndFailed, err.Error()
		return rep, &StartError{Err: err}
	}

	base := sc.Target
	var proc *launch.Process
	var topo *launch.Topology // a named target: one process or several (start_target.processes, bus, proxy)
	if st := sc.StartTarget; st != nil && base == "" && st.Name != "" {
		var err error
		topo, err = startTopology(ctx, st)
		if err != nil {
			return fail(fmt.Errorf("start target: %w", err))
		}
		defer stopTopology(topo, st, logf)
		base = topo.URL()
		logf("started target %s on %s", st.Name, base)
	} else if st != nil && base == "" {
		var err error
		proc, err = startTarget(ctx, st)
		if err != nil {
			return fail(fmt.Errorf("start target: %w", err))
		}
		defer stopTarget(proc, st, logf)
		base = proc.URL()
		logf("started target (pid %d) on %s", proc.Pid(), proc.Addr())
	}
	inProcessTarget := base == "builtin"
	if inProcessTarget {
		srv, addr, err := startBuiltin(sc.Builtin)
		if err != nil {
			return fail(fmt.Errorf("start built-in server: %w", err))
		}
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(sctx)
		}()
		base = "ws://" + addr
		logf("built-in reference server on %s", addr)
	}
	rep.Target = base

	r := &runner{sc: sc, reg: metrics.NewRegistry(), ledger: newLedger(leaveGrace), seed: sc.Seed}
	if r.seed == 0 {
		r.seed = uint64(time.Now().UnixNano())
	}
	for i := range sc.Flows {
		f, err := compileFlow(sc, &sc.Flows[i], base, r.reg)
		if err != nil {
			return fail(err)
		}
		r.flows = append(r.flows, f)
	}
	r.picker = newPicker(r.flows)
	r.dialOpts = wsclient.Options{
		ConnectTimeout: sc.Client.ConnectTimeout.D(),
		MaxMessageSize: int64(sc.Client.MaxMessageSize),
		Compression:    sc.Client.Compression,
	}
	if len(sc.Client.Headers) > 0 {
		r.dialOpts.Headers = http.Header{}
		for k, v := range sc.Client.Headers {
			r.dialOpts.Headers.Set(k, v)
		}
	}
	for _, a := range sc.Client.SourceAddrs {
		r.sourceAddrs = append(r.sourceAddrs, &net.TCPAddr{IP: net.ParseIP(a)})
	}

	if err := preflight(ctx, base, sc.Client.ConnectTimeout.D()); err != nil {
		rep.Counters.ErrorsByCause = map[string]int64{wsclient.Classify(err): 1}
		return fail(fmt.Errorf("target %s unreachable: %w", base, err))
	}
	var statsBefore map[string]int64
	if topo != nil {
		topo.Baseline(ctx) // every process's counters, and the proxy's
	} else {
		statsBefore = serverStats(base)
	}

	r.col = metrics.NewCollector(r.reg, 4*runtime.GOMAXPROCS(0))
	r.clock = NewClock()
	r.pacer = pacer.New()
	// Sessions that outlive the run's grace period may still be waiting on
	// it; Close hands their waits to Go timers.
	defer r.pacer.Close()
	rep.StartedAt = r.clock.Epoch().UTC()
	hlth := newHealth()
	total := sc.TotalDuration()

	loadCtx, stopLoad := context.WithCancelCause(ctx)
	defer stopLoad(nil)
	hard, stopHard := context.WithCancel(context.Background())
	defer stopHard()
	r.hard = hard
	planned, cancelPlanned := context.WithTimeout(loadCtx, total)
	defer cancelPlanned()

	start := r.clock.Now()
	drivers := sync.WaitGroup{}
	drivers.Add(2)
	go func() { defer drivers.Done(); r.runClosed(planned, start) }()
	go func() { defer drivers.Done(); r.runOpen(planned, start) }()

	series := report.NewSeries(sc.Interval.D().Seconds())
	prog := &progress{w: opts.Progress, tty: opts.ProgressTTY, total: total}
	var peak int64
	deadIntervals := 0
	ticker := time.NewTicker(sc.Interval.D())
	defer ticker.Stop()
	flush := func(show bool) *metrics.Set {
		iv := r.col.Flush()
		active := r.active.Load()
		peak = max(peak, active)
		cpu := hlth.sample()
		elapsed := time.Duration(r.clock.Now() - start)
		if err := series.Append(elapsed.Seconds(), active, cpu, iv); err != nil {
			logf("series: %v", err)
		}
		if show {
			prog.update(elapsed, active, iv, r.col.Total())
		}
		return iv
	}

	endReason, endDetail := report.EndCompleted, ""
loop:
	for {
		select {
		case <-planned.Done():
			break loop
		case <-ticker.C:
		}
		iv := flush(true)
		// A target that refuses every connection for three intervals with
		// nothing open is down: end the run rather than measure nothing.
		// Intervals without attempts (slots backing off) neither start
		// nor end a dead stretch.
		c := &iv.Counters
		switch {
		case c.ConnectsOK > 0 || r.active.Load() > 0:
			deadIntervals = 0
		case c.ConnectsFailed > 0 || deadIntervals > 0:
			deadIntervals++
		}
		if deadIntervals >= 3 {
			endReason = report.EndFailed
			endDetail = fmt.Sprintf("target unreachable: every connection failed for %d intervals (%s)", deadIntervals, topCause(r.col.Total().Counters.ErrorsByCause))
			stopLoad(errors.New(endDetail))
			break loop
		}
		if opts.Live != nil {
			partial := buildReport(rep, sc, r, series, peak, nil, time.Duration(r.clock.Now()-start), false)
			if stop, why := opts.Live(partial, time.Duration(r.clock.Now()-start)); stop {
				endReason, endDetail = report.EndAborted, why
				stopLoad(errors.New(why))
				break loop
			}
		}
	}
	if proc != nil {
		select {
		case <-proc.Done():
			endDetail = strings.TrimSpace(endDetail + fmt.Sprintf(" (the target process %d exited during the run; its output ends: %s)", proc.Pid(), lastLines(proc.Output(), 5)))
		default:
		}
	}
	if topo != nil {
		select {
		case <-topo.Done():
			endDetail = strings.TrimSpace(endDetail + " (during the run " + topo.Exited() + ")")
		default:
		}
	}
	if endReason == report.EndCompleted && ctx.Err() != nil {
		endReason, endDetail = report.EndInterrupted, "stopped by signal before the planned end"
	}
	stopLoad(nil)
	cancelPlanned()
	drivers.Wait()

	// Sessions stop sending now; give in-flight replies the drain time and
	// close handshakes a moment, then force whatever is left.
	grace := sc.Client.Drain.D() + 3*time.Second
	if !waitGroupTimeout(&r.wg, grace) {
		stopHard()
		if !waitGroupTimeout(&r.wg, 5*time.Second) {
			endDetail = strings.TrimSpace(endDetail + " (some sessions did not stop in time)")
		}
	}
	stopHard()
	// The last, partial interval (the drain) goes into the series and
	// totals but not onto the progress line, which already showed the end.
	flush(false)
	prog.done()

	rep.Environment.Pacing = pacing(r.pacer)
	elapsed := time.Duration(r.clock.Now() - start)
	final := buildReport(rep, sc, r, series, peak, hlth, elapsed, true)
	final.Generator.IncludesTarget = inProcessTarget
	final.EndReason, final.EndDetail = endReason, endDetail
	if statsBefore != nil {
		final.Server = &report.ServerObs{Before: statsBefore, After: serverStats(base)}
	}
	if topo != nil {
		octx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		final.Server = topo.Observe(octx)
		cancel()
	}
	if proc != nil {
		// The target's memory, for comparisons of memory per connection.
		if rss, peak, err := proc.Memory(); err == nil {
			if final.Server == nil {
				final.Server = &report.ServerObs{}
			}
			if final.Server.After == nil {
				final.Server.After = map[string]int64{}
			}
			final.Server.After["rss_bytes"], final.Server.After["peak_rss_bytes"] = rss, peak
			final.Server.After["pid"] = int64(proc.Pid())
		}
	}
	if endReason == report.EndFailed {
		return final, &FailedError{Err: errors.New(endDetail)}
	}
	return final, nil
}

func newReport(sc *scenario.Scenario) *report.Report {
	raw, _ := json.Marshal(sc)
	host, _ := os.Hostname()
	return &report.Report{
		Schema:    report.SchemaVersion,
		StartedAt: time.Now().UTC(),
		Target:    sc.Target,
		Scenario:  raw,
		Metrics:   map[string]*report.Metric{},
		Environment: report.Environment{
			WsbenchVersion: report.Version,
			GoVersion:      runtime.Version(),
			OS:             runtime.GOOS,
			Arch:           runtime.GOARCH,
			CPUs:           runtime.NumCPU(),
			GOMAXPROCS:     runtime.GOMAXPROCS(0),
			Hostname:       host,
		},
	}
}

// buildReport assembles a report from the run's state. With final false it
// is a cheap partial view for live thresholds (no histogram encoding).
func buildReport(base *report.Report, sc *scenario.Scenario, r *runner, series *report.Series, peak int64, h *health, elapsed time.Duration, final bool) *report.Report {
	rep := *base
	total := r.col.Total()
	if final {
		complete := metrics.NewSet(r.reg)
		rep.Broadcast = r.ledger.results(r.clock.Now(), complete)
		total.Merge(complete)
	}
	rep.DurationS = elapsed.Seconds()
	rep.Counters = total.Counters
	rep.Counters.Normalize()
	rep.Metrics = map[string]*report.Metric{}
	var lag *report.Metric
	for id, hist := range total.Hists {
		name := r.reg.Names()[id]
		always := id == int(metrics.RTT) || id == int(metrics.Connect) || id == int(metrics.Handshake)
		if hist.TotalCount() == 0 && !always {
			continue
		}
		var m *report.Metric
		if final {
			var err error
			if m, err = report.NewMetric(hist); err != nil {
				m = report.Summarize(hist)
			}
		} else {
			m = report.Summarize(hist)
		}
		if id == int(metrics.ScheduleLag) {
			lag = m
		}
		rep.Metrics[name] = m
	}
	secs := elapsed.Seconds()
	c := &rep.Counters
	if secs > 0 {
		rep.Rates = report.Rates{
			SessionsIntendedPerS: float64(c.SessionsIntended) / secs,
			SessionsAchievedPerS: float64(c.SessionsIntended-c.SessionsDropped) / secs,
			SendsIntendedPerS:    float64(c.SendsIntended) / secs,
			SendsAchievedPerS:    float64(c.MessagesSent) / secs,
			ReceivedPerS:         float64(c.MessagesReceived) / secs,
			ConnectsPerS:         float64(c.ConnectsOK) / secs,
		}
	}
	rep.Rates.PeakConnections = peak
	rep.Series = series
	if final {
		// Live checks needed every interval; the report keeps at most
		// report.MaxPoints, merged exactly.
		if err := series.Compact(); err != nil {
			rep.EndDetail = strings.TrimSpace(rep.EndDetail + " (series: " + err.Error() + ")")
		}
	}
	rep.Phases = phaseResults(sc, series)
	if h != nil {
		rep.Generator = h.finish(total, lag)
	} else {
		rep.Generator = report.Generator{ScheduleLag: lag}
	}
	return &rep
}

// phaseResults says when each phase ran and what it achieved, from the
// series: an interval belongs to the phase its midpoint falls in (the
// drain interval at the end is short, so intervals are weighted by their
// own length, not the nominal one).
func phaseResults(sc *scenario.Scenario, s *report.Series) []report.PhaseResult {
	var out []report.PhaseResult
	var t float64
	for _, p := range sc.Phases {
		pr := report.PhaseResult{Name: p.Name, StartS: t, EndS: t + p.Duration.D().Seconds(), Model: "closed"}
		if p.Clients != nil {
			pr.Target = float64(*p.Clients)
		} else {
			pr.Model = "open"
			pr.Target = *p.ArrivalRate
		}
		var connects, secs float64
		prev := 0.0
		for i, end := range s.T {
			start := prev
			prev = end
			mid := (start + end) / 2
			if mid < pr.StartS || mid >= pr.EndS {
				continue
			}
			if pr.Model == "closed" {
				pr.Achieved = float64(s.Active[i])
			} else {
				connects += float64(s.Connects[i])
				secs += end - start
			}
		}
		if pr.Model == "open" && secs > 0 {
			pr.Achieved = connects / secs
		}
		out = append(out, pr)
		t = pr.EndS
	}
	return out
}

func startBuiltin(b *scenario.Builtin) (*refserver.Server, string, error) {
	cfg := refserver.Config{}
	if b != nil {
		cfg = refserver.Config{
			PingInterval:   b.PingInterval.D(),
			PingTimeout:    b.PingTimeout.D(),
			MaxMessageSize: int64(b.MaxMessageSize),
			ProcessDelay:   b.ProcessDelay.D(),
			ServiceTime:    b.ServiceTime.D(),
			MaxConns:       b.MaxConns,
			DropEvery:      b.DropEvery,
		}
	}
	srv := refserver.New(cfg)
	addr, err := srv.Start("127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	return srv, addr, nil
}

// startTarget starts the scenario's target command (a named target is a
// topology: startTopology).
func startTarget(ctx context.Context, st *scenario.StartTarget) (*launch.Process, error) {
	if st.ReadyTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, st.ReadyTimeout.D())
		defer cancel()
	}
	addr := st.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	argv := append([]string(nil), st.Wrap...)
	for _, a := range st.Command {
		argv = append(argv, strings.ReplaceAll(a, "{{addr}}", addr))
	}
	return launch.Start(ctx, argv, nil)
}

// startTopology starts a named target: one process, or several with the
// scenario's bus and proxy.
func startTopology(ctx context.Context, st *scenario.StartTarget) (*launch.Topology, error) {
	if st.ReadyTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, st.ReadyTimeout.D())
		defer cancel()
	}
	var ping *time.Duration
	if st.PingInterval != nil {
		ping = new(st.PingInterval.D())
	}
	sig := os.Signal(syscall.SIGTERM)
	if st.StopSignal == "INT" {
		sig = syscall.SIGINT
	}
	topo, err := launch.NewTopology(launch.TopologySpec{
		Name: st.Name,
		Settings: launch.Settings{
			Addr:           st.Addr,
			PingInterval:   ping,
			PingTimeout:    st.PingTimeout.D(),
			MaxMessageSize: int64(st.MaxMessageSize),
			Extra:          st.Args,
			Wrap:           st.Wrap,
		},
		Processes: st.Processes, Bus: st.Bus, Proxy: st.Proxy, Balance: st.Balance,
		Loop: st.Loop, Accel: st.Accel, StopSignal: sig,
	})
	if err != nil {
		return nil, err
	}
	if err := topo.Start(ctx); err != nil {
		return nil, err
	}
	return topo, nil
}

// stopTopology stops every process of the target and keeps their output
// where the scenario asked.
func stopTopology(t *launch.Topology, st *scenario.StartTarget, logf func(string, ...any)) {
	if err := t.Stop(); err != nil {
		logf("target: %v", err)
	}
	if st.Log != "" {
		if err := os.WriteFile(st.Log, []byte(t.Output()), 0o644); err != nil {
			logf("target log: %v", err)
		}
	}
}

// stopTarget stops the target process with its stop signal and keeps its
// output where the scenario asked.
func stopTarget(p *launch.Process, st *scenario.StartTarget, logf func(string, ...any)) {
	sig := syscall.SIGTERM
	if st.StopSignal == "INT" {
		sig = syscall.SIGINT
	}
	if err := p.Stop(sig, 10*time.Second); err != nil {
		logf("target: %v", err)
	}
	if st.Log != "" {
		if err := os.WriteFile(st.Log, []byte(p.Output()), 0o644); err != nil {
			logf("target log: %v", err)
		}
	}
}

// preflight checks that the target accepts TCP connections before any
// load starts, so an unreachable target is "could not start" rather than a
// run full of failures. It opens and closes one TCP connection; it does
// not upgrade, so it does not touch the target's WebSocket counters.
func preflight(ctx context.Context, base string, timeout time.Duration) error {
	u, err := url.Parse(base)
	if err != nil {
		return err
	}
	host := u.Host
	if u.Port() == "" {
		if u.Scheme == "wss" {
			host += ":443"
		} else {
			host += ":80"
		}
	}
	d := net.Dialer{Timeout: min(timeout, 5*time.Second)}
	c, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return err
	}
	return c.Close()
}

// serverStats reads the contract's GET /stats, or returns nil.
func serverStats(base string) map[string]int64 {
	u, err := url.Parse(base)
	if err != nil {
		return nil
	}
	scheme := "http"
	if u.Scheme == "wss" {
		scheme = "https"
	}
	client := http.Client{Timeout: time.Second}
	resp, err := client.Get(scheme + "://" + u.Host + "/stats")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil
	}
	var m map[string]int64
	if json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&m) != nil {
		return nil
	}
	return m
}

// pacing says how the run's scheduled sends were woken, for the report:
// the clock, and how many deadlines shared each of its wake-ups (more at
// high send rates, where the pacer rations its wake-ups).
func pacing(p *pacer.Pacer) string {
	precise, timers, alarms := p.Stats()
	switch {
	case !p.Precise():
		return "go-timers"
	case precise == 0:
		return "timerfd"
	}
	s := fmt.Sprintf("timerfd, %.1f waits per wake-up", float64(precise)/float64(max(alarms, 1)))
	if timers > 0 {
		s += fmt.Sprintf(", %.0f%% on Go timers after the pacer closed", 100*float64(timers)/float64(precise+timers))
	}
	return s
}

func waitGroupTimeout(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}

func topCause(m map[string]int64) string {
	best, n := "", int64(0)
	for k, v := range m {
		if v > n || (v == n && k < best) {
			best, n = k, v
		}
	}
	if best == "" {
		return "no cause recorded"
	}
	return fmt.Sprintf("%d × %s", n, best)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
