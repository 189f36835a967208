package metrics

import (
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

func TestRecordClamps(t *testing.T) {
	h := NewRecorder()
	p := NewHistogram()
	for _, tc := range []struct {
		in          int64
		clampedHigh bool
	}{
		{in: -5}, {in: 0}, {in: 1}, {in: HighestUS}, {in: HighestUS + 1, clampedHigh: true},
	} {
		if got := h.RecordUS(tc.in); got != tc.clampedHigh {
			t.Errorf("Recorder.RecordUS(%d) clamped=%v, want %v", tc.in, got, tc.clampedHigh)
		}
		if got := RecordUS(p, tc.in); got != tc.clampedHigh {
			t.Errorf("RecordUS(%d) clamped=%v, want %v", tc.in, got, tc.clampedHigh)
		}
	}
	if h.TotalCount() != 5 || p.TotalCount() != 5 {
		t.Fatalf("counts %d, %d: a sample was lost", h.TotalCount(), p.TotalCount())
	}
}

func TestEncodeDecodeExact(t *testing.T) {
	h := randomHistogram(rand.New(rand.NewPCG(1, 2)), 10000)
	s, err := EncodeHistogram(h)
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeHistogram(s)
	if err != nil {
		t.Fatal(err)
	}
	if !sameBuckets(back, h) {
		t.Fatal("decoded histogram differs")
	}
	if _, err := DecodeHistogram("not base64!"); err == nil {
		t.Fatal("accepted garbage")
	}
}

func randomHistogram(rng *rand.Rand, n int) *Histogram {
	h := NewHistogram()
	for range n {
		RecordUS(h, int64(rng.ExpFloat64()*2000)+1)
	}
	return h
}

func buckets(h *Histogram) [][2]int64 {
	var out [][2]int64
	h.ForEachBucket(func(v, n int64) bool {
		out = append(out, [2]int64{v, n})
		return true
	})
	return out
}

func sameBuckets(a, b *Histogram) bool {
	return a.TotalCount() == b.TotalCount() && reflect.DeepEqual(buckets(a), buckets(b))
}

// Every numeric field of Counters is in the counter list and every map in
// the family list: a counter that is not listed would be silently left
// out of merges, the time series, thresholds and the wire form.
func TestCountersListed(t *testing.T) {
	rt := reflect.TypeFor[Counters]()
	listed := map[string]bool{}
	for _, k := range CounterList() {
		listed[k.Name] = true
	}
	for _, f := range FamilyList() {
		listed[f.Name] = true
	}
	for i := range rt.NumField() {
		f := rt.Field(i)
		name := f.Tag.Get("json")
		if !listed[name] {
			t.Errorf("Counters.%s (%q) is not in counterList or familyList", f.Name, name)
		}
		delete(listed, name)
	}
	for name := range listed {
		t.Errorf("%q is listed but is not a field of Counters", name)
	}
	// Each accessor points at its own field.
	var c Counters
	for i, k := range CounterList() {
		k.Add(&c, int64(i+1))
	}
	for i, k := range CounterList() {
		if got := k.Get(&c); got != int64(i+1) {
			t.Errorf("%s reads %d, want %d: two counters share a field", k.Name, got, i+1)
		}
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
	if one.IsZero() || (&Counters{}).IsZero() == false {
		t.Fatal("IsZero")
	}
}

func testInterval(rng *rand.Rand, reg *Registry) *Interval {
	s := NewSet(reg)
	for id := range s.Hists {
		if rng.IntN(2) == 0 {
			s.Hists[id] = randomHistogram(rng, 1+rng.IntN(500))
		}
	}
	setAll(&s.Counters, rng.Int64N(1000))
	s.Counters.ErrorsByCause = map[string]int64{"reset": 3, "server_close_1011": 4}
	start := time.Duration(rng.Int64N(1e12))
	return &Interval{Start: start, End: start + time.Second, Set: s, Active: rng.Int64N(100000), CPUPercent: rng.Float64() * 200}
}

func TestWireRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	reg := NewRegistry()
	reg.Add("login")
	for range 50 {
		iv := testInterval(rng, reg)
		b, err := iv.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var back Interval
		if err := back.UnmarshalBinary(b); err != nil {
			t.Fatal(err)
		}
		if back.Start != iv.Start || back.End != iv.End || back.Active != iv.Active || back.CPUPercent != iv.CPUPercent {
			t.Fatalf("gauges differ: %+v vs %+v", back, iv)
		}
		if !reflect.DeepEqual(back.Set.Counters, iv.Set.Counters) {
			t.Fatalf("counters differ:\n%+v\n%+v", back.Set.Counters, iv.Set.Counters)
		}
		for id, h := range iv.Set.Hists {
			got := back.Set.Histogram(reg.Names()[id])
			if h.TotalCount() == 0 {
				if got != nil {
					t.Fatalf("empty histogram %s sent", reg.Names()[id])
				}
				continue
			}
			if got == nil || !sameBuckets(got, h) {
				t.Fatalf("histogram %s differs", reg.Names()[id])
			}
		}
		// Every truncation is an error, never a panic or a silent success.
		for i := 0; i < len(b); i += 1 + rng.IntN(64) {
			if err := new(Interval).UnmarshalBinary(b[:i]); err == nil {
				t.Fatalf("truncated at %d of %d bytes: accepted", i, len(b))
			}
		}
	}
}

func TestWireRejects(t *testing.T) {
	good, _ := (&Interval{Start: 0, End: time.Second, Set: NewSet(NewRegistry())}).MarshalBinary()
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"bad magic", append([]byte("XXXX"), good[4:]...)},
		{"future version", append([]byte("WSBI\x02"), good[5:]...)},
		{"trailing bytes", append(append([]byte(nil), good...), 0)},
	} {
		if err := new(Interval).UnmarshalBinary(tc.b); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
	bad := &Interval{Start: 2 * time.Second, End: time.Second, Set: NewSet(NewRegistry())}
	b, _ := bad.MarshalBinary()
	if err := new(Interval).UnmarshalBinary(b); err == nil {
		t.Error("an interval that ends before it starts was accepted")
	}
}

func FuzzWire(f *testing.F) {
	rng := rand.New(rand.NewPCG(7, 8))
	reg := NewRegistry()
	for range 4 {
		b, _ := testInterval(rng, reg).MarshalBinary()
		f.Add(b)
	}
	f.Add([]byte("WSBI\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var iv Interval
		if err := iv.UnmarshalBinary(b); err != nil {
			return
		}
		// What decodes re-encodes to something that decodes to the same.
		again, err := iv.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var back Interval
		if err := back.UnmarshalBinary(again); err != nil {
			t.Fatalf("re-encoded interval does not decode: %v", err)
		}
		if !reflect.DeepEqual(back.Set.Counters, iv.Set.Counters) || len(back.Set.Hists) != len(iv.Set.Hists) {
			t.Fatal("round trip changed the interval")
		}
	})
}

// Merging the intervals of a timeline gives the same Set whatever the
// grouping: coarsening is exact.
func TestCoarsenExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	reg := NewRegistry()
	tl := &Timeline{Step: time.Second}
	for i := range 37 {
		iv := testInterval(rng, reg)
		iv.Start, iv.End = time.Duration(i)*time.Second, time.Duration(i+1)*time.Second
		tl.Append(iv)
	}
	whole, err := tl.Sum(reg.Names(), 0, tl.Len())
	if err != nil {
		t.Fatal(err)
	}
	c := &Timeline{Step: tl.Step, Intervals: append([]*Interval(nil), tl.Intervals...)}
	if err := c.Compact(10); err != nil {
		t.Fatal(err)
	}
	if c.Len() > 10 || c.Step != 4*time.Second || c.Intervals[c.Len()-1].End != 37*time.Second {
		t.Fatalf("compacted to %d intervals of %v ending at %v", c.Len(), c.Step, c.Intervals[c.Len()-1].End)
	}
	sum, _ := c.Sum(reg.Names(), 0, c.Len())
	if !reflect.DeepEqual(sum.Counters, whole.Counters) {
		t.Fatal("counters changed by coarsening")
	}
	for id := range whole.Hists {
		if !sameBuckets(sum.Hists[id], whole.Hists[id]) {
			t.Fatalf("histogram %d changed by coarsening", id)
		}
	}
	if c.Intervals[0].Active != tl.Intervals[3].Active {
		t.Fatal("a coarse interval's level is not its last interval's")
	}
}

// Two timelines offset by half a run merge into one whose sum is the sum
// of both, with levels added where they overlap.
func TestMergeTimelines(t *testing.T) {
	reg := NewRegistry()
	mk := func(n int, active int64) *Timeline {
		tl := &Timeline{Step: time.Second}
		for i := range n {
			s := NewSet(reg)
			s.Counters.MessagesSent = 10
			s.Record(RTT, int64(100*(i+1)))
			tl.Append(&Interval{Start: time.Duration(i) * time.Second, End: time.Duration(i+1) * time.Second, Set: s, Active: active, CPUPercent: 50})
		}
		return tl
	}
	m, err := MergeTimelines(reg.Names(), []Placed{{0, mk(4, 1)}, {2 * time.Second, mk(4, 10)}})
	if err != nil {
		t.Fatal(err)
	}
	if m.Len() != 6 {
		t.Fatalf("%d intervals, want 6", m.Len())
	}
	wantActive := []int64{1, 1, 11, 11, 10, 10}
	for j, iv := range m.Intervals {
		if iv.Active != wantActive[j] {
			t.Errorf("interval %d: active %d, want %d", j, iv.Active, wantActive[j])
		}
	}
	sum, _ := m.Sum(reg.Names(), 0, m.Len())
	if sum.Counters.MessagesSent != 80 || sum.Hists[RTT].TotalCount() != 8 {
		t.Fatalf("merged sum %d sent, %d rtt samples", sum.Counters.MessagesSent, sum.Hists[RTT].TotalCount())
	}
	if m.Intervals[2].CPUPercent != 100 {
		t.Fatalf("overlapping CPU %v, want 100", m.Intervals[2].CPUPercent)
	}
}

// TestRecorderGeometry checks the Recorder's bucket layout against
// hdrhistogram-go's, value by value: every value from 1 to 70,000 (the
// first buckets, and each boundary up to bucket 6), random values over
// the whole range, and the range's ends. Recorded into a Recorder and
// folded, each must land in the bucket it lands in when recorded into a
// Histogram directly, and a bucket's lowest value must be equivalent to
// the value in hdrhistogram-go's own dense geometry.
func TestRecorderGeometry(t *testing.T) {
	dense := hdr.New(LowestUS, HighestUS, SigFigs)
	values := []int64{HighestUS - 1, HighestUS}
	for v := int64(1); v <= 70_000; v++ {
		values = append(values, v)
	}
	rng := rand.New(rand.NewPCG(7, 11))
	for range 20_000 {
		values = append(values, 1+rng.Int64N(HighestUS))
	}
	for b := 11; b < 32; b++ {
		values = append(values, int64(1)<<b-1, int64(1)<<b, int64(1)<<b+1)
	}
	r := NewRecorder()
	folded, direct := NewHistogram(), NewHistogram()
	for _, v := range values {
		i := bucketIndex(v)
		if lo := bucketValue(i); lo > v || !dense.ValuesAreEquivalent(lo, v) || bucketIndex(lo) != i {
			t.Fatalf("value %d: bucket %d starts at %d, not in its hdrhistogram bucket", v, i, lo)
		}
		r.RecordUS(v)
		RecordUS(direct, v)
	}
	if r.TotalCount() != int64(len(values)) {
		t.Fatalf("recorder holds %d of %d values", r.TotalCount(), len(values))
	}
	r.FoldInto(folded)
	if !sameBuckets(folded, direct) {
		t.Fatal("a Recorder folded into a Histogram differs from recording into it directly")
	}
	// Folding empties the Recorder, which then records afresh.
	if r.TotalCount() != 0 {
		t.Fatalf("%d values left after the fold", r.TotalCount())
	}
	r.FoldInto(folded)
	if !sameBuckets(folded, direct) {
		t.Fatal("an empty Recorder's fold changed the histogram")
	}
	r.RecordUS(5)
	again := NewHistogram()
	r.FoldInto(again)
	if again.TotalCount() != 1 || again.Max() != 5 {
		t.Fatalf("after a fold, one value of 5 folds into %d values, max %d", again.TotalCount(), again.Max())
	}
}

func BenchmarkRecorderFold(b *testing.B) {
	r := NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		h := NewHistogram()
		for j := range 1000 {
			r.RecordUS(int64(100 + j*j%20_000))
		}
		b.StartTimer()
		r.FoldInto(h)
	}
}
