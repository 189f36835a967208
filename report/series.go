package report

import (
	"fmt"
	"sort"
	"strconv"

	"github.com/wsbench/wsbench/metrics"
)

// NewSeries returns an empty series with the given interval.
func NewSeries(intervalS float64) *Series {
	return &Series{IntervalS: intervalS, Latency: map[string]*LatencySeries{}}
}

// Len returns the number of intervals.
func (s *Series) Len() int { return len(s.T) }

// Append adds one interval: tS is its end in seconds since the start,
// active the open connections at that moment, cpu the generator's CPU use
// in the interval, and iv everything recorded in it.
func (s *Series) Append(tS float64, active int64, cpu float64, iv *metrics.Set) error {
	n := len(s.T)
	c := &iv.Counters
	s.T = append(s.T, tS)
	s.Active = append(s.Active, active)
	s.Connects = append(s.Connects, c.ConnectsOK)
	s.ConnectFailures = append(s.ConnectFailures, c.ConnectsFailed)
	s.Disconnects = append(s.Disconnects, c.Disconnects)
	s.Sent = append(s.Sent, c.MessagesSent)
	s.Received = append(s.Received, c.MessagesReceived)
	s.BytesSent = append(s.BytesSent, c.BytesSent)
	s.BytesReceived = append(s.BytesReceived, c.BytesReceived)
	s.Errors = append(s.Errors, c.Errors())
	s.SendsDropped = append(s.SendsDropped, c.SendsDropped)
	s.SessionsDropped = append(s.SessionsDropped, c.SessionsDropped)
	s.CPUPercent = append(s.CPUPercent, cpu)
	s.DisconnectsBy = appendKeyed(s.DisconnectsBy, c.ClosesByCode, n)
	s.ErrorsBy = appendKeyed(s.ErrorsBy, c.ErrorsByCause, n)

	for id, h := range iv.Hists {
		name := iv.Names()[id]
		ls := s.Latency[name]
		if ls == nil {
			if h.TotalCount() == 0 {
				continue
			}
			ls = &LatencySeries{}
			ls.pad(n)
			s.Latency[name] = ls
		}
		m := Summarize(h)
		enc := ""
		if h.TotalCount() > 0 {
			var err error
			if enc, err = metrics.EncodeHistogram(h); err != nil {
				return err
			}
		}
		ls.Count = append(ls.Count, m.Count)
		ls.P50 = append(ls.P50, m.P50US)
		ls.P90 = append(ls.P90, m.P90US)
		ls.P99 = append(ls.P99, m.P99US)
		ls.Max = append(ls.Max, m.MaxUS)
		ls.HDR = append(ls.HDR, enc)
	}
	// Metrics seen before but silent in this interval still get a column
	// entry, so every slice keeps the length of T.
	for _, ls := range s.Latency {
		ls.pad(n + 1)
	}
	return nil
}

func (ls *LatencySeries) pad(n int) {
	for len(ls.Count) < n {
		ls.Count = append(ls.Count, 0)
		ls.P50 = append(ls.P50, 0)
		ls.P90 = append(ls.P90, 0)
		ls.P99 = append(ls.P99, 0)
		ls.Max = append(ls.Max, 0)
		ls.HDR = append(ls.HDR, "")
	}
}

// appendKeyed appends one interval's counts by key to per-key columns of
// length n, creating columns for new keys padded with zeros.
func appendKeyed(cols map[string][]int64, counts map[string]int64, n int) map[string][]int64 {
	if len(counts) == 0 && cols == nil {
		return nil
	}
	if cols == nil {
		cols = map[string][]int64{}
	}
	for k := range counts {
		if _, ok := cols[k]; !ok {
			cols[k] = make([]int64, n)
		}
	}
	for k, col := range cols {
		cols[k] = append(col, counts[k])
	}
	return cols
}

// SortedKeys returns the keys of a counter map in a stable order: numeric
// keys (close codes) by value, the rest alphabetically.
func SortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, errA := strconv.Atoi(keys[i])
		b, errB := strconv.Atoi(keys[j])
		if errA == nil && errB == nil {
			return a < b
		}
		return keys[i] < keys[j]
	})
	return keys
}

// MaxPoints is the most intervals a finished report's series keeps; a
// longer run is coarsened exactly (see Coarsen), so a six-hour run at one
// second makes a report of a few megabytes, not tens.
const MaxPoints = 3600

// Coarsen merges every k consecutive intervals into one: counts are
// summed, latency statistics recomputed from the merged interval
// histograms, gauges (active connections, CPU) take the interval's last
// value and mean. Nothing is approximated; only the time resolution drops
// to k × IntervalS.
func (s *Series) Coarsen(k int) error {
	n := s.Len()
	if k <= 1 || n == 0 {
		return nil
	}
	groups := (n + k - 1) / k
	out := NewSeries(s.IntervalS * float64(k))
	sum := func(col []int64, g int) int64 {
		var v int64
		for i := g * k; i < min((g+1)*k, n); i++ {
			v += col[i]
		}
		return v
	}
	for g := range groups {
		last := min((g+1)*k, n) - 1
		out.T = append(out.T, s.T[last])
		out.Active = append(out.Active, s.Active[last])
		out.Connects = append(out.Connects, sum(s.Connects, g))
		out.ConnectFailures = append(out.ConnectFailures, sum(s.ConnectFailures, g))
		out.Disconnects = append(out.Disconnects, sum(s.Disconnects, g))
		out.Sent = append(out.Sent, sum(s.Sent, g))
		out.Received = append(out.Received, sum(s.Received, g))
		out.BytesSent = append(out.BytesSent, sum(s.BytesSent, g))
		out.BytesReceived = append(out.BytesReceived, sum(s.BytesReceived, g))
		out.Errors = append(out.Errors, sum(s.Errors, g))
		out.SendsDropped = append(out.SendsDropped, sum(s.SendsDropped, g))
		out.SessionsDropped = append(out.SessionsDropped, sum(s.SessionsDropped, g))
		var cpu float64
		for i := g * k; i <= last; i++ {
			cpu += s.CPUPercent[i]
		}
		out.CPUPercent = append(out.CPUPercent, cpu/float64(last-g*k+1))
		for key, col := range s.DisconnectsBy {
			if out.DisconnectsBy == nil {
				out.DisconnectsBy = map[string][]int64{}
			}
			out.DisconnectsBy[key] = append(out.DisconnectsBy[key], sum(col, g))
		}
		for key, col := range s.ErrorsBy {
			if out.ErrorsBy == nil {
				out.ErrorsBy = map[string][]int64{}
			}
			out.ErrorsBy[key] = append(out.ErrorsBy[key], sum(col, g))
		}
		for name, ls := range s.Latency {
			h := metrics.NewHistogram()
			for i := g * k; i <= last; i++ {
				if ls.HDR[i] == "" {
					continue
				}
				part, err := metrics.DecodeHistogram(ls.HDR[i])
				if err != nil {
					return fmt.Errorf("coarsen %s: %w", name, err)
				}
				h.Merge(part)
			}
			o := out.Latency[name]
			if o == nil {
				o = &LatencySeries{}
				out.Latency[name] = o
			}
			m := Summarize(h)
			enc := ""
			if h.TotalCount() > 0 {
				var err error
				if enc, err = metrics.EncodeHistogram(h); err != nil {
					return err
				}
			}
			o.Count = append(o.Count, m.Count)
			o.P50 = append(o.P50, m.P50US)
			o.P90 = append(o.P90, m.P90US)
			o.P99 = append(o.P99, m.P99US)
			o.Max = append(o.Max, m.MaxUS)
			o.HDR = append(o.HDR, enc)
		}
	}
	*s = *out
	return nil
}

// Compact coarsens s so it has at most MaxPoints intervals.
func (s *Series) Compact() error {
	if s.Len() <= MaxPoints {
		return nil
	}
	return s.Coarsen((s.Len() + MaxPoints - 1) / MaxPoints)
}
