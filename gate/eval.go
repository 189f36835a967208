package gate

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/report"
	"github.com/wsbench/wsbench/threshold"
)

// view is what thresholds are judged on: a finished report, or the
// running totals and recent intervals of a run in progress.
type view struct {
	durationS float64
	counters  *metrics.Counters
	summary   func(name string) *report.Metric              // nil for a live run
	hist      func(name string) (*metrics.Histogram, error) // whole-run histogram; nil result: no samples
	timeline  func() (*metrics.Timeline, error)
	broadcast []report.BroadcastResult
}

// reportView is the view of a finished report. Histograms and the time
// series are decoded on first use and kept for the other thresholds.
func reportView(r *report.Report) *view {
	v := &view{durationS: r.DurationS, counters: &r.Counters, broadcast: r.Broadcast}
	v.summary = func(name string) *report.Metric {
		if m := r.Metrics[name]; m != nil {
			return m
		}
		if name == "schedule_lag" {
			return r.Generator.ScheduleLag
		}
		return nil
	}
	hists := map[string]*metrics.Histogram{}
	v.hist = func(name string) (*metrics.Histogram, error) {
		if h, ok := hists[name]; ok {
			return h, nil
		}
		var h *metrics.Histogram
		m := v.summary(name)
		switch {
		case m != nil && m.HDR != "":
			var err error
			if h, err = m.Histogram(); err != nil {
				return nil, err
			}
		case r.Series != nil && r.Series.Latency[name] != nil:
			// A report that carries its summaries without the whole
			// run's histograms: the intervals' add up to it.
			tl, err := v.timeline()
			if err != nil {
				return nil, err
			}
			sum, err := tl.Sum([]string{name}, 0, tl.Len())
			if err != nil {
				return nil, err
			}
			h = sum.Hists[0]
		}
		hists[name] = h
		return h, nil
	}
	var tl *metrics.Timeline
	var tlErr error
	decoded := false
	v.timeline = func() (*metrics.Timeline, error) {
		if !decoded {
			decoded = true
			if r.Series == nil {
				tl = &metrics.Timeline{}
			} else {
				tl, tlErr = r.Series.Timeline()
			}
		}
		return tl, tlErr
	}
	return v
}

// liveView is the view of a run in progress: its running totals and the
// intervals so far (or the most recent of them).
func liveView(total *metrics.Set, tl *metrics.Timeline, elapsed time.Duration) *view {
	return &view{
		durationS: elapsed.Seconds(),
		counters:  &total.Counters,
		hist: func(name string) (*metrics.Histogram, error) {
			if h := total.Histogram(name); h != nil && h.TotalCount() > 0 {
				return h, nil
			}
			return nil, nil
		},
		timeline: func() (*metrics.Timeline, error) { return tl, nil },
	}
}

// Evaluate judges every threshold against the finished run r, in order.
func Evaluate(ts []Threshold, r *report.Report) []report.ThresholdResult {
	v := reportView(r)
	out := make([]report.ThresholdResult, 0, len(ts))
	for _, t := range ts {
		out = append(out, evaluate(t, v))
	}
	return out
}

// AllPassed reports whether every result passed (true for none).
func AllPassed(rs []report.ThresholdResult) bool {
	for _, r := range rs {
		if !r.Passed {
			return false
		}
	}
	return true
}

// Evaluate judges t against the finished run r: the whole run, or every
// window of it when t has a Window.
func EvaluateOne(t Threshold, r *report.Report) report.ThresholdResult {
	return evaluate(t, reportView(r))
}

func evaluate(t Threshold, v *view) report.ThresholdResult {
	if t.Window > 0 {
		return evalWindows(t, v)
	}
	res := resultOf(t)
	res.Actual, res.Detail = measure(t, v)
	res.Passed = holds(t, res.Actual)
	return res
}

// Check evaluates t on a run in progress, elapsed into it: total is the
// run's running totals and tl its intervals so far (at least the last
// window's worth). Before t.Delay it does not evaluate and reports a pass.
//
// certain reports that the threshold has failed for good, whatever the
// rest of the run does: a count (which only grows) past a <, <= or ==
// limit, a max past its limit, a min below it, or a broken rolling window.
// A threshold without samples is never certain. Whether to stop the run is
// the caller's policy; Live implements k6's.
//
// A windowed threshold is checked on its latest complete window only, so
// call Check after every interval (or use Live, which does).
func Check(t Threshold, total *metrics.Set, tl *metrics.Timeline, elapsed time.Duration) (result report.ThresholdResult, certain bool) {
	res := resultOf(t)
	if elapsed < t.Delay {
		res.Actual, res.Passed = math.NaN(), true
		res.Detail = fmt.Sprintf("not checked before %s", t.Delay)
		return res, false
	}
	v := liveView(total, tl, elapsed)
	if t.Window > 0 {
		return checkLatestWindow(t, tl)
	}
	res.Actual, res.Detail = measure(t, v)
	res.Passed = holds(t, res.Actual)
	return res, !res.Passed && !math.IsNaN(res.Actual) && cannotRecover(t, res.Actual)
}

func resultOf(t Threshold) report.ThresholdResult {
	expr := t.Expr
	if expr == "" {
		expr = t.String()
	}
	res := report.ThresholdResult{Expr: expr, Metric: t.Name(), Stat: t.Stat, Op: t.Op, Limit: t.Limit, Unit: t.Unit}
	if t.Window > 0 {
		res.Window = t.Window.String()
	}
	return res
}

// holds reports whether v satisfies the threshold. NaN never does.
func holds(t Threshold, v float64) bool {
	if math.IsNaN(v) {
		return false
	}
	switch t.Op {
	case "<":
		return v < t.Limit
	case "<=":
		return v <= t.Limit
	case ">":
		return v > t.Limit
	case ">=":
		return v >= t.Limit
	case "==":
		return v == t.Limit
	case "!=":
		return v != t.Limit
	}
	return false
}

// cannotRecover reports whether a failing value can never pass again as
// the run goes on: counts and maxima only grow, minima only shrink.
func cannotRecover(t Threshold, v float64) bool {
	lat := threshold.KindOf(t.Metric) == threshold.KindLatency
	switch {
	case t.Stat == "count" || (lat && t.Stat == "max"):
		return t.Op == "<" || t.Op == "<=" || (t.Op == "==" && v > t.Limit)
	case lat && t.Stat == "min":
		return t.Op == ">" || t.Op == ">=" || (t.Op == "==" && v < t.Limit)
	}
	return false
}

const noSamples = "no samples"

// measure computes the threshold's statistic over the whole run. A NaN
// value comes with a detail saying why there is none.
func measure(t Threshold, v *view) (float64, string) {
	c := v.counters
	switch threshold.KindOf(t.Metric) {
	case threshold.KindLatency:
		return latency(t, v)
	case threshold.KindCounter:
		k, _ := metrics.LookupCounter(t.Metric)
		return countOrRate(t, k.Get(c), v.durationS)
	case threshold.KindDropped:
		return countOrRate(t, c.SendsDropped+c.SessionsDropped, v.durationS)
	case threshold.KindErrors:
		if t.Select != "" {
			return float64(stepErrors(c.ErrorsByStep, t.Select)), ""
		}
		if t.Stat == "count" {
			return float64(c.Errors()), ""
		}
		ops := c.ConnectsAttempted + c.MessagesSent
		if ops == 0 {
			return math.NaN(), "no samples: nothing was attempted (no connects, no messages)"
		}
		return float64(c.Errors()) / float64(ops), ""
	case threshold.KindReach, threshold.KindLoss:
		if v.summary == nil {
			return math.NaN(), "no samples: broadcast reach is computed at the end of the run"
		}
		return broadcast(t, v.broadcast)
	}
	return math.NaN(), "unknown metric"
}

func countOrRate(t Threshold, n int64, durationS float64) (float64, string) {
	if t.Stat == "count" {
		return float64(n), ""
	}
	if durationS <= 0 {
		return math.NaN(), "no samples: the run has no duration"
	}
	return float64(n) / durationS, ""
}

// stepErrors sums the errors attributed to a step: keys are
// "flow/step: cause", and step matches the last part of the label or the
// whole label.
func stepErrors(byStep map[string]int64, step string) int64 {
	var n int64
	for k, v := range byStep {
		if strings.HasPrefix(k, step+": ") || strings.Contains(k, "/"+step+": ") {
			n += v
		}
	}
	return n
}

func broadcast(t Threshold, bs []report.BroadcastResult) (float64, string) {
	var delivered, lost, expected int64
	worst := math.NaN()
	matched := false
	for _, b := range bs {
		if t.Select != "" && b.Room != t.Select {
			continue
		}
		matched = true
		if b.Expected <= 0 {
			continue
		}
		delivered += b.Delivered
		lost += b.Lost
		expected += b.Expected
		reach := float64(b.Delivered) / float64(b.Expected)
		loss := float64(b.Lost) / float64(b.Expected)
		switch {
		case t.Metric == threshold.MetricReach && (math.IsNaN(worst) || reach < worst):
			worst = reach
		case t.Metric == threshold.MetricLoss && (math.IsNaN(worst) || loss > worst):
			worst = loss
		}
	}
	switch {
	case t.Select != "" && !matched:
		return math.NaN(), fmt.Sprintf("no samples: no broadcast results for room %q", t.Select)
	case expected == 0:
		return math.NaN(), "no samples: no broadcast deliveries were expected"
	case t.Stat == "mean" && t.Metric == threshold.MetricReach:
		return float64(delivered) / float64(expected), ""
	case t.Stat == "mean":
		return float64(lost) / float64(expected), ""
	}
	return worst, ""
}

func latency(t Threshold, v *view) (float64, string) {
	var m *report.Metric
	if v.summary != nil {
		m = v.summary(t.Metric)
	}
	if m != nil && m.HDR == "" {
		// A summary without its histogram: take what the summary holds.
		if val, detail, ok := fromSummary(t, m); ok {
			return val, detail
		}
	}
	h, err := v.hist(t.Metric)
	if err != nil {
		return math.NaN(), err.Error()
	}
	if t.Stat == "count" {
		if h == nil {
			return 0, ""
		}
		return float64(h.TotalCount()), ""
	}
	if h == nil || h.TotalCount() == 0 {
		if m != nil && m.Count > 0 {
			return math.NaN(), fmt.Sprintf("no samples: %s needs the histogram, which this report does not carry", t.Stat)
		}
		return math.NaN(), noSamples
	}
	if _, ok := threshold.Percentile(t.Stat); !ok && !isMoment(t.Stat) {
		return math.NaN(), fmt.Sprintf("unknown statistic %q", t.Stat)
	}
	return histStat(h, t.Stat), ""
}

func isMoment(stat string) bool {
	switch stat {
	case "min", "max", "mean", "stddev", "count":
		return true
	}
	return false
}

// fromSummary computes the statistic from a metric's summary fields, for
// reports that do not carry the whole run's histogram; ok is false when
// the summary does not hold it (a percentile other than the usual ones).
func fromSummary(t Threshold, m *report.Metric) (v float64, detail string, ok bool) {
	if t.Stat == "count" {
		return float64(m.Count), "", true
	}
	if m.Count == 0 {
		return math.NaN(), noSamples, true
	}
	switch t.Stat {
	case "min":
		return float64(m.MinUS), "", true
	case "max":
		return float64(m.MaxUS), "", true
	case "mean":
		return m.MeanUS, "", true
	case "stddev":
		return m.StdUS, "", true
	}
	q, known := threshold.Percentile(t.Stat)
	if !known {
		return math.NaN(), fmt.Sprintf("unknown statistic %q", t.Stat), true
	}
	if p, have := summaryPercentile(m, q); have {
		return float64(p), "", true
	}
	return 0, "", false
}

// summaryPercentile returns a percentile the summary already holds.
func summaryPercentile(m *report.Metric, q float64) (int64, bool) {
	switch q {
	case 50:
		return m.P50US, true
	case 90:
		return m.P90US, true
	case 95:
		return m.P95US, true
	case 99:
		return m.P99US, true
	case 99.9:
		return m.P999US, true
	case 100:
		return m.MaxUS, true
	}
	return 0, false
}

// windowValue returns the statistic over intervals i0 to i1 inclusive;
// ok is false when the window has no samples (no latency samples, no
// operations for an error rate). Every counter has a per-interval value,
// so every counter can have a window; latency windows merge the
// intervals' histograms, so window percentiles are exact.
func windowValue(t Threshold, tl *metrics.Timeline, i0, i1 int) (v float64, ok bool, err error) {
	ivs := tl.Intervals[i0 : i1+1]
	sum := func(get func(*metrics.Counters) int64) (n int64) {
		for _, iv := range ivs {
			n += get(&iv.Set.Counters)
		}
		return n
	}
	span := (ivs[len(ivs)-1].End - ivs[0].Start).Seconds()
	rateOrCount := func(n int64) (float64, bool, error) {
		if t.Stat == "count" {
			return float64(n), true, nil
		}
		return float64(n) / span, span > 0, nil
	}
	switch threshold.KindOf(t.Metric) {
	case threshold.KindLatency:
		h := metrics.NewHistogram()
		for _, iv := range ivs {
			if part := iv.Set.Histogram(t.Metric); part != nil && part.TotalCount() > 0 {
				if dropped := h.Merge(part); dropped > 0 {
					return 0, false, fmt.Errorf("window of %s: %d samples overflow", t.Metric, dropped)
				}
			}
		}
		if t.Stat == "count" {
			return float64(h.TotalCount()), true, nil
		}
		if h.TotalCount() == 0 {
			return 0, false, nil
		}
		return histStat(h, t.Stat), true, nil
	case threshold.KindErrors:
		errs := sum((*metrics.Counters).Errors)
		if t.Stat == "count" {
			return float64(errs), true, nil
		}
		ops := sum(func(c *metrics.Counters) int64 { return c.ConnectsOK + c.ConnectsFailed + c.MessagesSent })
		if ops == 0 {
			return 0, false, nil
		}
		return float64(errs) / float64(ops), true, nil
	case threshold.KindDropped:
		return rateOrCount(sum(func(c *metrics.Counters) int64 { return c.SendsDropped + c.SessionsDropped }))
	case threshold.KindCounter:
		k, _ := metrics.LookupCounter(t.Metric)
		return rateOrCount(sum(k.Get))
	}
	return 0, false, fmt.Errorf("%s cannot have a window", t.Metric)
}

func histStat(h *metrics.Histogram, stat string) float64 {
	switch stat {
	case "min":
		return float64(h.Min())
	case "max":
		return float64(h.Max())
	case "mean":
		return h.Mean()
	case "stddev":
		return h.StdDev()
	case "count":
		return float64(h.TotalCount())
	}
	q, _ := threshold.Percentile(stat)
	return float64(h.ValueAtPercentile(q))
}

// windowSize returns how many intervals make one window (at least one).
func windowSize(t Threshold, tl *metrics.Timeline) int {
	return max(1, int(math.Round(float64(t.Window)/float64(tl.Step))))
}

// firstEligible returns the first interval that starts at or after Delay,
// allowing a quarter interval of ticker jitter.
func firstEligible(t Threshold, tl *metrics.Timeline) int {
	for i, iv := range tl.Intervals {
		if iv.Start >= t.Delay-tl.Step/4 {
			return i
		}
	}
	return tl.Len()
}

// windowTracker folds window values into a result.
type windowTracker struct {
	t                 Threshold
	evaluated, broken int
	worst             float64
	worstEnd          float64
	have              bool
}

func (wt *windowTracker) add(v, endS float64) {
	wt.evaluated++
	fails := !holds(wt.t, v)
	if fails {
		wt.broken++
	}
	var worse bool
	switch wt.t.Op {
	case "<", "<=":
		worse = v > wt.worst
	case ">", ">=":
		worse = v < wt.worst
	default: // == and !=: the first broken window, else the latest
		worse = fails && (wt.broken == 1) || wt.broken == 0
	}
	if !wt.have || worse {
		wt.worst, wt.worstEnd, wt.have = v, endS, true
	}
}

func evalWindows(t Threshold, v *view) report.ThresholdResult {
	res := resultOf(t)
	res.Actual = math.NaN()
	tl, err := v.timeline()
	switch {
	case err != nil:
		res.Detail = err.Error()
		return res
	case tl.Len() == 0:
		res.Detail = "no samples: the report has no time series"
		return res
	case tl.Step <= 0:
		res.Detail = "the report's time series has no interval"
		return res
	}
	k, n, e0 := windowSize(t, tl), tl.Len(), firstEligible(t, tl)
	if e0 == n {
		res.Detail = fmt.Sprintf("no samples: the run ended before delay %s", t.Delay)
		return res
	}
	wt := &windowTracker{t: t}
	first := e0 + k - 1
	if first > n-1 {
		first = n - 1 // shorter than one window: judge what there is
	}
	for i1 := first; i1 < n; i1++ {
		i0 := max(e0, i1-k+1)
		val, ok, err := windowValue(t, tl, i0, i1)
		if err != nil {
			res.Detail = err.Error()
			return res
		}
		if ok {
			wt.add(val, tl.Intervals[i1].End.Seconds())
		}
	}
	if wt.evaluated == 0 {
		res.Detail = noSamples
		return res
	}
	res.Actual, res.WorstWindow = wt.worst, wt.worstEnd
	res.Passed = wt.broken == 0
	if first-max(e0, first-k+1)+1 < k {
		res.Detail = fmt.Sprintf("run shorter than one %s window: judged on %.0fs", t.Window, (tl.Intervals[n-1].End - tl.Intervals[e0].Start).Seconds())
	} else if wt.broken > 0 {
		res.Detail = fmt.Sprintf("%d of %d windows broke the limit; worst ends at %.0fs", wt.broken, wt.evaluated, wt.worstEnd)
	} else {
		res.Detail = fmt.Sprintf("%d windows, all within the limit", wt.evaluated)
	}
	return res
}

// checkLatestWindow checks the complete window that ends at the latest
// interval of a live run (the one before was checked when it was the
// latest). A broken window is certain: it stays broken.
func checkLatestWindow(t Threshold, tl *metrics.Timeline) (report.ThresholdResult, bool) {
	res := resultOf(t)
	res.Actual, res.Passed = math.NaN(), true
	res.Detail = "no complete window yet"
	if tl == nil || tl.Step <= 0 || tl.Len() == 0 {
		return res, false
	}
	k, n := windowSize(t, tl), tl.Len()
	i1 := n - 1
	i0 := i1 - k + 1
	if i0 < 0 || tl.Intervals[i0].Start < t.Delay-tl.Step/4 {
		return res, false
	}
	v, ok, err := windowValue(t, tl, i0, i1)
	if err != nil {
		res.Detail = err.Error()
		return res, false
	}
	if !ok {
		return res, false
	}
	end := tl.Intervals[i1].End.Seconds()
	res.Actual, res.WorstWindow, res.Detail = v, end, ""
	if !holds(t, v) {
		res.Passed = false
		res.Detail = fmt.Sprintf("the window ending at %.0fs broke the limit", end)
		return res, true
	}
	return res, false
}
