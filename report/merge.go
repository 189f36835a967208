package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wsbench/wsbench/metrics"
)

// ScenarioMismatch returns an error saying how the scenarios of rs differ
// when they are not the same scenario: different names, or the same name
// with different flows. Load profiles (phases) may differ, because
// generators that share a run each run their share of the clients. Merge
// does not call it: a caller merging on purpose (wsbench merge --force)
// may combine anything; the merged report carries the first report's
// scenario and thresholds.
func ScenarioMismatch(rs ...*Report) error {
	if len(rs) < 2 {
		return nil
	}
	first := embeddedScenario(rs[0])
	var names []string
	for _, r := range rs {
		n := embeddedScenario(r).name()
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	if len(names) > 1 {
		return fmt.Errorf("the reports are of different scenarios (%s)", strings.Join(names, ", "))
	}
	for i, r := range rs[1:] {
		if !jsonEqual(embeddedScenario(r).Flows, first.Flows) {
			return fmt.Errorf("report %d's scenario %s has different flows from report 1's", i+2, first.name())
		}
	}
	return nil
}

// scenarioHead is the part of a report's embedded scenario that says
// which scenario it is.
type scenarioHead struct {
	Name   string          `json:"name"`
	Flows  json.RawMessage `json:"flows"`
	Phases json.RawMessage `json:"phases"`
}

func embeddedScenario(r *Report) scenarioHead {
	var h scenarioHead
	if len(r.Scenario) > 0 {
		_ = json.Unmarshal(r.Scenario, &h)
	}
	return h
}

// name quotes the scenario's name for a message.
func (h scenarioHead) name() string {
	if h.Name == "" {
		return "(no scenario)"
	}
	return strconv.Quote(h.Name)
}

// jsonEqual compares two JSON values by content, not by spelling.
func jsonEqual(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return bytes.Equal(a, b)
	}
	return reflect.DeepEqual(x, y)
}

// Merge combines the reports of runs made at the same time from several
// generators (or one after another) into one report, exactly: histograms
// are merged count for count and re-summarised, counters added, and rates
// recomputed over the merged duration.
//
//   - The merged run starts at the earliest start and lasts until the
//     latest end.
//   - Time series are aligned by wall clock (StartedAt + T): each interval
//     goes to the merged interval holding its midpoint, counts are summed,
//     interval histograms merged (so interval percentiles are exact),
//     active connections summed and generator CPU summed. When the inputs'
//     intervals differ, the merged series uses the coarsest. If any input
//     has no series, the merged report has none.
//   - Broadcast results are summed per room pattern and reach recomputed;
//     their intervals are aligned by wall clock like the series (at the
//     coarsest interval) and dropped when an input lacks them.
//   - Phases of the same name that line up in time are summed; others are
//     listed side by side.
//   - The generator is the worst of the inputs: unreliable if any was, with
//     each reason prefixed by its source; CPU from the busiest input; GC,
//     CPU time summed; schedule lag histograms merged.
//   - EndReason is the worst (failed > aborted > interrupted > completed).
//   - Thresholds are left empty for the caller to re-evaluate; capacity,
//     baseline and server observations do not merge and are dropped.
//   - MergedFrom lists the sources ("host@start"), flattened through
//     merges of merges; a single report keeps its own.
//
// Merge is associative, and merging one report yields the same data. All
// inputs must have the same schema version and carry their histograms.
func Merge(rs ...*Report) (*Report, error) {
	if len(rs) == 0 {
		return nil, errors.New("merge: no reports")
	}
	for i, r := range rs {
		if r == nil {
			return nil, fmt.Errorf("merge: report %d is nil", i+1)
		}
		if r.Schema != rs[0].Schema {
			return nil, fmt.Errorf("merge: report %d has schema %q, report 1 has %q: merge reports written by the same wsbench version", i+1, r.Schema, rs[0].Schema)
		}
	}

	var sources []string
	for _, r := range rs {
		sources = append(sources, mergeSources(r)...)
	}
	multi := len(sources) > 1

	start, end := rs[0].StartedAt, mergeEnd(rs[0])
	for _, r := range rs[1:] {
		if r.StartedAt.Before(start) {
			start = r.StartedAt
		}
		if e := mergeEnd(r); e.After(end) {
			end = e
		}
	}

	out := &Report{
		Schema:      rs[0].Schema,
		StartedAt:   start,
		DurationS:   end.Sub(start).Seconds(),
		Target:      mergeJoinDistinct(rs, ", ", func(r *Report) string { return r.Target }),
		Scenario:    rs[0].Scenario,
		Metrics:     map[string]*Metric{},
		Environment: rs[0].Environment,
	}
	out.Environment.Hostname = mergeJoinDistinct(rs, ",", func(r *Report) string { return r.Environment.Hostname })
	if multi {
		out.MergedFrom = sources
	} else {
		out.MergedFrom = rs[0].MergedFrom
	}

	// End reason: the worst, with the details of the inputs that had it.
	for _, r := range rs {
		if mergeEndRank(r.EndReason) > mergeEndRank(out.EndReason) {
			out.EndReason = r.EndReason
		}
	}
	var details []string
	for _, r := range rs {
		if r.EndReason != out.EndReason || r.EndDetail == "" {
			continue
		}
		for _, d := range strings.Split(r.EndDetail, "; ") {
			if !slices.Contains(details, d) {
				details = append(details, d)
			}
		}
	}
	out.EndDetail = strings.Join(details, "; ")

	// Latency metrics.
	var names []string
	for _, r := range rs {
		for n := range r.Metrics {
			if !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
	}
	for _, n := range names {
		var ms []*Metric
		for _, r := range rs {
			ms = append(ms, r.Metrics[n])
		}
		m, err := mergeMetrics(ms)
		if err != nil {
			return nil, fmt.Errorf("merge: metric %q: %w", n, err)
		}
		if m != nil {
			out.Metrics[n] = m
		}
	}

	for _, r := range rs {
		out.Counters.Merge(&r.Counters)
		// The first report's message for a cause, as within one run.
		for cause, msg := range r.ErrorExamples {
			if _, ok := out.ErrorExamples[cause]; !ok {
				if out.ErrorExamples == nil {
					out.ErrorExamples = map[string]string{}
				}
				out.ErrorExamples[cause] = msg
			}
		}
	}
	out.Counters.Normalize()

	var err error
	if out.Generator, err = mergeGenerators(rs, multi); err != nil {
		return nil, fmt.Errorf("merge: %w", err)
	}
	if led, ok := mergeLedgers(rs); ok {
		// Every part carries its raw accounting: reach and loss are
		// computed across the parts, and so is the time to the last
		// subscriber, which a per-part histogram cannot give when the
		// publisher and its subscribers ran in different processes.
		complete := metrics.NewHistogram()
		out.Broadcast = led.Results(complete)
		out.Ledger = led
		if complete.TotalCount() > 0 {
			m, err := NewMetric(complete)
			if err != nil {
				return nil, fmt.Errorf("merge: broadcast_complete: %w", err)
			}
			out.Metrics["broadcast_complete"] = m
		} else {
			delete(out.Metrics, "broadcast_complete")
		}
	} else {
		out.Broadcast = mergeBroadcast(rs, start)
	}
	out.TLS = mergeTLS(rs)
	out.Phases = mergePhases(rs, start)
	if out.Series, err = mergeSeries(rs, start); err != nil {
		return nil, fmt.Errorf("merge: %w", err)
	}

	out.Rates = RatesOf(&out.Counters, out.DurationS)
	// Peak connections: the busiest merged interval, but never below a
	// single input's own (finer-grained) peak. Without series, the sum of
	// the peaks is the only bound there is.
	if out.Series != nil {
		for _, a := range out.Series.Active {
			out.Rates.PeakConnections = max(out.Rates.PeakConnections, a)
		}
		for _, r := range rs {
			out.Rates.PeakConnections = max(out.Rates.PeakConnections, r.Rates.PeakConnections)
		}
	} else {
		for _, r := range rs {
			out.Rates.PeakConnections += r.Rates.PeakConnections
		}
	}
	return out, nil
}

// mergeSources names what a report was made from: its own merge sources,
// or itself as "host@start".
func mergeSources(r *Report) []string {
	if len(r.MergedFrom) > 0 {
		return r.MergedFrom
	}
	host := r.Environment.Hostname
	if host == "" {
		host = "unknown"
	}
	return []string{host + "@" + r.StartedAt.UTC().Format(time.RFC3339Nano)}
}

func mergeEnd(r *Report) time.Time {
	return r.StartedAt.Add(time.Duration(math.Round(r.DurationS * 1e9)))
}

func mergeEndRank(reason string) int {
	switch reason {
	case EndCompleted:
		return 1
	case EndInterrupted:
		return 2
	case EndAborted:
		return 3
	case EndFailed:
		return 4
	}
	return 0
}

// mergeJoinDistinct joins the distinct non-empty values of field over rs, each
// split at sep first so merges of merges flatten.
func mergeJoinDistinct(rs []*Report, sep string, field func(*Report) string) string {
	var vals []string
	for _, r := range rs {
		for _, v := range strings.Split(field(r), sep) {
			if v != "" && !slices.Contains(vals, v) {
				vals = append(vals, v)
			}
		}
	}
	return strings.Join(vals, sep)
}

// mergeMetrics merges the histograms of ms (nil entries are absent) and
// summarises the result. A metric with samples but no histogram cannot be
// merged exactly and is an error.
func mergeMetrics(ms []*Metric) (*Metric, error) {
	var h *metrics.Histogram
	for _, m := range ms {
		if m == nil {
			continue
		}
		if m.HDR == "" && m.Count > 0 {
			return nil, errors.New("the report carries its summary but not its histogram, so it cannot be merged exactly")
		}
		mh, err := m.Histogram()
		if err != nil {
			return nil, err
		}
		if h == nil {
			h = mh
		} else if dropped := h.Merge(mh); dropped > 0 {
			return nil, fmt.Errorf("%d samples would overflow the count", dropped)
		}
	}
	if h == nil {
		return nil, nil
	}
	return NewMetric(h)
}

func mergeGenerators(rs []*Report, multi bool) (Generator, error) {
	var g Generator
	busiest := -1.0
	var lags []*Metric
	for _, r := range rs {
		in := &r.Generator
		util := in.CPUPercent
		if in.CPUCapacity > 0 {
			util /= in.CPUCapacity
		}
		if util > busiest {
			busiest = util
			g.CPUPercent, g.CPUPeakPercent, g.CPUCapacity = in.CPUPercent, in.CPUPeakPercent, in.CPUCapacity
		}
		g.UserCPUS += in.UserCPUS
		g.SysCPUS += in.SysCPUS
		g.GCPauses += in.GCPauses
		g.GCPauseTotalMS += in.GCPauseTotalMS
		g.GCPauseMaxUS = max(g.GCPauseMaxUS, in.GCPauseMaxUS)
		g.MaxRSSBytes = max(g.MaxRSSBytes, in.MaxRSSBytes)
		g.FDPeak = max(g.FDPeak, in.FDPeak)
		if in.FDLimit > 0 && (g.FDLimit == 0 || in.FDLimit < g.FDLimit) {
			g.FDLimit = in.FDLimit
		}
		g.Unreliable = g.Unreliable || in.Unreliable
		g.IncludesTarget = g.IncludesTarget || in.IncludesTarget
		prefix := ""
		if multi && len(r.MergedFrom) == 0 {
			prefix = mergeSources(r)[0] + ": "
		}
		for _, why := range in.Reasons {
			g.Reasons = append(g.Reasons, prefix+why)
		}
		lags = append(lags, in.ScheduleLag)
	}
	var err error
	if g.ScheduleLag, err = mergeMetrics(lags); err != nil {
		return g, fmt.Errorf("schedule lag: %w", err)
	}
	return g, nil
}

// mergeLedgers merges the inputs' broadcast ledgers when every input that
// has broadcast results carries one (and at least one does).
func mergeLedgers(rs []*Report) (*Ledger, bool) {
	var ls []*Ledger
	for _, r := range rs {
		switch {
		case r.Ledger != nil:
			ls = append(ls, r.Ledger)
		case len(r.Broadcast) > 0:
			return nil, false
		}
	}
	if len(ls) == 0 {
		return nil, false
	}
	return MergeLedgers(ls...), true
}

// mergeBroadcast sums per-room results: exact only when each input's
// rooms had their publishers and subscribers in that input.
func mergeBroadcast(rs []*Report, origin time.Time) []BroadcastResult {
	var out []BroadcastResult
	idx := map[string]int{}
	// The intervals of each room pattern, with their inputs' offsets from
	// origin, merged once every input is in.
	parts := map[string][]*BroadcastIntervals{}
	offs := map[string][]float64{}
	for _, r := range rs {
		for _, b := range r.Broadcast {
			i, ok := idx[b.Room]
			if !ok {
				idx[b.Room] = len(out)
				out = append(out, BroadcastResult{Room: b.Room})
				i = len(out) - 1
			}
			parts[b.Room] = append(parts[b.Room], b.Intervals)
			offs[b.Room] = append(offs[b.Room], r.StartedAt.Sub(origin).Seconds())
			o := &out[i]
			o.Rooms = max(o.Rooms, b.Rooms)
			o.Published += b.Published
			o.Expected += b.Expected
			o.Delivered += b.Delivered
			o.Lost += b.Lost
			o.Duplicates += b.Duplicates
			o.Reordered += b.Reordered
			o.Unexpected += b.Unexpected
		}
	}
	for i := range out {
		o := &out[i]
		o.Intervals = mergeBroadcastIntervals(parts[o.Room], offs[o.Room])
		o.Reach, o.Loss = 1, 0
		if o.Expected > 0 {
			o.Reach = float64(o.Delivered) / float64(o.Expected)
			o.Loss = float64(o.Lost) / float64(o.Expected)
		}
	}
	return out
}

// mergePhases shifts every phase to the merged start and sums phases of
// the same name and model that line up (within a second).
func mergePhases(rs []*Report, start time.Time) []PhaseResult {
	var out []PhaseResult
	for _, r := range rs {
		off := r.StartedAt.Sub(start).Seconds()
		for _, p := range r.Phases {
			p.StartS += off
			p.EndS += off
			found := false
			for i := range out {
				o := &out[i]
				if o.Name == p.Name && o.Model == p.Model && math.Abs(o.StartS-p.StartS) < 1 && math.Abs(o.EndS-p.EndS) < 1 {
					o.Target += p.Target
					o.Achieved += p.Achieved
					found = true
					break
				}
			}
			if !found {
				out = append(out, p)
			}
		}
	}
	return out
}

// mergeSeries aligns the inputs' series on the wall clock from origin and
// merges them exactly (metrics.MergeTimelines). If any input has no
// series, the merged report has none.
func mergeSeries(rs []*Report, origin time.Time) (*Series, error) {
	var parts []metrics.Placed
	var names []string
	for _, r := range rs {
		if r.Series == nil {
			return nil, nil
		}
		tl, err := r.Series.Timeline()
		if err != nil {
			return nil, err
		}
		for _, n := range r.Series.MetricNames() {
			if !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
		parts = append(parts, metrics.Placed{Offset: r.StartedAt.Sub(origin), Timeline: tl})
	}
	tl, err := metrics.MergeTimelines(names, parts)
	if err != nil {
		return nil, err
	}
	return SeriesOf(tl)
}
