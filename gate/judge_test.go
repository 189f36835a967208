package gate

import (
	"slices"
	"testing"

	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/report"
)

// slower is steady with every rtt sample twice as slow.
func slower(tb testing.TB) *report.Report {
	return build(tb, 30, func(i int, s *metrics.Set) {
		for k := 1; k <= 100; k++ {
			s.Record(metrics.RTT, 2*int64(k)*1000)
			s.Counters.MessagesSent++
			s.Counters.MessagesReceived++
		}
	})
}

func TestJudge(t *testing.T) {
	t.Parallel()
	pass, fail := mustParse(t, "rtt p50 < 1s"), mustParse(t, "rtt p50 < 1ms")
	tests := []struct {
		name       string
		thresholds []Threshold
		base       func(tb testing.TB) *report.Report // nil: no baseline
		gate       bool
		passed     *bool // nil: absent
		regressed  bool
	}{
		{name: "nothing to judge", passed: nil},
		{name: "thresholds hold", thresholds: []Threshold{pass}, passed: new(true)},
		{name: "a threshold fails", thresholds: []Threshold{pass, fail}, passed: new(false)},
		{name: "report-only baseline, regressed", thresholds: []Threshold{pass}, base: steady, passed: new(true), regressed: true},
		{name: "report-only baseline without thresholds", base: steady, passed: nil, regressed: true},
		{name: "gating baseline, regressed", thresholds: []Threshold{pass}, base: steady, gate: true, passed: new(false), regressed: true},
		{name: "gating baseline, the same run", base: slower, gate: true, passed: new(true)},
		{name: "gating baseline, a threshold fails", thresholds: []Threshold{fail}, base: slower, gate: true, passed: new(false)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := slower(t)
			var b *Baseline
			if tt.base != nil {
				b = &Baseline{Report: tt.base(t), Path: "base.json", Gate: tt.gate}
			}
			Judge(r, Evaluate(tt.thresholds, r), b)
			if (r.Passed == nil) != (tt.passed == nil) || r.Passed != nil && *r.Passed != *tt.passed {
				t.Fatalf("passed %v, want %v", fmtBool(r.Passed), fmtBool(tt.passed))
			}
			if len(r.Thresholds) != len(tt.thresholds) {
				t.Errorf("%d threshold results, want %d", len(r.Thresholds), len(tt.thresholds))
			}
			if b == nil {
				if r.Baseline != nil {
					t.Error("a baseline recorded without one")
				}
				return
			}
			rb := r.Baseline
			if rb == nil || rb.Path != "base.json" || rb.Tolerance != "10%" || rb.ReportOnly == tt.gate {
				t.Fatalf("baseline %+v", rb)
			}
			if got := slices.Contains(rb.Regressed, "rtt.p50"); got != tt.regressed {
				t.Errorf("regressed %v, want rtt.p50 in it: %v", rb.Regressed, tt.regressed)
			}
			if len(rb.Regressions) != len(rb.Regressed) {
				t.Errorf("%d regression rows for %d keys", len(rb.Regressions), len(rb.Regressed))
			}
			for i, row := range rb.Regressions {
				if row.Key != rb.Regressed[i] || row.Status != report.StatusRegressed || row.New <= row.Base {
					t.Errorf("row %+v", row)
				}
			}
		})
	}
}

func fmtBool(b *bool) any {
	if b == nil {
		return nil
	}
	return *b
}
