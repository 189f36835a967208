package prometheus

import (
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/wsbench/wsbench/metrics"
)

func TestBoundsLayout(t *testing.T) {
	if len(Bounds) != 64 || Bounds[0] != 50e-6 || Bounds[len(Bounds)-1] != 100 {
		t.Fatalf("%d bounds from %g to %g, want 64 from 5e-05 to 100", len(Bounds), Bounds[0], Bounds[len(Bounds)-1])
	}
	for i := 1; i < len(Bounds); i++ {
		if r := Bounds[i] / Bounds[i-1]; r < 1.2 || r > 1.3 {
			t.Errorf("bound %g is %.3f times %g, want about 1.26", Bounds[i], r, Bounds[i-1])
		}
		if boundsUS[i] <= boundsUS[i-1] || float64(boundsUS[i]) != Bounds[i]*1e6 && math.Abs(float64(boundsUS[i])-Bounds[i]*1e6) > 1e-6 {
			t.Errorf("bound %g is %d µs", Bounds[i], boundsUS[i])
		}
	}
	for _, b := range Bounds {
		if s := formatLE(b); s != strconv.FormatFloat(b, 'g', 3, 64) {
			t.Errorf("bound %g prints as %q: want at most three digits", b, s)
		}
	}
}

// TestHDRRange checks hdrRange against the library's own idea of which
// values share a bucket, in the geometry metrics uses.
func TestHDRRange(t *testing.T) {
	dense := hdr.New(metrics.LowestUS, metrics.HighestUS, metrics.SigFigs)
	values := []int64{1, 2, 1000, 2046, 2047, 2048, 2049, 2050, 4095, 4096, 4097, 50_000, 1_000_003, metrics.HighestUS}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		values = append(values, 1+rng.Int64N(metrics.HighestUS))
	}
	for _, v := range values {
		lo, hi := hdrRange(v)
		if lo > v || hi < v || !dense.ValuesAreEquivalent(v, lo) || !dense.ValuesAreEquivalent(v, hi) {
			t.Fatalf("hdrRange(%d) = [%d, %d]: not v's bucket", v, lo, hi)
		}
		if dense.ValuesAreEquivalent(lo, lo-1) && lo > metrics.LowestUS || dense.ValuesAreEquivalent(hi, hi+1) {
			t.Fatalf("hdrRange(%d) = [%d, %d]: the bucket is wider", v, lo, hi)
		}
		p := metrics.NewHistogram()
		metrics.RecordUS(p, v)
		p.ForEachBucket(func(value, _ int64) bool {
			if value != lo {
				t.Fatalf("ForEachBucket gives %d for %d, hdrRange's lowest is %d", value, v, lo)
			}
			return true
		})
	}
}

// TestHistFill fills a Prometheus histogram from an HDR one and checks it
// against the raw samples: exact below 2.048 ms, and never counting a
// sample below its bucket nor more than 0.1% above.
func TestHistFill(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var raw []int64
	h := metrics.NewHistogram()
	for range 50_000 {
		// Log-uniform from 1 µs to ~3 min, plus values on and next to bounds.
		v := int64(math.Exp(rng.Float64() * math.Log(2e8)))
		if rng.IntN(4) == 0 {
			v = boundsUS[rng.IntN(len(boundsUS))] + rng.Int64N(3) - 1
		}
		v = max(v, 1)
		raw = append(raw, v)
		metrics.RecordUS(h, v)
	}
	slices.Sort(raw)
	p := newHist()
	p.add(h)
	if p.count != uint64(len(raw)) {
		t.Fatalf("count %d, want %d", p.count, len(raw))
	}
	cum := p.cumulative()
	for _, b := range boundsUS {
		got := cum[float64(b)/1e6]
		atOrBelow := uint64(countAtOrBelow(raw, b))
		if b < hdrSubBuckets && got != atOrBelow {
			t.Errorf("le %d µs: %d samples, want exactly %d", b, got, atOrBelow)
		}
		if got > atOrBelow {
			t.Errorf("le %d µs: %d samples, but only %d are at or below it", b, got, atOrBelow)
		}
		if floor := uint64(countAtOrBelow(raw, b-b/1000-1)); got < floor {
			t.Errorf("le %d µs: %d samples, but %d are more than 0.1%% below it", b, got, floor)
		}
	}
	if inf := p.counts[len(Bounds)]; inf == 0 || inf != p.count-cum[Bounds[len(Bounds)-1]] {
		t.Errorf("+Inf bucket holds %d of %d, the last bound %d", inf, p.count, cum[Bounds[len(Bounds)-1]])
	}
	// The sum is the one the report's mean comes from.
	if want := h.Mean() * float64(h.TotalCount()); math.Abs(p.sumUS-want) > 1e-9*want {
		t.Errorf("sum %g µs, HDR's mean × count %g", p.sumUS, want)
	}
	var rawSum float64
	for _, v := range raw {
		rawSum += float64(v)
	}
	if math.Abs(p.sumUS-rawSum) > 1e-3*rawSum {
		t.Errorf("sum %g µs, the samples' %g", p.sumUS, rawSum)
	}
}

func countAtOrBelow(sorted []int64, v int64) int {
	n, _ := slices.BinarySearch(sorted, v+1)
	return n
}
