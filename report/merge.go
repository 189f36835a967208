package report

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/wsbench/wsbench/metrics"
)

// maxMergedIntervals bounds the merged time series: reports hours apart at
// a one-second interval would otherwise make a series mostly of gaps.
const maxMergedIntervals = 1_000_000

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
	}
	out.Counters.Normalize()

	var err error
	if out.Generator, err = mergeGenerators(rs, multi); err != nil {
		return nil, fmt.Errorf("merge: %w", err)
	}
	out.Broadcast = mergeBroadcast(rs, start)
	out.Phases = mergePhases(rs, start)
	if out.Series, err = mergeSeries(rs, start); err != nil {
		return nil, fmt.Errorf("merge: %w", err)
	}

	out.Rates = mergeRates(&out.Counters, out.DurationS)
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

// mergeRates computes the per-second rates of counters c over durationS, as
// the engine does.
func mergeRates(c *metrics.Counters, durationS float64) Rates {
	if durationS <= 0 {
		return Rates{}
	}
	return Rates{
		SessionsIntendedPerS: float64(c.SessionsIntended) / durationS,
		SessionsAchievedPerS: float64(c.SessionsIntended-c.SessionsDropped) / durationS,
		SendsIntendedPerS:    float64(c.SendsIntended) / durationS,
		SendsAchievedPerS:    float64(c.MessagesSent) / durationS,
		ReceivedPerS:         float64(c.MessagesReceived) / durationS,
		ConnectsPerS:         float64(c.ConnectsOK) / durationS,
	}
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
	var h *hdr.Histogram
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
			return nil, fmt.Errorf("%d values out of range", dropped)
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

// mergeSeries aligns the inputs' series on the wall clock from origin.
func mergeSeries(rs []*Report, origin time.Time) (*Series, error) {
	step := 0.0
	for _, r := range rs {
		if r.Series == nil {
			return nil, nil
		}
		if r.Series.IntervalS <= 0 && r.Series.Len() > 0 {
			return nil, fmt.Errorf("series with interval %gs", r.Series.IntervalS)
		}
		step = max(step, r.Series.IntervalS)
	}
	// Where each input interval lands: the merged interval its start falls
	// in. Intervals start at the previous tick, so starts are regular even
	// when the last interval of a run (the drain) is long; a quarter of an
	// interval of slack absorbs ticker jitter.
	buckets := make([][]int, len(rs))
	ends := map[int]float64{}
	n := 0
	for k, r := range rs {
		s := r.Series
		off := r.StartedAt.Sub(origin).Seconds()
		buckets[k] = make([]int, s.Len())
		prev := 0.0
		for i, t := range s.T {
			j := max(0, int(math.Floor((off+prev)/step+0.25*s.IntervalS/step)))
			buckets[k][i] = j
			ends[j] = max(ends[j], off+t)
			n = max(n, j+1)
			prev = t
		}
	}
	if n > maxMergedIntervals {
		return nil, fmt.Errorf("the reports are too far apart in time: the merged series would have %d intervals of %gs", n, step)
	}

	// An interval ends when the last input interval in it ends; an empty
	// one at its nominal end.
	out := NewSeries(step)
	out.T = make([]float64, n)
	for j := range out.T {
		t, ok := ends[j]
		if !ok {
			t = float64(j+1) * step
		}
		if j > 0 && t < out.T[j-1] {
			t = out.T[j-1]
		}
		out.T[j] = t
	}
	cols := []struct {
		dst *[]int64
		src func(*Series) []int64
	}{
		{&out.Connects, func(s *Series) []int64 { return s.Connects }},
		{&out.ConnectFailures, func(s *Series) []int64 { return s.ConnectFailures }},
		{&out.Disconnects, func(s *Series) []int64 { return s.Disconnects }},
		{&out.Sent, func(s *Series) []int64 { return s.Sent }},
		{&out.Received, func(s *Series) []int64 { return s.Received }},
		{&out.BytesSent, func(s *Series) []int64 { return s.BytesSent }},
		{&out.BytesReceived, func(s *Series) []int64 { return s.BytesReceived }},
		{&out.Errors, func(s *Series) []int64 { return s.Errors }},
		{&out.SendsDropped, func(s *Series) []int64 { return s.SendsDropped }},
		{&out.SessionsDropped, func(s *Series) []int64 { return s.SessionsDropped }},
	}
	for _, c := range cols {
		*c.dst = make([]int64, n)
		for k, r := range rs {
			src := c.src(r.Series)
			for i, j := range buckets[k] {
				(*c.dst)[j] += mergeAt(src, i)
			}
		}
	}

	// Active is a level, not a count: each input contributes its value at
	// the end of the merged interval (its last interval in it). CPU is a
	// rate: each input contributes its mean over the merged interval.
	out.Active = make([]int64, n)
	out.CPUPercent = make([]float64, n)
	for k, r := range rs {
		s := r.Series
		last := make([]int64, n)
		cpu := make([]float64, n)
		cnt := make([]int, n)
		for i, j := range buckets[k] {
			last[j] = mergeAt(s.Active, i)
			if i < len(s.CPUPercent) {
				cpu[j] += s.CPUPercent[i]
				cnt[j]++
			}
		}
		for j := range n {
			out.Active[j] += last[j]
			if cnt[j] > 0 {
				out.CPUPercent[j] += cpu[j] / float64(cnt[j])
			}
		}
	}

	out.DisconnectsBy = mergeKeyed(rs, buckets, n, func(s *Series) map[string][]int64 { return s.DisconnectsBy })
	out.ErrorsBy = mergeKeyed(rs, buckets, n, func(s *Series) map[string][]int64 { return s.ErrorsBy })

	var names []string
	for _, r := range rs {
		for name := range r.Series.Latency {
			if !slices.Contains(names, name) {
				names = append(names, name)
			}
		}
	}
	for _, name := range names {
		ls, err := mergeLatencySeries(rs, buckets, n, name)
		if err != nil {
			return nil, fmt.Errorf("series %q: %w", name, err)
		}
		out.Latency[name] = ls
	}
	return out, nil
}

func mergeAt[T any](col []T, i int) T {
	if i < len(col) {
		return col[i]
	}
	var zero T
	return zero
}

func mergeKeyed(rs []*Report, buckets [][]int, n int, get func(*Series) map[string][]int64) map[string][]int64 {
	var out map[string][]int64
	for k, r := range rs {
		for key, col := range get(r.Series) {
			if out == nil {
				out = map[string][]int64{}
			}
			dst := out[key]
			if dst == nil {
				dst = make([]int64, n)
				out[key] = dst
			}
			for i, j := range buckets[k] {
				dst[j] += mergeAt(col, i)
			}
		}
	}
	return out
}

// mergeLatencySeries merges one latency metric's interval histograms into
// the merged intervals. An interval fed by a single input keeps that
// input's histogram and statistics as they are.
func mergeLatencySeries(rs []*Report, buckets [][]int, n int, name string) (*LatencySeries, error) {
	srcs := make([][]string, n)
	only := make([]*LatencySeries, n) // the single source of an interval
	onlyIdx := make([]int, n)
	for k, r := range rs {
		ls := r.Series.Latency[name]
		if ls == nil {
			continue
		}
		for i, j := range buckets[k] {
			enc := mergeAt(ls.HDR, i)
			if enc == "" {
				if mergeAt(ls.Count, i) > 0 {
					return nil, errors.New("an interval has samples but no histogram, so it cannot be merged exactly")
				}
				continue
			}
			srcs[j] = append(srcs[j], enc)
			only[j], onlyIdx[j] = ls, i
		}
	}
	out := &LatencySeries{}
	out.pad(n)
	for j, encs := range srcs {
		switch len(encs) {
		case 0:
			continue
		case 1:
			ls, i := only[j], onlyIdx[j]
			out.Count[j], out.P50[j], out.P90[j], out.P99[j], out.Max[j], out.HDR[j] =
				mergeAt(ls.Count, i), mergeAt(ls.P50, i), mergeAt(ls.P90, i), mergeAt(ls.P99, i), mergeAt(ls.Max, i), encs[0]
			continue
		}
		h := metrics.NewHistogram()
		for _, enc := range encs {
			part, err := metrics.DecodeHistogram(enc)
			if err != nil {
				return nil, err
			}
			h.Merge(part)
		}
		m := Summarize(h)
		enc, err := metrics.EncodeHistogram(h)
		if err != nil {
			return nil, err
		}
		out.Count[j], out.P50[j], out.P90[j], out.P99[j], out.Max[j], out.HDR[j] = m.Count, m.P50US, m.P90US, m.P99US, m.MaxUS, enc
	}
	return out, nil
}
