package gate

import (
	"math"
	"testing"
	"time"

	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/report"
	"github.com/wsbench/wsbench/threshold"
)

// FuzzEvaluate parses arbitrary threshold expressions with arbitrary
// options and judges them against finished and partial runs: a short
// steady run, a run that never connected, one with broadcast results, and
// a report with nothing in it. Nothing may panic, and the verdict must
// follow from the value: a whole-run threshold passes exactly when its
// value satisfies the operator, a threshold without a value never passes
// a finished run, and a live check is certain only of a failure. Seeds
// live in testdata/fuzz/FuzzEvaluate.
//
//	go test -run='^$' -fuzz=FuzzEvaluate -fuzztime=60s ./gate/
func FuzzEvaluate(f *testing.F) {
	for _, s := range []struct {
		expr          string
		window, delay uint16
		elapsed       uint16
	}{
		{"rtt p99 < 50ms", 0, 0, 10}, {"rtt p99.9 <= 1s", 5, 0, 30}, {"errors rate < 0.1%", 3, 2, 5},
		{"errors[chat/login] == 0", 0, 0, 0}, {"reach >= 0.999", 0, 0, 1}, {"loss[room-*] == 0", 0, 0, 1},
		{"messages_received rate > 1000/s", 10, 0, 30}, {"dropped == 0", 1, 29, 29}, {"connect max < 3ms", 2, 0, 20},
		{"login count >= 1", 7, 0, 3}, {"tls_handshake p50 < 10ms", 0, 0, 1}, {"schedule_lag p99 < 1ms", 4, 1, 12},
	} {
		f.Add(s.expr, s.window, s.delay, s.elapsed)
	}
	// Short runs: a windowed threshold decodes every interval's histogram,
	// and the seeds run under the race detector with every go test.
	short := func() *report.Report {
		login := metrics.ID(-1)
		return build(f, 6, func(i int, s *metrics.Set) {
			if login < 0 {
				login = metrics.ID(len(s.Names()) - 1)
			}
			for k := 1; k <= 20; k++ {
				s.Record(metrics.RTT, int64(k*(i+1))*1000)
				s.Counters.MessagesSent++
				s.Counters.MessagesReceived++
			}
			s.Record(metrics.Connect, 2000)
			s.Record(login, 5000)
			s.Counters.ConnectsAttempted++
			s.Counters.ConnectsOK++
			if i == 4 {
				s.Counters.ErrorsByCause = map[string]int64{"timeout": 1}
				s.Counters.ErrorsByStep = map[string]int64{"chat/login: timeout": 1}
				s.Counters.SendsDropped++
			}
		})
	}
	never := build(f, 3, func(i int, s *metrics.Set) {
		s.Counters.ConnectsAttempted, s.Counters.ConnectsFailed = 10, 10
		s.Counters.ErrorsByCause = map[string]int64{"refused": 10}
	})
	fanout := short()
	fanout.Broadcast = []report.BroadcastResult{
		{Room: "room-*", Rooms: 2, Published: 10, Expected: 100, Delivered: 99, Lost: 1, Reach: 0.99, Loss: 0.01},
		{Room: "lobby", Rooms: 1, Published: 5, Expected: 0, Reach: 1},
	}
	runs := []*report.Report{short(), never, fanout, {Schema: report.SchemaVersion}}
	// Each run as a live evaluation would see it at its end.
	type liveState struct {
		total *metrics.Set
		tl    *metrics.Timeline
	}
	lives := make([]liveState, len(runs))
	for i, r := range runs {
		tl := &metrics.Timeline{}
		if r.Series != nil {
			var err error
			if tl, err = r.Series.Timeline(); err != nil {
				f.Fatal(err)
			}
		}
		total, err := tl.Sum(nil, 0, tl.Len())
		if err != nil {
			f.Fatal(err)
		}
		lives[i] = liveState{total, tl}
	}
	f.Fuzz(func(t *testing.T, expr string, window, delay, elapsed uint16) {
		th, err := Parse(expr)
		if err != nil {
			return
		}
		th.Window = time.Duration(window) * time.Second
		th.Delay = time.Duration(delay) * time.Second
		_ = threshold.Validate(th, nil)
		for i, r := range runs {
			res := EvaluateOne(th, r)
			if th.Window == 0 && res.Passed != holds(th, res.Actual) {
				t.Fatalf("run %d: %q on %v: passed %v", i, expr, res.Actual, res.Passed)
			}
			if math.IsNaN(res.Actual) && (res.Passed || res.Detail == "") {
				t.Fatalf("run %d: %q without a value: passed %v, detail %q", i, expr, res.Passed, res.Detail)
			}
			live, certain := Check(th, lives[i].total, lives[i].tl, time.Duration(elapsed)*time.Second)
			if certain && live.Passed {
				t.Fatalf("run %d: %q certain of a pass", i, expr)
			}
			if time.Duration(elapsed)*time.Second < th.Delay && !live.Passed {
				t.Fatalf("run %d: %q failed before its delay", i, expr)
			}
		}
	})
}
