package engine

import (
	"reflect"
	"testing"
	"time"

	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/report"
)

// TestLedgerIntervalsByPublishTime drives the ledger by hand with known
// run-clock times and checks that every expected and lost delivery lands
// in the series interval of its message's publish time.
func TestLedgerIntervalsByPublishTime(t *testing.T) {
	t.Parallel()
	s := int64(time.Second)
	ms := int64(time.Millisecond)
	l := newLedger(leaveGrace)
	l.timeline(s, time.Second) // the series starts 1s into the run clock
	rm := l.room("ws://x/broadcast?room=a", "room=a")
	a, b, c := rm.join(0), rm.join(0), rm.join(0)
	const pub = 7
	at := []int64{1500 * ms, 2200 * ms, 2900 * ms, 4100 * ms} // intervals 0, 1, 1, 3
	for seq, when := range at {
		rm.published(pub, int64(seq), when)
	}
	for seq := range at {
		a.deliver(pub, int64(seq), ms)
	}
	b.deliver(pub, 0, ms) // b misses seq 1
	b.deliver(pub, 2, ms)
	b.deliver(pub, 3, ms)
	c.deliver(pub, 0, ms)
	c.deliver(pub, 1, ms)
	// c leaves after seq 2's delivery window opened (so it was expected
	// and lost) and before seq 3 was published (not expected).
	c.leave(2950 * ms)

	got := l.results(5*s, metrics.NewSet(metrics.NewRegistry()))
	if len(got) != 1 {
		t.Fatalf("results %+v", got)
	}
	r := got[0]
	if r.Expected != 11 || r.Lost != 2 || r.Delivered != 9 || r.Published != 4 {
		t.Fatalf("totals %+v, want 11 expected, 2 lost, 9 delivered, 4 published", r)
	}
	want := &report.BroadcastIntervals{IntervalS: 1, Expected: []int64{3, 6, 0, 2}, Lost: []int64{0, 2, 0, 0}}
	if !reflect.DeepEqual(r.Intervals, want) {
		t.Fatalf("intervals %+v, want %+v", r.Intervals, want)
	}

	// Without a timeline there is nothing per interval.
	l2 := newLedger(leaveGrace)
	rm2 := l2.room("u", "p")
	rm2.join(0)
	rm2.published(1, 0, s)
	if res := l2.results(2*s, metrics.NewSet(metrics.NewRegistry())); res[0].Intervals != nil {
		t.Fatalf("intervals without a timeline: %+v", res[0].Intervals)
	}
}

// TestLedgerIntervalsCompact checks that a long run's intervals are
// coarsened to report.MaxPoints, exactly.
func TestLedgerIntervalsCompact(t *testing.T) {
	t.Parallel()
	ms := int64(time.Millisecond)
	l := newLedger(leaveGrace)
	l.timeline(0, time.Millisecond)
	rm := l.room("u", "p")
	m := rm.join(-time.Hour.Nanoseconds())
	const n = 10_000
	for seq := range int64(n) {
		rm.published(1, seq, seq*ms+ms/2)
		if seq%10 != 0 {
			m.deliver(1, seq, 1000)
		}
	}
	r := l.results(n*ms+time.Second.Nanoseconds(), metrics.NewSet(metrics.NewRegistry()))[0]
	iv := r.Intervals
	if iv == nil || iv.Len() > report.MaxPoints {
		t.Fatalf("intervals %v, want at most %d", iv, report.MaxPoints)
	}
	var exp, lost int64
	for i := range iv.Expected {
		exp += iv.Expected[i]
		lost += iv.Lost[i]
	}
	if exp != r.Expected || lost != r.Lost || lost != n/10 {
		t.Fatalf("intervals sum to %d expected, %d lost; totals %d, %d", exp, lost, r.Expected, r.Lost)
	}
	// 11 000 intervals of 1ms (the run plus a second) in fours.
	if iv.IntervalS != 0.004 || iv.Len() != 2750 {
		t.Fatalf("%d intervals of %gs, want 2750 of 0.004s", iv.Len(), iv.IntervalS)
	}
}
