package prometheus

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	prom "github.com/prometheus/client_golang/prometheus"

	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/report"
)

// Prefix starts the name of every exported metric.
const Prefix = "wsbench_"

// Options describe what an Exporter labels its series with.
type Options struct {
	// Scenario is the scenario's name: every series carries it as the
	// label scenario.
	Scenario string
	// Labels are more constant labels for every series (a run or build
	// ID, say), checked by CheckLabel.
	Labels map[string]string
	// Target is the run's target as the scenario names it, for
	// wsbench_run_info.
	Target string
	// Histograms are latency metrics to export from the start, at zero
	// (the scenario's, scenario.MetricNames), so that Prometheus sees
	// them before their first sample and rate() counts that sample.
	// Metrics that appear only in intervals are exported from then on.
	Histograms []string
	// Logf receives the exporter's problems (rate-limited); nil discards
	// them.
	Logf func(format string, args ...any)
}

// Exporter exports a run's intervals to Prometheus: it is an engine.Sink
// (and engine.Starter), to be given the intervals of one run or of several
// runs in a row (the steps of a capacity search), whose counts it adds up.
// Listen serves the values for scraping; RemoteWrite pushes them after
// every interval. Call Finish when the runs are over.
type Exporter struct {
	reg  *prom.Registry
	logf func(string, ...any)

	mu        sync.Mutex // guards st and intervals; held by Interval while it adds, by scrapes while they read
	st        *state
	intervals int       // intervals added so far
	start     time.Time // wall clock that the current run's interval times count from

	// Interval's goroutine only:
	lastTS     int64 // the last remote-write timestamp (ms)
	gatherErrs int   // gather errors (a bug: logged once)

	server  *endpoint
	writers []*remoteWriter
}

// New returns an exporter labelled as opts says.
func New(opts Options) (*Exporter, error) {
	for name := range opts.Labels {
		if err := CheckLabel(name); err != nil {
			return nil, err
		}
	}
	e := &Exporter{reg: prom.NewRegistry(), logf: opts.Logf}
	if e.logf == nil {
		e.logf = func(string, ...any) {}
	}
	e.st = newState(opts)
	if err := e.reg.Register((*collector)(e)); err != nil {
		return nil, fmt.Errorf("prometheus exporter: %w", err)
	}
	return e, nil
}

var labelNameRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// CheckLabel returns an error if name cannot be a constant label of the
// exported series: not a Prometheus label name, reserved (__ names), or
// one of the labels the exporter itself sets.
func CheckLabel(name string) error {
	switch {
	case !labelNameRe.MatchString(name):
		return fmt.Errorf("label %q: use letters, digits and _, not starting with a digit", name)
	case strings.HasPrefix(name, "__"):
		return fmt.Errorf("label %q: names starting with __ are reserved by Prometheus", name)
	case slices.Contains(ownLabels(), name):
		return fmt.Errorf("label %q is set by wsbench itself (its labels: %s)", name, strings.Join(ownLabels(), ", "))
	}
	return nil
}

// ownLabels are the label names the exporter sets.
func ownLabels() []string {
	out := []string{"scenario", "le", "version", "target", "instance", "job"}
	for _, f := range metrics.FamilyList() {
		out = append(out, familyLabel(f.Name))
	}
	return out
}

// Registry returns the registry the exporter's metrics are in, for a
// caller that serves or gathers them itself.
func (e *Exporter) Registry() *prom.Registry { return e.reg }

// Start implements engine.Starter: interval times of the run that starts
// count from at, so a remote write stamps each interval with its end on
// the run's clock. Without it (a coordinator's merged intervals, whose
// workers' times count from their own starts) an interval is stamped when
// it arrives, which is never before the data it holds.
func (e *Exporter) Start(at time.Time) {
	e.mu.Lock()
	e.start = at
	e.mu.Unlock()
}

// Interval implements engine.Sink: it adds iv to the exported values and
// queues a remote write of them. It never blocks on the network and never
// stops the run.
func (e *Exporter) Interval(iv *metrics.Interval, _ *metrics.Set) error {
	e.mu.Lock()
	e.st.add(iv)
	e.intervals++
	start := e.start
	e.mu.Unlock()
	if len(e.writers) == 0 {
		return nil
	}
	at := time.Now()
	if !start.IsZero() {
		at = start.Add(iv.End)
	}
	// A series' samples must go forward in time, or the server refuses
	// them. A coordinator's merged intervals can end a little before the
	// previous one did (a worker's short last interval), and the values
	// are cumulative, so moving such a point 1 ms past the previous one
	// changes nothing a query sees.
	ts := max(at.UnixMilli(), e.lastTS+1)
	e.lastTS = ts
	// Gather returns what it could alongside an error; push that.
	fams, err := e.reg.Gather()
	if err != nil {
		if e.gatherErrs++; e.gatherErrs == 1 {
			e.logf("prometheus: %v", err)
		}
	}
	req := encodeWriteRequest(fams, ts)
	for _, w := range e.writers {
		w.enqueue(req)
	}
	return nil
}

// Close implements engine.Sink. The values stay exported: the next run
// (a capacity search's next step) adds to them, and Finish ends the
// export.
func (e *Exporter) Close(*report.Report) {}

// Finish ends the export after the last run: it sends what the remote
// writes still have queued (for at most flush), keeps serving the final
// values until a scrape has fetched them (for at most linger; not at all
// when no interval came, as no run started), then stops the endpoint. A
// cancelled ctx ends both waits. It returns one line per problem the run
// should mention: failed or dropped remote writes, no final scrape.
func (e *Exporter) Finish(ctx context.Context, linger, flush time.Duration) []string {
	var notes []string
	var wg sync.WaitGroup
	res := make([]string, len(e.writers))
	for i, w := range e.writers {
		wg.Go(func() { res[i] = w.finish(ctx, flush) })
	}
	if e.server != nil {
		e.mu.Lock()
		if e.intervals == 0 {
			linger = 0 // no run: there are no final values to wait for
		}
		e.mu.Unlock()
		if note := e.server.finish(ctx, linger); note != "" {
			notes = append(notes, note)
		}
	}
	wg.Wait()
	for _, r := range res {
		if r != "" {
			notes = append(notes, r)
		}
	}
	return notes
}

// collector is the Exporter as a prometheus.Collector. It describes
// nothing up front (an unchecked collector): the latency metrics are known
// only as intervals bring them.
type collector Exporter

func (c *collector) Describe(chan<- *prom.Desc) {}

func (c *collector) Collect(ch chan<- prom.Metric) {
	c.mu.Lock()
	ms := c.st.snapshot()
	c.mu.Unlock()
	for _, m := range ms {
		ch <- m
	}
}

// state is the cumulative values of the runs so far.
type state struct {
	constLabels prom.Labels
	counters    metrics.Counters
	hists       map[string]*hist
	active      int64
	cpuSeconds  float64

	counterDescs []*prom.Desc // by metrics.CounterList
	familyDescs  []*prom.Desc // by metrics.FamilyList
	histDescs    map[string]*prom.Desc
	activeDesc   *prom.Desc
	cpuDesc      *prom.Desc
	infoDesc     *prom.Desc
	infoValues   []string
}

func newState(opts Options) *state {
	cl := prom.Labels{"scenario": opts.Scenario}
	for k, v := range opts.Labels {
		cl[k] = v
	}
	s := &state{constLabels: cl, hists: map[string]*hist{}, histDescs: map[string]*prom.Desc{}}
	for _, k := range metrics.CounterList() {
		s.counterDescs = append(s.counterDescs, prom.NewDesc(CounterName(k.Name),
			fmt.Sprintf("The report's counter %s: the run's count so far.", k.Name), nil, cl))
	}
	for _, f := range metrics.FamilyList() {
		s.familyDescs = append(s.familyDescs, prom.NewDesc(CounterName(f.Name),
			fmt.Sprintf("The report's counters %s, by %s: the run's counts so far.", f.Name, familyLabel(f.Name)), []string{familyLabel(f.Name)}, cl))
	}
	s.activeDesc = prom.NewDesc(Prefix+"open_connections", "Connections open at the end of the last interval.", nil, cl)
	s.cpuDesc = prom.NewDesc(Prefix+"generator_cpu_seconds_total",
		"CPU time the load generator (every worker process) used; rate() of it is the cores busy, 1 = one core.", nil, cl)
	s.infoDesc = prom.NewDesc(Prefix+"run_info", "Always 1: the run's wsbench version and target as labels.", []string{"version", "target"}, cl)
	s.infoValues = []string{report.Version, opts.Target}
	for _, name := range opts.Histograms {
		s.hist(name)
	}
	return s
}

// CounterName returns the exported name of the report's counter (or
// counter family) name: wsbench_<name>_total.
func CounterName(name string) string { return Prefix + name + "_total" }

// HistogramName returns the exported name of the report's latency metric
// name: wsbench_<name>_seconds.
func HistogramName(name string) string { return Prefix + name + "_seconds" }

// familyLabel returns the label that tells a family's counters apart: the
// word after "_by_" in its name (errors_by_cause: cause), or "key".
func familyLabel(family string) string {
	if _, after, ok := strings.Cut(family, "_by_"); ok && labelNameRe.MatchString(after) {
		return after
	}
	return "key"
}

func (s *state) hist(name string) *hist {
	h := s.hists[name]
	if h == nil {
		h = newHist()
		s.hists[name] = h
		s.histDescs[name] = prom.NewDesc(HistogramName(name),
			fmt.Sprintf("Latency %s in seconds (the report's metrics.%s), over the run so far.", name, name), nil, s.constLabels)
	}
	return h
}

func (s *state) add(iv *metrics.Interval) {
	s.counters.Merge(&iv.Set.Counters)
	for i, name := range iv.Set.Names() {
		s.hist(name).add(iv.Set.Hists[i])
	}
	s.active = iv.Active
	s.cpuSeconds += iv.CPUPercent / 100 * iv.Duration().Seconds()
}

// snapshot returns the current values as constant metrics. A value that
// cannot be exported (impossible by construction, but a panic in a scrape
// would end the run) becomes an invalid metric: the scrape reports it and
// serves the rest.
func (s *state) snapshot() []prom.Metric {
	var out []prom.Metric
	put := func(m prom.Metric, err error, d *prom.Desc) {
		if err != nil {
			m = prom.NewInvalidMetric(d, err)
		}
		out = append(out, m)
	}
	value := func(d *prom.Desc, t prom.ValueType, v float64, labels ...string) {
		m, err := prom.NewConstMetric(d, t, v, labels...)
		put(m, err, d)
	}
	for i, k := range metrics.CounterList() {
		value(s.counterDescs[i], prom.CounterValue, float64(k.Get(&s.counters)))
	}
	for i, f := range metrics.FamilyList() {
		for key, n := range f.Get(&s.counters) {
			value(s.familyDescs[i], prom.CounterValue, float64(n), strings.ToValidUTF8(key, "\uFFFD"))
		}
	}
	for name, h := range s.hists {
		m, err := prom.NewConstHistogram(s.histDescs[name], h.count, h.sumUS/1e6, h.cumulative())
		put(m, err, s.histDescs[name])
	}
	value(s.activeDesc, prom.GaugeValue, float64(s.active))
	value(s.cpuDesc, prom.CounterValue, s.cpuSeconds)
	value(s.infoDesc, prom.GaugeValue, 1, s.infoValues...)
	return out
}
