package report

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"time"

	"github.com/wsbench/wsbench/metrics"
)

// A run keeps its time series as a metrics.Timeline: intervals as data,
// each a metrics.Set and its gauges. Series is the Timeline's JSON form,
// column-oriented because that is compact and what chart libraries
// consume. The two convert both ways exactly: SeriesOf encodes (the only
// place interval histograms are encoded), Series.Timeline decodes. Every
// computation over intervals (windows, coarsening, merging, rates) is done
// on Timelines.

// NewSeries returns an empty series with the given interval.
func NewSeries(intervalS float64) *Series {
	return &Series{IntervalS: intervalS, Latency: map[string]*LatencySeries{}}
}

// Len returns the number of intervals.
func (s *Series) Len() int { return len(s.T) }

// seriesColumns are the counters with a named column of their own (the
// schema's first version); every other counter goes into Series.Counters.
var seriesColumns = []struct {
	counter string
	col     func(*Series) *[]int64
}{
	{"connects_ok", func(s *Series) *[]int64 { return &s.Connects }},
	{"connects_failed", func(s *Series) *[]int64 { return &s.ConnectFailures }},
	{"disconnects", func(s *Series) *[]int64 { return &s.Disconnects }},
	{"messages_sent", func(s *Series) *[]int64 { return &s.Sent }},
	{"messages_received", func(s *Series) *[]int64 { return &s.Received }},
	{"bytes_sent", func(s *Series) *[]int64 { return &s.BytesSent }},
	{"bytes_received", func(s *Series) *[]int64 { return &s.BytesReceived }},
	{"sends_dropped", func(s *Series) *[]int64 { return &s.SendsDropped }},
	{"sessions_dropped", func(s *Series) *[]int64 { return &s.SessionsDropped }},
}

// seriesFamilies are the keyed counters with a field of their own.
var seriesFamilies = []struct {
	family string
	col    func(*Series) *map[string][]int64
}{
	{"closes_by_code", func(s *Series) *map[string][]int64 { return &s.DisconnectsBy }},
	{"errors_by_cause", func(s *Series) *map[string][]int64 { return &s.ErrorsBy }},
}

func namedColumn(name string) (func(*Series) *[]int64, bool) {
	for _, c := range seriesColumns {
		if c.counter == name {
			return c.col, true
		}
	}
	return nil, false
}

func namedFamily(name string) (func(*Series) *map[string][]int64, bool) {
	for _, f := range seriesFamilies {
		if f.family == name {
			return f.col, true
		}
	}
	return nil, false
}

// SeriesOf returns the JSON form of tl, encoding every interval histogram.
func SeriesOf(tl *metrics.Timeline) (*Series, error) {
	s := NewSeries(tl.Step.Seconds())
	for _, iv := range tl.Intervals {
		if err := s.appendInterval(iv); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Append adds one interval to the series: tS is its end in seconds since
// the start (it begins where the previous one ended), active the open
// connections at that moment, cpu the generator's CPU use in it and set
// everything recorded in it. A run builds a metrics.Timeline and converts
// it once (SeriesOf); Append is for tools that build a report by hand.
func (s *Series) Append(tS float64, active int64, cpu float64, set *metrics.Set) error {
	var start time.Duration
	if n := s.Len(); n > 0 {
		start = seconds(s.T[n-1])
	}
	return s.appendInterval(&metrics.Interval{Start: start, End: seconds(tS), Set: set, Active: active, CPUPercent: cpu})
}

// appendInterval adds iv as the series' next interval. A column appears
// when its counter or metric is first non-zero, padded with zeros before.
func (s *Series) appendInterval(iv *metrics.Interval) error {
	n := s.Len()
	s.T = append(s.T, iv.End.Seconds())
	s.Active = append(s.Active, iv.Active)
	s.CPUPercent = append(s.CPUPercent, iv.CPUPercent)
	c := &iv.Set.Counters
	s.Errors = append(s.Errors, c.Errors())
	for _, k := range metrics.CounterList() {
		v := k.Get(c)
		if col, ok := namedColumn(k.Name); ok {
			*col(s) = append(padTo(*col(s), n), v)
			continue
		}
		if v == 0 && s.Counters[k.Name] == nil {
			continue
		}
		if s.Counters == nil {
			s.Counters = map[string][]int64{}
		}
		s.Counters[k.Name] = append(padTo(s.Counters[k.Name], n), v)
	}
	for _, f := range metrics.FamilyList() {
		var cols *map[string][]int64
		if get, ok := namedFamily(f.Name); ok {
			cols = get(s)
		} else {
			if len(f.Get(c)) == 0 && s.Keyed[f.Name] == nil {
				continue
			}
			if s.Keyed == nil {
				s.Keyed = map[string]map[string][]int64{}
			}
			m := s.Keyed[f.Name]
			if m == nil {
				m = map[string][]int64{}
				s.Keyed[f.Name] = m
			}
			cols = &m
		}
		for key, v := range f.Get(c) {
			if v == 0 {
				continue
			}
			if *cols == nil {
				*cols = map[string][]int64{}
			}
			(*cols)[key] = append(padTo((*cols)[key], n), v)
		}
		for key, col := range *cols {
			(*cols)[key] = padTo(col, n+1)
		}
	}
	for name, col := range s.Counters {
		s.Counters[name] = padTo(col, n+1)
	}
	for id, h := range iv.Set.Hists {
		name := iv.Set.Names()[id]
		ls := s.Latency[name]
		if h.TotalCount() == 0 {
			continue
		}
		if ls == nil {
			ls = &LatencySeries{}
			s.Latency[name] = ls
		}
		ls.pad(n)
		m := Summarize(h)
		enc, err := metrics.EncodeHistogram(h)
		if err != nil {
			return fmt.Errorf("series %s, interval %d: %w", name, n, err)
		}
		ls.Count = append(ls.Count, m.Count)
		ls.P50 = append(ls.P50, m.P50US)
		ls.P90 = append(ls.P90, m.P90US)
		ls.P99 = append(ls.P99, m.P99US)
		ls.Max = append(ls.Max, m.MaxUS)
		ls.HDR = append(ls.HDR, enc)
	}
	// Metrics seen before but silent in this interval still get an entry,
	// so every column keeps the length of T.
	for _, ls := range s.Latency {
		ls.pad(n + 1)
	}
	return nil
}

func padTo(col []int64, n int) []int64 {
	for len(col) < n {
		col = append(col, 0)
	}
	return col
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

// MetricNames returns the latency metrics the series has, sorted.
func (s *Series) MetricNames() []string {
	return SortedKeys(s.Latency)
}

// Timeline decodes s into intervals, validating every histogram. Counters
// the series does not carry per interval (a report of an older wsbench)
// are zero in the intervals; the errors column without a cause is kept as
// cause "unknown" so error counts stay exact.
func (s *Series) Timeline() (*metrics.Timeline, error) {
	n := s.Len()
	if n > 0 && (s.IntervalS <= 0 || math.IsNaN(s.IntervalS) || math.IsInf(s.IntervalS, 0)) {
		return nil, fmt.Errorf("series: interval %gs", s.IntervalS)
	}
	tl := &metrics.Timeline{Step: seconds(s.IntervalS), Intervals: make([]*metrics.Interval, n)}
	names := s.MetricNames()
	var prev time.Duration
	for i := range n {
		end := seconds(s.T[i])
		if end < prev || math.IsNaN(s.T[i]) {
			return nil, fmt.Errorf("series: interval %d ends at %gs, before the one before it", i, s.T[i])
		}
		iv := &metrics.Interval{Start: prev, End: end, Set: metrics.NewSetNames(names), Active: at(s.Active, i), CPUPercent: at(s.CPUPercent, i)}
		prev = end
		c := &iv.Set.Counters
		for _, col := range seriesColumns {
			k, _ := metrics.LookupCounter(col.counter)
			k.Add(c, at(*col.col(s), i))
		}
		for name, col := range s.Counters {
			k, ok := metrics.LookupCounter(name)
			if !ok {
				return nil, fmt.Errorf("series: unknown counter %q", name)
			}
			if _, named := namedColumn(name); named {
				return nil, fmt.Errorf("series: counter %q twice", name)
			}
			k.Add(c, at(col, i))
		}
		for _, fc := range seriesFamilies {
			f, _ := metrics.LookupFamily(fc.family)
			for key, col := range *fc.col(s) {
				if v := at(col, i); v != 0 {
					f.Add(c, key, v)
				}
			}
		}
		for name, keys := range s.Keyed {
			f, ok := metrics.LookupFamily(name)
			if !ok {
				return nil, fmt.Errorf("series: unknown counter family %q", name)
			}
			if _, named := namedFamily(name); named {
				return nil, fmt.Errorf("series: counter family %q twice", name)
			}
			for key, col := range keys {
				if v := at(col, i); v != 0 {
					f.Add(c, key, v)
				}
			}
		}
		if missing := at(s.Errors, i) - c.Errors(); missing > 0 {
			f, _ := metrics.LookupFamily("errors_by_cause")
			f.Add(c, "unknown", missing)
		}
		for id, name := range names {
			ls := s.Latency[name]
			enc := at(ls.HDR, i)
			if enc == "" {
				if at(ls.Count, i) > 0 {
					return nil, fmt.Errorf("series %s, interval %d: %d samples but no histogram", name, i, at(ls.Count, i))
				}
				continue
			}
			h, err := metrics.DecodeHistogram(enc)
			if err != nil {
				return nil, fmt.Errorf("series %s, interval %d: %w", name, i, err)
			}
			iv.Set.Hists[id] = h
		}
		tl.Intervals[i] = iv
	}
	return tl, nil
}

func at[T any](col []T, i int) T {
	if i < len(col) {
		return col[i]
	}
	var zero T
	return zero
}

// keysByCount returns the keys of a counter map, largest count first;
// equal counts in SortedKeys order.
func keysByCount(m map[string]int64) []string {
	keys := SortedKeys(m)
	sort.SliceStable(keys, func(i, j int) bool { return m[keys[i]] > m[keys[j]] })
	return keys
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
// longer run is coarsened exactly (metrics.Timeline.Compact), so a
// six-hour run at one second makes a report of a few megabytes, not tens.
const MaxPoints = 3600

// seconds converts seconds as the JSON form has them to a Duration,
// rounding to the nanosecond: truncation would turn 1.003 s into
// 1.002999999 s and shift rates by the float's error.
func seconds(s float64) time.Duration {
	return time.Duration(math.Round(s * float64(time.Second)))
}
