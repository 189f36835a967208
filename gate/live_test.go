package gate

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/report"
)

// steadyForLive is the steady run liveRun replays, built once.
var steadyForLive *report.Report

// liveRun replays the steady run interval by interval as the engine does,
// with running totals, calling check after every interval until it asks
// to stop. It returns the elapsed time at the stop (0 if none) and the
// final report.
func liveRun(t *testing.T, check func(iv *metrics.Interval, total *metrics.Set) bool) (time.Duration, *report.Report) {
	t.Helper()
	if steadyForLive == nil {
		steadyForLive = steady(t)
	}
	full := steadyForLive // only read
	tl, err := full.Series.Timeline()
	if err != nil {
		t.Fatal(err)
	}
	total := metrics.NewSetNames(full.Series.MetricNames())
	for _, iv := range tl.Intervals {
		if err := total.Merge(iv.Set); err != nil {
			t.Fatal(err)
		}
		if check(iv, total) {
			return iv.End, full
		}
	}
	return 0, full
}

// liveState is a finished report as a live run would see it at its end:
// running totals and the intervals.
func liveState(t *testing.T, r *report.Report) (*metrics.Set, *metrics.Timeline) {
	t.Helper()
	tl, err := r.Series.Timeline()
	if err != nil {
		t.Fatal(err)
	}
	total, err := tl.Sum(r.Series.MetricNames(), 0, tl.Len())
	if err != nil {
		t.Fatal(err)
	}
	return total, tl
}

func TestLive(t *testing.T) {
	tests := []struct {
		name    string
		expr    string
		abort   bool
		certain bool // StopWhenCertain
		delay   time.Duration
		window  time.Duration
		stopAt  time.Duration // 0: never
	}{
		{"abort on a broken window", "rtt p99 < 200ms", true, false, 0, 5 * time.Second, 21 * time.Second},
		{"a window broken without abort_on_fail runs on", "rtt p99 < 200ms", false, false, 0, 5 * time.Second, 0},
		{"a broken window is certain", "rtt p99 < 200ms", false, true, 0, 5 * time.Second, 21 * time.Second},
		{"abort as soon as failing", "rtt p99 < 50ms", true, false, 0, 0, time.Second},
		{"abort after delay", "rtt p99 < 50ms", true, false, 8 * time.Second, 0, 8 * time.Second},
		{"recoverable failure is not certain", "rtt p99 < 50ms", false, true, 0, 0, 0},
		{"a count past its limit is certain", "errors == 0", false, true, 0, 0, 10 * time.Second},
		{"a count can still reach a lower bound", "errors >= 3", false, true, 0, 0, 0},
		{"k6 semantics: abort even when recoverable", "errors >= 3", true, false, 0, 0, time.Second},
		{"a max past its limit is certain", "rtt max < 500ms", false, true, 0, 0, 21 * time.Second},
		{"no samples never stops a run", "push_delay p95 < 1ms", true, true, 0, 0, 0},
		{"errors by step", "errors[login] < 2", true, false, 0, 0, 20 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			th := mustParse(t, tt.expr)
			th.AbortOnFail, th.Delay, th.Window = tt.abort, tt.delay, tt.window
			l := NewLive([]Threshold{th})
			l.StopWhenCertain = tt.certain
			var why string
			at, final := liveRun(t, func(iv *metrics.Interval, total *metrics.Set) bool {
				err := l.Interval(iv, total)
				if err != nil {
					why = err.Error()
				}
				return err != nil
			})
			if at != tt.stopAt {
				t.Fatalf("stopped at %v, want %v (%s)", at, tt.stopAt, why)
			}
			stopped, ok := l.Stopped()
			if ok != (tt.stopAt != 0) {
				t.Fatalf("Stopped() = %v, %v", stopped, ok)
			}
			if !ok {
				return
			}
			if !strings.Contains(why, tt.expr) || !strings.Contains(why, "failed after") {
				t.Errorf("reason %q", why)
			}
			res := l.Final(final)
			if !res[0].Aborted || res[0].Passed || !strings.Contains(res[0].Detail, "stopped the run after") {
				t.Errorf("final result %+v", res[0])
			}
		})
	}
}

func TestCheck(t *testing.T) {
	total, tl := liveState(t, steady(t))
	tests := []struct {
		expr    string
		delay   time.Duration
		passed  bool
		certain bool
	}{
		{"rtt p50 < 1s", 0, true, false},
		{"rtt p99 < 50ms", 0, false, false},
		{"rtt p75 < 1s", 0, true, false},
		{"rtt max < 500ms", 0, false, true},
		{"rtt min > 5ms", 0, false, true},
		{"rtt count < 100", 0, false, true},
		{"rtt count > 10000", 0, false, false},
		{"errors < 2", 0, false, true},
		{"errors == 2", 0, false, true},
		{"errors != 3", 0, false, false},
		{"messages_received rate > 1000/s", 0, false, false},
		{"dropped <= 1", 0, false, true},
		{"rtt p99 < 50ms", time.Hour, true, false},
		{"push_delay max < 1ms", 0, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			th := mustParse(t, tt.expr)
			th.Delay = tt.delay
			res, certain := Check(th, total, tl, 30*time.Second)
			if res.Passed != tt.passed || certain != tt.certain {
				t.Errorf("passed %v certain %v, want %v %v: %s", res.Passed, certain, tt.passed, tt.certain, res.Describe())
			}
			if tt.delay > 0 && (!math.IsNaN(res.Actual) || !strings.Contains(res.Detail, "not checked before")) {
				t.Errorf("before its delay: %+v", res)
			}
		})
	}
}

func TestLiveWindowOnAMetricThatAppearsLate(t *testing.T) {
	reg := metrics.NewRegistry()
	login := reg.Add("login")
	th := mustParse(t, "login p99 < 10ms")
	th.Window, th.AbortOnFail = 2*time.Second, true
	l := NewLive([]Threshold{th})
	total := metrics.NewSet(reg)
	for i := range 10 {
		set := metrics.NewSet(reg)
		if i >= 3 {
			set.Record(login, 50_000)
		}
		_ = total.Merge(set)
		iv := &metrics.Interval{Start: time.Duration(i) * time.Second, End: time.Duration(i+1) * time.Second, Set: set}
		if err := l.Interval(iv, total); err != nil {
			if i != 3 {
				t.Errorf("stopped after interval %d, want 3 (%v)", i, err)
			}
			return
		}
	}
	t.Error("never stopped")
}
