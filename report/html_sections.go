package report

import (
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The sections of the HTML report that answer a question of their own:
// a capacity search (what load does the target hold?), a comparison with
// a baseline (did it get worse?) and broadcast fan-out (did every member
// get every message, and when was one lost?).

// ---- capacity ----

type capacityView struct {
	*Capacity
	MaxOK, FirstFail, Knee string
	Unit                   string // of the load: clients, arrivals/s, messages/s
	Metric                 string // the latency metric of the steps' p50 and p99; "" when unknown
	Answer                 string // chart: latency against load, SLO lines, max OK and first fail
	Throughput             string // chart: throughput and error rate against load
	Steps                  []capacityStepRow
	Detail                 string // which step the rest of the page is the report of
}

type capacityStepRow struct {
	CapacityStep
	Detail bool // the rest of the page is this step's report
}

// capacityLoadUnit names the unit of a capacity search's load.
func capacityLoadUnit(variable string) string {
	switch variable {
	case "clients":
		return "clients"
	case "arrival_rate":
		return "arrivals/s"
	case "message_rate":
		return "messages/s"
	}
	return strings.ReplaceAll(variable, "_", " ")
}

// latencySLO is a latency SLO parsed for drawing: "rtt p99 < 50ms".
type latencySLO struct {
	Expr, Metric, Stat string
	LimitMS            float64
}

var (
	latencySLORe = regexp.MustCompile(`^\s*([A-Za-z_][A-Za-z0-9_]*)\s+(p[0-9]+(?:\.[0-9]+)?|max|mean|min)\s*(<=|<)\s*([0-9]*\.?[0-9]+)\s*(us|µs|ms|s)\s*$`)
	errorSLORe   = regexp.MustCompile(`^\s*errors\s+rate\s*(<=|<)\s*([0-9]*\.?[0-9]+)\s*%\s*$`)
)

// parseLatencySLO reads the SLOs a chart can draw as a line on a latency
// axis. Others (errors, reach, rates) are listed as text only.
func parseLatencySLO(expr string) (latencySLO, bool) {
	m := latencySLORe.FindStringSubmatch(expr)
	if m == nil {
		return latencySLO{}, false
	}
	v, err := strconv.ParseFloat(m[4], 64)
	if err != nil {
		return latencySLO{}, false
	}
	switch m[5] {
	case "us", "µs":
		v /= 1e3
	case "s":
		v *= 1e3
	}
	return latencySLO{Expr: strings.TrimSpace(expr), Metric: m[1], Stat: m[2], LimitMS: v}, true
}

// parseErrorSLO reads "errors rate < 0.1%" as a percentage.
func parseErrorSLO(expr string) (float64, bool) {
	m := errorSLORe.FindStringSubmatch(expr)
	if m == nil {
		return 0, false
	}
	v, err := strconv.ParseFloat(m[2], 64)
	return v, err == nil
}

// stepStat returns a latency statistic of one capacity step in ms, NaN
// when the step does not have it.
func stepStat(st CapacityStep, metric, stat string) float64 {
	m := st.Metrics[metric]
	if m == nil || m.Count == 0 {
		return math.NaN()
	}
	var us int64
	switch stat {
	case "p50":
		us = m.P50US
	case "p90":
		us = m.P90US
	case "p95":
		us = m.P95US
	case "p99":
		us = m.P99US
	case "p99.9":
		us = m.P999US
	case "max":
		us = m.MaxUS
	case "min":
		us = m.MinUS
	case "mean":
		return positiveMS(int64(math.Round(m.MeanUS)))
	default:
		return math.NaN()
	}
	return positiveMS(us)
}

// capacity opens the page of a capacity search with its answer: the
// verdict, the highest load that met the SLO and the first that broke it,
// and a chart of latency against load with the SLO drawn across it. The
// steps' table follows; the rest of the page is the report of one step.
func (p *htmlPage) capacity() {
	c := p.R.Capacity
	if c == nil {
		return
	}
	v := &capacityView{Capacity: c, Unit: capacityLoadUnit(c.Variable)}
	load := func(f *float64) string {
		if f == nil {
			return "none"
		}
		return fmtFloat(*f)
	}
	v.MaxOK, v.FirstFail, v.Knee = load(c.MaxOK), load(c.FirstFail), load(c.Knee)

	var slos []latencySLO
	errLimit := math.NaN()
	for _, expr := range c.SLO {
		if s, ok := parseLatencySLO(expr); ok {
			slos = append(slos, s)
			if v.Metric == "" {
				// The search shows the first latency SLO's metric per
				// step (capacity.LatencyMetric).
				v.Metric = s.Metric
			}
		} else if pct, ok := parseErrorSLO(expr); ok && math.IsNaN(errLimit) {
			errLimit = pct
		}
	}

	// The step the rest of the page reports: as capacity.Result picks it,
	// the highest load that met the SLO with a reliable generator, else
	// the first step run.
	detail := -1
	for i, st := range c.Steps {
		if st.Passed && !st.Unreliable && (detail < 0 || st.Load > c.Steps[detail].Load) {
			detail = i
		}
	}
	why := "the highest load that met the SLO with a reliable generator"
	if detail < 0 && len(c.Steps) > 0 {
		detail, why = 0, "the first step: none met the SLO with a reliable generator"
	}
	if detail >= 0 {
		v.Detail = fmt.Sprintf("%s %s (%s)", fmtFloat(c.Steps[detail].Load), v.Unit, why)
	}
	order := make([]int, len(c.Steps))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return c.Steps[order[a]].Load < c.Steps[order[b]].Load })
	for _, i := range order {
		v.Steps = append(v.Steps, capacityStepRow{CapacityStep: c.Steps[i], Detail: i == detail})
	}
	if len(v.Steps) == 0 {
		p.Capacity = v
		return
	}

	var x, p50, p99, thr, errs column
	for _, st := range v.Steps {
		x = append(x, st.Load)
		p50 = append(p50, positiveMS(st.P50US))
		p99 = append(p99, positiveMS(st.P99US))
		thr = append(thr, st.Throughput)
		errs = append(errs, 100*st.ErrorRate)
	}
	prefix := ""
	if v.Metric != "" {
		prefix = v.Metric + " "
	}
	series := []seriesSpec{
		{Label: prefix + "p99", Unit: "ms", Color: 3, Width: 2.5, Values: p99},
		{Label: prefix + "p50", Unit: "ms", Color: 0, Dash: dashed, Values: p50},
	}
	spec := &chartSpec{ID: "capacity", Kind: "load", X: x, YLabel: "latency, ms (log)", YLog: true,
		XLabel: "load: " + v.Unit, Points: true}
	// An SLO on another statistic or metric than the two drawn gets its
	// own line, from the steps' summaries, so every SLO line has the
	// curve it judges.
	for _, s := range slos {
		spec.HLines = append(spec.HLines, refLine{Value: s.LimitMS, Label: "SLO " + s.Expr, Kind: "bad"})
		if s.Metric == v.Metric && (s.Stat == "p99" || s.Stat == "p50") {
			continue
		}
		label := s.Metric + " " + s.Stat
		dup := false
		for _, o := range series {
			dup = dup || o.Label == label
		}
		if dup || len(series) >= 6 {
			continue
		}
		col := make(column, len(v.Steps))
		some := false
		for i, st := range v.Steps {
			col[i] = stepStat(st.CapacityStep, s.Metric, s.Stat)
			some = some || !math.IsNaN(col[i])
		}
		if some {
			series = append(series, seriesSpec{Label: label, Unit: "ms", Color: 1 + len(series), Dash: dashDot, Values: col})
		}
	}
	spec.Series = series
	if c.MaxOK != nil {
		spec.VLines = append(spec.VLines, refLine{Value: *c.MaxOK, Label: "max OK " + v.MaxOK, Kind: "good"})
	}
	if c.FirstFail != nil {
		spec.VLines = append(spec.VLines, refLine{Value: *c.FirstFail, Label: "first fail " + v.FirstFail, Kind: "bad"})
	}
	if c.Knee != nil && (c.MaxOK == nil || *c.Knee != *c.MaxOK) {
		spec.VLines = append(spec.VLines, refLine{Value: *c.Knee, Label: "knee " + v.Knee, Kind: "muted"})
	}
	v.Answer = p.addChart(spec)

	tspec := &chartSpec{ID: "capacity-throughput", Kind: "load", X: x, YLabel: "received per second", Y2: "errors, % of operations",
		XLabel: "load: " + v.Unit, Points: true, Series: []seriesSpec{
			{Label: "throughput", Unit: "/s", Color: 2, Width: 2, Values: thr},
			{Label: "error rate", Unit: "%", Color: 4, Dash: dashed, Right: true, Values: errs},
		}}
	if !math.IsNaN(errLimit) {
		tspec.HLines = []refLine{{Value: errLimit, Label: fmt.Sprintf("SLO errors < %g%%", errLimit), Kind: "bad", Right: true}}
	}
	v.Throughput = p.addChart(tspec)
	p.Capacity = v
}

// ---- baseline ----

type baselineView struct {
	Label     string
	Path      string
	Started   string
	Tolerance string
	Regressed []string
	Judged    bool // the report was judged against it (r.Baseline)
	Overlay   bool // its report is at hand: charts overlay it, the table compares
	Rows      []baselineRow
	// The judgement, when Judged: its verdict in the terminal summary's
	// words, whether it gated the run, the regressed rows with both
	// sides' values and noise bands, and the comparison's notes.
	Verdict      string
	VerdictClass string // good, warn (regressed, not gating) or bad
	ReportOnly   bool
	Regressions  []regressionRow
	Notes        []string
}

// regressionRow is one regressed statistic of the judgement, as the
// markdown summary's table has it.
type regressionRow struct {
	Label, Base, New, Abs, Rel string
	BaseBand, NewBand          string
}

// baselineRow compares one number of this run with the baseline's.
type baselineRow struct {
	Name, Unit string
	Base, This string
	Delta      string // relative change, e.g. "+23%"
	Class      string // worse, better or ""
}

// baseline sets up the comparison with the baseline: the verdict of the
// judgement (r.Baseline) and, with the baseline's report at hand, a table
// of the numbers that matter side by side.
func (p *htmlPage) baseline(label string) {
	r, b := p.R, p.Base
	if r.Baseline == nil && b == nil {
		return
	}
	v := &baselineView{Label: label, Judged: r.Baseline != nil, Overlay: b != nil}
	tolerance := 0.10
	if j := r.Baseline; j != nil {
		v.Path, v.Tolerance, v.Regressed = j.Path, j.Tolerance, j.Regressed
		if !j.StartedAt.IsZero() {
			v.Started = fmtStarted(j.StartedAt)
		}
		if t, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(j.Tolerance), "%"), 64); err == nil && t > 0 {
			tolerance = t / 100
		}
		v.Verdict, v.ReportOnly, v.Notes = baselineVerdict(j), j.ReportOnly, j.Notes
		switch {
		case len(j.Regressed) == 0:
			v.VerdictClass = "good"
		case j.ReportOnly:
			v.VerdictClass = "warn"
		default:
			v.VerdictClass = "bad"
		}
		for _, row := range j.Regressions {
			abs, rel := compareDelta(row)
			v.Regressions = append(v.Regressions, regressionRow{
				Label: row.label(), Base: compareValue(row.Base, row.Unit), New: compareValue(row.New, row.Unit), Abs: abs, Rel: rel,
				BaseBand: row.band(row.BaseLow, row.BaseHigh), NewBand: row.band(row.NewLow, row.NewHigh),
			})
		}
	}
	if b != nil && v.Started == "" {
		v.Started = fmtStarted(b.StartedAt)
	}
	if v.Label == "" {
		v.Label = v.Path
	}
	if v.Label == "" {
		v.Label = "baseline"
	}
	if b != nil {
		// Latency: higher is worse. Throughput: lower is worse.
		row := func(name, unit string, base, this float64, higherWorse bool, format func(float64) string) {
			rw := baselineRow{Name: name, Unit: unit, Base: format(base), This: format(this), Delta: "—"}
			if base > 0 && !math.IsNaN(this) {
				d := this/base - 1
				rw.Delta = fmt.Sprintf("%+.1f%%", 100*d)
				worse := d > tolerance
				better := d < -tolerance
				if !higherWorse {
					worse, better = better, worse
				}
				switch {
				case worse:
					rw.Class = "worse"
				case better:
					rw.Class = "better"
				}
			}
			v.Rows = append(v.Rows, rw)
		}
		ms := func(us float64) string { return fmtMS(int64(us)) + " ms" }
		for _, name := range MetricOrder(r) {
			m, bm := r.Metrics[name], b.Metrics[name]
			if m == nil || bm == nil || m.Count == 0 || bm.Count == 0 {
				continue
			}
			row(name+" p50", "ms", float64(bm.P50US), float64(m.P50US), true, ms)
			row(name+" p99", "ms", float64(bm.P99US), float64(m.P99US), true, ms)
		}
		row("received", "/s", b.Rates.ReceivedPerS, r.Rates.ReceivedPerS, false, fmtRate)
		row("errors", "", float64(b.Counters.Errors()), float64(r.Counters.Errors()), true, func(f float64) string { return fmtInt(int64(f)) })
	}
	p.Baseline = v
}

// ---- broadcast ----

type broadcastView struct {
	Rows      []*broadcastRow
	Total     *broadcastRow // all patterns together, when there are several
	Latency   bool          // the rows carry the delivery latencies (one pattern)
	LossChart string
	LossNote  string
}

type broadcastRow struct {
	BroadcastResult
	Delivery, Complete string // p50 / p99 in ms, "" when unknown
	IsTotal            bool
}

// broadcastCells is one row of the broadcast table for the template.
type broadcastCells struct {
	R       *broadcastRow
	Latency bool // the table has the latency columns
}

// broadcast tabulates fan-out per room pattern, with the delivery and
// completion latencies, and charts the loss over time by publish time.
func (p *htmlPage) broadcast() {
	r := p.R
	if len(r.Broadcast) == 0 {
		return
	}
	v := &broadcastView{}
	lat := func(name string) string {
		m := r.Metrics[name]
		if m == nil || m.Count == 0 {
			return ""
		}
		return fmtMS(m.P50US) + " / " + fmtMS(m.P99US)
	}
	// The delivery latencies are measured over every pattern together:
	// with one pattern they are its own, with several they go on the
	// total row.
	delivery, complete := lat("broadcast_delivery"), lat("broadcast_complete")
	for _, b := range r.Broadcast {
		v.Rows = append(v.Rows, &broadcastRow{BroadcastResult: b})
	}
	if len(v.Rows) == 1 {
		v.Rows[0].Delivery, v.Rows[0].Complete = delivery, complete
	} else {
		t := broadcastRow{BroadcastResult: BroadcastResult{Room: "all patterns"}, Delivery: delivery, Complete: complete, IsTotal: true}
		for _, b := range r.Broadcast {
			t.Rooms += b.Rooms
			t.Published += b.Published
			t.Expected += b.Expected
			t.Delivered += b.Delivered
			t.Lost += b.Lost
			t.Duplicates += b.Duplicates
			t.Reordered += b.Reordered
			t.Unexpected += b.Unexpected
		}
		t.Reach, t.Loss = 1, 0
		if t.Expected > 0 {
			t.Reach = float64(t.Delivered) / float64(t.Expected)
			t.Loss = float64(t.Lost) / float64(t.Expected)
		}
		v.Total = &t
	}
	v.Latency = delivery != "" || complete != ""
	p.broadcastLoss(v)
	p.Broadcast = v
}

// broadcastLoss charts each pattern's loss per interval of publish time.
func (p *htmlPage) broadcastLoss(v *broadcastView) {
	type line struct {
		label string
		iv    BroadcastIntervals
	}
	var lines []line
	for _, b := range p.R.Broadcast {
		if b.Intervals == nil || b.Intervals.Len() == 0 || b.Intervals.IntervalS <= 0 || len(b.Intervals.Lost) != b.Intervals.Len() {
			continue
		}
		iv := *b.Intervals
		iv.Expected = append([]int64(nil), iv.Expected...)
		iv.Lost = append([]int64(nil), iv.Lost...)
		if n := iv.Len(); n > maxChartPoints {
			// Summing intervals keeps the ratio exact for the coarser one.
			iv.Coarsen((n + maxChartPoints - 1) / maxChartPoints)
		}
		lines = append(lines, line{b.Room, iv})
	}
	if len(lines) == 0 {
		v.LossNote = "This report has no broadcast accounting over time (it was written by an older wsbench, or merged with such a report)."
		return
	}
	// One x column for every pattern: the union of their interval ends,
	// up to the last interval anything was expected in (the drain and
	// the rest of the last interval publish nothing).
	xs := map[float64]bool{}
	for k, l := range lines {
		last := -1
		for i, e := range l.iv.Expected {
			if e > 0 {
				last = i
			}
		}
		lines[k].iv.Expected = l.iv.Expected[:last+1]
		for i := range last + 1 {
			xs[roundX(float64(i+1)*l.iv.IntervalS)] = true
		}
	}
	if len(xs) == 0 {
		v.LossNote = "No delivery was expected, so there is no loss over time to show."
		return
	}
	var x column
	for t := range xs {
		x = append(x, t)
	}
	sort.Float64s(x)
	at := make(map[float64]int, len(x))
	for i, t := range x {
		at[t] = i
	}
	spec := &chartSpec{ID: "broadcast-loss", Kind: "time", X: x, YLabel: "lost, % of expected (asinh)", YAsinh: 0.01,
		XLabel: "publish time since start (m:ss)"}
	for k, l := range lines {
		col := make(column, len(x))
		for i := range col {
			col[i] = math.NaN()
		}
		for i, e := range l.iv.Expected {
			if e > 0 {
				col[at[roundX(float64(i+1)*l.iv.IntervalS)]] = 100 * float64(l.iv.Lost[i]) / float64(e)
			}
		}
		label := l.label
		if len(lines) == 1 {
			label = "loss"
		}
		spec.Series = append(spec.Series, seriesSpec{Label: label, Unit: "loss%", Color: (4 + k) % 7, Width: 2, Dash: lineStyles[k%len(lineStyles)], Values: col})
	}
	v.LossChart = p.addChart(spec)
}

// roundX rounds a time to the microsecond, so interval ends computed from
// different interval lengths meet on one x value.
func roundX(t float64) float64 { return math.Round(t*1e6) / 1e6 }

// fmtStarted formats a start time for the page, or "—".
func fmtStarted(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05 MST")
}
