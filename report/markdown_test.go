package report

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestWriteMarkdownSummary(t *testing.T) {
	r := gateThresholdReport(t)
	r.Generator.Unreliable = true
	r.Generator.Reasons = []string{"generator CPU at 97% of its capacity", "schedule lag p99 42ms | above 10ms"}
	r.Baseline = &Baseline{Path: "baseline.json", StartedAt: gateStart.Add(-24 * time.Hour), Tolerance: "10%", Regressed: []string{"rtt.p99", "errors.rate"}}
	var buf bytes.Buffer
	if err := WriteMarkdownSummary(&buf, r); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "summary.golden.md", buf.Bytes())
	if lines := strings.Count(buf.String(), "\n"); lines > 40 {
		t.Errorf("summary is %d lines: more than one screen", lines)
	}
}

func TestMarkdownVerdict(t *testing.T) {
	yes, no := true, false
	tests := []struct {
		name string
		edit func(r *Report)
		want string
	}{
		{"passed", func(r *Report) { r.Passed = &yes }, "PASS"},
		{"no thresholds", func(r *Report) {}, "PASS"},
		{"thresholds failed", func(r *Report) { r.Passed = &no }, "FAIL"},
		{"aborted", func(r *Report) { r.EndReason = EndAborted }, "FAIL"},
		{"run failed", func(r *Report) { r.EndReason = EndFailed; r.Passed = &yes }, "FAIL"},
		{"interrupted", func(r *Report) { r.EndReason = EndInterrupted }, "INTERRUPTED"},
		{"unreliable", func(r *Report) { r.Generator.Unreliable = true; r.Passed = &no }, "UNRELIABLE"},
		{"baseline regressed", func(r *Report) { r.Baseline = &Baseline{Regressed: []string{"rtt.p99"}} }, "FAIL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := gateThresholdReport(t)
			r.Passed, r.Thresholds = nil, nil
			tt.edit(r)
			if got := RunVerdict(r); got != tt.want {
				t.Errorf("verdict %s, want %s", got, tt.want)
			}
			var buf bytes.Buffer
			if err := WriteMarkdownSummary(&buf, r); err != nil {
				t.Fatal(err)
			}
			first, _, _ := strings.Cut(buf.String(), "\n")
			if !strings.Contains(first, tt.want) {
				t.Errorf("first line %q lacks %s", first, tt.want)
			}
		})
	}
}

func TestMarkdownSummaryPassingRun(t *testing.T) {
	r := gateThresholdReport(t)
	yes := true
	r.Passed = &yes
	r.Thresholds = r.Thresholds[:1]
	r.Counters.ErrorsByCause = map[string]int64{}
	var buf bytes.Buffer
	if err := WriteMarkdownSummary(&buf, r); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"✅ PASS", "chat-smoke", "| rtt |", "**Errors** none", "1 of 1 passed"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	for _, unwanted := range []string{"WARNING", "Baseline"} {
		if strings.Contains(out, unwanted) {
			t.Errorf("summary of a clean run has %q", unwanted)
		}
	}
}
