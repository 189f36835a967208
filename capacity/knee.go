package capacity

import (
	"math"
	"sort"
)

// Point is one measured load level and the latency it gave.
type Point struct {
	Load    float64
	Latency float64 // any unit; the knee only uses its shape
}

// MinKneeRise is how much latency must grow over the measured loads, as a
// ratio of the highest to the lowest, before Knee names a knee: a flat
// curve has none, only noise.
const MinKneeRise = 2.0

// Knee returns the load at which latency starts to rise steeply, by the
// Kneedle method (Satopää et al., 2011) for a convex, increasing curve:
// scale loads and latencies to [0, 1], draw the chord from the first point
// to the last, and take the point that lies furthest below it, that is the
// largest normalised load minus normalised latency. On a curve that stays
// flat and then shoots up, that is the last point before the rise.
//
// Points are sorted by load first; duplicate loads keep the first
// measurement, and points past the highest latency are dropped, since the
// knee is where the rise to it starts (a step past the limit may fail
// fast, or be noise). There is no knee (false) with fewer than three
// points left, when the highest latency is less than MinKneeRise times the
// lowest (a flat or noisy curve), or when no point lies below the chord.
func Knee(points []Point) (float64, bool) {
	ps := make([]Point, 0, len(points))
	for _, p := range points {
		if !math.IsNaN(p.Load) && !math.IsNaN(p.Latency) && !math.IsInf(p.Latency, 0) {
			ps = append(ps, p)
		}
	}
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].Load < ps[j].Load })
	dedup := ps[:0]
	for _, p := range ps {
		if n := len(dedup); n == 0 || p.Load > dedup[n-1].Load {
			dedup = append(dedup, p)
		}
	}
	ps = dedup
	if len(ps) < 3 {
		return 0, false
	}
	top := 0
	for i, p := range ps {
		if p.Latency > ps[top].Latency {
			top = i
		}
	}
	ps = ps[:top+1]
	if len(ps) < 3 {
		return 0, false
	}
	lo, hi := ps[0].Latency, ps[top].Latency
	for _, p := range ps {
		lo = min(lo, p.Latency)
	}
	if hi <= 0 || hi < MinKneeRise*max(lo, 0) {
		return 0, false
	}
	x0, x1 := ps[0].Load, ps[len(ps)-1].Load
	best, bestD := -1, 0.0
	for i, p := range ps {
		d := (p.Load-x0)/(x1-x0) - (p.Latency-lo)/(hi-lo)
		if d > bestD {
			best, bestD = i, d
		}
	}
	if best < 0 {
		return 0, false
	}
	return ps[best].Load, true
}
