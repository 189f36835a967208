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
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsbench/wsbench/internal/netpoll"
	"github.com/wsbench/wsbench/internal/pacer"
	"github.com/wsbench/wsbench/internal/shard"
	"github.com/wsbench/wsbench/internal/wsclient"
	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/report"
	"github.com/wsbench/wsbench/scenario"
)

// Options control a run beyond what the scenario says.
type Options struct {
	// Progress receives a status line every interval; nil for none.
	Progress io.Writer
	// ProgressTTY redraws one line in place instead of printing lines.
	ProgressTTY bool
	// Sinks receive every interval as it closes and the finished report
	// (live thresholds, exporters, a coordinator's uplink).
	Sinks []Sink
	// Reachable says the caller has checked that Target accepts
	// connections (Preflight), so Run does not: a proxy in front of the
	// target counts every connection, and the caller took its counters
	// after its own check.
	Reachable bool
	// Target is the ws:// or wss:// address the run's connections go to;
	// empty means the scenario's target, which must then be such an
	// address. The scenario in the report is kept as written.
	Target string
	// Worker identifies this process among the workers of one run (0 for
	// a run of its own): it goes into message markers so that a merge of
	// several workers' results can tell their connections apart.
	Worker int
	// Share is the part of the run's load this process generates (with
	// Worker and a common Origin and StartAt, for worker processes).
	Share Share
	// StartAt is the wall-clock instant the load starts, for processes
	// that start together; zero means at once.
	StartAt time.Time
	// LagBudget is the schedule lag p99 the user's latency thresholds
	// tolerate (gate.LagBudget); above it, with the generator busy, the run
	// is unreliable. Zero means 20 ms.
	LagBudget time.Duration
	// Origin is the instant run-clock times count from, shared by the
	// processes of one run so that one-way latencies (a publisher in one
	// process, subscribers in another) compare like times; zero means
	// the run's own start.
	Origin time.Time
	// ExportLedger makes the report carry the run's raw broadcast ledger
	// (report.Ledger), so that report.Merge can compute reach and loss
	// across the processes of a run.
	ExportLedger bool
	// Logf receives diagnostics; nil discards them.
	Logf func(format string, args ...any)
}

// Sink consumes a run's intervals as they close: the progress line, live
// thresholds, the report builder, exporters and a worker's link to its
// coordinator are sinks. The engine calls a run's sinks from one
// goroutine, never the senders', in order: Interval for every interval
// (the last one holds the drain at the end), then Close once.
type Sink interface {
	// Interval receives interval iv and the run's totals up to and
	// including it. Both are read-only and iv stays valid after the call
	// (a sink may keep it); total is valid only during the call. A non-nil
	// error stops the run: its end reason becomes aborted and the error's
	// text its detail. A sink that can fail without that consequence (an
	// exporter) logs instead.
	Interval(iv *metrics.Interval, total *metrics.Set) error
	// Close receives the finished report, read-only.
	Close(rep *report.Report)
}

// Starter is a Sink that needs to know when the run's clock started:
// Start receives the wall-clock instant that interval times
// (metrics.Interval's Start and End) count from, once, before the first
// Interval. Exporters use it to timestamp intervals.
type Starter interface {
	Start(at time.Time)
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

// endCause is why the load stopped before its planned end, as the cause of
// the load context's cancellation.
type endCause struct {
	reason, detail string
}

func (e *endCause) Error() string { return e.detail }

type runner struct {
	sc          *scenario.Scenario
	clock       *Clock
	pacer       *pacer.Pacer
	reg         *metrics.Registry
	col         *shard.Collector
	ledger      *ledger
	data        *dataSet
	flows       []*flow
	picker      *picker
	dialOpts    wsclient.Options
	sourceAddrs []*net.TCPAddr
	seed        uint64
	worker      int64
	service     []metrics.ID // by metric: its service view, -1 for none
	lagBudget   time.Duration
	share       Share
	maxSessions int64
	// exportLedger: the report carries the broadcast ledger for a merge
	// across processes.
	exportLedger bool

	examples errorExamples // the first message of each error cause

	active     atomic.Int64 // open connections
	peakActive atomic.Int64 // most connections open at once
	publishing atomic.Int64 // publish steps still sending or draining
	sessions   atomic.Int64 // running open-model sessions
	sessionSeq atomic.Int64
	connSeq    atomic.Int64
	wg         sync.WaitGroup  // closed-model slots and open-model sessions still running
	hard       context.Context // cancelled when the grace period after the planned end is over

	// The light machinery (driver.go, conn.go): parked sessions and
	// light connections hold no goroutine.
	poller  *netpoll.Poller // reads light connections; nil: every connection has a reader goroutine
	wheel   *netpoll.Wheel  // session waits, close handshakes, heartbeats
	resumeq *resumeQueue    // resumes woken sessions
	live    registry        // every live session, for the stop and the hard end
	readers readerMode
}

// runnerHook is the context key under which a test passes a function
// that Run calls with its runner once the load is about to start.
type runnerHook struct{}

// readerMode chooses how connections are read.
type readerMode uint8

const (
	// readAuto reads light flows' connections through the reactor and
	// gives closed-loop echo flows a reader goroutine, whose wake-up is
	// one hand-off shorter (see docs/architecture.md).
	readAuto      readerMode = iota
	readPoll                 // every ws:// connection through the reactor
	readGoroutine            // every connection with a reader goroutine (as before the reactor)
)

// readerModeFromEnv reads WSBENCH_READERS (auto, poll, goroutine), a
// benchmarking switch for comparing the two ways of reading.
func readerModeFromEnv() readerMode {
	switch os.Getenv("WSBENCH_READERS") {
	case "poll":
		return readPoll
	case "goroutine":
		return readGoroutine
	}
	return readAuto
}

// lightReads reports whether f's connections are read through the
// reactor.
func (r *runner) lightReads(f *flow) bool {
	switch {
	case r.poller == nil || r.readers == readGoroutine:
		return false
	case r.readers == readPoll:
		return true
	}
	return f.inflight == 0
}

func (r *runner) pick() *flow { return r.picker.next() }

// serviceOf returns the service view of metric id, or -1.
func (r *runner) serviceOf(id metrics.ID) metrics.ID {
	if id < 0 || int(id) >= len(r.service) {
		return -1
	}
	return r.service[id]
}

// connOpened counts a newly open connection and raises the peak.
func (r *runner) connOpened() {
	n := r.active.Add(1)
	for {
		p := r.peakActive.Load()
		if n <= p || r.peakActive.CompareAndSwap(p, n) {
			return
		}
	}
}

// Run executes sc against its target, which must be a ws:// or wss://
// address: starting and stopping a target (the built-in server, a target
// process) is the caller's job (package targets). Run returns the run's
// report, which is never nil: when the run cannot start (*StartError) or
// fails (*FailedError) it still says what happened, and a cancelled ctx
// gives a partial report with end_reason interrupted. A ctx cancelled with
// a cause (context.WithCancelCause) that is a *FailedError ends the run as
// failed, with the cause as its detail: that is how a caller reports a
// target that died.
func Run(ctx context.Context, sc *scenario.Scenario, opts Options) (*report.Report, error) {
	// Values the scenario took from the environment are secrets: every
	// message and report field that can hold scenario text is masked.
	logf := func(string, ...any) {}
	if opts.Logf != nil {
		logf = func(format string, args ...any) { opts.Logf("%s", sc.Mask(fmt.Sprintf(format, args...))) }
	}
	rep := newReport(sc)
	fail := func(err error) (*report.Report, error) {
		err = sc.MaskError(err)
		rep.EndReason, rep.EndDetail = report.EndFailed, err.Error()
		return rep, &StartError{Err: err}
	}
	base := sc.Target
	if opts.Target != "" {
		base = opts.Target
	}
	rep.Target = sc.Mask(base)
	if !strings.HasPrefix(base, "ws://") && !strings.HasPrefix(base, "wss://") {
		return fail(fmt.Errorf("target %q: engine.Run needs a ws:// or wss:// address; start the target first (package targets)", base))
	}
	rep.TLS = tlsInfo(sc.Client.TLS, base)
	tlsConfig, err := sc.Client.TLS.Config()
	if err != nil {
		return fail(err)
	}

	r := &runner{sc: sc, reg: metrics.NewRegistry(), ledger: newLedger(), seed: sc.Seed, worker: int64(opts.Worker), exportLedger: opts.ExportLedger, lagBudget: opts.LagBudget}
	if r.seed == 0 {
		r.seed = uint64(time.Now().UnixNano())
	}
	r.share = opts.Share
	r.maxSessions = int64(sc.Client.MaxSessions)
	data, err := newDataSet(sc, r.seed)
	if err != nil {
		return fail(err)
	}
	r.data = data
	if data != nil {
		data.share = opts.Share
	}
	if n := opts.Share.Count; n > 1 {
		// Each share draws its own random numbers (payloads, think times)
		// from the run's seed, and holds its part of the session cap.
		r.seed = splitmix(r.seed ^ uint64(opts.Share.Index+1))
		r.maxSessions = (r.maxSessions + int64(n) - 1) / int64(n)
	}
	for i := range sc.Flows {
		f, err := compileFlow(sc, &sc.Flows[i], base, r.reg)
		if err != nil {
			return fail(err)
		}
		r.flows = append(r.flows, f)
	}
	r.picker = newPicker(r.flows)
	r.service = make([]metrics.ID, len(r.reg.Names()))
	for i := range r.service {
		r.service[i] = -1
	}
	for _, f := range r.flows {
		for m, svc := range f.service {
			r.service[m] = svc
		}
	}
	r.dialOpts = wsclient.Options{
		ConnectTimeout: sc.Client.ConnectTimeout.D(),
		MaxMessageSize: int64(sc.Client.MaxMessageSize),
		Compression:    sc.Client.Compression,
		TLS:            tlsConfig,
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

	if !opts.Reachable {
		if err := Preflight(ctx, base, sc.Client.ConnectTimeout.D()); err != nil {
			cause := wsclient.Classify(err)
			rep.Counters.ErrorsByCause = map[string]int64{cause: 1}
			rep.ErrorExamples = map[string]string{cause: sc.Mask("preflight: " + err.Error())}
			return fail(fmt.Errorf("target %s unreachable: %w", base, err))
		}
	}

	r.col = shard.NewCollector(r.reg, 4*runtime.GOMAXPROCS(0))
	r.clock = NewClockFrom(opts.Origin)
	if wait := time.Until(opts.StartAt); wait > 0 {
		select {
		case <-time.After(wait):
		case <-ctx.Done():
		}
	}
	r.pacer = pacer.New()
	// Sessions that outlive the run's grace period may still be waiting on
	// it; Close hands their waits to Go timers.
	defer r.pacer.Close()
	r.readers = readerModeFromEnv()
	if r.readers != readGoroutine {
		// Without a reactor (it could not start) every connection gets a
		// reader goroutine, as light ones would on other systems anyway.
		if p, err := netpoll.New(netpoll.Config{}); err == nil {
			r.poller = p
		} else {
			logf("reactor: %v (connections are read by goroutines)", err)
		}
	}
	r.wheel = netpoll.NewWheel(wheelTick)
	r.resumeq = newResumeQueue(max(4, 2*runtime.GOMAXPROCS(0)))
	defer r.closeLight()
	hlth := newHealth()
	total := sc.TotalDuration()

	loadCtx, stopLoad := context.WithCancelCause(ctx)
	defer stopLoad(nil)
	hard, stopHard := context.WithCancel(context.Background())
	defer stopHard()
	r.hard = hard
	planned, cancelPlanned := context.WithTimeout(loadCtx, total)
	defer cancelPlanned()
	// The load's end stops every session: those parked wake (through the
	// resume pool) to close their connections.
	context.AfterFunc(planned, r.stopAll)
	if hook, ok := ctx.Value(runnerHook{}).(func(*runner)); ok {
		hook(r)
	}

	start := r.clock.Now()
	if !opts.StartAt.IsZero() {
		// Processes that start together keep one schedule: it begins at
		// the agreed instant even if this one woke late (its first sends
		// are then late, and their lag says so).
		start = opts.StartAt.UnixNano() - r.clock.Wall(0)
	}
	rep.StartedAt = time.Unix(0, r.clock.Wall(start)).UTC()
	r.ledger.timeline(start, sc.Interval.D())
	for _, s := range opts.Sinks {
		if st, ok := s.(Starter); ok {
			st.Start(rep.StartedAt)
		}
	}
	drivers := sync.WaitGroup{}
	drivers.Add(2)
	go func() { defer drivers.Done(); r.runClosed(planned, start) }()
	go func() { defer drivers.Done(); r.runOpen(planned, start) }()

	// The interval loop only cuts intervals; sinks run on their own
	// goroutine so that neither a slow sink nor their work delays the
	// next cut (and the senders share the CPU with them either way).
	builder := &timelineSink{step: sc.Interval.D(), planned: total}
	sinks := []Sink{builder, &deadTarget{stop: stopLoad, total: &builder.total}}
	if opts.Progress != nil {
		sinks = append(sinks, &progress{w: opts.Progress, tty: opts.ProgressTTY, total: total})
	}
	sinks = append(sinks, opts.Sinks...)
	feed := make(chan *metrics.Interval, 64)
	fed := make(chan struct{})
	go func() {
		defer close(fed)
		runSinks(feed, sinks, r.reg, builder, stopLoad, logf)
	}()
	var cutAt time.Duration
	var quiet quietScavenger
	cut := func() {
		set := r.col.Flush(yieldToSenders)
		now := time.Duration(r.clock.Now() - start)
		feed <- &metrics.Interval{Start: cutAt, End: now, Set: set, Active: r.active.Load(), CPUPercent: hlth.sample(r.active.Load())}
		cutAt = now
		quiet.interval(&set.Counters)
	}
	ticker := time.NewTicker(sc.Interval.D())
	defer ticker.Stop()
loop:
	for {
		select {
		case <-planned.Done():
			break loop
		case <-ticker.C:
		}
		cut()
	}
	endReason, endDetail := report.EndCompleted, ""
	var ec *endCause
	var fe *FailedError
	switch cause := context.Cause(loadCtx); {
	case errors.As(cause, &ec):
		endReason, endDetail = ec.reason, ec.detail
	case errors.As(cause, &fe):
		endReason, endDetail = report.EndFailed, fe.Error()
	case ctx.Err() != nil:
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
		r.abortAll()
		if !waitGroupTimeout(&r.wg, 5*time.Second) {
			endDetail = strings.TrimSpace(endDetail + " (some sessions did not stop in time)")
		}
	}
	stopHard()
	// The last, partial interval holds the drain.
	cut()
	close(feed)
	<-fed

	rep.Environment.Pacing = pacing(r.pacer)
	elapsed := time.Duration(r.clock.Now() - start)
	final := buildReport(rep, sc, r, builder, hlth, elapsed)
	final.EndReason, final.EndDetail = endReason, sc.Mask(strings.TrimSpace(endDetail+final.EndDetail))
	for i := range final.Broadcast {
		final.Broadcast[i].Room = sc.Mask(final.Broadcast[i].Room)
	}
	if final.Ledger != nil {
		for i := range final.Ledger.Rooms {
			room := &final.Ledger.Rooms[i]
			room.URL, room.Pattern = sc.Mask(room.URL), sc.Mask(room.Pattern)
		}
	}
	for _, s := range sinks {
		s.Close(final)
	}
	if endReason == report.EndFailed {
		return final, &FailedError{Err: errors.New(endDetail)}
	}
	return final, nil
}

// splitmix is SplitMix64's finaliser: well-spread seeds from related
// inputs.
func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// yieldToSenders lets goroutines that became runnable (senders woken by
// the pacer, readers with replies) run between two pieces of interval
// work. A sleep, not runtime.Gosched: with one CPU, the scheduler polls
// the network (where the pacer's timerfd and the sockets are) only when
// nothing else is runnable, so a goroutine that merely yields keeps every
// reader and woken sender waiting until it is done.
func yieldToSenders() { time.Sleep(time.Microsecond) }

// runSinks feeds every interval to the sinks, keeping the run's totals,
// until feed is closed. The first sink error stops the load.
func runSinks(feed <-chan *metrics.Interval, sinks []Sink, reg *metrics.Registry, builder *timelineSink, stop context.CancelCauseFunc, logf func(string, ...any)) {
	total := metrics.NewSet(reg)
	builder.total = total
	stopped := false
	for iv := range feed {
		if err := total.Merge(iv.Set); err != nil {
			logf("interval totals: %v", err)
		}
		for _, s := range sinks {
			if err := s.Interval(iv, total); err != nil && !stopped {
				stopped = true
				var ec *endCause
				if !errors.As(err, &ec) {
					ec = &endCause{reason: report.EndAborted, detail: err.Error()}
				}
				stop(ec)
			}
		}
	}
}

// timelineSink keeps the run's intervals for the report in their wire
// form, a few hundred bytes each instead of the few KiB of a Set (an hour
// of 1 s intervals held as Sets grew an idle generator by 13 MB), and
// halves their resolution exactly when there are twice as many as the
// report keeps (report.MaxPoints), so that memory stays bounded. The
// report decodes them once, at the end (decode).
type timelineSink struct {
	step    time.Duration
	enc     [][]byte
	tl      metrics.Timeline // decoded, for the report
	planned time.Duration    // the load's planned length: intervals after it are the drain
	total   *metrics.Set     // the run's totals, owned by runSinks; read after it ends
}

func (b *timelineSink) Interval(iv *metrics.Interval, _ *metrics.Set) error {
	w, err := iv.MarshalBinary()
	if err != nil {
		return fmt.Errorf("timeline: %w", err)
	}
	b.enc = append(b.enc, w)
	if len(b.enc) < 2*report.MaxPoints {
		return nil
	}
	if err := b.decode(); err != nil {
		return err
	}
	if err := b.tl.Coarsen(2); err != nil {
		return err
	}
	b.step, b.enc = b.tl.Step, make([][]byte, 0, len(b.tl.Intervals))
	for _, iv := range b.tl.Intervals {
		w, err := iv.MarshalBinary()
		if err != nil {
			return fmt.Errorf("timeline: %w", err)
		}
		b.enc = append(b.enc, w)
	}
	b.tl.Intervals = nil
	return nil
}

// decode sets tl to the intervals kept so far.
func (b *timelineSink) decode() error {
	b.tl = metrics.Timeline{Step: b.step, Intervals: make([]*metrics.Interval, len(b.enc))}
	for i, w := range b.enc {
		b.tl.Intervals[i] = new(metrics.Interval)
		if err := b.tl.Intervals[i].UnmarshalBinary(w); err != nil {
			return fmt.Errorf("timeline: %w", err)
		}
	}
	return nil
}

func (b *timelineSink) Close(*report.Report) {}

// deadTarget ends a run whose target refuses every connection for three
// intervals with nothing open: the target is down, and measuring nothing
// for the rest of the run helps nobody. Intervals without attempts (slots
// backing off) neither start nor end a dead stretch.
type deadTarget struct {
	stop  context.CancelCauseFunc
	total **metrics.Set
	dead  int
}

func (d *deadTarget) Interval(iv *metrics.Interval, total *metrics.Set) error {
	c := &iv.Set.Counters
	switch {
	case c.ConnectsOK > 0 || iv.Active > 0:
		d.dead = 0
	case c.ConnectsFailed > 0 || d.dead > 0:
		d.dead++
	}
	if d.dead >= 3 {
		return &endCause{reason: report.EndFailed,
			detail: fmt.Sprintf("target unreachable: every connection failed for %d intervals (%s)", d.dead, topCause(total.Counters.ErrorsByCause))}
	}
	return nil
}

func (d *deadTarget) Close(*report.Report) {}

// NotStarted returns the report of a run that could not start because of
// err (a target that would not start, for one): no measurement, the
// reason in its end detail.
func NotStarted(sc *scenario.Scenario, err error) *report.Report {
	rep := newReport(sc)
	rep.EndReason, rep.EndDetail = report.EndFailed, sc.Mask(err.Error())
	return rep
}

// newReport starts the report of a run of sc. The scenario it embeds is
// the redacted one: values from the environment show as ***.
func newReport(sc *scenario.Scenario) *report.Report {
	raw, _ := json.Marshal(sc.Redacted())
	host, _ := os.Hostname()
	return &report.Report{
		Schema:    report.SchemaVersion,
		StartedAt: time.Now().UTC(),
		Target:    sc.Mask(sc.Target),
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

// buildReport assembles the finished report from the run's state.
func buildReport(base *report.Report, sc *scenario.Scenario, r *runner, b *timelineSink, h *health, elapsed time.Duration) *report.Report {
	rep := *base
	total := b.total
	led := r.ledger.export(r.clock.Now())
	if len(led.Rooms) > 0 {
		complete := metrics.NewSet(r.reg)
		rep.Broadcast = led.Results(complete.Hists[metrics.BroadcastComplete])
		if err := total.Merge(complete); err != nil {
			rep.EndDetail += " (broadcast: " + err.Error() + ")"
		}
		if r.exportLedger {
			rep.Ledger = led
		}
	}
	rep.DurationS = elapsed.Seconds()
	rep.Counters = total.Counters
	rep.Counters.Normalize()
	rep.ErrorExamples = r.examples.snapshot(sc.Mask)
	rep.Metrics = map[string]*report.Metric{}
	var lag *report.Metric
	for id, hist := range total.Hists {
		name := r.reg.Names()[id]
		always := id == int(metrics.RTT) || id == int(metrics.Connect) || id == int(metrics.Handshake)
		if hist.TotalCount() == 0 && !always {
			continue
		}
		m, err := report.NewMetric(hist)
		if err != nil {
			m = report.Summarize(hist)
		}
		if id == int(metrics.ScheduleLag) {
			lag = m
		}
		rep.Metrics[name] = m
	}
	rep.Rates = report.RatesOf(&rep.Counters, elapsed.Seconds())
	rep.Rates.PeakConnections = r.peakActive.Load()
	if err := b.decode(); err != nil {
		rep.EndDetail += " (series: " + err.Error() + ")"
	}
	// The report keeps at most report.MaxPoints intervals, merged exactly.
	if err := b.tl.Compact(report.MaxPoints); err != nil {
		rep.EndDetail += " (series: " + err.Error() + ")"
	}
	series, err := report.SeriesOf(&b.tl)
	if err != nil {
		rep.EndDetail += " (series: " + err.Error() + ")"
	}
	rep.Series = series
	rep.Phases = phaseResults(sc, &b.tl, r.share)
	var cpu []float64
	for _, iv := range b.tl.Intervals {
		if iv.End <= b.planned+b.tl.Step/4 {
			cpu = append(cpu, iv.CPUPercent)
		}
	}
	rep.Generator = h.finish(total, lag, r.peakActive.Load(), cpu, r.lagBudget)
	return &rep
}

// phaseResults says when each phase ran and what it achieved, from the
// series: an interval belongs to the phase its midpoint falls in (the
// drain interval at the end is short, so intervals are weighted by their
// own length, not the nominal one).
func phaseResults(sc *scenario.Scenario, tl *metrics.Timeline, share Share) []report.PhaseResult {
	var out []report.PhaseResult
	var t float64
	for _, p := range sc.Phases {
		pr := report.PhaseResult{Name: p.Name, StartS: t, EndS: t + p.Duration.D().Seconds(), Model: "closed"}
		if p.Clients != nil {
			pr.Target = float64(share.of(*p.Clients))
		} else {
			pr.Model = "open"
			pr.Target = *p.ArrivalRate
			if share.Count > 1 {
				pr.Target /= float64(share.Count)
			}
		}
		var connects, secs float64
		sampled := false
		for _, iv := range tl.Intervals {
			start, end := iv.Start.Seconds(), iv.End.Seconds()
			mid := (start + end) / 2
			if mid < pr.StartS || mid >= pr.EndS {
				continue
			}
			if pr.Model == "closed" {
				// The level at the phase's end: the last gauge taken
				// before it (an interval cut after the planned end has
				// its sessions closing already), else whatever there is.
				if end <= pr.EndS+tl.Step.Seconds()/4 || !sampled {
					pr.Achieved = float64(iv.Active)
					sampled = sampled || end <= pr.EndS+tl.Step.Seconds()/4
				}
			} else {
				connects += float64(iv.Set.Counters.ConnectsOK)
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

// Preflight checks that the target at base accepts TCP connections before
// any load starts, so an unreachable target is "could not start" rather
// than a run full of failures. It opens and closes one TCP connection; it
// does not upgrade, so it does not touch the target's WebSocket counters
// (a proxy in front of the target counts it, though).
func Preflight(ctx context.Context, base string, timeout time.Duration) error {
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

// quietScavenger returns the memory a burst of connects left behind to
// the system once the generator holds its connections quietly. Opening
// thousands of connections at once leaves dialing goroutines' stacks and
// the dials' garbage as free heap, which the Go runtime keeps mapped as
// headroom (its heap goal is twice the live heap): an idle capacity test
// would report that transient as the cost of its idle connections. After
// an interval with no connects and no messages, following at least
// quietAfter connects, the runtime is asked once to free it
// (debug.FreeOSMemory: a garbage collection while nothing else happens).
type quietScavenger struct {
	connects int64 // connects since the last scavenge
	running  atomic.Bool
}

// quietAfter is how many connects make a scavenge worth a collection.
const quietAfter = 1000

func (q *quietScavenger) interval(c *metrics.Counters) {
	q.connects += c.ConnectsOK
	if c.ConnectsAttempted > 0 || c.MessagesSent > 0 || c.MessagesReceived > 0 || q.connects < quietAfter {
		return
	}
	if q.running.CompareAndSwap(false, true) {
		q.connects = 0
		go func() {
			defer q.running.Store(false)
			debug.FreeOSMemory()
		}()
	}
}

// wheelTick is the resolution of the session timers (sleep, think,
// listen, backoff, close handshakes, heartbeats): they fire up to a tick
// late, about what Go's timers are late by in an idle process. Scheduled
// sends use the pacer, not the wheel.
const wheelTick = time.Millisecond

// closeLight stops the reactor, the wheel and the resume pool once the
// sessions are gone. Sessions that did not stop in time stay parked (or
// unread) for good.
func (r *runner) closeLight() {
	if r.poller != nil {
		_ = r.poller.Close()
	}
	r.wheel.Stop()
	r.resumeq.close()
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
