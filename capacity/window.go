package capacity

import (
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/report"
)

// window is the hold window of one step's time series: the intervals that
// start after the warmup.
type window struct {
	s     *report.Series
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
	s := rep.Series
	if s == nil || s.Len() == 0 {
		return window{}, errors.New("the step's report has no time series")
	}
	tol := min(s.IntervalS/4, 0.02)
	w := window{s: s, first: -1}
	for i := range s.T {
		start := 0.0
		if i > 0 {
			start = s.T[i-1]
		}
		if start >= warmup.Seconds()-tol {
			w.first, w.start = i, start
			break
		}
	}
	if w.first < 0 {
		return window{}, fmt.Errorf("no interval of the step started after its %s warmup (it ran %.1fs)", warmup, rep.DurationS)
	}
	end := warmup.Seconds() + hold.Seconds()
	if rep.EndReason != report.EndCompleted {
		end = min(end, rep.DurationS)
	}
	w.dur = end - w.start
	if w.dur <= 0 {
		return window{}, fmt.Errorf("the step stopped %.1fs in, before its hold window", rep.DurationS)
	}
	w.gauge = w.first
	for w.gauge < s.Len() && s.T[w.gauge] < end-tol {
		w.gauge++
	}
	if w.gauge == w.first {
		// A hold shorter than one interval: its one sample will do.
		w.gauge = w.first + 1
	}
	return w, nil
}

func (w window) sum(col []int64) int64 {
	var n int64
	for i := w.first; i < len(col); i++ {
		n += col[i]
	}
	return n
}

func (w window) sumKeyed(cols map[string][]int64) map[string]int64 {
	out := map[string]int64{}
	for k, col := range cols {
		if n := w.sum(col); n > 0 {
			out[k] = n
		}
	}
	return out
}

// meanActive returns the mean number of open connections at the ends of
// the window's intervals.
func (w window) meanActive() float64 {
	var sum float64
	n := 0
	for i := w.first; i < w.gauge && i < len(w.s.Active); i++ {
		sum += float64(w.s.Active[i])
		n++
	}
	if n == 0 {
		return 0
	}
	return sum / float64(n)
}

// meanCPU returns the generator's mean CPU use (100 = one core) over the
// window.
func (w window) meanCPU() float64 {
	var sum float64
	n := 0
	for i := w.first; i < w.gauge && i < len(w.s.CPUPercent); i++ {
		sum += w.s.CPUPercent[i]
		n++
	}
	if n == 0 {
		return 0
	}
	return sum / float64(n)
}

// windowReport returns the report the step is judged on: rep cut down to
// its hold window. Latency metrics are merged from the window's interval
// histograms; the counters the series carries (connects, failures,
// disconnects, messages, bytes, errors by cause, closes by code, drops)
// are summed over the window, and every other counter (sessions, replies
// missing, pings, push, errors by step) is the whole step's. Sends
// intended are the window's sends plus dropped sends, capped at the whole
// step's count, so that a sends-achieved ratio stays meaningful. The
// generator section and broadcast results are the whole step's.
// arrivalRate is the open schedule's rate during the hold (0 for a closed
// profile): arrivals achieved are that rate less the window's drops.
func windowReport(rep *report.Report, w window, arrivalRate float64) (*report.Report, error) {
	s := w.s
	out := *rep
	out.DurationS = w.dur
	out.Thresholds, out.Passed, out.Capacity = nil, nil, nil

	out.Metrics = map[string]*report.Metric{}
	names := map[string]bool{}
	for name := range rep.Metrics {
		names[name] = true
	}
	for name := range s.Latency {
		names[name] = true
	}
	delete(names, "schedule_lag") // generator health, not a metric of the target
	for name := range names {
		h := metrics.NewHistogram()
		if ls := s.Latency[name]; ls != nil {
			for i := w.first; i < len(ls.HDR); i++ {
				if ls.HDR[i] == "" {
					continue
				}
				ih, err := metrics.DecodeHistogram(ls.HDR[i])
				if err != nil {
					return nil, fmt.Errorf("metric %s, interval %d: %w", name, i, err)
				}
				h.Merge(ih)
			}
		}
		m, err := report.NewMetric(h)
		if err != nil {
			return nil, fmt.Errorf("metric %s: %w", name, err)
		}
		out.Metrics[name] = m
	}

	c := rep.Counters // the whole step's, for what the series lacks
	c.ConnectsOK = w.sum(s.Connects)
	c.ConnectsFailed = w.sum(s.ConnectFailures)
	c.ConnectsAttempted = c.ConnectsOK + c.ConnectsFailed
	c.Disconnects = w.sum(s.Disconnects)
	c.MessagesSent = w.sum(s.Sent)
	c.MessagesReceived = w.sum(s.Received)
	c.BytesSent = w.sum(s.BytesSent)
	c.BytesReceived = w.sum(s.BytesReceived)
	c.SendsDropped = w.sum(s.SendsDropped)
	c.SessionsDropped = w.sum(s.SessionsDropped)
	c.SendsIntended = min(rep.Counters.SendsIntended, c.MessagesSent+c.SendsDropped)
	c.ErrorsByCause = w.sumKeyed(s.ErrorsBy)
	c.ClosesByCode = w.sumKeyed(s.DisconnectsBy)
	c.ClosesByInitiator = maps.Clone(rep.Counters.ClosesByInitiator)
	c.ErrorsByStep = maps.Clone(rep.Counters.ErrorsByStep)
	// The wire byte counts are not in the series: scale the step's by the
	// window's share of payload bytes rather than report the whole step's.
	c.WireBytesSent = scale(rep.Counters.WireBytesSent, c.BytesSent, rep.Counters.BytesSent)
	c.WireBytesReceived = scale(rep.Counters.WireBytesReceived, c.BytesReceived, rep.Counters.BytesReceived)
	c.Normalize()
	out.Counters = c

	var peak int64
	for i := w.first; i < w.gauge && i < len(s.Active); i++ {
		peak = max(peak, s.Active[i])
	}
	out.Rates = report.Rates{
		SendsIntendedPerS: float64(c.SendsIntended) / w.dur,
		SendsAchievedPerS: float64(c.MessagesSent) / w.dur,
		ReceivedPerS:      float64(c.MessagesReceived) / w.dur,
		ConnectsPerS:      float64(c.ConnectsOK) / w.dur,
		PeakConnections:   peak,
	}
	if arrivalRate > 0 {
		c.SessionsIntended = int64(arrivalRate*w.dur + 0.5)
		out.Counters.SessionsIntended = c.SessionsIntended
		out.Rates.SessionsIntendedPerS = arrivalRate
		out.Rates.SessionsAchievedPerS = max(0, arrivalRate-float64(c.SessionsDropped)/w.dur)
	}
	out.Series = w.slice()
	return &out, nil
}

func scale(whole, part, of int64) int64 {
	if of <= 0 {
		return 0
	}
	return int64(float64(whole) * float64(part) / float64(of))
}

// slice returns the window's part of the series.
func (w window) slice() *report.Series {
	s, i := w.s, w.first
	out := &report.Series{
		IntervalS:       s.IntervalS,
		T:               s.T[i:],
		Active:          tail(s.Active, i),
		Connects:        tail(s.Connects, i),
		ConnectFailures: tail(s.ConnectFailures, i),
		Disconnects:     tail(s.Disconnects, i),
		Sent:            tail(s.Sent, i),
		Received:        tail(s.Received, i),
		BytesSent:       tail(s.BytesSent, i),
		BytesReceived:   tail(s.BytesReceived, i),
		Errors:          tail(s.Errors, i),
		SendsDropped:    tail(s.SendsDropped, i),
		SessionsDropped: tail(s.SessionsDropped, i),
		CPUPercent:      tail(s.CPUPercent, i),
		Latency:         map[string]*report.LatencySeries{},
	}
	for name, ls := range s.Latency {
		out.Latency[name] = &report.LatencySeries{
			Count: tail(ls.Count, i), P50: tail(ls.P50, i), P90: tail(ls.P90, i),
			P99: tail(ls.P99, i), Max: tail(ls.Max, i), HDR: tail(ls.HDR, i),
		}
	}
	if s.DisconnectsBy != nil {
		out.DisconnectsBy = map[string][]int64{}
		for k, col := range s.DisconnectsBy {
			out.DisconnectsBy[k] = tail(col, i)
		}
	}
	if s.ErrorsBy != nil {
		out.ErrorsBy = map[string][]int64{}
		for k, col := range s.ErrorsBy {
			out.ErrorsBy[k] = tail(col, i)
		}
	}
	return out
}

func tail[T any](col []T, i int) []T {
	if i >= len(col) {
		return nil
	}
	return col[i:]
}
