package metrics

import (
	"fmt"
	"math"
	"time"
)

// Interval is what a run recorded between two ticks of its interval clock:
// the Set of samples and counts, and the gauges sampled at its end.
// Intervals are the unit a run's time series, live thresholds, exporters
// and (across processes) a coordinator work on.
type Interval struct {
	Start, End time.Duration // since the run's start
	Set        *Set
	Active     int64   // connections open at End (a level, not a count)
	CPUPercent float64 // generator CPU during the interval, 100 = one core
}

// Duration is the interval's length.
func (iv *Interval) Duration() time.Duration { return iv.End - iv.Start }

// Timeline is a run's intervals in order, each starting where the previous
// one ended. Step is the nominal interval; the last one (the drain at the
// end of a run) is usually shorter, and a coarsened timeline's step is a
// multiple of the run's.
type Timeline struct {
	Step      time.Duration
	Intervals []*Interval
}

// Len returns the number of intervals.
func (t *Timeline) Len() int { return len(t.Intervals) }

// Append adds iv at the end.
func (t *Timeline) Append(iv *Interval) { t.Intervals = append(t.Intervals, iv) }

// Sum merges the Sets of intervals [from, to) into a new Set for the
// metrics of names (metrics the intervals have and names lacks are added).
func (t *Timeline) Sum(names []string, from, to int) (*Set, error) {
	out := NewSetNames(names)
	for _, iv := range t.Intervals[max(from, 0):min(to, len(t.Intervals))] {
		if err := out.Merge(iv.Set); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Slice returns intervals [from, to) as a timeline sharing them.
func (t *Timeline) Slice(from, to int) *Timeline {
	from, to = max(from, 0), min(to, len(t.Intervals))
	if from > to {
		from = to
	}
	return &Timeline{Step: t.Step, Intervals: t.Intervals[from:to]}
}

// Coarsen merges every k consecutive intervals into one, exactly: Sets
// merge, the level of open connections is the last interval's, CPU is the
// mean weighted by each interval's length. Only the time resolution drops,
// to k × Step.
func (t *Timeline) Coarsen(k int) error {
	n := len(t.Intervals)
	if k <= 1 || n == 0 {
		return nil
	}
	out := make([]*Interval, 0, (n+k-1)/k)
	for g := 0; g < n; g += k {
		group := t.Intervals[g:min(g+k, n)]
		first, last := group[0], group[len(group)-1]
		merged := &Interval{Start: first.Start, End: last.End, Set: first.Set.Clone(), Active: last.Active}
		var cpuNS float64
		for i, iv := range group {
			if i > 0 {
				if err := merged.Set.Merge(iv.Set); err != nil {
					return fmt.Errorf("coarsen: %w", err)
				}
			}
			cpuNS += iv.CPUPercent * float64(iv.Duration())
		}
		if d := merged.Duration(); d > 0 {
			merged.CPUPercent = cpuNS / float64(d)
		}
		out = append(out, merged)
	}
	t.Intervals = out
	t.Step *= time.Duration(k)
	return nil
}

// Compact coarsens t so that it has at most maxPoints intervals.
func (t *Timeline) Compact(maxPoints int) error {
	if maxPoints < 1 || t.Len() <= maxPoints {
		return nil
	}
	return t.Coarsen((t.Len() + maxPoints - 1) / maxPoints)
}

// Placed is a timeline and where it starts relative to a common origin
// (for timelines of runs that started at different wall-clock times).
type Placed struct {
	Offset   time.Duration
	Timeline *Timeline
}

// maxMergedIntervals bounds a merged timeline: runs hours apart at a
// one-second interval would otherwise make a series mostly of gaps.
const maxMergedIntervals = 1_000_000

// MergeTimelines aligns timelines by their offsets and merges them into
// one, exactly: each interval goes to the merged interval its start falls
// in (with a quarter of a step of slack for ticker jitter), Sets merge,
// levels of open connections add up (each part contributes its last value
// in the merged interval), CPU adds up (each part contributes its mean
// over it). The merged step is the coarsest of the parts'. The result
// holds new Sets; the parts are not modified.
func MergeTimelines(names []string, parts []Placed) (*Timeline, error) {
	var step time.Duration
	for _, p := range parts {
		if p.Timeline.Step <= 0 && p.Timeline.Len() > 0 {
			return nil, fmt.Errorf("merge timelines: step %v", p.Timeline.Step)
		}
		step = max(step, p.Timeline.Step)
	}
	if step <= 0 {
		return &Timeline{}, nil
	}
	// Where each input interval lands, and when each merged one ends: when
	// the last input interval in it ends, or, if empty, at its nominal end.
	slot := make([][]int, len(parts))
	ends := map[int]time.Duration{}
	n := 0
	for k, p := range parts {
		slot[k] = make([]int, p.Timeline.Len())
		slack := p.Timeline.Step / 4
		for i, iv := range p.Timeline.Intervals {
			j := max(0, int(math.Floor(float64(p.Offset+iv.Start+slack)/float64(step))))
			slot[k][i] = j
			ends[j] = max(ends[j], p.Offset+iv.End)
			n = max(n, j+1)
		}
	}
	if n > maxMergedIntervals {
		return nil, fmt.Errorf("merge timelines: the runs are too far apart in time: %d intervals of %v", n, step)
	}
	out := &Timeline{Step: step, Intervals: make([]*Interval, n)}
	var prev time.Duration
	for j := range out.Intervals {
		end, ok := ends[j]
		if !ok {
			end = time.Duration(j+1) * step
		}
		end = max(end, prev)
		out.Intervals[j] = &Interval{Start: prev, End: end, Set: NewSetNames(names)}
		prev = end
	}
	for k, p := range parts {
		last := make(map[int]int64)
		cpuNS := make(map[int]float64)
		dur := make(map[int]time.Duration)
		for i, iv := range p.Timeline.Intervals {
			j := slot[k][i]
			if err := out.Intervals[j].Set.Merge(iv.Set); err != nil {
				return nil, fmt.Errorf("merge timelines: %w", err)
			}
			last[j] = iv.Active
			cpuNS[j] += iv.CPUPercent * float64(iv.Duration())
			dur[j] += iv.Duration()
		}
		for j, a := range last {
			out.Intervals[j].Active += a
			if dur[j] > 0 {
				out.Intervals[j].CPUPercent += cpuNS[j] / float64(dur[j])
			}
		}
	}
	return out, nil
}
