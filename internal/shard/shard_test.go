package shard

import (
	"sync"
	"testing"

	"github.com/wsbench/wsbench/metrics"
)

// TestCollectorIsExact records from many goroutines while flushing
// concurrently, and checks that the intervals add up to what was
// recorded: nothing lost, nothing counted twice.
func TestCollectorIsExact(t *testing.T) {
	reg := metrics.NewRegistry()
	named := reg.Add("login")
	col := NewCollector(reg, 4)
	const workers, per = 8, 5000
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sh := col.Shard(w)
			for i := range per {
				sh.Received(10, 12, metrics.RTT, int64(i%1000+1))
				sh.Record(named, 5)
				sh.Sent(10, 16)
				if i%100 == 0 {
					sh.Error("timeout", "f/step")
					sh.Close(1000, "client")
				}
			}
		}()
	}
	total := metrics.NewSet(reg)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	flushes := 0
	for running := true; running; flushes++ {
		select {
		case <-done:
			running = false
		default:
		}
		if err := total.Merge(col.Flush(nil)); err != nil {
			t.Fatal(err)
		}
	}
	if err := total.Merge(col.Flush(nil)); err != nil {
		t.Fatal(err)
	}
	n := int64(workers * per)
	c := total.Counters
	if c.MessagesReceived != n || c.MessagesSent != n || c.BytesReceived != 10*n || c.WireBytesSent != 16*n {
		t.Fatalf("counters %+v", c)
	}
	if total.Hists[metrics.RTT].TotalCount() != n || total.Hists[named].TotalCount() != n {
		t.Fatalf("histogram counts %d %d", total.Hists[metrics.RTT].TotalCount(), total.Hists[named].TotalCount())
	}
	if c.ErrorsByCause["timeout"] != workers*per/100 || c.ErrorsByStep["f/step: timeout"] != workers*per/100 || c.ClosesByCode["1000"] != workers*per/100 {
		t.Fatalf("maps %v %v %v", c.ErrorsByCause, c.ErrorsByStep, c.ClosesByCode)
	}
	// The same samples in one histogram: the fold from dense to packed
	// loses nothing.
	want := metrics.NewHistogram()
	for range workers {
		for i := range per {
			metrics.RecordUS(want, int64(i%1000+1))
		}
	}
	if !metrics.Equal(total.Hists[metrics.RTT], want) {
		t.Fatal("the intervals' rtt histograms do not add up to the samples")
	}
	t.Logf("%d flushes", flushes)
}

// A flush between shards yields as asked, and an idle shard is not
// scanned: its fold does not touch its histograms.
func TestFlushYieldsBetweenShards(t *testing.T) {
	col := NewCollector(metrics.NewRegistry(), 3)
	yields := 0
	col.Shard(1).Record(metrics.RTT, 10)
	set := col.Flush(func() { yields++ })
	if yields != 2 {
		t.Fatalf("%d yields for 3 shards, want 2", yields)
	}
	if set.Hists[metrics.RTT].TotalCount() != 1 {
		t.Fatal("sample lost")
	}
	if set2 := col.Flush(nil); set2.Hists[metrics.RTT].TotalCount() != 0 {
		t.Fatal("a sample was counted twice")
	}
}

func BenchmarkShardReceived(b *testing.B) {
	sh := NewCollector(metrics.NewRegistry(), 1).Shard(0)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		sh.Received(64, 70, metrics.RTT, int64(i%5000+100))
	}
}

// BenchmarkFlush is one interval's fold of 8 shards that each recorded a
// thousand round trips: the generator's own per-interval work, which
// shares the CPU with the senders.
func BenchmarkFlush(b *testing.B) {
	reg := metrics.NewRegistry()
	col := NewCollector(reg, 8)
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		for i := range 8 {
			for j := range 1000 {
				col.Shard(i).Received(64, 70, metrics.RTT, int64(j+1))
			}
		}
		b.StartTimer()
		col.Flush(nil)
	}
}
