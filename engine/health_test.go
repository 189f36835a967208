package engine

import (
	"strings"
	"testing"
	"time"

	"github.com/wsbench/wsbench/report"
)

func TestJudgeGenerator(t *testing.T) {
	lateLag := &report.Metric{Count: 100, P99US: 50_000}
	tests := []struct {
		name string
		in   healthInputs
		want []string // substrings of the reasons, in order; none = reliable
	}{
		{name: "idle and punctual", in: healthInputs{cpuMean: 20, cpuPeak: 40, capacity: 200, lag: &report.Metric{Count: 10, P99US: 500}, wall: time.Minute}},
		{name: "saturated", in: healthInputs{cpuMean: 190, cpuPeak: 200, capacity: 200, wall: time.Minute}, want: []string{"CPU saturated"}},
		{name: "late while busy", in: healthInputs{cpuMean: 100, cpuPeak: 180, capacity: 200, lag: lateLag, wall: time.Minute}, want: []string{"sends left late"}},
		{name: "late but idle: the target pushed back", in: healthInputs{cpuMean: 10, cpuPeak: 30, capacity: 200, lag: lateLag, dropped: 5, wall: time.Minute}},
		{name: "drops while busy", in: healthInputs{cpuMean: 100, cpuPeak: 160, capacity: 200, dropped: 3, wall: time.Minute}, want: []string{"3 sends/sessions dropped"}},
		{name: "descriptors", in: healthInputs{capacity: 200, fdPeak: 19000, fdLimit: 20000, wall: time.Minute}, want: []string{"file descriptors near the limit"}},
		{name: "own limits", in: healthInputs{capacity: 200, errors: map[string]int64{"ports_exhausted": 7}, wall: time.Minute}, want: []string{"7 connections failed"}},
		{name: "gc", in: healthInputs{capacity: 200, gcPauseMS: 3000, wall: time.Minute}, want: []string{"GC paused"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := judgeGenerator(tt.in)
			if len(got) != len(tt.want) {
				t.Fatalf("reasons %q, want %d matching %q", got, len(tt.want), tt.want)
			}
			for i := range got {
				if !strings.Contains(got[i], tt.want[i]) {
					t.Fatalf("reason %q does not mention %q", got[i], tt.want[i])
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
