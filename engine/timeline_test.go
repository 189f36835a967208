package engine

import (
	"testing"
	"time"

	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/report"
)

// The report's timeline keeps intervals in their wire form and halves
// their resolution when it holds twice what a report keeps: a long run's
// intervals stay bounded, and nothing is lost (the coarse intervals sum
// to what was recorded, and keep every interval's span).
func TestTimelineSinkBoundsAndKeepsEverything(t *testing.T) {
	reg := metrics.NewRegistry()
	const step = time.Second
	b := &timelineSink{step: step}
	n := 2*report.MaxPoints + 3
	for i := range n {
		set := metrics.NewSet(reg)
		set.Record(metrics.RTT, int64(100+i%50))
		set.Counters.MessagesReceived = int64(i)
		iv := &metrics.Interval{Start: time.Duration(i) * step, End: time.Duration(i+1) * step, Set: set, Active: int64(i)}
		if err := b.Interval(iv, nil); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := len(b.enc), report.MaxPoints+3; got != want {
		t.Fatalf("%d intervals kept, want %d (halved once)", got, want)
	}
	if err := b.decode(); err != nil {
		t.Fatal(err)
	}
	tl := b.tl
	if tl.Step != 2*step || tl.Intervals[0].Start != 0 || tl.Intervals[len(tl.Intervals)-1].End != time.Duration(n)*step {
		t.Fatalf("step %v, span %v–%v: want 2 s steps from 0 to %v", tl.Step, tl.Intervals[0].Start, tl.Intervals[len(tl.Intervals)-1].End, time.Duration(n)*step)
	}
	sum, err := tl.Sum(nil, 0, tl.Len())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := sum.Counters.MessagesReceived, int64(n*(n-1)/2); got != want {
		t.Errorf("messages %d, want %d", got, want)
	}
	if h := sum.Histogram("rtt"); h == nil || h.TotalCount() != int64(n) {
		t.Errorf("rtt histogram %v, want %d samples", h, n)
	}
	if last := tl.Intervals[len(tl.Intervals)-1]; last.Active != int64(n-1) {
		t.Errorf("last level of open connections %d, want %d", last.Active, n-1)
	}
}
