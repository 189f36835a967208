package report

import (
	"bytes"
	"maps"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wsbench/wsbench/metrics"
)

// sameHistogram reports whether two encoded histograms hold the same
// counts.
func sameHistogram(t *testing.T, what, a, b string) {
	t.Helper()
	ha, err := metrics.DecodeHistogram(a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	hb, err := metrics.DecodeHistogram(b)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if !metrics.Equal(ha, hb) {
		t.Errorf("%s: histograms differ: %d samples (p99 %d) vs %d (p99 %d)", what,
			ha.TotalCount(), ha.ValueAtPercentile(99), hb.TotalCount(), hb.ValueAtPercentile(99))
	}
}

// sameData checks that got holds exactly the measurements of want:
// histograms, counters, series, broadcast, rates and timing.
func sameData(t *testing.T, got, want *Report) {
	t.Helper()
	if !got.StartedAt.Equal(want.StartedAt) || got.DurationS != want.DurationS {
		t.Errorf("timing: %v + %vs, want %v + %vs", got.StartedAt, got.DurationS, want.StartedAt, want.DurationS)
	}
	if len(got.Metrics) != len(want.Metrics) {
		t.Errorf("metrics %v, want %v", keysOf(got.Metrics), keysOf(want.Metrics))
	}
	for name, wm := range want.Metrics {
		gm := got.Metrics[name]
		if gm == nil {
			t.Errorf("metric %s missing", name)
			continue
		}
		sameHistogram(t, "metric "+name, gm.HDR, wm.HDR)
		g, w := *gm, *wm
		g.HDR, w.HDR = "", ""
		if g != w {
			t.Errorf("metric %s summary %+v, want %+v", name, g, w)
		}
	}
	if (got.Generator.ScheduleLag == nil) != (want.Generator.ScheduleLag == nil) {
		t.Errorf("schedule lag presence differs")
	} else if want.Generator.ScheduleLag != nil {
		sameHistogram(t, "schedule lag", got.Generator.ScheduleLag.HDR, want.Generator.ScheduleLag.HDR)
	}
	if !reflect.DeepEqual(got.Counters, want.Counters) {
		t.Errorf("counters\n got %+v\nwant %+v", got.Counters, want.Counters)
	}
	if got.Rates != want.Rates {
		t.Errorf("rates %+v, want %+v", got.Rates, want.Rates)
	}
	if !reflect.DeepEqual(got.Broadcast, want.Broadcast) {
		t.Errorf("broadcast %+v, want %+v", got.Broadcast, want.Broadcast)
	}
	gs, ws := got.Series, want.Series
	if gs == nil || ws == nil {
		t.Fatalf("series: got %v want %v", gs != nil, ws != nil)
	}
	cols := map[string][2][]int64{
		"active": {gs.Active, ws.Active}, "connects": {gs.Connects, ws.Connects}, "sent": {gs.Sent, ws.Sent},
		"received": {gs.Received, ws.Received}, "errors": {gs.Errors, ws.Errors}, "sends_dropped": {gs.SendsDropped, ws.SendsDropped},
		"bytes_sent": {gs.BytesSent, ws.BytesSent}, "connect_failures": {gs.ConnectFailures, ws.ConnectFailures},
	}
	for name, c := range cols {
		if !reflect.DeepEqual(c[0], c[1]) {
			t.Errorf("series %s %v, want %v", name, c[0], c[1])
		}
	}
	if !reflect.DeepEqual(gs.T, ws.T) || gs.IntervalS != ws.IntervalS {
		t.Errorf("series T %v (%gs), want %v (%gs)", gs.T, gs.IntervalS, ws.T, ws.IntervalS)
	}
	if !reflect.DeepEqual(gs.CPUPercent, ws.CPUPercent) {
		t.Errorf("series cpu %v, want %v", gs.CPUPercent, ws.CPUPercent)
	}
	if !reflect.DeepEqual(gs.ErrorsBy, ws.ErrorsBy) {
		t.Errorf("series errors_by %v, want %v", gs.ErrorsBy, ws.ErrorsBy)
	}
	if len(gs.Latency) != len(ws.Latency) {
		t.Errorf("series latency metrics %v, want %v", keysOf(gs.Latency), keysOf(ws.Latency))
	}
	for name, wl := range ws.Latency {
		gl := gs.Latency[name]
		if gl == nil {
			t.Errorf("series latency %s missing", name)
			continue
		}
		for i := range wl.HDR {
			sameHistogram(t, "series "+name, gl.HDR[i], wl.HDR[i])
		}
		if !reflect.DeepEqual(gl.Count, wl.Count) || !reflect.DeepEqual(gl.P99, wl.P99) || !reflect.DeepEqual(gl.P50, wl.P50) || !reflect.DeepEqual(gl.Max, wl.Max) {
			t.Errorf("series latency %s: count %v p99 %v, want %v %v", name, gl.Count, gl.P99, wl.Count, wl.P99)
		}
	}
}

func keysOf[V any](m map[string]V) []string { return SortedKeys(m) }

func TestMergeHalvesEqualsWhole(t *testing.T) {
	parts, whole := gateLoad(1, 12, 2)
	a, b := gateFixture(t, parts[0]), gateFixture(t, parts[1])
	w := gateFixture(t, whole)
	got, err := Merge(a, b)
	if err != nil {
		t.Fatal(err)
	}
	// The whole was recorded by one generator: its peak is the merged
	// series' busiest interval, as Merge computes it.
	sameData(t, got, w)
	if want := []string{"a@2026-03-14T09:26:53Z", "b@2026-03-14T09:26:53Z"}; !reflect.DeepEqual(got.MergedFrom, want) {
		t.Errorf("merged_from %v, want %v", got.MergedFrom, want)
	}
	if got.Thresholds != nil || got.Passed != nil {
		t.Errorf("thresholds were not left for the caller: %v %v", got.Thresholds, got.Passed)
	}
	if got.Environment.Hostname != "a,b" {
		t.Errorf("hostname %q", got.Environment.Hostname)
	}
}

func TestMergeIsAssociative(t *testing.T) {
	parts, whole := gateLoad(2, 8, 3)
	a, b, c := gateFixture(t, parts[0]), gateFixture(t, parts[1]), gateFixture(t, parts[2])
	a.Generator.Unreliable, a.Generator.Reasons = true, []string{"CPU saturated"}
	c.EndReason, c.EndDetail = EndInterrupted, "stopped by signal"
	b.Generator.IncludesTarget = true // one part ran against its built-in target

	ab, err := Merge(a, b)
	if err != nil {
		t.Fatal(err)
	}
	left, err := Merge(ab, c)
	if err != nil {
		t.Fatal(err)
	}
	bc, err := Merge(b, c)
	if err != nil {
		t.Fatal(err)
	}
	right, err := Merge(a, bc)
	if err != nil {
		t.Fatal(err)
	}
	flat, err := Merge(a, b, c)
	if err != nil {
		t.Fatal(err)
	}
	lj, rj, fj := jsonOf(t, left), jsonOf(t, right), jsonOf(t, flat)
	if lj != rj {
		t.Errorf("(a+b)+c != a+(b+c)\n%s", firstDiff(lj, rj))
	}
	if lj != fj {
		t.Errorf("(a+b)+c != a+b+c\n%s", firstDiff(lj, fj))
	}
	sameData(t, flat, gateFixture(t, whole))
	if !flat.Generator.Unreliable || len(flat.Generator.Reasons) != 1 || flat.Generator.Reasons[0] != "a@2026-03-14T09:26:53Z: CPU saturated" {
		t.Errorf("generator %+v", flat.Generator)
	}
	if !flat.Generator.IncludesTarget {
		t.Error("a part whose CPU included its target no longer says so after the merge")
	}
	if flat.EndReason != EndInterrupted || flat.EndDetail != "stopped by signal" {
		t.Errorf("end %q %q", flat.EndReason, flat.EndDetail)
	}
}

func TestMergeOneIsIdentity(t *testing.T) {
	_, whole := gateLoad(3, 6, 1)
	r := gateFixture(t, whole)
	r.Generator.Unreliable, r.Generator.Reasons = true, []string{"schedule lag p99 above 10ms"}
	got, err := Merge(r)
	if err != nil {
		t.Fatal(err)
	}
	if g, w := jsonOf(t, got), jsonOf(t, r); g != w {
		t.Errorf("Merge(r) != r\n%s", firstDiff(g, w))
	}
}

func TestMergeAlignsByWallClock(t *testing.T) {
	parts, _ := gateLoad(4, 4, 2)
	a, b := gateFixture(t, parts[0]), gateFixture(t, parts[1])
	b.StartedAt = a.StartedAt.Add(2 * time.Second) // b ran 2s later
	got, err := Merge(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if got.DurationS != 6 || got.Series.Len() != 6 {
		t.Fatalf("duration %v, %d intervals; want 6s, 6", got.DurationS, got.Series.Len())
	}
	for j := range 6 {
		var want int64
		if j < 4 {
			want += a.Series.Sent[j]
		}
		if j >= 2 {
			want += b.Series.Sent[j-2]
		}
		if got.Series.Sent[j] != want {
			t.Errorf("interval %d: sent %d, want %d", j, got.Series.Sent[j], want)
		}
	}
	if got.Rates.SendsAchievedPerS != float64(a.Counters.MessagesSent+b.Counters.MessagesSent)/6 {
		t.Errorf("rate %v not recomputed over the merged span", got.Rates.SendsAchievedPerS)
	}
}

func TestMergeRebucketsToTheCoarserInterval(t *testing.T) {
	parts, _ := gateLoad(5, 8, 2)
	a := gateFixture(t, parts[0])
	parts[1].intervalS = 2
	parts[1].sets = parts[1].sets[:4]
	b := gateFixture(t, parts[1]) // 4 intervals of 2s
	got, err := Merge(a, b)
	if err != nil {
		t.Fatal(err)
	}
	s := got.Series
	if s.IntervalS != 2 || s.Len() != 4 {
		t.Fatalf("interval %v, %d intervals; want 2s, 4", s.IntervalS, s.Len())
	}
	for j := range 4 {
		want := a.Series.Sent[2*j] + a.Series.Sent[2*j+1] + b.Series.Sent[j]
		if s.Sent[j] != want {
			t.Errorf("interval %d: sent %d, want %d", j, s.Sent[j], want)
		}
		if wa := a.Series.Active[2*j+1] + b.Series.Active[j]; s.Active[j] != wa {
			t.Errorf("interval %d: active %d, want %d (the level at the end)", j, s.Active[j], wa)
		}
		h := metrics.NewHistogram()
		for _, enc := range []string{a.Series.Latency["rtt"].HDR[2*j], a.Series.Latency["rtt"].HDR[2*j+1], b.Series.Latency["rtt"].HDR[j]} {
			part, err := metrics.DecodeHistogram(enc)
			if err != nil {
				t.Fatal(err)
			}
			h.Merge(part)
		}
		if got := s.Latency["rtt"].P99[j]; got != h.ValueAtPercentile(99) {
			t.Errorf("interval %d: p99 %d, want %d from the merged histograms", j, got, h.ValueAtPercentile(99))
		}
	}
}

func TestMergeRefuses(t *testing.T) {
	parts, _ := gateLoad(6, 2, 2)
	a, b := gateFixture(t, parts[0]), gateFixture(t, parts[1])
	b.Schema = "wsbench.report/v0"
	if _, err := Merge(a, b); err == nil || !strings.Contains(err.Error(), "schema") {
		t.Errorf("different schemas: %v", err)
	}
	if _, err := Merge(); err == nil {
		t.Error("merging nothing succeeded")
	}
	b = gateFixture(t, parts[1])
	b.Metrics["rtt"].HDR = ""
	if _, err := Merge(a, b); err == nil || !strings.Contains(err.Error(), "histogram") {
		t.Errorf("metric without histogram: %v", err)
	}
}

func TestMergeEndReasonIsTheWorst(t *testing.T) {
	tests := []struct{ reasons []string }{
		{[]string{EndCompleted, EndInterrupted, EndInterrupted}},
		{[]string{EndInterrupted, EndAborted, EndAborted}},
		{[]string{EndAborted, EndFailed, EndFailed}},
		{[]string{EndCompleted, EndCompleted, EndCompleted}},
	}
	parts, _ := gateLoad(7, 2, 2)
	for _, tt := range tests {
		a, b := gateFixture(t, parts[0]), gateFixture(t, parts[1])
		a.EndReason, b.EndReason = tt.reasons[0], tt.reasons[1]
		got, err := Merge(a, b)
		if err != nil {
			t.Fatal(err)
		}
		if got.EndReason != tt.reasons[2] {
			t.Errorf("%s + %s = %s, want %s", tt.reasons[0], tt.reasons[1], got.EndReason, tt.reasons[2])
		}
		got, _ = Merge(b, a)
		if got.EndReason != tt.reasons[2] {
			t.Errorf("%s + %s = %s, want %s", tt.reasons[1], tt.reasons[0], got.EndReason, tt.reasons[2])
		}
	}
}

func TestMergeRoundTripsThroughJSON(t *testing.T) {
	parts, _ := gateLoad(8, 3, 2)
	a, b := gateFixture(t, parts[0]), gateFixture(t, parts[1])
	got, err := Merge(a, b)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteJSON(&buf, got); err != nil {
		t.Fatal(err)
	}
	back, err := ReadJSON(&buf)
	if err != nil {
		t.Fatalf("merged report does not read back: %v", err)
	}
	sameData(t, back, got)
}

func jsonOf(t *testing.T, r *Report) string {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteJSON(&buf, r); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func firstDiff(a, b string) string {
	la, lb := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range min(len(la), len(lb)) {
		if la[i] != lb[i] {
			return "line " + la[i] + "\n vs  " + lb[i]
		}
	}
	return "lengths differ"
}

// TestMergeBroadcastIntervals checks that broadcast intervals merge by wall
// clock at the coarsest interval, keep their sums, merge one report to
// itself, and are dropped when an input lacks them.
func TestMergeBroadcastIntervals(t *testing.T) {
	t.Parallel()
	start := time.Date(2025, 3, 14, 10, 0, 0, 0, time.UTC)
	mk := func(at time.Time, iv *BroadcastIntervals) *Report {
		var exp, lost int64
		if iv != nil {
			for i := range iv.Expected {
				exp += iv.Expected[i]
				lost += iv.Lost[i]
			}
		}
		return &Report{Schema: SchemaVersion, StartedAt: at, DurationS: 4, Broadcast: []BroadcastResult{
			{Room: "lobby", Rooms: 1, Published: 1, Expected: exp, Delivered: exp - lost, Lost: lost, Intervals: iv},
		}}
	}
	a := mk(start, &BroadcastIntervals{IntervalS: 1, Expected: []int64{10, 20, 30, 40}, Lost: []int64{0, 1, 2, 3}})
	// b started 2s later with 2s intervals: its intervals land at 2-4s and 4-6s.
	b := mk(start.Add(2*time.Second), &BroadcastIntervals{IntervalS: 2, Expected: []int64{100, 200}, Lost: []int64{5, 6}})

	got, err := Merge(a, b)
	if err != nil {
		t.Fatal(err)
	}
	want := &BroadcastIntervals{IntervalS: 2, Expected: []int64{30, 170, 200}, Lost: []int64{1, 10, 6}}
	if g := got.Broadcast[0]; !reflect.DeepEqual(g.Intervals, want) || g.Expected != 400 || g.Lost != 17 {
		t.Errorf("merged %+v with intervals %+v, want 400 expected, 17 lost, intervals %+v", g, g.Intervals, want)
	}

	one, err := Merge(a)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(one.Broadcast[0].Intervals, a.Broadcast[0].Intervals) {
		t.Errorf("Merge(a) intervals %+v, want %+v", one.Broadcast[0].Intervals, a.Broadcast[0].Intervals)
	}

	// A report from before intervals existed: the merged columns could no
	// longer add up to the totals, so there are none.
	old := mk(start, nil)
	old.Broadcast[0].Expected, old.Broadcast[0].Delivered = 50, 50
	got, err = Merge(a, old)
	if err != nil {
		t.Fatal(err)
	}
	if got.Broadcast[0].Intervals != nil {
		t.Errorf("merged with a report without intervals: %+v, want none", got.Broadcast[0].Intervals)
	}
}

func TestBroadcastIntervalsCoarsen(t *testing.T) {
	t.Parallel()
	b := &BroadcastIntervals{IntervalS: 0.5, Expected: []int64{1, 2, 3, 4, 5}, Lost: []int64{0, 1, 0, 1, 1}}
	b.Coarsen(2)
	want := &BroadcastIntervals{IntervalS: 1, Expected: []int64{3, 7, 5}, Lost: []int64{1, 1, 1}}
	if !reflect.DeepEqual(b, want) {
		t.Errorf("coarsened %+v, want %+v", b, want)
	}
	long := NewBroadcastIntervals(1, 2*MaxPoints+1)
	long.Compact()
	if long.Len() != 2*MaxPoints/3+1 || long.IntervalS != 3 {
		t.Errorf("compacted to %d intervals of %gs", long.Len(), long.IntervalS)
	}
}

// Each cause keeps the first report's message; a cause only a later
// report has takes that report's.
func TestMergeErrorExamples(t *testing.T) {
	parts, _ := gateLoad(8, 3, 2)
	a, b := gateFixture(t, parts[0]), gateFixture(t, parts[1])
	a.ErrorExamples = map[string]string{"reset": "a: reset"}
	b.ErrorExamples = map[string]string{"reset": "b: reset", "timeout": "b: timeout"}
	got, err := Merge(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"reset": "a: reset", "timeout": "b: timeout"}; !maps.Equal(got.ErrorExamples, want) {
		t.Errorf("merged examples %v, want %v", got.ErrorExamples, want)
	}
	if a.ErrorExamples["timeout"] != "" {
		t.Error("the merge changed its input")
	}
}
