package gate_test

import (
	"fmt"
	"time"

	"github.com/wsbench/wsbench/gate"
	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/report"
)

func ExampleParse() {
	for _, expr := range []string{"rtt p99 < 50ms", "errors rate < 0.1%", "errors[login] == 0", "reach >= 99.9%", "rtt p99 = 50ms"} {
		t, err := gate.Parse(expr)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Printf("%-20s metric=%s stat=%s op=%s limit=%g %s\n", expr, t.Name(), t.Stat, t.Op, t.Limit, t.Unit)
	}
	// Output:
	// rtt p99 < 50ms       metric=rtt stat=p99 op=< limit=50000 us
	// errors rate < 0.1%   metric=errors stat=rate op=< limit=0.001 ratio
	// errors[login] == 0   metric=errors[login] stat=count op=== limit=0 count
	// reach >= 99.9%       metric=reach stat=min op=>= limit=0.999 ratio
	// threshold "rtt p99 = 50ms": unknown operator "=": use == for equality
}

func ExampleEvaluate() {
	// A finished run: 1000 echoes of 1 to 1000 µs, and 3 timeouts.
	h := metrics.NewHistogram()
	for us := int64(1); us <= 1000; us++ {
		metrics.RecordUS(h, us)
	}
	rtt, _ := report.NewMetric(h)
	r := &report.Report{
		DurationS: 10,
		Metrics:   map[string]*report.Metric{"rtt": rtt},
		Counters: metrics.Counters{
			ConnectsAttempted: 10, MessagesSent: 1000, MessagesReceived: 997,
			ErrorsByCause: map[string]int64{"timeout": 3},
		},
	}
	var ts []gate.Threshold
	for _, expr := range []string{"rtt p99 < 1ms", "rtt p99.99 < 1ms", "errors rate < 0.1%", "messages_received rate > 50/s", "push_delay p95 < 1s"} {
		t, err := gate.Parse(expr)
		if err != nil {
			panic(err)
		}
		ts = append(ts, t)
	}
	for _, res := range gate.Evaluate(ts, r) {
		mark := "ok  "
		if !res.Passed {
			mark = "FAIL"
		}
		fmt.Println(mark, res.Describe())
	}
	// Output:
	// ok   rtt p99 = 990µs, limit < 1ms
	// FAIL rtt p99.99 = 1.00ms, limit < 1ms
	// FAIL errors rate = 0.297%, limit < 0.1%
	// ok   messages_received rate = 99.7/s, limit > 50/s
	// FAIL push_delay p95 = n/a (no samples), limit < 1s
}

func ExampleLive() {
	t, _ := gate.Parse("errors == 0")
	t.AbortOnFail = true
	t.Delay = 5 * time.Second
	live := gate.NewLive([]gate.Threshold{t})

	// The engine hands it every interval with the run's totals so far.
	total := metrics.NewSet(metrics.NewRegistry())
	total.Counters.ErrorsByCause = map[string]int64{"timeout": 1}
	for s := 1; s <= 10; s++ {
		iv := &metrics.Interval{Start: time.Duration(s-1) * time.Second, End: time.Duration(s) * time.Second, Set: metrics.NewSet(metrics.NewRegistry())}
		if err := live.Interval(iv, total); err != nil {
			fmt.Println(err)
			break
		}
	}
	// Output:
	// threshold "errors == 0" failed after 5s: errors count = 1, limit == 0
}
