package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/wsbench/wsbench/metrics"
)

// TestReadJSONRejects: a report whose numbers cannot be true is refused
// on reading, with an error that names the field, before anything renders
// or gates it.
func TestReadJSONRejects(t *testing.T) {
	t.Parallel()
	valid := func() *Report {
		r := failedHTMLFixture()
		h := metrics.NewHistogram()
		for _, v := range []int64{100, 200, 300} {
			metrics.RecordUS(h, v)
		}
		m, err := NewMetric(h)
		if err != nil {
			t.Fatal(err)
		}
		r.Metrics["rtt"] = m
		r.Broadcast = []BroadcastResult{{Room: "r", Published: 2, Expected: 10, Delivered: 9, Lost: 1, Reach: 0.9, Loss: 0.1}}
		return r
	}
	tests := []struct {
		name   string
		change func(r *Report)
		want   string
	}{
		{"negative counter", func(r *Report) { r.Counters.MessagesSent = -1 }, "counters.messages_sent: -1 is negative"},
		// {"a": 5, "b": -5} would sum to no errors and pass `errors == 0`.
		{"negative error count", func(r *Report) { r.Counters.ErrorsByCause = map[string]int64{"a": 150, "b": -150} }, `counters.errors_by_cause["b"]`},
		{"summary and histogram disagree", func(r *Report) { r.Metrics["rtt"].Count = 30 }, `metric "rtt": the summary says 30 samples, the histogram holds 3`},
		{"summary without histogram", func(r *Report) { r.Metrics["rtt"].HDR = "" }, "no histogram"},
		{"null metric", func(r *Report) { r.Metrics["ping"] = nil }, `metric "ping": null`},
		{"bad schedule lag", func(r *Report) { r.Generator.ScheduleLag.HDR = "bm90IGEgaGlzdG9ncmFt" }, "generator.schedule_lag"},
		{"negative duration", func(r *Report) { r.DurationS = -1 }, "duration_s"},
		{"broadcast does not add up", func(r *Report) { r.Broadcast[0].Lost = 0 }, "broadcast[0]: delivered 9 and lost 0"},
		{"broadcast reach above 1", func(r *Report) { r.Broadcast[0].Reach = 1.5 }, "reach 1.5"},
		{"series column too long", func(r *Report) { r.Series.Errors = append(r.Series.Errors, 1) }, "series: errors has 4 values for 3 intervals"},
		{"series negative count", func(r *Report) { r.Series.ConnectFailures[1] = -50 }, "connect_failures[1] = -50"},
		{"series time goes back", func(r *Report) { r.Series.T[2] = 1 }, "t[2] = 1"},
		{"series without interval", func(r *Report) { r.Series.IntervalS = 0 }, "interval_s 0"},
		{"series errors_by too long", func(r *Report) { r.Series.ErrorsBy = map[string][]int64{"x": {1, 2, 3, 4}} }, `errors_by["x"] has 4 values`},
		{"series latency too long", func(r *Report) {
			r.Series.Latency["rtt"] = &LatencySeries{Count: []int64{1}, HDR: []string{"", "", "", ""}}
		}, `latency["rtt"].hdr has 4 values`},
	}
	encode := func(r *Report) []byte {
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if _, err := ReadJSON(bytes.NewReader(encode(valid()))); err != nil {
		t.Fatalf("the valid report is refused: %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := valid()
			tt.change(r)
			got, err := ReadJSON(bytes.NewReader(encode(r)))
			if err == nil || got != nil {
				t.Fatalf("accepted (%v)", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not say %q", err, tt.want)
			}
		})
	}
}
