package gate

import (
	"fmt"
	"math"
	"reflect"
	"strings"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/report"
)

// Evaluate judges every threshold against the finished run r, in order.
func Evaluate(ts []Threshold, r *report.Report) []report.ThresholdResult {
	out := make([]report.ThresholdResult, 0, len(ts))
	for _, t := range ts {
		out = append(out, t.Evaluate(r))
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
func (t Threshold) Evaluate(r *report.Report) report.ThresholdResult {
	if t.Window > 0 {
		return t.evalWindows(r)
	}
	res := t.result()
	res.Actual, res.Detail = t.measure(r)
	res.Passed = t.holds(res.Actual)
	return res
}

// Check evaluates t against the partial report of a run in progress,
// elapsed into it. Metrics may lack their histograms there; Check falls
// back to the summary fields and, for other percentiles, to the interval
// histograms of the series. Before t.Delay it does not evaluate and
// reports a pass.
//
// certain reports that the threshold has failed for good, whatever the
// rest of the run does: a count (which only grows) past a <, <= or ==
// limit, a max past its limit, a min below it, or a broken rolling window.
// A threshold without samples is never certain. Whether to stop the run is
// the caller's policy; Live implements k6's.
//
// A windowed threshold is checked on its latest complete window only, so
// call Check after every interval (or use Live, which remembers).
func (t Threshold) Check(r *report.Report, elapsed time.Duration) (result report.ThresholdResult, certain bool) {
	res := t.result()
	if elapsed < t.Delay {
		res.Actual, res.Passed = math.NaN(), true
		res.Detail = fmt.Sprintf("not checked before %s", t.Delay)
		return res, false
	}
	if t.Window > 0 {
		s := r.Series
		if s == nil || s.Len() == 0 {
			res.Actual, res.Passed, res.Detail = math.NaN(), true, "no complete window yet"
			return res, false
		}
		return t.checkWindowsFrom(r, s.Len()-1, newWindowEval(t, r))
	}
	res.Actual, res.Detail = t.measure(r)
	res.Passed = t.holds(res.Actual)
	return res, !res.Passed && !math.IsNaN(res.Actual) && t.cannotRecover(res.Actual)
}

func (t Threshold) result() report.ThresholdResult {
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
func (t Threshold) holds(v float64) bool {
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
func (t Threshold) cannotRecover(v float64) bool {
	lat := kindOf(t.Metric) == kindLatency
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
func (t Threshold) measure(r *report.Report) (float64, string) {
	c := &r.Counters
	switch kindOf(t.Metric) {
	case kindLatency:
		return t.latency(r)
	case kindCounter:
		n := reflect.ValueOf(c).Elem().Field(counterField[t.Metric]).Int()
		return t.countOrRate(n, r.DurationS)
	case kindDropped:
		return t.countOrRate(c.SendsDropped+c.SessionsDropped, r.DurationS)
	case kindErrors:
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
	case kindReach, kindLoss:
		return t.broadcast(r.Broadcast)
	}
	return math.NaN(), "unknown metric"
}

func (t Threshold) countOrRate(n int64, durationS float64) (float64, string) {
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

func (t Threshold) broadcast(bs []report.BroadcastResult) (float64, string) {
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
		case t.Metric == metricReach && (math.IsNaN(worst) || reach < worst):
			worst = reach
		case t.Metric == metricLoss && (math.IsNaN(worst) || loss > worst):
			worst = loss
		}
	}
	switch {
	case t.Select != "" && !matched:
		return math.NaN(), fmt.Sprintf("no samples: no broadcast results for room %q", t.Select)
	case expected == 0:
		return math.NaN(), "no samples: no broadcast deliveries were expected"
	case t.Stat == "mean" && t.Metric == metricReach:
		return float64(delivered) / float64(expected), ""
	case t.Stat == "mean":
		return float64(lost) / float64(expected), ""
	}
	return worst, ""
}

// latencyMetric returns the summary of a latency metric, or nil.
func latencyMetric(r *report.Report, name string) *report.Metric {
	if m := r.Metrics[name]; m != nil {
		return m
	}
	if name == "schedule_lag" {
		return r.Generator.ScheduleLag
	}
	return nil
}

func (t Threshold) latency(r *report.Report) (float64, string) {
	m := latencyMetric(r, t.Metric)
	if t.Stat == "count" {
		if m == nil {
			return 0, ""
		}
		return float64(m.Count), ""
	}
	if m == nil || m.Count == 0 {
		return math.NaN(), noSamples
	}
	switch t.Stat {
	case "min":
		return float64(m.MinUS), ""
	case "max":
		return float64(m.MaxUS), ""
	case "mean":
		return m.MeanUS, ""
	case "stddev":
		return m.StdUS, ""
	}
	q, ok := percentile(t.Stat)
	if !ok {
		return math.NaN(), fmt.Sprintf("unknown statistic %q", t.Stat)
	}
	if v, ok := summaryPercentile(m, q); ok {
		return float64(v), ""
	}
	if m.HDR != "" {
		h, err := m.Histogram()
		if err != nil {
			return math.NaN(), err.Error()
		}
		return float64(h.ValueAtPercentile(q)), ""
	}
	// A live partial report has no total histogram, but the series holds
	// every interval's: their merge is the total.
	if s := r.Series; s != nil && s.Len() > 0 {
		w := newHDRWindow(s, t.Metric)
		if w.moveTo(0, s.Len()-1) == nil {
			if h := w.histogram(); h.TotalCount() > 0 {
				return float64(h.ValueAtPercentile(q)), ""
			}
		}
	}
	return math.NaN(), fmt.Sprintf("no samples: %s needs the histogram, which this report does not carry", t.Stat)
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

// hdrWindow is the histogram of a sliding range of intervals of a latency
// series: intervals are added as the range's end moves forward and
// subtracted as its start does, so sliding over n intervals decodes each
// interval histogram at most twice.
type hdrWindow struct {
	s      *report.Series
	name   string
	snap   *hdr.Snapshot
	lo, hi int // intervals [lo, hi) are in snap
}

// newHDRWindow slides over the latency metric name of s. The metric's
// column is looked up as the window moves: during a run it may appear
// only after the window was made.
func newHDRWindow(s *report.Series, name string) *hdrWindow {
	return &hdrWindow{s: s, name: name, snap: metrics.NewHistogram().Export()}
}

// moveTo makes the window hold intervals i0 to i1 inclusive.
func (w *hdrWindow) moveTo(i0, i1 int) error {
	if i0 >= w.hi || i0 < w.lo || i1 < w.hi-1 {
		clear(w.snap.Counts)
		w.lo, w.hi = i0, i0
	}
	for ; w.lo < i0; w.lo++ {
		if err := w.add(w.lo, -1); err != nil {
			return err
		}
	}
	for ; w.hi <= i1; w.hi++ {
		if err := w.add(w.hi, +1); err != nil {
			return err
		}
	}
	return nil
}

func (w *hdrWindow) add(i int, sign int64) error {
	ls := w.s.Latency[w.name]
	if ls == nil || i >= len(ls.HDR) || ls.HDR[i] == "" {
		return nil
	}
	h, err := metrics.DecodeHistogram(ls.HDR[i])
	if err != nil {
		return fmt.Errorf("interval %d: %w", i, err)
	}
	for j, c := range h.Export().Counts {
		if c != 0 && j < len(w.snap.Counts) {
			w.snap.Counts[j] += sign * c
		}
	}
	return nil
}

func (w *hdrWindow) histogram() *hdr.Histogram { return hdr.Import(w.snap) }

// windowEval computes a threshold's statistic over ranges of intervals.
type windowEval struct {
	t  Threshold
	s  *report.Series
	hw *hdrWindow
}

func newWindowEval(t Threshold, r *report.Report) *windowEval {
	w := &windowEval{t: t, s: r.Series}
	if w.s != nil && kindOf(t.Metric) == kindLatency {
		w.hw = newHDRWindow(w.s, t.Metric)
	}
	return w
}

// value returns the statistic over intervals i0 to i1 inclusive; ok is
// false when the window has no samples (no latency samples, no operations
// for an error rate).
func (w *windowEval) value(i0, i1 int) (v float64, ok bool, err error) {
	t, s := w.t, w.s
	sum := func(col []int64) (n int64) {
		for i := i0; i <= i1 && i < len(col); i++ {
			n += col[i]
		}
		return n
	}
	span := s.T[i1] - intervalStart(s, i0)
	rateOrCount := func(n int64) (float64, bool, error) {
		if t.Stat == "count" {
			return float64(n), true, nil
		}
		return float64(n) / span, span > 0, nil
	}
	switch kindOf(t.Metric) {
	case kindLatency:
		if t.Stat == "count" {
			if ls := s.Latency[t.Metric]; ls != nil {
				return float64(sum(ls.Count)), true, nil
			}
			return 0, true, nil
		}
		if err := w.hw.moveTo(i0, i1); err != nil {
			return 0, false, err
		}
		h := w.hw.histogram()
		if h.TotalCount() == 0 {
			return 0, false, nil
		}
		return histStat(h, t.Stat), true, nil
	case kindErrors:
		errs := sum(s.Errors)
		if t.Stat == "count" {
			return float64(errs), true, nil
		}
		ops := sum(s.Connects) + sum(s.ConnectFailures) + sum(s.Sent)
		if ops == 0 {
			return 0, false, nil
		}
		return float64(errs) / float64(ops), true, nil
	case kindDropped:
		return rateOrCount(sum(s.SendsDropped) + sum(s.SessionsDropped))
	case kindCounter:
		col := seriesColumn(s, t.Metric)
		if col == nil {
			return 0, false, fmt.Errorf("%s has no per-interval series", t.Metric)
		}
		return rateOrCount(sum(col))
	}
	return 0, false, fmt.Errorf("%s cannot have a window", t.Metric)
}

func seriesColumn(s *report.Series, metric string) []int64 {
	switch metric {
	case "connects_ok":
		return s.Connects
	case "connects_failed":
		return s.ConnectFailures
	case "disconnects":
		return s.Disconnects
	case "messages_sent":
		return s.Sent
	case "messages_received":
		return s.Received
	case "bytes_sent":
		return s.BytesSent
	case "bytes_received":
		return s.BytesReceived
	case "sends_dropped":
		return s.SendsDropped
	case "sessions_dropped":
		return s.SessionsDropped
	}
	return nil
}

func histStat(h *hdr.Histogram, stat string) float64 {
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
	q, _ := percentile(stat)
	return float64(h.ValueAtPercentile(q))
}

// windowSize returns how many intervals make one window (at least one).
func (t Threshold) windowSize(s *report.Series) int {
	return max(1, int(math.Round(t.Window.Seconds()/s.IntervalS)))
}

// intervalStart returns when interval i began: when the one before it
// ended (the last interval of a run, which includes the drain, can be
// longer than IntervalS).
func intervalStart(s *report.Series, i int) float64 {
	if i == 0 {
		return 0
	}
	return s.T[i-1]
}

// firstEligible returns the first interval that starts at or after Delay,
// allowing a quarter interval of ticker jitter.
func (t Threshold) firstEligible(s *report.Series) int {
	d := t.Delay.Seconds()
	for i := range s.T {
		if intervalStart(s, i) >= d-s.IntervalS/4 {
			return i
		}
	}
	return s.Len()
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
	fails := !wt.t.holds(v)
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

func (t Threshold) evalWindows(r *report.Report) report.ThresholdResult {
	res := t.result()
	res.Actual = math.NaN()
	s := r.Series
	switch {
	case s == nil || s.Len() == 0:
		res.Detail = "no samples: the report has no time series"
		return res
	case s.IntervalS <= 0:
		res.Detail = "the report's time series has no interval"
		return res
	}
	k, n, e0 := t.windowSize(s), s.Len(), t.firstEligible(s)
	if e0 == n {
		res.Detail = fmt.Sprintf("no samples: the run ended before delay %s", t.Delay)
		return res
	}
	we := newWindowEval(t, r)
	wt := &windowTracker{t: t}
	first := e0 + k - 1
	if first > n-1 {
		first = n - 1 // shorter than one window: judge what there is
	}
	for i1 := first; i1 < n; i1++ {
		i0 := max(e0, i1-k+1)
		v, ok, err := we.value(i0, i1)
		if err != nil {
			res.Detail = err.Error()
			return res
		}
		if ok {
			wt.add(v, s.T[i1])
		}
	}
	if wt.evaluated == 0 {
		res.Detail = noSamples
		return res
	}
	res.Actual, res.WorstWindow = wt.worst, wt.worstEnd
	res.Passed = wt.broken == 0
	if first-max(e0, first-k+1)+1 < k {
		res.Detail = fmt.Sprintf("run shorter than one %s window: judged on %.0fs", t.Window, s.T[n-1]-intervalStart(s, e0))
	} else if wt.broken > 0 {
		res.Detail = fmt.Sprintf("%d of %d windows broke the limit; worst ends at %.0fs", wt.broken, wt.evaluated, wt.worstEnd)
	} else {
		res.Detail = fmt.Sprintf("%d windows, all within the limit", wt.evaluated)
	}
	return res
}

// checkWindowsFrom checks the complete windows that end at intervals from
// to the latest, for a live run. It reports the first broken one (certain:
// a broken window stays broken) or else the latest.
func (t Threshold) checkWindowsFrom(r *report.Report, from int, we *windowEval) (report.ThresholdResult, bool) {
	res := t.result()
	res.Actual, res.Passed = math.NaN(), true
	s := r.Series
	if s == nil || s.IntervalS <= 0 {
		res.Detail = "no complete window yet"
		return res, false
	}
	k, n, e0 := t.windowSize(s), s.Len(), t.firstEligible(s)
	res.Detail = "no complete window yet"
	for i1 := max(from, e0+k-1); i1 < n; i1++ {
		v, ok, err := we.value(i1-k+1, i1)
		if err != nil {
			res.Detail = err.Error()
			return res, false
		}
		if !ok {
			continue
		}
		res.Actual, res.WorstWindow, res.Detail = v, s.T[i1], ""
		if !t.holds(v) {
			res.Passed = false
			res.Detail = fmt.Sprintf("the window ending at %.0fs broke the limit", s.T[i1])
			return res, true
		}
	}
	return res, false
}
