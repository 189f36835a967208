package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wsbench/wsbench/report"
)

func TestCompareAndMerge(t *testing.T) {
	dir := t.TempDir()
	fast, slow := sharedReports(t)

	t.Run("self shows no change", func(t *testing.T) {
		code, out, stderr := wsbench(t, "compare", "--format", "json", "--fail-on-regression", "10%", fast, fast)
		if code != exitOK {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		var cmp report.Comparison
		if err := json.Unmarshal([]byte(out), &cmp); err != nil {
			t.Fatalf("comparison JSON: %v\n%s", err, out)
		}
		for _, r := range cmp.Rows {
			if r.Status != report.StatusUnchanged && r.Status != report.StatusNA {
				t.Errorf("row %s: %s (base %v, new %v)", r.Key, r.Status, r.Base, r.New)
			}
		}
	})
	t.Run("slower server is a regression", func(t *testing.T) {
		code, out, _ := wsbench(t, "compare", "--fail-on-regression", "10%", fast, slow)
		if code != exitThresholds || !strings.Contains(out, "rtt") {
			t.Fatalf("exit %d, want %d:\n%s", code, exitThresholds, out)
		}
	})
	t.Run("merge reads back", func(t *testing.T) {
		all := filepath.Join(dir, "all.json")
		if code, _, stderr := wsbench(t, "merge", "-o", all, fast, slow); code != exitOK {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		m, err := report.ReadJSONFile(all)
		if err != nil {
			t.Fatal(err)
		}
		a, _ := report.ReadJSONFile(fast)
		b, _ := report.ReadJSONFile(slow)
		if m.Counters.MessagesReceived != a.Counters.MessagesReceived+b.Counters.MessagesReceived ||
			m.Metrics["rtt"].Count != a.Metrics["rtt"].Count+b.Metrics["rtt"].Count || len(m.MergedFrom) != 2 {
			t.Fatalf("merged %d messages, %d samples from %v", m.Counters.MessagesReceived, m.Metrics["rtt"].Count, m.MergedFrom)
		}
	})
}

func TestReportRenders(t *testing.T) {
	dir := t.TempDir()
	in, _ := sharedReports(t)
	code, out, stderr := wsbench(t, "report", "--format", "text", in)
	if code != exitOK || !strings.Contains(out, "Latency") || !strings.Contains(out, "thresholds: PASSED") {
		t.Fatalf("text: exit %d\n%s%s", code, out, stderr)
	}
	html := filepath.Join(dir, "r.html")
	if code, _, stderr := wsbench(t, "report", "-o", html, in); code != exitOK {
		t.Fatalf("html: exit %d: %s", code, stderr)
	}
	b, err := os.ReadFile(html)
	if err != nil || !strings.Contains(string(b), "<html") || strings.Contains(string(b), "http://") && strings.Contains(string(b), "<script src=") {
		t.Fatalf("html output: %v", err)
	}
	if code, _, _ := wsbench(t, "report", filepath.Join(dir, "missing.json")); code != exitCannotStart {
		t.Fatalf("missing input: exit %d", code)
	}
}

func TestCapacityFirstStepBreaksSLO(t *testing.T) {
	dir := t.TempDir()
	j := filepath.Join(dir, "cap.json")
	code, out, stderr := wsbench(t, "capacity", "--json", j, "testdata/capacity-broken.yaml")
	if code != exitThresholds {
		t.Fatalf("exit %d, want %d\n%s%s", code, exitThresholds, out, stderr)
	}
	r, err := report.ReadJSONFile(j)
	if err != nil {
		t.Fatal(err)
	}
	if r.Capacity == nil || r.Capacity.MaxOK != nil || len(r.Capacity.Steps) != 1 || r.Capacity.Steps[0].Passed {
		t.Fatalf("capacity %+v", r.Capacity)
	}
}
