package threshold

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	tests := []struct {
		expr                        string
		metric, sel, stat, op, unit string
		limit                       float64
	}{
		{"rtt p99 < 50ms", "rtt", "", "p99", "<", UnitMicros, 50000},
		{"connect p95 < 200ms", "connect", "", "p95", "<", UnitMicros, 200000},
		{"handshake max <= 1s", "handshake", "", "max", "<=", UnitMicros, 1e6},
		{"rtt p99.9 < 1.5s", "rtt", "", "p99.9", "<", UnitMicros, 1.5e6},
		{"rtt p99.90 < 250us", "rtt", "", "p99.9", "<", UnitMicros, 250},
		{"rtt p50 < 900µs", "rtt", "", "p50", "<", UnitMicros, 900},
		{"rtt median < 2m", "rtt", "", "p50", "<", UnitMicros, 120e6},
		{"rtt avg < 10ms", "rtt", "", "mean", "<", UnitMicros, 10000},
		{"rtt stddev < 5ms", "rtt", "", "stddev", "<", UnitMicros, 5000},
		{"rtt count > 1000", "rtt", "", "count", ">", UnitCount, 1000},
		{"rtt min >= .5ms", "rtt", "", "min", ">=", UnitMicros, 500},
		{"rtt p99<50ms", "rtt", "", "p99", "<", UnitMicros, 50000},
		{"  rtt   p99   <   50 ms  ", "rtt", "", "p99", "<", UnitMicros, 50000},
		{"login p95 < 200ms", "login", "", "p95", "<", UnitMicros, 200000},
		{"schedule_lag p99 < 10ms", "schedule_lag", "", "p99", "<", UnitMicros, 10000},
		{"errors rate < 0.1%", "errors", "", "rate", "<", UnitRatio, 0.001},
		{"errors rate < 0.001", "errors", "", "rate", "<", UnitRatio, 0.001},
		{"errors count == 0", "errors", "", "count", "==", UnitCount, 0},
		{"errors < 5", "errors", "", "count", "<", UnitCount, 5},
		{"errors[login] == 0", "errors", "login", "count", "==", UnitCount, 0},
		{"errors[ chat/login ] count == 0", "errors", "chat/login", "count", "==", UnitCount, 0},
		{"reach >= 0.999", "reach", "", "min", ">=", UnitRatio, 0.999},
		{"reach mean >= 99.9%", "reach", "", "mean", ">=", UnitRatio, 0.999},
		{"reach[lobby] > 0.99", "reach", "lobby", "min", ">", UnitRatio, 0.99},
		{"loss == 0", "loss", "", "max", "==", UnitRatio, 0},
		{"loss mean < 1%", "loss", "", "mean", "<", UnitRatio, 0.01},
		{"dropped == 0", "dropped", "", "count", "==", UnitCount, 0},
		{"dropped rate < 1/s", "dropped", "", "rate", "<", UnitPerSecond, 1},
		{"messages_received rate > 1000/s", "messages_received", "", "rate", ">", UnitPerSecond, 1000},
		{"messages_received rate > 1000", "messages_received", "", "rate", ">", UnitPerSecond, 1000},
		{"replies_missing == 0", "replies_missing", "", "count", "==", UnitCount, 0},
		{"connects_failed == 0", "connects_failed", "", "count", "==", UnitCount, 0},
		{"push_gaps == 0", "push_gaps", "", "count", "==", UnitCount, 0},
		{"sends_dropped count != 3", "sends_dropped", "", "count", "!=", UnitCount, 3},
		{"sessions_dropped == 0", "sessions_dropped", "", "count", "==", UnitCount, 0},
		{"latency_clamped == 0", "latency_clamped", "", "count", "==", UnitCount, 0},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			got, err := Parse(tt.expr)
			if err != nil {
				t.Fatal(err)
			}
			if got.Metric != tt.metric || got.Select != tt.sel || got.Stat != tt.stat || got.Op != tt.op || got.Unit != tt.unit ||
				math.Abs(got.Limit-tt.limit) > 1e-9*math.Max(1, tt.limit) {
				t.Errorf("got %+v", got)
			}
			if got.Expr != strings.TrimSpace(tt.expr) {
				t.Errorf("Expr %q", got.Expr)
			}
			back, err := Parse(got.String())
			if err != nil {
				t.Fatalf("canonical form %q does not parse: %v", got.String(), err)
			}
			back.Expr = got.Expr
			if back != got {
				t.Errorf("round trip through %q: %+v, want %+v", got.String(), back, got)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		expr   string
		offset int
		want   string
	}{
		{"", 0, "empty threshold"},
		{"   ", 0, "empty threshold"},
		{"99 < 5", 0, "expected a metric name"},
		{"rtt < 50ms", 0, "rtt is a latency metric: name a statistic"},
		{"rtt p99", 7, "missing operator and limit"},
		{"rtt p99 = 50ms", 8, `use == for equality`},
		{"rtt p99 << 50ms", 8, `unknown operator "<<"`},
		{"rtt p99 =< 50ms", 8, `unknown operator "=<"`},
		{"rtt p99 <", 9, "missing limit"},
		{"rtt p99 < fast", 10, "expected a number"},
		{"rtt p99 < -5ms", 10, "without a sign"},
		{"rtt p99 < 5.ms", 10, "malformed number"},
		{"rtt p99 < 50", 10, "give the limit a unit"},
		{"rtt p99 < 50 parsecs", 13, `unknown time unit "parsecs"`},
		{"rtt p99 < 50ms or so", 15, `unexpected "or so"`},
		{"rtt p999 < 50ms", 4, "did you mean p99.9"},
		{"rtt p0 < 50ms", 4, "out of range"},
		{"rtt p101 < 50ms", 4, "out of range"},
		{"rtt p9x < 50ms", 4, "malformed percentile"},
		{"rtt p < 50ms", 4, "malformed percentile"},
		{"rtt fastest < 50ms", 4, `unknown statistic "fastest" for rtt: want min, mean, max`},
		{"rtt rate < 5/s", 4, "unknown statistic"},
		{"errors p99 < 5", 7, "want count (default) or rate"},
		{"errors[login] rate < 1%", 14, "want count"},
		{"errors rate < 5/s", 15, "is a ratio"},
		{"errors rate < 5", 14, "write 5% or 0.05"},
		{"errors rate < 150%", 17, "more than 100%"},
		{"errors count < 5ms", 16, "is a count"},
		{"messages_received rate > 1000ms", 29, "is per second"},
		{"reach max > 0.9", 6, "want min (default: the worst room) or mean"},
		{"loss min < 0.1", 5, "want max (default: the worst room) or mean"},
		{"rtt[x] p99 < 5ms", 3, "takes no [selector]"},
		{"errors[] == 0", 6, "empty [selector]"},
		{"errors[login == 0", 6, "missing ]"},
		{"rtt p99 < 1" + strings.Repeat("0", 400) + "ms", 10, "out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			_, err := Parse(tt.expr)
			if err == nil {
				t.Fatal("parsed")
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %T, want *ParseError", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q lacks %q", err, tt.want)
			}
			if pe.Offset != tt.offset {
				t.Errorf("offset %d, want %d (%q)", pe.Offset, tt.offset, tt.expr[min(pe.Offset, len(tt.expr)):])
			}
		})
	}
}

func TestValidate(t *testing.T) {
	known := Known([]string{"rtt", "connect", "handshake", "login"})
	tests := []struct {
		expr   string
		window time.Duration
		delay  time.Duration
		want   string // "" for valid
	}{
		{"rtt p99 < 50ms", 0, 0, ""},
		{"login p95 < 200ms", 10 * time.Second, time.Minute, ""},
		{"errors < 5", 10 * time.Second, 0, ""},
		{"errors rate < 1%", 10 * time.Second, 0, ""},
		{"dropped == 0", 10 * time.Second, 0, ""},
		{"messages_received rate > 10/s", 10 * time.Second, 0, ""},
		{"connects_failed == 0", 0, 0, ""},
		{"logn p95 < 200ms", 0, 0, `unknown metric "logn": want a latency metric`},
		{"messages_recieved_ok p95 < 2ms", 0, 0, "want a latency metric (rtt, connect"},
		{"conect p99 < 1s", 0, 0, "did you mean connect?"},
		{"reach > 0.99", 10 * time.Second, 0, "reach cannot have a window"},
		{"errors[login] == 0", 10 * time.Second, 0, "cannot have a window"},
		{"rtt p99 < 50ms", 0, -time.Second, "delay -1s is negative"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			th, err := Parse(tt.expr)
			if err != nil {
				t.Fatal(err)
			}
			th.Window, th.Delay = tt.window, tt.delay
			err = Validate(th, known)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
	if err := Validate(Threshold{}, nil); err == nil {
		t.Error("a zero Threshold validated")
	}
	th, _ := Parse("anything p99 < 1ms")
	if err := Validate(th, nil); err != nil {
		t.Errorf("nil known rejected a metric: %v", err)
	}
}

func TestReservedNames(t *testing.T) {
	r := ReservedNames()
	for _, want := range []string{"errors", "dropped", "reach", "loss", "messages_received", "connects_failed", "sends_dropped", "push_gaps"} {
		found := false
		for _, n := range r {
			found = found || n == want
		}
		if !found {
			t.Errorf("%s not reserved", want)
		}
	}
	for _, n := range r {
		if IsLatency(n) {
			t.Errorf("reserved %s is a latency metric", n)
		}
		if n == "closes_by_code" || n == "errors_by_cause" {
			t.Errorf("map counter %s listed", n)
		}
	}
}

// FuzzParse checks that Parse never panics, that its errors carry an
// offset inside the expression, and that whatever parses round-trips
// through its canonical form.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"rtt p99 < 50ms", "errors rate < 0.1%", "errors[login] == 0", "reach >= 0.999", "messages_received rate > 1000/s",
		"handshake max <= 1s", "loss == 0", "dropped == 0", "rtt p99.99 < .5us", "errors[", "rtt p", "a b c d", "x<1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		th, err := Parse(expr)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Offset < 0 || pe.Offset > len(expr) {
				t.Fatalf("Parse(%q): %v (offset out of range)", expr, err)
			}
			return
		}
		if math.IsNaN(th.Limit) || math.IsInf(th.Limit, 0) || th.Limit < 0 {
			t.Fatalf("Parse(%q): limit %v", expr, th.Limit)
		}
		back, err := Parse(th.String())
		if err != nil {
			t.Fatalf("canonical form %q of %q does not parse: %v", th.String(), expr, err)
		}
		back.Expr = th.Expr
		if back != th {
			t.Fatalf("round trip of %q through %q: %+v, want %+v", expr, th.String(), back, th)
		}
	})
}

func TestLagBudget(t *testing.T) {
	for _, tc := range []struct {
		exprs []string
		want  time.Duration
	}{
		{nil, 0},
		{[]string{"errors == 0", "connect p99 < 5ms"}, 0},
		{[]string{"rtt p99 < 50ms", "rtt p50 < 10ms"}, time.Millisecond},
		{[]string{"broadcast_complete max <= 200ms", "rtt p99 > 1ms"}, 20 * time.Millisecond},
		{[]string{"schedule_lag p99 < 1ms", "login p95 < 300ms"}, 30 * time.Millisecond},
	} {
		var ts []Threshold
		for _, e := range tc.exprs {
			ts = append(ts, mustParse(t, e))
		}
		if got := LagBudget(ts); got != tc.want {
			t.Errorf("LagBudget(%q) = %v, want %v", tc.exprs, got, tc.want)
		}
	}
}

func mustParse(tb testing.TB, expr string) Threshold {
	tb.Helper()
	th, err := Parse(expr)
	if err != nil {
		tb.Fatal(err)
	}
	return th
}
