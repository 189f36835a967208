package report

import (
	"math/rand/v2"
	"testing"

	"github.com/wsbench/wsbench/metrics"
)

// TestCoarsenIsExact builds a series, coarsens it, and checks that every
// total and every merged histogram equals what the fine series holds.
func TestCoarsenIsExact(t *testing.T) {
	reg := metrics.NewRegistry()
	rng := rand.New(rand.NewPCG(7, 8))
	s := NewSeries(1)
	whole := metrics.NewHistogram()
	var sent int64
	for i := range 25 {
		iv := metrics.NewSet(reg)
		for range rng.IntN(50) {
			v := int64(rng.ExpFloat64()*3000) + 1
			iv.Record(metrics.RTT, v)
			metrics.RecordUS(whole, v)
		}
		iv.Counters.MessagesSent = int64(i)
		sent += int64(i)
		if i%7 == 0 {
			iv.Counters.ErrorsByCause = map[string]int64{"timeout": 1}
		}
		if err := s.Append(float64(i+1), int64(i), float64(i), iv); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Coarsen(4); err != nil {
		t.Fatal(err)
	}
	if s.Len() != 7 || s.IntervalS != 4 || s.T[6] != 25 || s.Active[6] != 24 {
		t.Fatalf("len %d interval %v last T %v active %v", s.Len(), s.IntervalS, s.T[6], s.Active[6])
	}
	var gotSent, gotErrs int64
	merged := metrics.NewHistogram()
	for i := range s.Len() {
		gotSent += s.Sent[i]
		gotErrs += s.Errors[i]
		if h := s.Latency["rtt"].HDR[i]; h != "" {
			part, err := metrics.DecodeHistogram(h)
			if err != nil {
				t.Fatal(err)
			}
			merged.Merge(part)
		}
	}
	if gotSent != sent || gotErrs != 4 || len(s.ErrorsBy["timeout"]) != 7 {
		t.Fatalf("sent %d (want %d) errors %d", gotSent, sent, gotErrs)
	}
	if !merged.Equals(whole) {
		t.Fatal("the coarse intervals' histograms do not add up to the whole")
	}
}

func TestCompactBoundsPoints(t *testing.T) {
	s := NewSeries(1)
	reg := metrics.NewRegistry()
	iv := metrics.NewSet(reg)
	for i := range MaxPoints*2 + 5 {
		if err := s.Append(float64(i+1), 1, 0, iv); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Compact(); err != nil {
		t.Fatal(err)
	}
	if s.Len() > MaxPoints || s.IntervalS != 3 {
		t.Fatalf("len %d interval %v", s.Len(), s.IntervalS)
	}
}
