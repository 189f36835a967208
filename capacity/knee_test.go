package capacity

import (
	"math"
	"testing"
)

func pts(loads []float64, lat []float64) []Point {
	out := make([]Point, len(loads))
	for i := range loads {
		out[i] = Point{Load: loads[i], Latency: lat[i]}
	}
	return out
}

func TestKnee(t *testing.T) {
	ramp := []float64{100, 200, 300, 400, 500, 600}
	for _, tc := range []struct {
		name   string
		points []Point
		want   float64
		ok     bool
	}{
		{"flat then wall", pts(ramp, []float64{3, 5, 5, 12, 23, 436}), 500, true},
		{"flat with noise then wall", pts(ramp, []float64{20, 21, 19, 37, 31, 428}), 500, true},
		// M/M/1: latency ∝ 1/(1-ρ) at ρ = 0.1 … 0.9.
		{"queueing curve", pts([]float64{1, 2, 3, 4, 5, 6, 7, 8, 9},
			[]float64{1.11, 1.25, 1.43, 1.67, 2, 2.5, 3.33, 5, 10}), 7, true},
		{"linear has no knee", pts(ramp, []float64{1, 2, 3, 4, 5, 6}), 0, false},
		{"flat has no knee", pts(ramp, []float64{10, 11, 10, 12, 11, 10}), 0, false},
		{"a spike at the start is not a rise", pts([]float64{10, 20, 30, 40}, []float64{3.64, 1.18, 2.15, 1.29}), 0, false},
		{"falling has no knee", pts(ramp, []float64{60, 50, 40, 30, 20, 10}), 0, false},
		{"two points are not enough", pts([]float64{1, 2}, []float64{1, 100}), 0, false},
		{"unsorted input", pts([]float64{600, 100, 400, 200, 500, 300}, []float64{436, 3, 12, 5, 23, 5}), 500, true},
		{"bisection points", pts([]float64{100, 200, 300, 400, 500, 600, 550, 525},
			[]float64{3, 5, 5, 12, 23, 436, 270, 60}), 500, true},
		{"duplicate loads keep the first", pts([]float64{1, 2, 2, 3, 4}, []float64{1, 1, 500, 1.2, 50}), 3, true},
		{"NaN ignored", pts([]float64{1, 2, 3, 4}, []float64{1, math.NaN(), 1.1, 40}), 3, true},
		{"points past the peak are dropped", pts([]float64{100, 200, 300, 400, 500}, []float64{10, 11, 12, 500, 100}), 300, true},
		{"an early peak leaves too few points", pts([]float64{100, 125, 150, 200}, []float64{13.4, 537.6, 191.7, 114.1}), 0, false},
		{"empty", nil, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := Knee(tc.points)
			if ok != tc.ok || got != tc.want {
				t.Errorf("Knee = %g, %v; want %g, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestKneeDoesNotModifyInput(t *testing.T) {
	in := pts([]float64{3, 1, 2}, []float64{30, 1, 2})
	Knee(in)
	if in[0].Load != 3 || in[1].Load != 1 {
		t.Errorf("input reordered: %v", in)
	}
}

// FuzzKnee checks that Knee never panics and names one of its points.
func FuzzKnee(f *testing.F) {
	f.Add(100.0, 3.0, 200.0, 5.0, 300.0, 12.0, 400.0, 436.0)
	f.Add(1.0, 1.0, 1.0, 1.0, 2.0, math.Inf(1), 3.0, -5.0)
	f.Fuzz(func(t *testing.T, x1, y1, x2, y2, x3, y3, x4, y4 float64) {
		in := pts([]float64{x1, x2, x3, x4}, []float64{y1, y2, y3, y4})
		k, ok := Knee(in)
		if !ok {
			return
		}
		for _, p := range in {
			if p.Load == k {
				return
			}
		}
		t.Fatalf("knee %g is none of the loads %v", k, in)
	})
}
