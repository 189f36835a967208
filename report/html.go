package report

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The HTML report is one self-contained file: uPlot (vendored from npm by
// scripts/vendor-uplot), the page's own script and style sheet, and the
// chart data are all inlined, so it opens offline and can be attached to a
// ticket or archived as CI output. Its Content-Security-Policy forbids
// every network fetch.
//
//go:embed assets/uplot/uPlot.iife.min.js assets/uplot/uPlot.min.css assets/uplot/VERSION
//go:embed assets/report.html.tmpl assets/report.js assets/report.css
var htmlAssets embed.FS

// maxChartPoints bounds the points of one time-series chart. Longer series
// are downsampled into buckets for display; see downsample.
const maxChartPoints = 1500

// WriteHTML renders r as a self-contained HTML page. It is
// HTMLOptions{}.Write: see there.
func WriteHTML(w io.Writer, r *Report) error { return HTMLOptions{}.Write(w, r) }

// HTMLOptions are what the HTML report can show beside the report itself.
type HTMLOptions struct {
	// Baseline is the report this one is judged against (wsbench run
	// --baseline, wsbench report --baseline). Its latency percentiles over
	// time (aligned by time since each run's start) and its percentile
	// spectra are drawn under this run's, and a table compares the two.
	Baseline *Report
	// BaselineLabel names the baseline on the page; empty: the path in
	// r.Baseline, else "baseline".
	BaselineLabel string
}

// Write renders r as a self-contained HTML page that answers its question
// first: a capacity search opens with load against latency, the SLO and
// the answer; a run with thresholds with the verdict; a run judged against
// a baseline with the comparison (whether it gated the run, each regressed
// statistic with both values and noise bands). Then key numbers, latency
// tables with charts over time and percentile spectra (an open-loop round
// trip with its service view, rtt with rtt_service, on the same charts),
// throughput, connections, errors, close codes, broadcast (per room
// pattern and loss over time), phases, the target (what it runs, its
// processes and their counters and rooms, the proxy's spread of the
// connections), the generator's health with its findings, and the worker
// processes of a split run. The broadcast ledger a report may carry for
// merging is not shown.
//
// Every chart over time shows the phases as labelled bands. The last
// interval of a run is usually the drain, a few milliseconds to seconds
// after the load stopped; it is hatched and labelled "drain", and charts
// of rates (messages, bytes, connects, errors per second, CPU) leave it
// out, because a count over so short a span makes a per-second rate that
// means nothing and would squash the rest of the chart. Its counts are in
// every total and table; latency and open connections, which are real
// samples and a level, show it.
//
// Tables show the report's exact numbers. Charts of series longer than
// about 1500 intervals are downsampled for display (see downsampler); the
// per-interval histograms are not embedded, so a long run stays small.
// The output depends only on r and o: rendering the same report twice
// gives the same bytes.
func (o HTMLOptions) Write(w io.Writer, r *Report) error {
	page, err := newHTMLPage(r, o)
	if err != nil {
		return err
	}
	return page.write(w)
}

func (p *htmlPage) write(w io.Writer) error {
	t, err := htmlTemplate()
	if err != nil {
		return err
	}
	p.ExpectedCharts = len(p.Data.Charts)
	var buf bytes.Buffer
	if err := t.Execute(&buf, p); err != nil {
		return fmt.Errorf("render HTML report: %w", err)
	}
	_, err = w.Write(buf.Bytes())
	return err
}

// htmlTemplate parses the embedded page template once.
var htmlTemplate = sync.OnceValues(func() (*template.Template, error) {
	src, err := htmlAssets.ReadFile("assets/report.html.tmpl")
	if err != nil {
		return nil, err
	}
	t, err := template.New("report").Funcs(template.FuncMap{
		"int":   fmtInt,
		"ms":    fmtMS,
		"msf":   func(us float64) string { return fmtMS(int64(math.Round(us))) },
		"pct":   fmtPct,
		"rate":  fmtRate,
		"bytes": FormatBytes,
		"value": FormatValue,
		"num":   fmtFloat,
		"bcrow": func(r *broadcastRow, latency bool) broadcastCells { return broadcastCells{R: r, Latency: latency} },
	}).Parse(string(src))
	if err != nil {
		return nil, fmt.Errorf("parse HTML report template: %w", err)
	}
	return t, nil
})

// htmlPage is everything the template shows. Tables are rendered by the
// template from these fields; charts are drawn in the browser from Data.
type htmlPage struct {
	R        *Report
	Base     *Report // the baseline to overlay, nil without
	Title    string
	Started  string
	Duration string

	Verdict      string // PASS, FAIL or "no thresholds": r.Passed, thresholds and a gating baseline
	VerdictClass string // good, bad, neutral
	// ThresholdsVerdict is the thresholds' own (PASS or FAIL): a run
	// that failed only its baseline gate did not fail a threshold.
	ThresholdsVerdict, ThresholdsClass string
	EndClass                           string

	Cards         []card
	Latency       []latencyRow
	LatencyCharts []latencyCharts
	ServiceNote   bool   // a metric has its service view (rtt_service)
	SeriesNote    string // how the time-series charts were downsampled
	DrainNote     string // what the drain band is, when there is one
	HasSeries     bool

	Throughput, Bytes, Active, Churn, ClosesOverTime, ErrorsOverTime, CPU, Lag string // chart IDs, "" when absent

	ClosesByCode      []countRow
	ClosesByInitiator []countRow
	ErrorsByCause     []countRow
	ErrorsByStep      []countRow
	ErrorsTotal       int64
	ErrorExamples     []exampleRow

	Thresholds  []thresholdRow
	Capacity    *capacityView
	Broadcast   *broadcastView
	Baseline    *baselineView
	Generator   generatorView
	Target      *targetView
	Workers     []workerRow
	WorkersNote string
	Scenario    string

	Data           chartData
	ExpectedCharts int

	UPlotJS      template.JS
	UPlotCSS     template.CSS
	UPlotVersion string
	AppJS        template.JS
	AppCSS       template.CSS
}

type card struct {
	Label, Value, Sub, Class string
}

type latencyRow struct {
	Name                                          string
	Count                                         int64
	Min, Mean, P50, P90, P95, P99, P999, Max, Std string
}

type latencyCharts struct {
	Name, OverTime, Spectrum, Note string
	// Service is the metric's service view (rtt_service) drawn on its
	// charts, "" without.
	Service string
}

type countRow struct {
	Key, Label string
	N          int64
	Share      string  // of the table's total
	Bar        float64 // width in percent of the largest row
}

// exampleRow is the first message of an error cause.
type exampleRow struct{ Cause, Message string }

type thresholdRow struct {
	ThresholdResult
	ActualS, LimitS string
}

type generatorView struct {
	*Generator
	Lag      *latencyRow // schedule lag summary, nil without samples
	Findings []findingRow
}

type serverRow struct {
	Key                  string
	Before, After, Delta string
}

// chartData is the JSON the page's script draws from. Phases and Drain
// are drawn as bands on every chart over time.
type chartData struct {
	Charts []chartSpec   `json:"charts"`
	Phases []phaseMarker `json:"phases"`
	Drain  *span         `json:"drain,omitempty"`
}

type phaseMarker struct {
	Name  string  `json:"name"`
	Start float64 `json:"start"`
	End   float64 `json:"end"`
}

// span is a stretch of the x axis.
type span struct {
	Start float64 `json:"start"`
	End   float64 `json:"end"`
}

// refLine is a labelled reference line across a chart: horizontal at a y
// value (an SLO, a capacity) or vertical at an x value (a capacity
// search's answers). Kind picks the colour: good, bad, warn or muted.
type refLine struct {
	Value float64 `json:"value"`
	Label string  `json:"label"`
	Kind  string  `json:"kind,omitempty"`
	Right bool    `json:"right,omitempty"` // on the right y axis
}

// chartSpec is one chart: Kind "time" (x is seconds since the start),
// "spectrum" (x is 1/(1-p) on a log axis) or "load" (x is the capacity
// step's load).
type chartSpec struct {
	ID     string       `json:"id"`
	Kind   string       `json:"kind"`
	X      column       `json:"x"`
	Series []seriesSpec `json:"series"`
	YLabel string       `json:"y_label"`
	YLog   bool         `json:"y_log,omitempty"`
	YAsinh float64      `json:"y_asinh,omitempty"`  // an asinh y axis, linear within ± this value
	Y2     string       `json:"y2_label,omitempty"` // label of the right axis, when a series uses it
	XLabel string       `json:"x_label,omitempty"`
	Points bool         `json:"points,omitempty"` // mark every point (few points)
	HLines []refLine    `json:"hlines,omitempty"`
	VLines []refLine    `json:"vlines,omitempty"`
}

// Line styles besides solid, so lines differ in grayscale too.
const (
	dashed  = "dash"
	dotted  = "dot"
	dashDot = "dashdot"
)

type seriesSpec struct {
	Label string  `json:"label"`
	Unit  string  `json:"unit"` // ms, /s, B/s, %, loss%, or "" for a plain count
	Color int     `json:"color"`
	Right bool    `json:"right,omitempty"`
	Dash  string  `json:"dash,omitempty"`  // "", dash, dot or dashdot
	Width float64 `json:"width,omitempty"` // line width in CSS pixels; 0: 1.5
	// Ref marks a reference line (a baseline): drawn, but not the chart's
	// own data, which the screenshot test looks for.
	Ref bool `json:"ref,omitempty"`
	// X is the series' own x column, when it is not the chart's (a
	// baseline run's intervals); the page joins them.
	X      column `json:"x,omitempty"`
	Values column `json:"values"`
}

// column is a chart column. NaN marks a missing value (an interval without
// samples) and is written as null; other values are written with 7
// significant digits, more than a chart can show and much shorter than
// full float64 precision.
type column []float64

// MarshalJSON writes the column as a JSON array.
func (c column) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 2+8*len(c))
	b = append(b, '[')
	for i, v := range c {
		if i > 0 {
			b = append(b, ',')
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			b = append(b, "null"...)
			continue
		}
		b = strconv.AppendFloat(b, v, 'g', 7, 64)
	}
	return append(b, ']'), nil
}

func newHTMLPage(r *Report, o HTMLOptions) (*htmlPage, error) {
	p := &htmlPage{R: r, Base: o.Baseline}
	if err := p.loadAssets(); err != nil {
		return nil, err
	}
	p.Title = "wsbench report"
	if r.Target != "" {
		p.Title += " · " + r.Target
	}
	if !r.StartedAt.IsZero() {
		p.Started = r.StartedAt.UTC().Format("2006-01-02 15:04:05 MST")
	}
	p.Duration = fmtDuration(r.DurationS)
	p.verdict()
	// Charts are added in page order, so the JSON reads top to bottom.
	p.capacity()
	p.cards()
	p.baseline(o.BaselineLabel)
	p.latency()
	p.timeCharts()
	p.broadcast()
	p.tables()
	p.target()
	p.generator()
	p.workers()
	p.scenario()
	return p, nil
}

// ServiceGapWhy is the line every output gives for the gap between an
// open-loop round trip and its service view.
func (p *htmlPage) ServiceGapWhy() string { return serviceGapWhy }

func (p *htmlPage) loadAssets() error {
	read := func(name string) (string, error) {
		b, err := htmlAssets.ReadFile(name)
		if err != nil {
			return "", fmt.Errorf("HTML report asset: %w", err)
		}
		return string(b), nil
	}
	var err error
	var js, css, ver, app, appCSS string
	for _, a := range []struct {
		dst  *string
		name string
	}{
		{&js, "assets/uplot/uPlot.iife.min.js"},
		{&css, "assets/uplot/uPlot.min.css"},
		{&ver, "assets/uplot/VERSION"},
		{&app, "assets/report.js"},
		{&appCSS, "assets/report.css"},
	} {
		if *a.dst, err = read(a.name); err != nil {
			return err
		}
	}
	// The assets are ours (vendored and checked in), so they go in
	// unescaped; a script must not contain its own end tag.
	for _, s := range []string{js, app} {
		if strings.Contains(strings.ToLower(s), "</script") {
			return fmt.Errorf("HTML report asset contains </script")
		}
	}
	p.UPlotJS, p.UPlotCSS = template.JS(js), template.CSS(css)
	p.AppJS, p.AppCSS = template.JS(app), template.CSS(appCSS)
	for _, line := range strings.Split(ver, "\n") {
		if v, ok := strings.CutPrefix(line, "version:"); ok {
			p.UPlotVersion = strings.TrimSpace(v)
		}
	}
	return nil
}

func (p *htmlPage) verdict() {
	r := p.R
	passed := r.Passed
	if passed == nil && len(r.Thresholds) > 0 {
		all := true
		for _, t := range r.Thresholds {
			all = all && t.Passed
		}
		passed = &all
	}
	switch {
	case passed == nil:
		p.Verdict, p.VerdictClass = "no thresholds", "neutral"
	case *passed:
		p.Verdict, p.VerdictClass = "PASS", "good"
	default:
		p.Verdict, p.VerdictClass = "FAIL", "bad"
	}
	p.ThresholdsVerdict, p.ThresholdsClass = "PASS", "good"
	for _, t := range r.Thresholds {
		if !t.Passed {
			p.ThresholdsVerdict, p.ThresholdsClass = "FAIL", "bad"
		}
	}
	p.EndClass = endClass(r.EndReason)
}

func (p *htmlPage) cards() {
	r := p.R
	c := &r.Counters
	add := func(label, value, sub, class string) {
		p.Cards = append(p.Cards, card{label, value, sub, class})
	}
	connClass := ""
	if c.ConnectsFailed > 0 {
		connClass = "warn"
		if c.ConnectsOK == 0 {
			connClass = "bad"
		}
	}
	add("Connections", fmtInt(c.ConnectsOK)+" ok",
		fmt.Sprintf("%s attempted · %s failed · peak %s open", fmtInt(c.ConnectsAttempted), fmtInt(c.ConnectsFailed), fmtInt(r.Rates.PeakConnections)), connClass)
	add("Sessions", fmtInt(c.SessionsStarted)+" started",
		fmt.Sprintf("%s completed · %s failed", fmtInt(c.SessionsCompleted), fmtInt(c.SessionsFailed)), "")
	add("Messages sent", fmtInt(c.MessagesSent), fmtRate(r.Rates.SendsAchievedPerS)+" achieved", "")
	add("Messages received", fmtInt(c.MessagesReceived), fmtRate(r.Rates.ReceivedPerS), "")
	if c.SendsIntended > 0 || r.Rates.SendsIntendedPerS > 0 {
		class := ""
		if r.Rates.SendsAchievedPerS < 0.99*r.Rates.SendsIntendedPerS {
			class = "warn"
		}
		add("Send rate", fmtRate(r.Rates.SendsAchievedPerS), "intended "+fmtRate(r.Rates.SendsIntendedPerS), class)
	}
	if c.SessionsIntended > 0 || r.Rates.SessionsIntendedPerS > 0 {
		class := ""
		if r.Rates.SessionsAchievedPerS < 0.99*r.Rates.SessionsIntendedPerS {
			class = "warn"
		}
		add("Arrival rate", fmtRate(r.Rates.SessionsAchievedPerS), "intended "+fmtRate(r.Rates.SessionsIntendedPerS), class)
	}
	dropClass := ""
	if c.SendsDropped+c.SessionsDropped > 0 {
		dropClass = "warn"
	}
	add("Dropped", fmtInt(c.SendsDropped+c.SessionsDropped),
		fmt.Sprintf("%s sends · %s sessions", fmtInt(c.SendsDropped), fmtInt(c.SessionsDropped)), dropClass)
	errClass := ""
	if c.Errors() > 0 {
		errClass = "bad"
	}
	sub := "replies missing " + fmtInt(c.RepliesMissing)
	if c.Clamped > 0 {
		sub += " · clamped " + fmtInt(c.Clamped)
	}
	add("Errors", fmtInt(c.Errors()), sub, errClass)
	add("Payload bytes", FormatBytes(c.BytesSent)+" out", FormatBytes(c.BytesReceived)+" in · wire "+FormatBytes(c.WireBytesSent)+" / "+FormatBytes(c.WireBytesReceived), "")
	if c.PingsSent > 0 || c.ServerPings > 0 {
		class := ""
		if c.PongsMissed > 0 {
			class = "warn"
		}
		add("Heartbeats", fmtInt(c.PongsReceived)+" pongs", fmt.Sprintf("%s pings · %s missed · %s server pings", fmtInt(c.PingsSent), fmtInt(c.PongsMissed), fmtInt(c.ServerPings)), class)
	}
	if c.PushReceived > 0 {
		class := ""
		if c.PushGaps+c.PushOutOfOrder > 0 {
			class = "warn"
		}
		add("Push", fmtInt(c.PushReceived)+" received", fmt.Sprintf("%s gaps · %s out of order", fmtInt(c.PushGaps), fmtInt(c.PushOutOfOrder)), class)
	}
}

func newLatencyRow(name string, m *Metric) latencyRow {
	row := latencyRow{Name: name}
	if m == nil || m.Count == 0 {
		return row
	}
	row.Count = m.Count
	row.Min, row.P50, row.P90, row.P95 = fmtMS(m.MinUS), fmtMS(m.P50US), fmtMS(m.P90US), fmtMS(m.P95US)
	row.P99, row.P999, row.Max = fmtMS(m.P99US), fmtMS(m.P999US), fmtMS(m.MaxUS)
	row.Mean, row.Std = fmtMS(int64(math.Round(m.MeanUS))), fmtMS(int64(math.Round(m.StdUS)))
	return row
}

// latencyNames lists the latency metrics to show: the report's metrics in
// display order, then any that only the time series has. The generator's
// schedule lag is shown with the generator, not here.
func latencyNames(r *Report) []string {
	names := MetricOrder(r)
	if r.Series != nil {
		for _, n := range SortedKeys(r.Series.Latency) {
			if _, ok := r.Metrics[n]; !ok && n != "schedule_lag" {
				names = append(names, n)
			}
		}
	}
	return names
}

func (p *htmlPage) latency() {
	r := p.R
	for _, name := range MetricOrder(r) {
		p.Latency = append(p.Latency, newLatencyRow(name, r.Metrics[name]))
	}
	names := latencyNames(r)
	drawnWith := p.serviceViews(names)
	for _, name := range names {
		if _, ok := drawnWith[name]; ok {
			continue // on its metric's charts
		}
		lc := latencyCharts{Name: name}
		var svc *LatencySeries
		var svcM *Metric
		if s := serviceName(name); drawnWith[s] == name {
			lc.Service, p.ServiceNote = s, true
			svc, svcM = seriesLatency(r.Series, s), r.Metrics[s]
		}
		if ls := seriesLatency(r.Series, name); ls != nil {
			lc.OverTime = p.addLatencyOverTime("lat-"+name, ls, p.baseLatency(name), svc)
		}
		if m := r.Metrics[name]; m != nil && m.Count > 0 {
			spec, err := p.spectrumChart(name, m, svcM)
			switch {
			case err != nil:
				lc.Note = fmt.Sprintf("percentile spectrum unavailable: %v", err)
			case spec != nil:
				spec.ID = "spec-" + name
				lc.Spectrum = p.addChart(spec)
			default:
				lc.Note = "too few samples for a percentile spectrum"
			}
		}
		if lc.OverTime != "" || lc.Spectrum != "" || lc.Note != "" {
			p.LatencyCharts = append(p.LatencyCharts, lc)
		}
	}
}

// serviceViews returns the service views (rtt_service) among names that
// are drawn on their metric's charts (rtt's), each with that metric. A
// service view has charts of its own only when its metric lacks what it
// has (a time series, samples), which a report as wsbench writes it never
// does.
func (p *htmlPage) serviceViews(names []string) map[string]string {
	r := p.R
	listed := map[string]bool{}
	for _, n := range names {
		listed[n] = true
	}
	has := func(name string) (series, samples bool) {
		m := r.Metrics[name]
		return seriesLatency(r.Series, name) != nil, m != nil && m.Count > 0
	}
	out := map[string]string{}
	for _, n := range names {
		base, ok := serviceBase(n)
		if !ok || !listed[base] {
			continue
		}
		ss, sm := has(n)
		bs, bm := has(base)
		if (ss && !bs) || (sm && !bm) {
			continue
		}
		out[n] = base
	}
	return out
}

// baseLatency returns the baseline's time series of a latency metric, or
// nil.
func (p *htmlPage) baseLatency(name string) *baseSeries {
	if p.Base == nil {
		return nil
	}
	if ls := seriesLatency(p.Base.Series, name); ls != nil {
		return &baseSeries{s: p.Base.Series, ls: ls}
	}
	return nil
}

// baseSeries is a latency series of the baseline with the series it
// belongs to (for its own time axis).
type baseSeries struct {
	s  *Series
	ls *LatencySeries
}

// spectrumChart is the percentile spectrum of m, with its service view's
// (svc, when not nil) beside it and the baseline's spectrum of the same
// metric under them when there is one.
func (p *htmlPage) spectrumChart(name string, m, svc *Metric) (*chartSpec, error) {
	spec, err := spectrum(m)
	if err != nil || spec == nil {
		return spec, err
	}
	if svc != nil && svc.Count > 0 {
		// A service histogram that does not decode leaves the chart as it
		// is; the latency table has the service view's numbers.
		if s, serr := spectrum(svc); serr == nil && s != nil {
			spec.Series[0].Label = name
			sv := s.Series[0]
			sv.Label, sv.Color, sv.Dash, sv.X = serviceName(name), 5, dashed, s.X
			spec.Series = append(spec.Series, sv)
		}
	}
	if p.Base == nil {
		return spec, nil
	}
	bm := p.Base.Metrics[name]
	if bm == nil || bm.Count == 0 {
		return spec, nil
	}
	// A baseline histogram that does not decode leaves this run's chart
	// as it is; the comparison table shows what the baseline has.
	base, berr := spectrum(bm)
	if berr != nil || base == nil {
		return spec, nil
	}
	if len(spec.Series) == 1 {
		spec.Series[0].Label = "this run"
	}
	b := base.Series[0]
	b.Label, b.Color, b.Dash, b.Ref, b.X = "baseline", 7, dashed, true, base.X
	spec.Series = append(spec.Series, b)
	return spec, nil
}

// seriesLatency returns the time series of a latency metric in s, or nil
// when there is none or it never had a sample.
func seriesLatency(s *Series, name string) *LatencySeries {
	if s == nil || s.Len() == 0 {
		return nil
	}
	ls := s.Latency[name]
	if ls == nil || len(ls.Count) != s.Len() || len(ls.P50) != s.Len() || len(ls.P90) != s.Len() || len(ls.P99) != s.Len() || len(ls.Max) != s.Len() {
		return nil
	}
	for _, n := range ls.Count {
		if n > 0 {
			return ls
		}
	}
	return nil
}

func (p *htmlPage) addChart(c *chartSpec) string {
	c.ID = chartID(c.ID, len(p.Data.Charts))
	p.Data.Charts = append(p.Data.Charts, *c)
	return c.ID
}

// chartID makes a DOM-safe, unique id from a metric-derived name.
func chartID(name string, n int) string {
	var b strings.Builder
	for _, r := range name {
		if r < 128 && (r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return fmt.Sprintf("c%d-%s", n, b.String())
}

// spectrumPoints are the x values (1/(1-p)) of a percentile spectrum:
// twenty per decade from the median down to p99.999.
var spectrumPoints = func() []float64 {
	var xs []float64
	for i := 0; i <= 100; i++ {
		xs = append(xs, math.Pow(10, float64(i)/20))
	}
	return xs
}()

// spectrum computes the percentile spectrum of m from its full histogram,
// like HdrHistogram's plotter: value against percentile on a log 1/(1-p)
// axis. Percentiles finer than the sample count can resolve (1/(1-p) above
// the count) are left out, so a short run does not show a made-up tail.
// It returns nil when there are fewer than two samples.
func spectrum(m *Metric) (*chartSpec, error) {
	h, err := m.Histogram()
	if err != nil {
		return nil, err
	}
	n := h.TotalCount()
	if n < 2 {
		return nil, nil
	}
	limit := math.Min(float64(n), spectrumPoints[len(spectrumPoints)-1])
	var xs []float64
	for _, x := range spectrumPoints {
		if x > limit*(1+1e-9) {
			break
		}
		xs = append(xs, x)
	}
	if last := xs[len(xs)-1]; last < limit*(1-1e-9) {
		xs = append(xs, limit)
	}
	ps := make([]float64, len(xs))
	for i, x := range xs {
		ps[i] = 100 * (1 - 1/x)
	}
	vals := h.ValueAtPercentilesSlice(ps)
	ys := make(column, len(vals))
	for i, v := range vals {
		ys[i] = float64(v) / 1e3
	}
	return &chartSpec{
		Kind:   "spectrum",
		X:      xs,
		Series: []seriesSpec{{Label: "latency", Unit: "ms", Color: 2, Width: 2, Values: ys}},
		YLabel: "latency, ms (log)",
		YLog:   true,
		XLabel: "percentile (log scale of 1/(1−p))",
	}, nil
}

// latencyColumn is one statistic of a latency series per chart point, in
// ms; intervals without samples are gaps.
func latencyColumn(ds *downsampler, ls *LatencySeries, vals []int64) column {
	return ds.extremes(func(i int) float64 {
		if ls.Count[i] == 0 {
			return math.NaN()
		}
		return float64(vals[i]) / 1e3
	})
}

// addLatencyOverTime charts p50, p90, p99 and max of ls per interval;
// the service view's p50 and p99 when svc is set (same intervals, drawn
// over the others: where the two views agree, the service view's lines
// cover the metric's); and the baseline's p50 and p99 when base is set,
// each on its own time since the start.
func (p *htmlPage) addLatencyOverTime(id string, ls *LatencySeries, base *baseSeries, svc *LatencySeries) string {
	ds := p.downsampler()
	series := []seriesSpec{
		{Label: "p50", Unit: "ms", Color: 0, Values: latencyColumn(ds, ls, ls.P50)},
		{Label: "p90", Unit: "ms", Color: 1, Dash: dashDot, Values: latencyColumn(ds, ls, ls.P90)},
		{Label: "p99", Unit: "ms", Color: 3, Width: 2, Values: latencyColumn(ds, ls, ls.P99)},
		{Label: "max", Unit: "ms", Color: 4, Dash: dotted, Values: latencyColumn(ds, ls, ls.Max)},
	}
	if svc != nil {
		series = append(series,
			seriesSpec{Label: "p50 service", Unit: "ms", Color: 5, Dash: dashed, Values: latencyColumn(ds, svc, svc.P50)},
			seriesSpec{Label: "p99 service", Unit: "ms", Color: 6, Width: 2, Dash: dashed, Values: latencyColumn(ds, svc, svc.P99)},
		)
	}
	if base != nil {
		bds := newDownsampler(base.s, maxChartPoints)
		bx := bds.x()
		series = append(series,
			seriesSpec{Label: "p50 baseline", Unit: "ms", Color: 7, Dash: dashed, Width: 1, Ref: true, X: bx, Values: latencyColumn(bds, base.ls, base.ls.P50)},
			seriesSpec{Label: "p99 baseline", Unit: "ms", Color: 7, Dash: dashDot, Width: 2, Ref: true, X: bx, Values: latencyColumn(bds, base.ls, base.ls.P99)},
		)
	}
	return p.addChart(&chartSpec{
		ID:     id,
		Kind:   "time",
		X:      ds.x(),
		Series: series,
		YLabel: "latency, ms (log)",
		YLog:   true,
		XLabel: timeAxisLabel,
	})
}

// timeAxisLabel is the x axis of every chart over time.
const timeAxisLabel = "time since start (m:ss)"

func (p *htmlPage) downsampler() *downsampler {
	return newDownsampler(p.R.Series, maxChartPoints)
}

// timeCharts adds the charts over time other than latency.
func (p *htmlPage) timeCharts() {
	r := p.R
	s := r.Series
	for _, ph := range r.Phases {
		p.Data.Phases = append(p.Data.Phases, phaseMarker{Name: ph.Name, Start: ph.StartS, End: ph.EndS})
	}
	if s == nil || s.Len() == 0 {
		return
	}
	p.HasSeries = true
	ds := p.downsampler()
	if ds.k > 1 {
		p.SeriesNote = fmt.Sprintf("The run has %s intervals of %s; the charts over time show them in buckets of %d intervals (%s). "+
			"Rates are each bucket's total divided by its duration, so areas and totals are kept. "+
			"Latency and open connections keep each bucket's lowest and highest interval value, so no spike or dip disappears. "+
			"CPU is each bucket's mean. Tables hold the exact values.",
			fmtInt(int64(s.Len())), fmtDuration(s.IntervalS), ds.k, fmtDuration(float64(ds.k)*s.IntervalS))
	}
	if d := ds.drain; d >= 0 {
		p.Data.Drain = &span{Start: s.T[d-1], End: s.T[d]}
		p.DrainNote = fmt.Sprintf("The last interval (%s), hatched and labelled \"drain\", is partial: the load stopped during it and the run waited for the last replies. "+
			"A per-second rate over it mixes load with waiting, and over a short span would squash the charts, so the rate charts leave it out; "+
			"its counts are in every total and table, and latency and open connections show it.",
			fmtDuration(s.T[d]-s.T[d-1]))
	}
	n := s.Len()
	ok := func(col []int64) []int64 {
		if len(col) != n {
			return make([]int64, n)
		}
		return col
	}
	x := ds.x()
	// Sent and received differ in colour, line style and width, so they
	// stay apart in grayscale and print.
	throughput := []seriesSpec{
		{Label: "sent", Unit: "/s", Color: 0, Width: 2, Values: ds.rate(ok(s.Sent))},
		{Label: "received", Unit: "/s", Color: 3, Width: 2, Dash: dashed, Values: ds.rate(ok(s.Received))},
	}
	if r.Counters.SendsIntended > 0 || sum(ok(s.SendsDropped)) > 0 {
		throughput = append(throughput, seriesSpec{Label: "sends dropped", Unit: "/s", Color: 4, Dash: dotted, Values: ds.rate(ok(s.SendsDropped))})
	}
	if r.Counters.SessionsIntended > 0 || sum(ok(s.SessionsDropped)) > 0 {
		throughput = append(throughput, seriesSpec{Label: "sessions dropped", Unit: "/s", Color: 5, Dash: dashDot, Values: ds.rate(ok(s.SessionsDropped))})
	}
	p.Throughput = p.addChart(&chartSpec{ID: "throughput", Kind: "time", X: x, Series: throughput, YLabel: "messages per second", XLabel: timeAxisLabel})
	p.Bytes = p.addChart(&chartSpec{ID: "bytes", Kind: "time", X: x, YLabel: "payload bytes per second", XLabel: timeAxisLabel, Series: []seriesSpec{
		{Label: "sent", Unit: "B/s", Color: 0, Width: 2, Values: ds.rate(ok(s.BytesSent))},
		{Label: "received", Unit: "B/s", Color: 3, Width: 2, Dash: dashed, Values: ds.rate(ok(s.BytesReceived))},
	}})
	p.Active = p.addChart(&chartSpec{ID: "active", Kind: "time", X: x, YLabel: "open connections", XLabel: timeAxisLabel, Series: []seriesSpec{
		{Label: "open", Unit: "", Color: 0, Width: 2, Values: ds.extremes(func(i int) float64 { return float64(ok(s.Active)[i]) })},
	}})
	p.Churn = p.addChart(&chartSpec{ID: "churn", Kind: "time", X: x, YLabel: "events per second", XLabel: timeAxisLabel, Series: []seriesSpec{
		{Label: "connects", Unit: "/s", Color: 2, Values: ds.rate(ok(s.Connects))},
		{Label: "disconnects", Unit: "/s", Color: 1, Dash: dashed, Values: ds.rate(ok(s.Disconnects))},
		{Label: "connect failures", Unit: "/s", Color: 4, Dash: dotted, Values: ds.rate(ok(s.ConnectFailures))},
		{Label: "errors", Unit: "/s", Color: 3, Dash: dashDot, Values: ds.rate(ok(s.Errors))},
	}})
	if len(s.DisconnectsBy) > 0 {
		p.ClosesOverTime = p.addChart(&chartSpec{ID: "closes", Kind: "time", X: x, YLabel: "closes per second", XLabel: timeAxisLabel,
			Series: keyedRates(ds, s.DisconnectsBy, n, closeCodeLabel)})
	}
	if len(s.ErrorsBy) > 0 {
		p.ErrorsOverTime = p.addChart(&chartSpec{ID: "errors", Kind: "time", X: x, YLabel: "errors per second", XLabel: timeAxisLabel,
			Series: keyedRates(ds, s.ErrorsBy, n, func(k string) string { return k })})
	}
	if len(s.CPUPercent) == n {
		cpu := &chartSpec{ID: "cpu", Kind: "time", X: x, YLabel: "CPU, % of one core", XLabel: timeAxisLabel,
			Series: []seriesSpec{{Label: "CPU", Unit: "%", Color: 0, Width: 2, Values: ds.mean(s.CPUPercent)}}}
		// The capacity line is drawn when the generator came near it;
		// otherwise it would flatten the curve that matters.
		peak := 0.0
		for _, v := range s.CPUPercent {
			peak = math.Max(peak, v)
		}
		if c := r.Generator.CPUCapacity; c > 0 && peak >= c/2 {
			cpu.HLines = []refLine{{Value: c, Label: fmt.Sprintf("every core (%.0f%%)", c), Kind: "bad"}}
		}
		p.CPU = p.addChart(cpu)
	}
	if ls := seriesLatency(s, "schedule_lag"); ls != nil {
		p.Lag = p.addLatencyOverTime("lag", ls, nil, nil)
	}
}

// lineStyles cycle over the lines of a chart with one line per key.
var lineStyles = []string{"", dashed, dotted, dashDot}

// keyedRates turns per-key count columns into rate series: the eight
// largest keys by total, and the rest summed as "other".
func keyedRates(ds *downsampler, cols map[string][]int64, n int, label func(string) string) []seriesSpec {
	totals := map[string]int64{}
	for k, col := range cols {
		if len(col) == n {
			totals[k] = sum(col)
		}
	}
	keys := keysByCount(totals)
	const top = 8
	var out []seriesSpec
	other := make([]int64, n)
	for i, k := range keys {
		if i >= top {
			for j, v := range cols[k] {
				other[j] += v
			}
			continue
		}
		out = append(out, seriesSpec{Label: label(k), Unit: "/s", Color: i % 7, Dash: lineStyles[i%len(lineStyles)], Values: ds.rate(cols[k])})
	}
	if len(keys) > top {
		out = append(out, seriesSpec{Label: fmt.Sprintf("%d others", len(keys)-top), Unit: "/s", Color: 7, Dash: dashed, Values: ds.rate(other)})
	}
	return out
}

func sum(col []int64) int64 {
	var t int64
	for _, v := range col {
		t += v
	}
	return t
}

// downsampler maps a series onto at most max chart points. Up to max
// intervals each interval is one point at its end time. Beyond that the
// intervals are grouped into buckets of k consecutive ones and each bucket
// becomes two points, at the end times of its first and last interval:
//
//   - rates (extremes of nothing: counts per interval) are the bucket's
//     total over the bucket's duration, drawn flat across the bucket, so
//     the area under the curve is the exact total;
//   - levels and latencies keep the bucket's lowest and highest interval
//     value (in the order they happened), so the drawn envelope is the
//     same as the full series' and no spike or dip is lost;
//   - CPU is the bucket's time-weighted mean.
//
// Latency percentiles are never merged across intervals here: the value
// shown for a bucket is one that an interval of it really had.
//
// The drain interval at the end (see drainIndex) is never bucketed with
// others: it is always a point of its own, and rates and means leave it
// out (a gap), since a rate over a few milliseconds means nothing.
type downsampler struct {
	s      *Series
	k      int      // intervals per bucket; 1: no downsampling
	bounds [][2]int // first and last interval of each bucket
	drain  int      // index of the drain interval, -1 without
}

func newDownsampler(s *Series, max int) *downsampler {
	n := s.Len()
	d := &downsampler{s: s, k: 1, drain: drainIndex(s)}
	regular, budget := n, max
	if d.drain >= 0 {
		regular, budget = n-1, max-1
	}
	if regular > budget {
		d.k = (regular + budget/2 - 1) / (budget / 2)
	}
	for i := 0; i < regular; i += d.k {
		d.bounds = append(d.bounds, [2]int{i, min(i+d.k, regular) - 1})
	}
	if d.drain >= 0 {
		d.bounds = append(d.bounds, [2]int{d.drain, d.drain})
	}
	return d
}

// drainTolerance is how far the last interval's length may be from the
// series interval and still count as a full interval, not the drain:
// ticks come late by a little on a busy machine.
const drainTolerance = 0.05

// drainIndex returns the index of the series' last interval when it is
// the partial one a run ends with (the drain after the load stopped, or
// the short remainder of a coarsened series): its length differs from the
// interval by more than drainTolerance. It returns -1 otherwise, and for
// a series of one interval (the whole run).
func drainIndex(s *Series) int {
	if s == nil || s.Len() < 2 || s.IntervalS <= 0 {
		return -1
	}
	n := s.Len()
	if d := s.T[n-1] - s.T[n-2]; math.Abs(d-s.IntervalS) > drainTolerance*s.IntervalS {
		return n - 1
	}
	return -1
}

// each calls f for every chart point with its bucket and whether it is
// the bucket's second point.
func (d *downsampler) each(f func(b [2]int, second bool)) {
	for _, b := range d.bounds {
		f(b, false)
		if b[1] > b[0] {
			f(b, true)
		}
	}
}

func (d *downsampler) x() column {
	var out column
	d.each(func(b [2]int, second bool) {
		i := b[0]
		if second || d.k == 1 {
			i = b[1]
		}
		out = append(out, d.s.T[i])
	})
	return out
}

// start is when interval i began.
func (d *downsampler) start(i int) float64 {
	if i > 0 {
		return d.s.T[i-1]
	}
	return math.Max(0, d.s.T[0]-d.s.IntervalS)
}

func (d *downsampler) rate(counts []int64) column {
	var out column
	d.each(func(b [2]int, _ bool) {
		if b[0] == d.drain {
			out = append(out, math.NaN())
			return
		}
		var n int64
		for i := b[0]; i <= b[1]; i++ {
			n += counts[i]
		}
		dur := d.s.T[b[1]] - d.start(b[0])
		if dur <= 0 {
			dur = float64(b[1]-b[0]+1) * d.s.IntervalS
		}
		if dur <= 0 {
			out = append(out, math.NaN())
			return
		}
		out = append(out, float64(n)/dur)
	})
	return out
}

func (d *downsampler) mean(vals []float64) column {
	var out column
	d.each(func(b [2]int, _ bool) {
		if b[0] == d.drain {
			out = append(out, math.NaN())
			return
		}
		var s, w float64
		for i := b[0]; i <= b[1]; i++ {
			dur := d.s.T[i] - d.start(i)
			if dur <= 0 {
				dur = d.s.IntervalS
			}
			s += vals[i] * dur
			w += dur
		}
		if w <= 0 {
			out = append(out, math.NaN())
			return
		}
		out = append(out, s/w)
	})
	return out
}

// extremes keeps each bucket's lowest and highest value of val (NaN values
// are missing and skipped), in time order.
func (d *downsampler) extremes(val func(i int) float64) column {
	var out column
	for _, b := range d.bounds {
		if b[0] == b[1] {
			out = append(out, val(b[0]))
			continue
		}
		lo, hi := -1, -1
		for i := b[0]; i <= b[1]; i++ {
			v := val(i)
			if math.IsNaN(v) {
				continue
			}
			if lo < 0 || v < val(lo) {
				lo = i
			}
			if hi < 0 || v > val(hi) {
				hi = i
			}
		}
		switch {
		case lo < 0:
			out = append(out, math.NaN(), math.NaN())
		case lo <= hi:
			out = append(out, val(lo), val(hi))
		default:
			out = append(out, val(hi), val(lo))
		}
	}
	return out
}

func (p *htmlPage) tables() {
	r := p.R
	c := &r.Counters
	p.ClosesByCode = countRows(c.ClosesByCode, false, closeCodeLabel)
	p.ClosesByInitiator = countRows(c.ClosesByInitiator, false, nil)
	p.ErrorsByCause = countRows(c.ErrorsByCause, true, nil)
	p.ErrorsByStep = countRows(c.ErrorsByStep, true, nil)
	p.ErrorsTotal = c.Errors()
	for _, row := range p.ErrorsByCause {
		if msg := r.ErrorExamples[row.Key]; msg != "" {
			p.ErrorExamples = append(p.ErrorExamples, exampleRow{Cause: row.Key, Message: msg})
		}
	}
	for _, t := range r.Thresholds {
		p.Thresholds = append(p.Thresholds, thresholdRow{
			ThresholdResult: t,
			ActualS:         FormatValue(t.Actual, t.Unit),
			LimitS:          FormatValue(t.Limit, t.Unit),
		})
	}
}

// countRows lists a counter map, by key (close codes, initiators) or by
// count descending (errors).
func countRows(m map[string]int64, byCount bool, label func(string) string) []countRow {
	var keys []string
	if byCount {
		keys = keysByCount(m)
	} else {
		keys = SortedKeys(m)
	}
	var total, top int64
	for _, k := range keys {
		total += m[k]
		top = max(top, m[k])
	}
	rows := make([]countRow, 0, len(keys))
	for _, k := range keys {
		row := countRow{Key: k, Label: k, N: m[k]}
		if label != nil {
			row.Label = label(k)
		}
		if total > 0 {
			row.Share = fmtPct(float64(m[k]) / float64(total))
		}
		if top > 0 {
			row.Bar = math.Round(1000*float64(m[k])/float64(top)) / 10
		}
		rows = append(rows, row)
	}
	return rows
}

var closeCodeNames = map[string]string{
	"1000": "normal closure",
	"1001": "going away",
	"1002": "protocol error",
	"1003": "unsupported data",
	"1005": "no status code",
	"1006": "abnormal: no close frame",
	"1007": "invalid payload data",
	"1008": "policy violation",
	"1009": "message too big",
	"1010": "mandatory extension",
	"1011": "internal server error",
	"1012": "service restart",
	"1013": "try again later",
	"1014": "bad gateway",
	"1015": "TLS handshake failure",
}

func closeCodeLabel(code string) string {
	if name, ok := closeCodeNames[code]; ok {
		return code + " " + name
	}
	return code
}

// positiveMS converts µs to ms for a log axis, where 0 cannot be drawn.
func positiveMS(us int64) float64 {
	if us <= 0 {
		return math.NaN()
	}
	return float64(us) / 1e3
}

func (p *htmlPage) generator() {
	g := &p.R.Generator
	p.Generator = generatorView{Generator: g, Findings: findingRows(g)}
	if g.ScheduleLag != nil && g.ScheduleLag.Count > 0 {
		row := newLatencyRow("schedule lag", g.ScheduleLag)
		p.Generator.Lag = &row
	}
}

func (p *htmlPage) scenario() {
	raw := bytes.TrimSpace(p.R.Scenario)
	if len(raw) == 0 || string(raw) == "null" {
		return
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		p.Scenario = string(raw)
		return
	}
	p.Scenario = unescapeHTMLInJSON(buf.Bytes())
}

// unescapeHTMLInJSON undoes the \u003c, \u003e and \u0026 escapes that
// encoding/json writes for <, > and & (the page escapes them itself), so a
// scenario reads the same whether it came from memory or from a file.
func unescapeHTMLInJSON(b []byte) string {
	var out strings.Builder
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' || i+1 >= len(b) {
			out.WriteByte(b[i])
			continue
		}
		if b[i+1] == 'u' && i+6 <= len(b) {
			switch string(b[i+2 : i+6]) {
			case "003c":
				out.WriteByte('<')
				i += 5
				continue
			case "003e":
				out.WriteByte('>')
				i += 5
				continue
			case "0026":
				out.WriteByte('&')
				i += 5
				continue
			}
		}
		out.Write(b[i : i+2]) // any other escape, \\ included, stays as is
		i++
	}
	return out.String()
}

// fmtMS formats microseconds as milliseconds with about three significant
// digits (HdrHistogram's precision here): 0.042, 1.23, 12.3, 123, 1234.
func fmtMS(us int64) string {
	ms := float64(us) / 1e3
	switch a := math.Abs(ms); {
	case us == 0:
		return "0"
	case a < 1:
		return strconv.FormatFloat(ms, 'f', 3, 64)
	case a < 10:
		return strconv.FormatFloat(ms, 'f', 2, 64)
	case a < 100:
		return strconv.FormatFloat(ms, 'f', 1, 64)
	}
	return fmtInt(int64(math.Round(ms)))
}

// fmtInt formats n with thin-space thousands separators.
func fmtInt(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteString("\u202f")
		}
		b.WriteRune(r)
	}
	return b.String()
}

// fmtFloat formats a load or count that may be fractional.
func fmtFloat(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "n/a"
	}
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return fmtInt(int64(v))
	}
	if math.Abs(v) >= 100 {
		return fmtInt(int64(math.Round(v)))
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

func fmtRate(perS float64) string { return fmtFloat(roundRate(perS)) + "/s" }

func roundRate(v float64) float64 {
	if math.Abs(v) >= 100 {
		return math.Round(v)
	}
	return math.Round(v*100) / 100
}

// fmtPct formats a ratio as a percentage with one decimal, or more when
// one would round a value that is not 0 or 100% to 0 or 100% (a reach of
// 99.98% must not read as 100%).
func fmtPct(ratio float64) string {
	if math.IsNaN(ratio) || math.IsInf(ratio, 0) {
		return "n/a"
	}
	pct := 100 * ratio
	if pct == 0 || pct == 100 {
		return fmt.Sprintf("%.0f%%", pct)
	}
	s := ""
	for digits := 1; digits <= 6; digits++ {
		s = strconv.FormatFloat(pct, 'f', digits, 64)
		if v, _ := strconv.ParseFloat(s, 64); v != 0 && v != 100 {
			break
		}
	}
	return s + "%"
}

// fmtDuration formats seconds as 1h02m03s, 2m05s, 42.5s or 250ms.
func fmtDuration(s float64) string {
	if s <= 0 || math.IsNaN(s) {
		return "0s"
	}
	if s < 1 {
		return fmt.Sprintf("%.0fms", s*1e3)
	}
	if s < 60 {
		return strings.TrimSuffix(strings.TrimSuffix(fmt.Sprintf("%.1f", s), "0"), ".") + "s"
	}
	d := time.Duration(math.Round(s)) * time.Second
	h, m, sec := int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60
	if h > 0 {
		return fmt.Sprintf("%dh%02dm%02ds", h, m, sec)
	}
	return fmt.Sprintf("%dm%02ds", m, sec)
}
