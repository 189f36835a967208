package main

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wsbench/wsbench/report"
)

// A run against a baseline names each regressed metric with its values;
// --baseline alone reports, --fail-on-regression gates.
func TestRunBaseline(t *testing.T) {
	t.Parallel()
	fast, _ := sharedReports(t)
	tests := []struct {
		name    string
		args    []string
		code    int
		verdict string // on the summary's first lines
		mark    string // on the regressed metric's line
	}{
		{"report only", nil, exitOK, "thresholds: PASSED · baseline: ", "regressed  rtt p50: base "},
		{"gating", []string{"--fail-on-regression", "10%"}, exitThresholds, "thresholds: PASSED · baseline: REGRESSED (", "REGRESSED  rtt p50: base "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			j, junit := filepath.Join(dir, "r.json"), filepath.Join(dir, "junit.xml")
			args := append([]string{"run", "--json", j, "--junit", junit, "--duration", "1s", "--baseline", fast}, tt.args...)
			code, out, errOut := wsbench(t, append(args, "testdata/gate-much-slower.yaml")...)
			r, err := report.ReadJSONFile(j)
			if err != nil {
				t.Fatalf("exit %d: %v\n%s", code, err, errOut)
			}
			want := tt.code
			if r.Generator.Unreliable {
				want = exitUnreliable // a busy test machine; it outranks the verdict
			}
			if code != want {
				t.Fatalf("exit %d, want %d:\n%s%s", code, want, out, errOut)
			}
			for _, want := range []string{tt.verdict, tt.mark, "noise band (95% CI) base ", "Baseline     " + fast} {
				if !strings.Contains(out, want) {
					t.Errorf("summary lacks %q:\n%s", want, out)
				}
			}
			if tt.code == exitOK && !strings.Contains(out, "report only: add --fail-on-regression to gate") {
				t.Errorf("summary does not say the baseline did not gate:\n%s", out)
			}
			b := r.Baseline
			if b == nil || !contains(b.Regressed, "rtt.p50") || len(b.Regressions) != len(b.Regressed) || b.ReportOnly != (tt.code == exitOK) || *r.Passed != (tt.code == exitOK) {
				t.Fatalf("baseline %+v, passed %v", b, *r.Passed)
			}
			x, _ := os.ReadFile(junit)
			var doc struct {
				Cases []struct {
					Name    string `xml:"name,attr"`
					Failure *struct {
						Message string `xml:"message,attr"`
					} `xml:"failure"`
				} `xml:"testcase"`
			}
			if err := xml.Unmarshal(x, &doc); err != nil {
				t.Fatal(err)
			}
			var failed []string
			for _, c := range doc.Cases {
				if c.Failure != nil {
					failed = append(failed, c.Name+": "+c.Failure.Message)
				}
			}
			if tt.code == exitThresholds && !strings.Contains(strings.Join(failed, "\n"), "baseline rtt.p50: rtt p50: base ") {
				t.Errorf("JUnit failures %q", failed)
			}
			if tt.code == exitOK && len(failed) > 0 {
				t.Errorf("report-only baseline failed JUnit cases: %q", failed)
			}
		})
	}
}

// merge refuses reports of different scenarios unless --force; compare
// warns when they differ.
func TestScenarioMismatch(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fast, _ := sharedReports(t)
	other := filepath.Join(dir, "other.json")
	if code, _, errOut := wsbench(t, "run", "--quiet", "--json", other, "testdata/other.yaml"); code != exitOK {
		t.Fatalf("run: %d %s", code, errOut)
	}
	all := filepath.Join(dir, "all.json")
	code, _, errOut := wsbench(t, "merge", "-o", all, fast, other)
	if code != exitCannotStart || !strings.Contains(errOut, `the reports are of different scenarios ("gate", "other")`) || !strings.Contains(errOut, "--force") {
		t.Errorf("merge: exit %d:\n%s", code, errOut)
	}
	if _, err := os.Stat(all); err == nil {
		t.Error("merge wrote a report of different scenarios")
	}
	code, _, errOut = wsbench(t, "merge", "--force", "-o", all, fast, other)
	if code != exitOK || !strings.Contains(errOut, "merging anyway (--force)") {
		t.Errorf("merge --force: exit %d:\n%s", code, errOut)
	}

	code, out, errOut := wsbench(t, "compare", fast, other)
	want := `DIFFERENT SCENARIOS: base ran "gate", new ran "other"`
	if code != exitOK || !strings.Contains(out, "WARNING: "+want) || !strings.Contains(errOut, "WARNING: "+want) {
		t.Errorf("compare: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	// The same scenario at another size is a different load.
	code, out, _ = wsbench(t, "compare", fast, fast)
	if code != exitOK || strings.Contains(out, "WARNING") {
		t.Errorf("compare of a report with itself warns:\n%s", out)
	}
}

// validate --print writes YAML that validates again; the status line goes
// to stderr.
func TestValidatePrintRoundTrip(t *testing.T) {
	t.Parallel()
	for _, src := range []string{"../../scenarios/quickstart.yaml", "../../scenarios/chat.yaml", "testdata/gate-slow.yaml"} {
		code, out, errOut := wsbench(t, "validate", "--print", src)
		if code != exitOK || !strings.Contains(errOut, src+": ok") || strings.Contains(out, ": ok (") {
			t.Fatalf("%s: exit %d\nstdout:\n%s\nstderr:\n%s", src, code, out, errOut)
		}
		printed := filepath.Join(t.TempDir(), "printed.yaml")
		if err := os.WriteFile(printed, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
		if code, _, errOut := wsbench(t, "validate", printed); code != exitOK {
			t.Errorf("%s printed does not validate:\n%s\n%s", src, errOut, out)
		}
	}
}

// The README's quick-start listing is the scenario file, comments aside.
func TestReadmeQuickstartListing(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(readme), "## The quick-start scenario\n\n```yaml\n")
	listing, _, ok2 := strings.Cut(after, "```")
	if !ok || !ok2 {
		t.Fatal("README.md has no quick-start listing")
	}
	path := filepath.Join(t.TempDir(), "listing.yaml")
	if err := os.WriteFile(path, []byte(listing), 0o644); err != nil {
		t.Fatal(err)
	}
	_, fromReadme, errOut := wsbench(t, "validate", "--print", path)
	_, fromFile, _ := wsbench(t, "validate", "--print", "../../scenarios/quickstart.yaml")
	strip := func(s string) string { _, body, _ := strings.Cut(s, "\n"); return body } // the "# PATH as it will run" line
	if fromReadme == "" || strip(fromReadme) != strip(fromFile) {
		t.Errorf("README.md's quick-start listing and scenarios/quickstart.yaml differ:\n%s\nREADME:\n%s\nfile:\n%s", errOut, fromReadme, fromFile)
	}
}
