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
	r.Generator.Findings = []Finding{
		{Rule: "cpu_saturated", Verdict: VerdictUnreliable, Value: 97, Limit: 90, Unit: "%", Detail: "generator CPU at 97% of its capacity"},
		{Rule: "schedule_lag", Verdict: VerdictUnreliable, Value: 42000, Limit: 10000, Unit: "us", Detail: "schedule lag p99 42ms | above 10ms"},
		{Rule: "dropped", Verdict: VerdictNote, Value: 42, Unit: "count", Detail: "42 sends/sessions dropped (behind schedule or at max_sessions)"},
		{Rule: "gc", Verdict: VerdictNote, Value: 1.4, Limit: 1, Unit: "%", Detail: "GC paused the generator for 84 ms (1.4% of the run)"},
	}
	r.Generator.Reasons = []string{"generator CPU at 97% of its capacity", "schedule lag p99 42ms | above 10ms"}
	r.Generator.Notes = []string{"42 sends/sessions dropped (behind schedule or at max_sessions)", "GC paused the generator for 84 ms (1.4% of the run)"}
	r.Baseline = testBaseline()
	r.Workers = testWorkers()
	var buf bytes.Buffer
	if err := WriteMarkdownSummary(&buf, r); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "summary.golden.md", buf.Bytes())
	if lines := mdScreenLines(t, buf.String()); lines > 32 {
		t.Errorf("summary shows %d lines: more than one screen", lines)
	}
}

// mdScreenLines counts the lines the summary shows: its lines that are
// not blank (blank lines separate paragraphs; they are not lines on the
// screen), a collapsed section (<details> without open) counting as its
// summary line.
func mdScreenLines(t *testing.T, md string) int {
	t.Helper()
	n := 0
	for {
		i := strings.Index(md, "<details>")
		if i < 0 {
			break
		}
		j := strings.Index(md[i:], "</details>")
		if j < 0 {
			t.Fatalf("<details> without its end:\n%s", md[i:])
		}
		md = md[:i] + "(collapsed)" + md[i+j+len("</details>"):]
	}
	for _, line := range strings.Split(md, "\n") {
		if strings.TrimSpace(line) != "" {
			n++
		}
	}
	return n
}

// testWorkers is a run split over two worker processes, both fine.
func testWorkers() []WorkerResult {
	return []WorkerResult{
		{Index: 1, PID: 5101, SourceAddrs: []string{"127.0.0.2"}, Exit: workerOK, EndReason: EndCompleted, PeakConnections: 30,
			ConnectsOK: 30, MessagesSent: 1800, MessagesReceived: 1800, Errors: 21, MaxRSSBytes: 40 << 20},
		{Index: 2, PID: 5102, SourceAddrs: []string{"127.0.0.3"}, Exit: workerOK, EndReason: EndCompleted, PeakConnections: 30,
			ConnectsOK: 30, MessagesSent: 1800, MessagesReceived: 1800, Errors: 21, MaxRSSBytes: 41 << 20},
	}
}

// The workers' table is collapsed while every worker is fine and open,
// the worker marked, when one needs attention.
func TestMarkdownWorkers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		edit  func(w []WorkerResult)
		open  bool
		marks int
	}{
		{"all fine", func([]WorkerResult) {}, false, 0},
		{"unreliable", func(w []WorkerResult) { w[1].Unreliable = true }, true, 1},
		{"killed", func(w []WorkerResult) { w[0].Exit = "was killed by signal killed"; w[0].EndReason = EndFailed }, true, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := gateThresholdReport(t)
			r.Workers = testWorkers()
			tc.edit(r.Workers)
			var buf bytes.Buffer
			if err := WriteMarkdownSummary(&buf, r); err != nil {
				t.Fatal(err)
			}
			out := buf.String()
			if got := strings.Contains(out, "<details open><summary>Workers: 2 processes, 1 need attention</summary>"); got != tc.open {
				t.Errorf("open workers table: %v, want %v:\n%s", got, tc.open, out)
			}
			if !tc.open && !strings.Contains(out, "<details><summary>Workers: 2 processes</summary>") {
				t.Errorf("no collapsed workers table:\n%s", out)
			}
			if got := strings.Count(out, "| ⚠️ |"); got != tc.marks {
				t.Errorf("%d workers marked, want %d:\n%s", got, tc.marks, out)
			}
			if !strings.Contains(out, "| 5102 | 30 | 30 | 1800 | 1800 | 21 | 41.0MiB |") {
				t.Errorf("worker 2's row is missing:\n%s", out)
			}
		})
	}
}

// A report without findings (older, or merged) warns with its reasons
// and lists its notes as they are.
func TestMarkdownGeneratorWithoutFindings(t *testing.T) {
	t.Parallel()
	r := gateThresholdReport(t)
	r.Generator.Unreliable = true
	r.Generator.Reasons = []string{"worker 1: generator CPU saturated"}
	r.Generator.Notes = []string{"GC paused the generator for 84 ms"}
	var buf bytes.Buffer
	if err := WriteMarkdownSummary(&buf, r); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"> - worker 1: generator CPU saturated\n", "<details><summary>Generator: 1 note</summary>\n\n- GC paused the generator for 84 ms\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
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
		{"baseline regressed, report only", func(r *Report) { r.Baseline = &Baseline{Regressed: []string{"rtt.p99"}, ReportOnly: true} }, "PASS"},
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

// testBaseline is a gating baseline comparison with two regressed rows.
func testBaseline() *Baseline {
	return &Baseline{
		Path: "baseline.json", StartedAt: gateStart.Add(-24 * time.Hour), Tolerance: "10%",
		Regressed: []string{"rtt.p99", "errors.rate"},
		Regressions: []CompareRow{
			{Key: "rtt.p99", Metric: "rtt", Stat: "p99", Unit: "us", LowerIsBetter: true, Base: 2900, New: 3600,
				BaseLow: 2800, BaseHigh: 3000, NewLow: 3500, NewHigh: 3700, Delta: 700, Relative: 700.0 / 2900, Tolerance: 0.1, Gated: true, Status: StatusRegressed},
			{Key: "errors.rate", Metric: "errors", Stat: "rate", Unit: "ratio", LowerIsBetter: true, Base: 0.001, New: 0.0025,
				BaseLow: 0.0008, BaseHigh: 0.0012, NewLow: 0.0022, NewHigh: 0.0028, Delta: 0.0015, Relative: 1.5, Tolerance: 0.1, Gated: true, Status: StatusRegressed},
		},
		Notes: []string{"DIFFERENT SCENARIOS: base ran \"chat\", new ran \"chat-smoke\"; the rows compare different workloads"},
	}
}

func TestBaselineLinesNameEachRegression(t *testing.T) {
	for _, reportOnly := range []bool{false, true} {
		r := gateThresholdReport(t)
		r.Baseline = testBaseline()
		r.Baseline.ReportOnly = reportOnly
		var text, md bytes.Buffer
		if err := WriteText(&text, r); err != nil {
			t.Fatal(err)
		}
		if err := WriteMarkdownSummary(&md, r); err != nil {
			t.Fatal(err)
		}
		for _, out := range []string{text.String(), md.String()} {
			for _, want := range []string{"rtt p99", "2.90ms", "3.60ms", "+24.1%", "2.80ms–3.00ms", "3.50ms–3.70ms",
				"errors rate", "0.1%", "0.25%", "+150.0%", "DIFFERENT SCENARIOS"} {
				if !strings.Contains(out, want) {
					t.Errorf("report only %v: output lacks %q:\n%s", reportOnly, want, out)
				}
			}
		}
		wantText := "baseline: REGRESSED (2)"
		if reportOnly {
			wantText = "baseline: 2 regressions (not gating)"
		}
		if !strings.Contains(text.String(), wantText) {
			t.Errorf("text summary lacks %q:\n%s", wantText, text.String())
		}
	}
}

// A run that failed only its baseline gate does not say its thresholds
// failed.
func TestTextThresholdVerdictIgnoresBaseline(t *testing.T) {
	r := gateThresholdReport(t)
	r.Thresholds = r.Thresholds[:1] // passes
	no := false
	r.Passed = &no
	r.Baseline = testBaseline()
	var buf bytes.Buffer
	if err := WriteText(&buf, r); err != nil {
		t.Fatal(err)
	}
	if out := buf.String(); !strings.Contains(out, "thresholds: PASSED · baseline: REGRESSED (2)") {
		t.Errorf("verdict line wrong:\n%s", out)
	}
}
