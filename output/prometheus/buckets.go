package prometheus

import (
	"math/bits"
	"strconv"

	"github.com/wsbench/wsbench/metrics"
)

// Bounds are the upper bounds, in seconds, of every latency histogram's
// buckets (a +Inf bucket follows): the R'10 preferred numbers (1, 1.25,
// 1.6, 2, 2.5, 3.2, 4, 5, 6.3, 8 per decade, each about 1.26 times the
// previous) from 50 µs to 100 s. Ten buckets a decade keep
// histogram_quantile's answer within about a quarter of the true value's
// bucket, which is what a p99 panel needs, for 67 series per histogram.
//
// A latency is counted in the first bucket whose bound is at or above the
// highest value of its HDR bucket, the value wsbench's own percentiles
// report. Below 2.048 ms HDR buckets are exactly 1 µs wide, so every
// sample lands where its microseconds say; above, a sample up to 0.1%
// below a bound may be counted in the next bucket up. A latency is never
// counted below its bucket.
var Bounds = func() []float64 {
	mantissas := []string{"1", "1.25", "1.6", "2", "2.5", "3.2", "4", "5", "6.3", "8"}
	var out []float64
	for exp := -5; exp <= 2; exp++ {
		for _, m := range mantissas {
			// Parsed from decimal text, so that each bound is the double
			// nearest its decimal and prints as it reads ("0.000125").
			b, _ := strconv.ParseFloat(m+"e"+strconv.Itoa(exp), 64)
			if b >= 50e-6 && b <= 100 {
				out = append(out, b)
			}
		}
	}
	return out
}()

// boundsUS are Bounds in whole microseconds, the HDR histograms' unit.
var boundsUS = func() []int64 {
	out := make([]int64, len(Bounds))
	for i, b := range Bounds {
		out[i] = int64(b*1e6 + 0.5)
	}
	return out
}()

// hdrSubBuckets is the number of 1-unit-wide buckets at the bottom of
// wsbench's HDR geometry (metrics.LowestUS, metrics.SigFigs): 2 × 10^3
// rounded up to a power of two. Above it each power of two is split into
// hdrSubBuckets/2 buckets. TestHDRRange checks this against the library.
const hdrSubBuckets = 2048

// hdrRange returns the lowest and highest values (µs) of the HDR bucket
// that holds v, in wsbench's geometry.
func hdrRange(v int64) (lo, hi int64) {
	if v < hdrSubBuckets {
		return v, v
	}
	shift := bits.Len64(uint64(v)) - bits.Len64(hdrSubBuckets-1)
	lo = v >> shift << shift
	return lo, lo + 1<<shift - 1
}

// hist is a cumulative Prometheus histogram filled from HDR histograms.
type hist struct {
	counts []uint64 // by bucket, not cumulative; the last is +Inf
	count  uint64
	sumUS  float64 // each sample at its HDR bucket's median, as HDR's mean takes it
}

func newHist() *hist { return &hist{counts: make([]uint64, len(Bounds)+1)} }

// add adds every sample of h.
func (p *hist) add(h *metrics.Histogram) {
	if h.TotalCount() == 0 {
		return
	}
	i := 0 // ForEachBucket goes up in value, so the bucket index only grows
	h.ForEachBucket(func(value, count int64) bool {
		if count <= 0 {
			return true
		}
		lo, hi := hdrRange(value)
		for i < len(boundsUS) && boundsUS[i] < hi {
			i++
		}
		p.counts[i] += uint64(count)
		p.count += uint64(count)
		p.sumUS += float64(count) * float64(lo+(hi-lo+1)/2)
		return true
	})
}

// cumulative returns the bucket counts as Prometheus wants them: by upper
// bound, each including the ones below, without +Inf (that is count).
func (p *hist) cumulative() map[float64]uint64 {
	out := make(map[float64]uint64, len(Bounds))
	var run uint64
	for i, b := range Bounds {
		run += p.counts[i]
		out[b] = run
	}
	return out
}

// BucketCounts returns the cumulative counts the exporter gives h's
// samples: one per bound of Bounds, then +Inf (the total). With a JSON
// report's histogram (metrics.DecodeHistogram of a metric's hdr) it says
// exactly what Prometheus holds for a whole run.
func BucketCounts(h *metrics.Histogram) []uint64 {
	p := newHist()
	p.add(h)
	out := make([]uint64, len(p.counts))
	var run uint64
	for i, n := range p.counts {
		run += n
		out[i] = run
	}
	return out
}
