package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReportBaselineOverlay renders a run's HTML with an earlier run as
// --baseline: the page overlays the baseline on the latency charts and
// compares the two; the flag is refused where it would do nothing.
func TestReportBaselineOverlay(t *testing.T) {
	dir := t.TempDir()
	base, now := sharedReports(t) // two runs: the fast one as the baseline of the slower
	out := filepath.Join(dir, "now.html")
	if code, _, stderr := wsbench(t, "report", "--baseline", base, "-o", out, now); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"label":"p99 baseline"`, `<section id="baseline">`, base} {
		if !strings.Contains(string(b), want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if code, _, stderr := wsbench(t, "report", "--baseline", base, "--format", "text", now); code != exitCannotStart || !strings.Contains(stderr, "--baseline") {
		t.Errorf("--baseline with text: exit %d, %q; want %d and a word about --baseline", code, stderr, exitCannotStart)
	}
	if code, _, stderr := wsbench(t, "report", "--baseline", filepath.Join(dir, "missing.json"), now); code != exitCannotStart || !strings.Contains(stderr, "--baseline") {
		t.Errorf("missing baseline: exit %d, %q; want %d", code, stderr, exitCannotStart)
	}
}
