package engine

import (
	"strings"
	"testing"
	"time"

	"github.com/wsbench/wsbench/metrics"
)

// The progress line reads metrics by name: an interval merged from
// workers may hold fewer metrics, in another order, than the engine's.
func TestProgressReadsMetricsByName(t *testing.T) {
	for _, tc := range []struct {
		name  string
		names []string
		want  string
	}{
		{"engine order", metrics.BuiltinNames(), "rtt p99 2.00ms"},
		{"merged, rtt first", []string{"rtt", "connect"}, "rtt p99 2.00ms"},
		{"no rtt at all", []string{"connect"}, "rtt p99 -"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			set := metrics.NewSetNames(tc.names)
			if h := set.Histogram("rtt"); h != nil {
				metrics.RecordUS(h, 2000)
			}
			if h := set.Histogram("connect"); h != nil {
				metrics.RecordUS(h, 90_000)
			}
			var out strings.Builder
			p := NewProgress(&out, false, 10*time.Second)
			iv := &metrics.Interval{Start: 0, End: time.Second, Set: set, Active: 3}
			if err := p.Interval(iv, set); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out.String(), tc.want) || !strings.Contains(out.String(), "conns 3") {
				t.Fatalf("progress line %q, want %q", out.String(), tc.want)
			}
		})
	}
}
