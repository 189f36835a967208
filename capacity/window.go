package capacity

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/report"
)

// window is the hold window of one step's time series: the intervals that
// start after the warmup.
type window struct {
	tl    *metrics.Timeline
	names []string
	first int     // first interval of the window
	gauge int     // end (exclusive) of the intervals whose gauges (active, CPU) count
	start float64 // seconds since the run start
	dur   float64 // seconds of load in the window
}

// holdWindow finds the hold window of a step report: the intervals whose
// start is not before warmup (less a little ticker jitter), so no warmup
// sample is judged; with a warmup that is not a multiple of the interval
// the window starts at the first interval boundary after it.
//
// Counts (sent, received, errors, latency samples) are taken from every
// interval from there to the end, because the engine's last interval holds
// the replies that arrived while the run drained. Gauges (open
// connections, CPU) are sampled at interval ends, and only those taken
// before the planned end count: at the end sessions are already closing.
// The window's length is from its start to the planned end of the hold,
// or to the end of a run that stopped early.
func holdWindow(rep *report.Report, warmup, hold time.Duration) (window, error) {
	if rep.Series == nil || rep.Series.Len() == 0 {
		return window{}, errors.New("the step's report has no time series")
	}
	tl, err := rep.Series.Timeline()
	if err != nil {
		return window{}, fmt.Errorf("the step's time series: %w", err)
	}
	tol := min(tl.Step/4, 20*time.Millisecond)
	w := window{tl: tl, names: rep.Series.MetricNames(), first: -1}
	for i, iv := range tl.Intervals {
		if iv.Start >= warmup-tol {
			w.first, w.start = i, iv.Start.Seconds()
			break
		}
	}
	if w.first < 0 {
		return window{}, fmt.Errorf("no interval of the step started after its %s warmup (it ran %.1fs)", warmup, rep.DurationS)
	}
	end := (warmup + hold).Seconds()
	if rep.EndReason != report.EndCompleted {
		end = min(end, rep.DurationS)
	}
	w.dur = end - w.start
	if w.dur <= 0 {
		return window{}, fmt.Errorf("the step stopped %.1fs in, before its hold window", rep.DurationS)
	}
	w.gauge = w.first
	for w.gauge < tl.Len() && tl.Intervals[w.gauge].End.Seconds() < end-tol.Seconds() {
		w.gauge++
	}
	if w.gauge == w.first {
		// A hold shorter than one interval: its one sample will do.
		w.gauge = w.first + 1
	}
	return w, nil
}

// gauges returns the intervals whose gauges count.
func (w window) gauges() []*metrics.Interval {
	return w.tl.Intervals[w.first:min(w.gauge, w.tl.Len())]
}

// meanActive returns the mean number of open connections at the ends of
// the window's intervals.
func (w window) meanActive() float64 {
	g := w.gauges()
	if len(g) == 0 {
		return 0
	}
	var sum float64
	for _, iv := range g {
		sum += float64(iv.Active)
	}
	return sum / float64(len(g))
}

// meanCPU returns the generator's mean CPU use (100 = one core) over the
// window.
func (w window) meanCPU() float64 {
	g := w.gauges()
	if len(g) == 0 {
		return 0
	}
	var sum float64
	for _, iv := range g {
		sum += iv.CPUPercent
	}
	return sum / float64(len(g))
}

// windowReport returns the report the step is judged on: rep cut down to
// its hold window. Latency metrics are merged from the window's interval
// histograms and every counter is summed over the window's intervals,
// except sends intended, which are capped at the whole step's count so a
// sends-achieved ratio stays meaningful. The generator section and
// broadcast results are the whole step's. arrivalRate is the open
// schedule's rate during the hold (0 for a closed profile): arrivals
// achieved are that rate less the window's drops.
func windowReport(rep *report.Report, w window, arrivalRate float64) (*report.Report, error) {
	out := *rep
	out.DurationS = w.dur
	out.Thresholds, out.Passed, out.Capacity = nil, nil, nil

	names := slices.Clone(w.names)
	for name := range rep.Metrics {
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	sum, err := w.tl.Sum(names, w.first, w.tl.Len())
	if err != nil {
		return nil, fmt.Errorf("hold window: %w", err)
	}
	out.Metrics = map[string]*report.Metric{}
	for id, name := range sum.Names() {
		if name == "schedule_lag" {
			continue // generator health, not a metric of the target
		}
		m, err := report.NewMetric(sum.Hists[id])
		if err != nil {
			return nil, fmt.Errorf("metric %s: %w", name, err)
		}
		out.Metrics[name] = m
	}

	c := sum.Counters
	c.SendsIntended = min(rep.Counters.SendsIntended, c.MessagesSent+c.SendsDropped)
	c.Normalize()
	out.Counters = c

	var peak int64
	for _, iv := range w.gauges() {
		peak = max(peak, iv.Active)
	}
	out.Rates = report.RatesOf(&c, w.dur)
	out.Rates.PeakConnections = peak
	if arrivalRate > 0 {
		c.SessionsIntended = int64(arrivalRate*w.dur + 0.5)
		out.Counters.SessionsIntended = c.SessionsIntended
		out.Rates.SessionsIntendedPerS = arrivalRate
		out.Rates.SessionsAchievedPerS = max(0, arrivalRate-float64(c.SessionsDropped)/w.dur)
	} else {
		out.Rates.SessionsIntendedPerS, out.Rates.SessionsAchievedPerS = 0, 0
	}
	if out.Series, err = report.SeriesOf(w.tl.Slice(w.first, w.tl.Len())); err != nil {
		return nil, err
	}
	return &out, nil
}
