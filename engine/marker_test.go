package engine

import (
	"testing"
	"time"

	"github.com/wsbench/wsbench/report"
	"github.com/wsbench/wsbench/scenario"
)

func TestMarkerRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		m    marker
		size int
	}{
		{name: "echo", m: marker{kind: 'e', metric: 0, conn: 1, seq: 0, ts: 0}, size: 0},
		{name: "padded", m: marker{kind: 'b', metric: 12, worker: 3, conn: 99999, seq: 123456789, ts: 1 << 60, sent: 1<<60 + 5}, size: 200},
		{name: "request", m: marker{kind: 'r', metric: 3, worker: 65535, conn: 7, seq: 8, ts: 9, sent: 10}, size: 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := appendMarker(nil, tt.m, tt.size)
			if len(b) < tt.size {
				t.Fatalf("len %d < size %d", len(b), tt.size)
			}
			got, ok := parseMarker(b)
			if !ok || got != tt.m {
				t.Fatalf("parse(%q) = %+v, %v; want %+v", b, got, ok, tt.m)
			}
		})
	}
}

func TestParseMarkerRejects(t *testing.T) {
	for _, in := range []string{"", "wsb2:", "hello world", "wsb2:e1:2:3;", "wsb2:e1:2:3:4:5:x;", "wsb2:e1:2:3:4:5:6", "wsb1:e0:1:2:3;xxxx", `{"seq":1}`,
		"wsb2:e0:0:1:2:9999999999999999999:0;", "wsb2:e0:0:1:2:9223372036854775808:0;"} {
		if m, ok := parseMarker([]byte(in)); ok {
			t.Errorf("parseMarker(%q) = %+v, want rejection", in, m)
		}
	}
}

// FuzzParseMarker feeds the marker and push decoders what a server may
// send back. Neither may panic; a marker it accepts has non-negative
// fields (a number too large for int64 is rejected, not wrapped), comes
// back identical through appendMarker, and names an echo metric only
// within the registry. Seeds live in testdata/fuzz/FuzzParseMarker.
//
//	go test -run='^$' -fuzz=FuzzParseMarker -fuzztime=30s ./engine/
func FuzzParseMarker(f *testing.F) {
	f.Add([]byte("wsb2:e0:0:1:2:3:4;xxxx"))
	f.Add([]byte("wsb2:b7:3:99:123:456:789;"))
	f.Add([]byte(`{"seq":1,"ts_ns":2,"pad":""}`))
	f.Fuzz(func(t *testing.T, p []byte) {
		if m, ok := parseMarker(p); ok {
			if m.metric < 0 || m.conn < 0 || m.seq < 0 || m.ts < 0 {
				t.Fatalf("parseMarker(%q) = %+v: a negative field", p, m)
			}
			again, ok2 := parseMarker(appendMarker(nil, m, 0))
			if !ok2 || again != m {
				t.Fatalf("re-encoding %+v gave %+v", m, again)
			}
			const registered = 9
			if id, ok := m.echoMetric(registered); ok != (m.metric < registered) || ok && int(id) != m.metric {
				t.Fatalf("echoMetric(%d) of %+v = %d, %v", registered, m, id, ok)
			}
		}
		if seq, ts, ok := parsePush(p); ok && (seq < 0 || ts < 0) {
			t.Fatalf("parsePush(%q) = %d, %d: negative", p, seq, ts)
		}
	})
}

func TestParsePush(t *testing.T) {
	seq, ts, ok := parsePush([]byte(`{"seq":42,"ts_ns":1732240000123456789,"pad":"xx"}`))
	if !ok || seq != 42 || ts != 1732240000123456789 {
		t.Fatalf("got %d %d %v", seq, ts, ok)
	}
	if _, _, ok := parsePush([]byte(`{"seq":1,"ts":2}`)); ok {
		t.Fatal("accepted a message without ts_ns")
	}
}

func TestArrivalSchedule(t *testing.T) {
	tests := []struct {
		name   string
		r0, r1 float64
		d      time.Duration
		want   int // arrivals in the phase: the integral of the rate
	}{
		{name: "constant", r0: 10, r1: 10, d: 2 * time.Second, want: 20},
		{name: "ramp up from zero", r0: 0, r1: 20, d: 2 * time.Second, want: 20},
		{name: "ramp down", r0: 30, r1: 10, d: time.Second, want: 20},
		{name: "zero", r0: 0, r1: 0, d: time.Second, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := 0
			var prev time.Duration = -1
			for i := int64(0); ; i++ {
				at, ok := arrivalAt(i, tt.r0, tt.r1, tt.d)
				if !ok {
					break
				}
				if at <= prev && i > 0 {
					t.Fatalf("arrival %d at %v not after %v", i, at, prev)
				}
				prev = at
				n++
			}
			if n != tt.want {
				t.Fatalf("%d arrivals, want %d", n, tt.want)
			}
		})
	}
}

func TestClosedEvents(t *testing.T) {
	ip := func(n int) *int { return &n }
	fp := func(f float64) *float64 { return &f }
	phases := []scenario.Phase{
		{Duration: scenario.Duration(time.Second), Clients: ip(4)},
		{Duration: scenario.Duration(time.Second), Clients: ip(4)},
		{Duration: scenario.Duration(time.Second), Clients: ip(2)},
		{Duration: scenario.Duration(time.Second), ArrivalRate: fp(5)},
	}
	ev := closedEvents(phases)
	level, maxLevel := 0, 0
	var at []int64
	for _, e := range ev {
		level += e.delta
		maxLevel = max(maxLevel, level)
		at = append(at, e.at)
	}
	if maxLevel != 4 || level != 0 {
		t.Fatalf("max %d end %d, want 4 and 0 (events %v)", maxLevel, level, ev)
	}
	// Ramp 0→4 over 1 s starts slots at 0, 250, 500, 750 ms; ramp 4→2 over
	// the third second stops them at 2.5 s and 3 s; the open phase stops the rest.
	want := []int64{0, 250e6, 500e6, 750e6, 2500e6, 3000e6, 3000e6, 3000e6}
	if len(at) != len(want) {
		t.Fatalf("events %v", ev)
	}
	for i := range want {
		if at[i] != want[i] {
			t.Fatalf("event %d at %d, want %d (%v)", i, at[i], want[i], ev)
		}
	}
}

func TestPickerExactMix(t *testing.T) {
	flows := []*flow{{f: &scenario.Flow{Name: "a", Weight: 3}}, {f: &scenario.Flow{Name: "b", Weight: 1}}}
	p := newPicker(flows)
	counts := map[string]int{}
	for range 40 {
		counts[p.next().f.Name]++
	}
	if counts["a"] != 30 || counts["b"] != 10 {
		t.Fatalf("mix %v, want a=30 b=10", counts)
	}
}

func BenchmarkAppendMarker(b *testing.B) {
	buf := make([]byte, 0, 128)
	m := marker{kind: 'e', conn: 12345, ts: 1234567890123}
	b.ReportAllocs()
	for i := range b.N {
		m.seq = int64(i)
		buf = appendMarker(buf[:0], m, 64)
	}
}

func BenchmarkParseMarker(b *testing.B) {
	p := appendMarker(nil, marker{kind: 'e', conn: 12345, seq: 987654, ts: 1234567890123}, 64)
	b.ReportAllocs()
	for range b.N {
		if _, ok := parseMarker(p); !ok {
			b.Fatal("parse failed")
		}
	}
}

func TestPhaseResultsAssignIntervalsByMidpoint(t *testing.T) {
	fp := func(f float64) *float64 { return &f }
	sc := &scenario.Scenario{Phases: []scenario.Phase{
		{Name: "ramp", Duration: scenario.Duration(time.Second), ArrivalRate: fp(500)},
		{Name: "steady", Duration: scenario.Duration(4 * time.Second), ArrivalRate: fp(500)},
	}}
	// The series of a real run: interval ends drift a little past whole
	// seconds, and the last, short interval is the drain.
	s := &report.Series{IntervalS: 1,
		T:        []float64{1.01, 2.01, 3.01, 4.01, 5.001, 5.008},
		Connects: []int64{250, 500, 500, 500, 500, 0},
		Active:   []int64{0, 0, 0, 0, 0, 0},
	}
	tl, err := s.Timeline()
	if err != nil {
		t.Fatal(err)
	}
	got := phaseResults(sc, tl, Share{})
	if a := got[0].Achieved; a < 247 || a > 248 {
		t.Errorf("ramp achieved %v", got[0].Achieved)
	}
	// 2000 connects over the 3.991 s the steady intervals span; before the
	// fix the ramp's interval was counted in and this read 375.
	if a := got[1].Achieved; a < 495 || a > 505 {
		t.Errorf("steady achieved %v, want about 500", a)
	}
}
