package gate

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/report"
)

// build makes the report of a run of n one-second intervals the way the
// engine does; fill records interval i into s. Registered metrics: the
// built-in ones and "login".
func build(tb testing.TB, n int, fill func(i int, s *metrics.Set)) *report.Report {
	tb.Helper()
	reg := metrics.NewRegistry()
	reg.Add("login")
	series := report.NewSeries(1)
	total := metrics.NewSet(reg)
	for i := range n {
		s := metrics.NewSet(reg)
		fill(i, s)
		if err := series.Append(float64(i+1), 10, 5, s); err != nil {
			tb.Fatal(err)
		}
		total.Merge(s)
	}
	r := &report.Report{Schema: report.SchemaVersion, EndReason: report.EndCompleted, DurationS: float64(n),
		Metrics: map[string]*report.Metric{}, Counters: total.Counters, Series: series}
	r.Counters.Normalize()
	for id, h := range total.Hists {
		if h.TotalCount() == 0 {
			continue
		}
		m, err := report.NewMetric(h)
		if err != nil {
			tb.Fatal(err)
		}
		if id == int(metrics.ScheduleLag) {
			r.Generator.ScheduleLag = m
		} else {
			r.Metrics[reg.Names()[id]] = m
		}
	}
	return r
}

// steady is 30 intervals of 100 rtt samples 1..100 ms (so p50 = 50ms),
// with a 10-sample spike of 900ms in interval 20, ten connects per
// interval, one timeout error at step chat/login every tenth interval, and
// login samples of 5ms.
func steady(tb testing.TB) *report.Report {
	login := metrics.ID(-1)
	return build(tb, 30, func(i int, s *metrics.Set) {
		if login < 0 {
			login = metrics.ID(len(s.Names()) - 1)
		}
		for k := 1; k <= 100; k++ {
			s.Record(metrics.RTT, int64(k)*1000)
			s.Counters.MessagesSent++
			s.Counters.MessagesReceived++
		}
		if i == 20 {
			for range 10 {
				s.Record(metrics.RTT, 900_000)
			}
		}
		for range 10 {
			s.Record(metrics.Connect, 2000)
			s.Record(login, 5000)
			s.Counters.ConnectsAttempted++
			s.Counters.ConnectsOK++
		}
		if i%10 == 9 {
			s.Counters.ErrorsByCause = map[string]int64{"timeout": 1}
			s.Counters.ErrorsByStep = map[string]int64{"chat/login: timeout": 1}
			s.Counters.SendsDropped++
		}
	})
}

func mustParse(tb testing.TB, expr string) Threshold {
	tb.Helper()
	th, err := Parse(expr)
	if err != nil {
		tb.Fatal(err)
	}
	return th
}

func TestEvaluate(t *testing.T) {
	r := steady(t)
	r.Broadcast = []report.BroadcastResult{
		{Room: "lobby", Expected: 1000, Delivered: 999, Lost: 1},
		{Room: "game-{n}", Expected: 100, Delivered: 90, Lost: 10},
		{Room: "quiet", Expected: 0},
	}
	h, _ := r.Metrics["rtt"].Histogram()
	tests := []struct {
		expr   string
		actual float64
		passed bool
	}{
		{"rtt p50 < 60ms", float64(r.Metrics["rtt"].P50US), true},
		{"rtt p99 < 50ms", float64(r.Metrics["rtt"].P99US), false},
		{"rtt p75 < 80ms", float64(h.ValueAtPercentile(75)), true},
		{"rtt p99.99 < 1s", float64(h.ValueAtPercentile(99.99)), true},
		{"rtt max <= 1s", float64(r.Metrics["rtt"].MaxUS), true},
		{"rtt min >= 1ms", float64(r.Metrics["rtt"].MinUS), true},
		{"rtt mean < 1s", r.Metrics["rtt"].MeanUS, true},
		{"rtt count == 3010", 3010, true},
		{"login p95 < 10ms", float64(r.Metrics["login"].P95US), true},
		{"errors count == 0", 3, false},
		{"errors < 5", 3, true},
		{"errors rate < 0.1%", 3.0 / (300 + 3000), true},
		{"errors rate < 0.05%", 3.0 / (300 + 3000), false},
		{"errors[login] == 0", 3, false},
		{"errors[chat/login] == 3", 3, true},
		{"errors[logout] == 0", 0, true},
		{"dropped == 0", 3, false},
		{"dropped rate < 1/s", 0.1, true},
		{"sends_dropped count == 3", 3, true},
		{"messages_received rate > 1000/s", 100, false},
		{"messages_received rate >= 100/s", 100, true},
		{"connects_failed == 0", 0, true},
		{"reach >= 0.99", 0.9, false},
		{"reach mean >= 0.99", 1089.0 / 1100, true},
		{"reach[lobby] >= 0.99", 0.999, true},
		{"loss < 5%", 0.1, false},
		{"loss[lobby] < 5%", 0.001, true},
		{"loss mean <= 1%", 11.0 / 1100, true},
		// No samples: never a silent pass.
		{"push_delay p95 < 200ms", math.NaN(), false},
		{"push_delay p95 > 0ms", math.NaN(), false},
		{"reach[quiet] > 0.5", math.NaN(), false},
		{"reach[nowhere] > 0.5", math.NaN(), false},
		// A count of nothing is zero.
		{"push_delay count == 0", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			th := mustParse(t, tt.expr)
			res := EvaluateOne(th, r)
			if !(res.Actual == tt.actual || math.IsNaN(tt.actual) && math.IsNaN(res.Actual) || math.Abs(res.Actual-tt.actual) < 1e-12) {
				t.Errorf("actual %v, want %v (%s)", res.Actual, tt.actual, res.Detail)
			}
			if res.Passed != tt.passed {
				t.Errorf("passed %v, want %v (%s)", res.Passed, tt.passed, res.Describe())
			}
			if math.IsNaN(tt.actual) && !strings.Contains(res.Detail, "no samples") {
				t.Errorf("detail %q lacks \"no samples\"", res.Detail)
			}
			if res.Expr != tt.expr || res.Op != th.Op || res.Limit != th.Limit || res.Unit != th.Unit {
				t.Errorf("result fields %+v", res)
			}
		})
	}
}

func TestEvaluateErrorRateWithNothingAttempted(t *testing.T) {
	r := build(t, 3, func(int, *metrics.Set) {})
	res := EvaluateOne(mustParse(t, "errors rate < 1%"), r)
	if res.Passed || !math.IsNaN(res.Actual) || !strings.Contains(res.Detail, "no samples") {
		t.Errorf("%+v", res)
	}
}

func TestEvaluatePartialReport(t *testing.T) {
	r := steady(t)
	h, _ := r.Metrics["rtt"].Histogram()
	// A live report: summaries only.
	for _, m := range r.Metrics {
		m.HDR = ""
	}
	if got := EvaluateOne(mustParse(t, "rtt p99 < 1s"), r).Actual; got != float64(r.Metrics["rtt"].P99US) {
		t.Errorf("p99 from the summary: %v", got)
	}
	if got, want := EvaluateOne(mustParse(t, "rtt p75 < 1s"), r).Actual, float64(h.ValueAtPercentile(75)); got != want {
		t.Errorf("p75 from the series' histograms: %v, want %v", got, want)
	}
	r.Series = nil
	res := EvaluateOne(mustParse(t, "rtt p75 < 1s"), r)
	if !math.IsNaN(res.Actual) || res.Passed || !strings.Contains(res.Detail, "needs the histogram") {
		t.Errorf("p75 without any histogram: %+v", res)
	}
}

func TestEvaluateWindows(t *testing.T) {
	r := steady(t)
	// The exact p99 of the 5-interval window ending with the spike.
	want := metrics.NewHistogram()
	for i := 16; i <= 20; i++ {
		h, err := metrics.DecodeHistogram(r.Series.Latency["rtt"].HDR[i])
		if err != nil {
			t.Fatal(err)
		}
		want.Merge(h)
	}
	tests := []struct {
		expr      string
		window    time.Duration
		delay     time.Duration
		passed    bool
		actual    float64
		worstEndS float64
		detail    string
	}{
		// Whole run: 10 of 3010 samples are 900ms, p99 is ordinary.
		{"rtt p99 < 200ms", 0, 0, true, math.NaN(), 0, ""},
		// Any 5s window holding the spike has 10 of 510 samples at 900ms.
		{"rtt p99 < 200ms", 5 * time.Second, 0, false, float64(want.ValueAtPercentile(99)), 21, "5 of 26 windows broke"},
		// Delay 21s: only windows starting after the spike.
		{"rtt p99 < 200ms", 5 * time.Second, 21 * time.Second, true, math.NaN(), 0, "5 windows, all within"},
		{"rtt max < 1s", 5 * time.Second, 0, true, math.NaN(), 21, ""},
		// One error every ten intervals: any 10s window holds exactly one.
		{"errors < 2", 10 * time.Second, 0, true, 1, 10, "21 windows"},
		{"errors == 0", 10 * time.Second, 0, false, 1, 10, "21 of 21"},
		{"errors == 0", 5 * time.Second, 0, false, 1, 10, "11 of 26"},
		{"messages_sent rate >= 100/s", 3 * time.Second, 0, true, 100, 0, ""},
		{"dropped rate <= 0.2/s", 5 * time.Second, 0, true, 0.2, 10, ""},
		// Longer than the run: judged on what there is.
		{"errors < 5", time.Minute, 0, true, 3, 30, "shorter than one 1m0s window"},
		{"rtt p50 < 1s", 5 * time.Second, time.Hour, false, math.NaN(), 0, "ended before delay"},
	}
	for _, tt := range tests {
		name := tt.expr + " window " + tt.window.String() + " delay " + tt.delay.String()
		t.Run(name, func(t *testing.T) {
			th := mustParse(t, tt.expr)
			th.Window, th.Delay = tt.window, tt.delay
			res := EvaluateOne(th, r)
			if res.Passed != tt.passed {
				t.Errorf("passed %v, want %v: %s (%s)", res.Passed, tt.passed, res.Describe(), res.Detail)
			}
			if !math.IsNaN(tt.actual) && res.Actual != tt.actual {
				t.Errorf("actual %v, want %v", res.Actual, tt.actual)
			}
			if tt.worstEndS != 0 && res.WorstWindow != tt.worstEndS {
				t.Errorf("worst window ends at %v, want %v", res.WorstWindow, tt.worstEndS)
			}
			if !strings.Contains(res.Detail, tt.detail) {
				t.Errorf("detail %q lacks %q", res.Detail, tt.detail)
			}
			if tt.window > 0 && res.Window != tt.window.String() {
				t.Errorf("window %q", res.Window)
			}
		})
	}
}

func TestEvaluateWindowWithoutSeries(t *testing.T) {
	r := steady(t)
	r.Series = nil
	th := mustParse(t, "rtt p99 < 1s")
	th.Window = 10 * time.Second
	if res := EvaluateOne(th, r); res.Passed || !strings.Contains(res.Detail, "no time series") {
		t.Errorf("%+v", res)
	}
}

func TestEvaluateAll(t *testing.T) {
	r := steady(t)
	ts := []Threshold{mustParse(t, "rtt p50 < 1s"), mustParse(t, "errors == 0")}
	res := Evaluate(ts, r)
	if len(res) != 2 || !res[0].Passed || res[1].Passed || AllPassed(res) {
		t.Errorf("%+v", res)
	}
	if !AllPassed(nil) {
		t.Error("no thresholds did not pass")
	}
}
