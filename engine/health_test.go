package engine

import (
	"os"
	"testing"
	"time"

	"github.com/wsbench/wsbench/report"
)

func flat(n int, v float64) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = v
	}
	return out
}

// Which rule fires for which figures. A figure is a finding only when it
// could have distorted what the run measured; the same figures give the
// same verdict every time, and a CPU that hovers around the line does not
// flip it.
func TestJudgeGenerator(t *testing.T) {
	late := &report.Metric{Count: 100, P99US: 50_000}
	punctual := &report.Metric{Count: 100, P99US: 500}
	type want struct{ rule, verdict string }
	tests := []struct {
		name string
		in   healthInputs
		want []want
	}{
		{name: "idle and punctual", in: healthInputs{capacity: 200, cpu: flat(60, 20), lag: punctual, wall: time.Minute}},
		{name: "saturated", in: healthInputs{capacity: 200, cpu: flat(60, 198), wall: time.Minute},
			want: []want{{"cpu_saturated", report.VerdictUnreliable}}},
		// The closed loop at 1 in flight: a mean of 93-94% of one
		// core used to flip between reliable and not against a 90% line.
		{name: "hovering under the line is a note", in: healthInputs{capacity: 100, cpu: []float64{93, 94, 92, 96, 93, 94, 91, 93, 95, 94}, wall: 10 * time.Second},
			want: []want{{"cpu_close", report.VerdictNote}}},
		{name: "84% is nothing", in: healthInputs{capacity: 100, cpu: flat(10, 84), wall: 10 * time.Second}},
		{name: "short spikes are not saturation", in: healthInputs{capacity: 100, cpu: []float64{40, 99, 40, 40, 99, 40, 40, 40}, wall: 8 * time.Second}},
		{name: "mostly saturated", in: healthInputs{capacity: 100, cpu: []float64{99, 96, 88, 97, 98, 20}, wall: 6 * time.Second},
			want: []want{{"cpu_saturated", report.VerdictUnreliable}}},
		{name: "late while busy", in: healthInputs{capacity: 200, cpu: []float64{100, 180, 100}, lag: late, wall: time.Minute},
			want: []want{{"schedule_lag", report.VerdictUnreliable}}},
		{name: "late but idle: the target pushed back", in: healthInputs{capacity: 200, cpu: flat(10, 30), lag: late, wall: time.Minute},
			want: []want{{"schedule_lag", report.VerdictNote}}},
		{name: "a tight threshold tightens the budget", in: healthInputs{capacity: 100, cpu: flat(10, 80), lag: &report.Metric{Count: 100, P99US: 1500}, lagBudget: time.Millisecond, wall: time.Minute},
			want: []want{{"schedule_lag", report.VerdictUnreliable}}},
		{name: "a loose threshold loosens it", in: healthInputs{capacity: 100, cpu: flat(10, 80), lag: late, lagBudget: 100 * time.Millisecond, wall: time.Minute}},
		{name: "drops while busy", in: healthInputs{capacity: 200, cpu: []float64{100, 160}, dropped: 3, wall: time.Minute},
			want: []want{{"dropped", report.VerdictUnreliable}}},
		{name: "drops while idle", in: healthInputs{capacity: 200, cpu: []float64{10, 20}, dropped: 3, wall: time.Minute},
			want: []want{{"dropped", report.VerdictNote}}},
		{name: "descriptors near the limit, nothing failed", in: healthInputs{capacity: 200, fdPeak: 19950, fdLimit: 20000, wall: time.Minute},
			want: []want{{"descriptors", report.VerdictNote}}},
		{name: "own limits failed connections", in: healthInputs{capacity: 200, fdPeak: 20000, fdLimit: 20000, errors: map[string]int64{"ports_exhausted": 7}, wall: time.Minute},
			want: []want{{"own_limits", report.VerdictUnreliable}}},
		{name: "gc is a note: its effect is in the lag", in: healthInputs{capacity: 200, gcPauseMS: 3000, wall: time.Minute},
			want: []want{{"gc", report.VerdictNote}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := judgeGenerator(tt.in)
			if len(got) != len(tt.want) {
				t.Fatalf("findings %+v, want %v", got, tt.want)
			}
			for i, f := range got {
				if f.Rule != tt.want[i].rule || f.Verdict != tt.want[i].verdict || f.Detail == "" || f.Unit == "" {
					t.Fatalf("finding %+v, want %v", f, tt.want[i])
				}
			}
		})
	}
}

func TestObserveCPU(t *testing.T) {
	tests := []struct {
		name     string
		used     time.Duration
		wall     time.Duration
		want     float64 // percent returned for the series
		wantPeak float64
	}{
		{name: "one busy core for a second", used: time.Second, wall: time.Second, want: 100, wantPeak: 100},
		{name: "half a core", used: 250 * time.Millisecond, wall: 500 * time.Millisecond, want: 50, wantPeak: 50},
		// What a 2.5 ms drain looked like: a tick of lagging accounting
		// turns into more CPU than the machine has.
		{name: "short window overshoots", used: 5250 * time.Microsecond, wall: 2500 * time.Microsecond, want: 200, wantPeak: 0},
		{name: "short window, plausible", used: time.Millisecond, wall: 10 * time.Millisecond, want: 10, wantPeak: 0},
		{name: "no time passed", used: time.Millisecond, wall: 0, want: 0, wantPeak: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h health
			if got := h.observe(tt.used, tt.wall, 2); got != tt.want {
				t.Errorf("observe = %v%%, want %v%%", got, tt.want)
			}
			if h.peakCPU != tt.wantPeak {
				t.Errorf("peak = %v%%, want %v%%", h.peakCPU, tt.wantPeak)
			}
		})
	}
}

// openFDs counts what /proc/self/fd lists, without allocating names.
// Other tests' servers and clients may still be closing descriptors in
// the background, so a count that another goroutine disturbed is tried
// again (up to five times) rather than failed: a wrong count would be
// wrong every time.
func TestOpenFDs(t *testing.T) {
	if _, err := os.Stat("/proc/self/fd"); err != nil {
		t.Skip("no /proc/self/fd")
	}
	var deltas []int64
	for range 5 {
		before := openFDs()
		var files []*os.File
		for range 50 {
			f, err := os.Open("/dev/null")
			if err != nil {
				t.Fatal(err)
			}
			files = append(files, f)
		}
		during := openFDs()
		for _, f := range files {
			f.Close()
		}
		deltas = append(deltas, during-before)
		if during-before >= 50 && during-before <= 52 {
			break
		}
	}
	if d := deltas[len(deltas)-1]; d < 50 || d > 52 {
		t.Fatalf("50 more files counted as %v more descriptors", deltas)
	}
	names, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	if after := openFDs(); after < int64(len(names))-3 || after > int64(len(names))+3 {
		t.Fatalf("counted %d, /proc/self/fd lists %d", after, len(names))
	}
}
