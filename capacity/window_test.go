package capacity

import (
	"strings"
	"testing"
	"time"

	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/report"
)

// windowFixture is 1 s of warmup and 2 s of hold in 500 ms intervals
// (indexes 0-1 warmup, 2-5 hold, 6 the post-stop drain). Interval i sends
// 10·(i+1) messages, answers them with round trips of (i+1) ms, fails
// i connects, and ends with 100+i connections open at 50+i % CPU.
func windowFixture() *report.Report {
	return synth(time.Second, 2*time.Second, func(i int, _ bool, set *metrics.Set) (int64, float64) {
		c := &set.Counters
		n := int64(10 * (i + 1))
		c.MessagesSent, c.MessagesReceived = n, n
		c.BytesSent, c.BytesReceived = 64*n, 64*n
		c.WireBytesSent = 70 * n
		c.SendsIntended = n + 1
		c.SendsDropped = 1
		c.ConnectsOK, c.ConnectsFailed = 1, int64(i)
		c.ConnectsAttempted = 1 + int64(i)
		c.RepliesMissing = 7
		if i > 0 {
			c.ErrorsByCause = map[string]int64{"http_503": int64(i)}
		}
		for range n {
			set.Record(metrics.RTT, int64(i+1)*1000)
		}
		set.Record(metrics.ScheduleLag, 5)
		return int64(100 + i), float64(50 + i)
	})
}

func TestHoldWindow(t *testing.T) {
	rep := windowFixture()
	w, err := holdWindow(rep, time.Second, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	// Hold intervals 2-5 and the drain; gauges from intervals 2-4 (5 ends
	// at the planned end, when sessions are already closing).
	if w.first != 2 || w.gauge != 5 || w.dur < 1.99 || w.dur > 2 {
		t.Fatalf("window %+v", w)
	}
	if got := w.meanActive(); got != 103 {
		t.Errorf("mean active %g, want 103", got)
	}
	if got := w.meanCPU(); got != 53 {
		t.Errorf("mean CPU %g, want 53", got)
	}

	// A warmup that is not a multiple of the interval starts the window at
	// the next interval boundary.
	w, err = holdWindow(rep, 1200*time.Millisecond, 1800*time.Millisecond)
	if err != nil || w.first != 3 {
		t.Errorf("warmup 1.2s: first %d err %v", w.first, err)
	}
	if _, err := holdWindow(rep, 10*time.Second, time.Second); err == nil || !strings.Contains(err.Error(), "after its 10s warmup") {
		t.Errorf("warmup longer than the run: %v", err)
	}
	if _, err := holdWindow(&report.Report{}, time.Second, time.Second); err == nil {
		t.Error("no series accepted")
	}
}

func TestWindowReport(t *testing.T) {
	rep := windowFixture()
	w, err := holdWindow(rep, time.Second, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	wr, err := windowReport(rep, w, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Intervals 2-5: 30+40+50+60 messages of 3, 4, 5 and 6 ms.
	rtt := wr.Metrics["rtt"]
	if rtt == nil || rtt.Count != 180 || rtt.MinUS != 3000 || rtt.MaxUS < 6000 || rtt.MaxUS > 6010 {
		t.Fatalf("rtt %+v", rtt)
	}
	// The merge is exact: the same samples recorded in one histogram give
	// the same percentiles.
	h := metrics.NewHistogram()
	for i := 2; i <= 5; i++ {
		for range 10 * (i + 1) {
			metrics.RecordUS(h, int64(i+1)*1000)
		}
	}
	if want := report.Summarize(h); rtt.P50US != want.P50US || rtt.P99US != want.P99US || rtt.MeanUS != want.MeanUS {
		t.Errorf("merged p50 %d p99 %d mean %g, direct %d %d %g", rtt.P50US, rtt.P99US, rtt.MeanUS, want.P50US, want.P99US, want.MeanUS)
	}
	if hist, err := rtt.Histogram(); err != nil || hist.TotalCount() != 180 {
		t.Errorf("window metric histogram: %v", err)
	}
	if _, ok := wr.Metrics["schedule_lag"]; ok {
		t.Error("schedule_lag judged as a target metric")
	}
	if rep.Metrics["rtt"].Count != 210 {
		t.Errorf("the step's own report changed: %d", rep.Metrics["rtt"].Count)
	}

	c := wr.Counters
	for _, x := range []struct {
		name      string
		got, want int64
	}{
		{"messages_sent", c.MessagesSent, 180},
		{"messages_received", c.MessagesReceived, 180},
		{"bytes_sent", c.BytesSent, 64 * 180},
		{"wire_bytes_sent", c.WireBytesSent, 70 * 180},
		{"connects_ok", c.ConnectsOK, 4},
		{"connects_failed", c.ConnectsFailed, 2 + 3 + 4 + 5},
		{"connects_attempted", c.ConnectsAttempted, 4 + 14},
		{"sends_dropped", c.SendsDropped, 4},
		{"sends_intended", c.SendsIntended, 184},
		{"errors", c.Errors(), 14},
		{"replies_missing (the window's, every counter is per interval)", c.RepliesMissing, 7 * 4},
	} {
		if x.got != x.want {
			t.Errorf("%s = %d, want %d", x.name, x.got, x.want)
		}
	}
	if rep.Counters.ErrorsByCause["http_503"] != 15 {
		t.Errorf("the step's own counters changed: %v", rep.Counters.ErrorsByCause)
	}
	if wr.DurationS != w.dur || wr.Rates.SendsAchievedPerS != 180/w.dur || wr.Rates.PeakConnections != 104 {
		t.Errorf("duration %g rates %+v", wr.DurationS, wr.Rates)
	}
	if wr.Series.Len() != 5 || wr.Series.T[0] != rep.Series.T[2] || len(wr.Series.Latency["rtt"].HDR) != 5 {
		t.Errorf("sliced series: %d intervals", wr.Series.Len())
	}

	// An open profile: arrivals intended at the step's rate, less drops.
	wr, err = windowReport(rep, w, 20)
	if err != nil {
		t.Fatal(err)
	}
	if wr.Rates.SessionsIntendedPerS != 20 || wr.Rates.SessionsAchievedPerS != 20 {
		t.Errorf("open rates %+v", wr.Rates)
	}
}
