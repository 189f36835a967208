package pacer

import (
	"context"
	"slices"
	"testing"
	"time"
)

// The lateness benchmarks report how late a sleeping goroutine wakes for a
// deadline 300 µs ahead, with the process otherwise idle: the case where
// Go's timers are coarsest. Compare pacer-late-p50-µs with
// timer-late-p50-µs (scripts/bench prints both).
func BenchmarkLatenessPacer(b *testing.B) {
	p := New()
	defer p.Close()
	w := p.NewWaiter()
	benchLateness(b, "pacer", func(at time.Time) { w.Wait(context.Background(), at, nil) })
}

func BenchmarkLatenessGoTimer(b *testing.B) {
	t := time.NewTimer(time.Hour)
	benchLateness(b, "timer", func(at time.Time) {
		t.Reset(time.Until(at))
		<-t.C
	})
}

func benchLateness(b *testing.B, name string, sleep func(time.Time)) {
	late := make([]time.Duration, 0, b.N)
	for b.Loop() {
		at := time.Now().Add(300 * time.Microsecond)
		sleep(at)
		late = append(late, time.Since(at))
	}
	slices.Sort(late)
	q := func(f float64) float64 { return float64(late[int(f*float64(len(late)-1))].Nanoseconds()) / 1e3 }
	b.ReportMetric(q(0.5), name+"-late-p50-µs")
	b.ReportMetric(q(0.99), name+"-late-p99-µs")
}
