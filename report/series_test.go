package report

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/wsbench/wsbench/metrics"
)

func randomTimeline(rng *rand.Rand, reg *metrics.Registry, n int) *metrics.Timeline {
	tl := &metrics.Timeline{Step: time.Second}
	for i := range n {
		set := metrics.NewSet(reg)
		for range rng.IntN(50) {
			set.Record(metrics.RTT, int64(rng.ExpFloat64()*3000)+1)
		}
		for _, k := range metrics.CounterList() {
			if rng.IntN(3) == 0 {
				k.Add(&set.Counters, rng.Int64N(100))
			}
		}
		if i%7 == 0 {
			set.Counters.ErrorsByCause = map[string]int64{"timeout": 1}
			set.Counters.ErrorsByStep = map[string]int64{"f/s: timeout": 1}
			set.Counters.ClosesByInitiator = map[string]int64{"server": 2}
		}
		tl.Append(&metrics.Interval{Start: time.Duration(i) * time.Second, End: time.Duration(i+1) * time.Second, Set: set, Active: int64(i), CPUPercent: float64(i)})
	}
	return tl
}

// The JSON form of a timeline decodes to the same intervals: every
// counter (not only those with a named column), every keyed counter and
// every histogram, through a JSON round trip.
func TestSeriesRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	reg := metrics.NewRegistry()
	tl := randomTimeline(rng, reg, 25)
	s, err := SeriesOf(tl)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back Series
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	got, err := back.Timeline()
	if err != nil {
		t.Fatal(err)
	}
	if got.Len() != tl.Len() || got.Step != tl.Step {
		t.Fatalf("%d intervals of %v, want %d of %v", got.Len(), got.Step, tl.Len(), tl.Step)
	}
	for i, iv := range tl.Intervals {
		g := got.Intervals[i]
		if g.Start != iv.Start || g.End != iv.End || g.Active != iv.Active || g.CPUPercent != iv.CPUPercent {
			t.Fatalf("interval %d: gauges %+v, want %+v", i, g, iv)
		}
		want := iv.Set.Counters
		want.Normalize()
		have := g.Set.Counters
		have.Normalize()
		if !reflect.DeepEqual(have, want) {
			t.Fatalf("interval %d: counters\n%+v\nwant\n%+v", i, have, want)
		}
		h := g.Set.Histogram("rtt")
		if iv.Set.Hists[metrics.RTT].TotalCount() != 0 && (h == nil || h.TotalCount() != iv.Set.Hists[metrics.RTT].TotalCount()) {
			t.Fatalf("interval %d: rtt histogram lost", i)
		}
	}
}

// Series.Append and SeriesOf are one code path: a series built interval
// by interval equals the one converted at once.
func TestAppendEqualsSeriesOf(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	reg := metrics.NewRegistry()
	tl := randomTimeline(rng, reg, 12)
	whole, err := SeriesOf(tl)
	if err != nil {
		t.Fatal(err)
	}
	byHand := NewSeries(1)
	for _, iv := range tl.Intervals {
		if err := byHand.Append(iv.End.Seconds(), iv.Active, iv.CPUPercent, iv.Set); err != nil {
			t.Fatal(err)
		}
	}
	if !reflect.DeepEqual(whole, byHand) {
		t.Fatal("Append and SeriesOf disagree")
	}
}

// A report of the first schema version has no per-interval counters
// beyond the named columns; its errors column without causes stays exact
// as cause "unknown".
func TestTimelineOfOldSeries(t *testing.T) {
	s := &Series{IntervalS: 1, T: []float64{1, 2}, Active: []int64{3, 4}, CPUPercent: []float64{1, 2},
		Sent: []int64{10, 20}, Errors: []int64{0, 5}, ErrorsBy: map[string][]int64{"reset": {0, 2}}, Latency: map[string]*LatencySeries{}}
	tl, err := s.Timeline()
	if err != nil {
		t.Fatal(err)
	}
	c := tl.Intervals[1].Set.Counters
	if c.MessagesSent != 20 || c.ErrorsByCause["reset"] != 2 || c.ErrorsByCause["unknown"] != 3 || c.Errors() != 5 {
		t.Fatalf("counters %+v", c)
	}
	s.T[1] = 0.5
	if _, err := s.Timeline(); err == nil {
		t.Fatal("an interval ending before the one before it was accepted")
	}
}
