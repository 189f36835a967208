package report

import "math"

// NewBroadcastIntervals returns n empty intervals of intervalS seconds.
func NewBroadcastIntervals(intervalS float64, n int) *BroadcastIntervals {
	return &BroadcastIntervals{IntervalS: intervalS, Expected: make([]int64, n), Lost: make([]int64, n)}
}

// Len returns the number of intervals.
func (b *BroadcastIntervals) Len() int { return len(b.Expected) }

// Coarsen merges every k consecutive intervals into one by summing them;
// nothing is approximated, only the resolution drops to k × IntervalS.
func (b *BroadcastIntervals) Coarsen(k int) {
	if k <= 1 || b.Len() == 0 {
		return
	}
	n := (b.Len() + k - 1) / k
	exp, lost := make([]int64, n), make([]int64, n)
	for i := range b.Expected {
		exp[i/k] += b.Expected[i]
		lost[i/k] += mergeAt(b.Lost, i)
	}
	b.IntervalS *= float64(k)
	b.Expected, b.Lost = exp, lost
}

// Compact coarsens b so it has at most MaxPoints intervals, like
// Series.Compact.
func (b *BroadcastIntervals) Compact() {
	if n := b.Len(); n > MaxPoints {
		b.Coarsen((n + MaxPoints - 1) / MaxPoints)
	}
}

// mergeBroadcastIntervals merges the intervals of one room pattern from
// several reports, aligned by wall clock from origin: each input interval
// goes to the merged interval holding its midpoint, at the coarsest
// interval of the inputs. parts[k] belongs to the report starting offs[k]
// seconds after origin. It returns nil when a part is missing (an input
// that has the room but not its intervals), since the columns would no
// longer sum to the merged totals, or when the merged run would be
// unreasonably long.
func mergeBroadcastIntervals(parts []*BroadcastIntervals, offs []float64) *BroadcastIntervals {
	step := 0.0
	for _, p := range parts {
		if p == nil || p.IntervalS <= 0 || !(p.IntervalS < math.Inf(1)) {
			return nil
		}
		step = max(step, p.IntervalS)
	}
	if len(parts) == 0 {
		return nil
	}
	n := 0
	idx := make([][]int, len(parts))
	for k, p := range parts {
		idx[k] = make([]int, p.Len())
		for i := range idx[k] {
			j := max(0, int(math.Floor((offs[k]+(float64(i)+0.5)*p.IntervalS)/step)))
			idx[k][i] = j
			n = max(n, j+1)
		}
	}
	if n > maxMergedIntervals {
		return nil
	}
	out := NewBroadcastIntervals(step, n)
	for k, p := range parts {
		for i, j := range idx[k] {
			out.Expected[j] += p.Expected[i]
			out.Lost[j] += mergeAt(p.Lost, i)
		}
	}
	out.Compact()
	return out
}

// maxMergedIntervals bounds a merged per-interval column: reports hours
// apart at a one-second interval would otherwise make one mostly of gaps.
const maxMergedIntervals = 1_000_000

func mergeAt[T any](col []T, i int) T {
	if i < len(col) {
		return col[i]
	}
	var zero T
	return zero
}
