package metrics

import (
	"math/rand/v2"
	"sync"
	"testing"
)

func TestRecordClamps(t *testing.T) {
	h := NewHistogram()
	for _, tc := range []struct {
		in          int64
		clampedHigh bool
	}{
		{in: -5}, {in: 0}, {in: 1}, {in: HighestUS}, {in: HighestUS + 1, clampedHigh: true},
	} {
		if got := RecordUS(h, tc.in); got != tc.clampedHigh {
			t.Errorf("RecordUS(%d) clamped=%v, want %v", tc.in, got, tc.clampedHigh)
		}
	}
	if h.TotalCount() != 5 {
		t.Fatalf("count %d: a sample was lost", h.TotalCount())
	}
}

func TestEncodeDecodeExact(t *testing.T) {
	h := NewHistogram()
	rng := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		RecordUS(h, int64(rng.ExpFloat64()*2000)+1)
	}
	s, err := EncodeHistogram(h)
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeHistogram(s)
	if err != nil {
		t.Fatal(err)
	}
	if !back.Equals(h) {
		t.Fatal("decoded histogram differs")
	}
	if _, err := DecodeHistogram("not base64!"); err == nil {
		t.Fatal("accepted garbage")
	}
}

// TestCollectorIsExact records from many goroutines while flushing
// concurrently, and checks that intervals add up to the total and the total
// to what was recorded: nothing lost, nothing counted twice.
func TestCollectorIsExact(t *testing.T) {
	reg := NewRegistry()
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
				sh.Received(10, 12, RTT, int64(i%1000+1))
				sh.Record(named, 5)
				sh.Sent(10, 16)
				if i%100 == 0 {
					sh.Error("timeout", "f/step")
					sh.Close(1000, "client")
				}
			}
		}()
	}
	intervals := NewSet(reg)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
		}
		intervals.Merge(col.Flush())
	}
	intervals.Merge(col.Flush())
	total := col.Total()
	n := int64(workers * per)
	c := total.Counters
	if c.MessagesReceived != n || c.MessagesSent != n || c.BytesReceived != 10*n || c.WireBytesSent != 16*n {
		t.Fatalf("counters %+v", c)
	}
	if total.Hists[RTT].TotalCount() != n || total.Hists[named].TotalCount() != n {
		t.Fatalf("histogram counts %d %d", total.Hists[RTT].TotalCount(), total.Hists[named].TotalCount())
	}
	if c.ErrorsByCause["timeout"] != workers*per/100 || c.ErrorsByStep["f/step: timeout"] != workers*per/100 || c.ClosesByCode["1000"] != workers*per/100 {
		t.Fatalf("maps %v %v %v", c.ErrorsByCause, c.ErrorsByStep, c.ClosesByCode)
	}
	if !intervals.Hists[RTT].Equals(total.Hists[RTT]) || intervals.Counters.MessagesReceived != n {
		t.Fatal("the sum of the intervals is not the total")
	}
}

func TestCountersMergeEveryField(t *testing.T) {
	// Fill every numeric field with 1 via the JSON names, merge twice, and
	// expect 2 everywhere: a field forgotten in Merge shows up as 1.
	var one Counters
	setAll(&one, 1)
	var sum Counters
	sum.Merge(&one)
	sum.Merge(&one)
	for name, v := range numericFields(&sum) {
		if v != 2 {
			t.Errorf("field %s = %d after merging twice", name, v)
		}
	}
	if sum.ClosesByCode["1000"] != 2 || sum.ErrorsByStep["s"] != 2 {
		t.Fatal("maps not merged")
	}
}

func BenchmarkShardReceived(b *testing.B) {
	sh := NewCollector(NewRegistry(), 1).Shard(0)
	b.ReportAllocs()
	for i := range b.N {
		sh.Received(64, 70, RTT, int64(i%5000+100))
	}
}

func BenchmarkFlush(b *testing.B) {
	reg := NewRegistry()
	col := NewCollector(reg, 8)
	for i := range 8 {
		for j := range 1000 {
			col.Shard(i).Received(64, 70, RTT, int64(j+1))
		}
	}
	b.ReportAllocs()
	for range b.N {
		col.Shard(0).Received(64, 70, RTT, 100)
		col.Flush()
	}
}
