package report

import (
	"bytes"
	"encoding/xml"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The golden files here are rewritten with `go test ./report -update`. The
// flag may also be declared by another test file of this package (the HTML
// report's golden test); declare it only if nobody has, and read it by
// name, so the two never collide. Package-level flag variables of other
// files are initialised before any init function runs.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite the golden files under testdata/")
	}
}

func updateGoldens() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// checkGolden compares got with testdata/name, or rewrites it with -update.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if updateGoldens() {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./report -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test ./report -update rewrites it):\n%s", name, firstDiff(string(got), string(want)))
	}
}

// gateThresholdReport is a fixture report with thresholds of every kind
// of outcome: passed, failed, no samples, windowed, aborted.
func gateThresholdReport(t *testing.T) *Report {
	parts, _ := gateLoad(9, 6, 1)
	r := gateFixture(t, parts[0])
	r.Environment.Hostname = "ci-runner-7"
	pass := false
	r.Passed = &pass
	r.Thresholds = []ThresholdResult{
		{Expr: "rtt p99 < 50ms", Metric: "rtt", Stat: "p99", Op: "<", Limit: 50000, Actual: 12345, Unit: "us", Passed: true},
		{Expr: "rtt p99 < 10ms", Metric: "rtt", Stat: "p99", Op: "<", Limit: 10000, Actual: 73200, Unit: "us"},
		{Expr: "errors rate < 0.1%", Metric: "errors", Stat: "rate", Op: "<", Limit: 0.001, Actual: 0.0025, Unit: "ratio"},
		{Expr: "messages_received rate > 1000/s", Metric: "messages_received", Stat: "rate", Op: ">", Limit: 1000, Actual: 600, Unit: "per_s",
			Window: "10s", WorstWindow: 42, Aborted: true, Detail: "3 of 20 windows broke the limit; worst ends at 42s"},
		{Expr: "push_delay p95 < 200ms", Metric: "push_delay", Stat: "p95", Op: "<", Limit: 200000, Actual: math.NaN(), Unit: "us", Detail: "no samples"},
		{Expr: "errors[login] == 0", Metric: "errors[login]", Stat: "count", Op: "==", Limit: 0, Actual: 0, Unit: "count", Passed: true},
	}
	return r
}

func TestDescribe(t *testing.T) {
	r := gateThresholdReport(t)
	want := []string{
		"rtt p99 = 12.3ms, limit < 50ms",
		"rtt p99 = 73.2ms, limit < 10ms",
		"errors rate = 0.25%, limit < 0.1%",
		"messages_received rate = 600/s in the worst 10s window (ending at 42s), limit > 1000/s",
		"push_delay p95 = n/a (no samples), limit < 200ms",
		"errors[login] count = 0, limit == 0",
	}
	for i, tr := range r.Thresholds {
		if got := tr.Describe(); got != want[i] {
			t.Errorf("Describe() = %q, want %q", got, want[i])
		}
	}
}

func TestFormatLimit(t *testing.T) {
	tests := []struct {
		v    float64
		unit string
		want string
	}{
		{50000, "us", "50ms"},
		{1500000, "us", "1.5s"},
		{250, "us", "250µs"},
		{0.001, "ratio", "0.1%"},
		{0.999, "ratio", "99.9%"},
		{1000, "per_s", "1000/s"},
		{5, "count", "5"},
	}
	for _, tt := range tests {
		if got := FormatLimit(tt.v, tt.unit); got != tt.want {
			t.Errorf("FormatLimit(%v, %s) = %q, want %q", tt.v, tt.unit, got, tt.want)
		}
	}
}

// junitDoc mirrors the schema's required structure for checking.
type junitDoc struct {
	XMLName    xml.Name `xml:"testsuite"`
	Name       string   `xml:"name,attr"`
	Timestamp  string   `xml:"timestamp,attr"`
	Hostname   string   `xml:"hostname,attr"`
	Tests      *int     `xml:"tests,attr"`
	Failures   *int     `xml:"failures,attr"`
	Errors     *int     `xml:"errors,attr"`
	Time       string   `xml:"time,attr"`
	Properties *struct {
		Props []struct {
			Name  string `xml:"name,attr"`
			Value string `xml:"value,attr"`
		} `xml:"property"`
	} `xml:"properties"`
	Cases []struct {
		Name      string `xml:"name,attr"`
		Classname string `xml:"classname,attr"`
		Time      string `xml:"time,attr"`
		Failure   *struct {
			Message string `xml:"message,attr"`
			Type    string `xml:"type,attr"`
			Text    string `xml:",chardata"`
		} `xml:"failure"`
	} `xml:"testcase"`
	SystemOut *string `xml:"system-out"`
	SystemErr *string `xml:"system-err"`
}

func TestWriteJUnit(t *testing.T) {
	r := gateThresholdReport(t)
	var buf bytes.Buffer
	if err := WriteJUnit(&buf, r); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "junit.golden.xml", buf.Bytes())

	var doc junitDoc
	if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("not XML: %v", err)
	}
	if doc.Name != "wsbench thresholds: chat-smoke" {
		t.Errorf("suite name %q", doc.Name)
	}
	if doc.Timestamp != "2026-03-14T09:26:53" || doc.Hostname != "ci-runner-7" || doc.Time != "6.000" {
		t.Errorf("suite attributes: timestamp %q hostname %q time %q", doc.Timestamp, doc.Hostname, doc.Time)
	}
	if doc.Tests == nil || *doc.Tests != 6 || doc.Failures == nil || *doc.Failures != 4 || doc.Errors == nil || *doc.Errors != 0 {
		t.Errorf("counts: tests %v failures %v errors %v", doc.Tests, doc.Failures, doc.Errors)
	}
	if doc.Properties == nil || doc.SystemOut == nil || doc.SystemErr == nil {
		t.Error("properties, system-out and system-err are required by the schema")
	}
	if len(doc.Cases) != 6 {
		t.Fatalf("%d test cases, want 6", len(doc.Cases))
	}
	for _, c := range doc.Cases {
		if c.Name == "" || c.Classname == "" || c.Time == "" {
			t.Errorf("test case lacks a required attribute: %+v", c)
		}
		if c.Failure != nil && c.Failure.Type == "" {
			t.Errorf("failure of %q lacks its type", c.Name)
		}
	}
	if f := doc.Cases[1].Failure; f == nil || f.Message != "rtt p99 = 73.2ms, limit < 10ms" {
		t.Errorf("failure of %q: %+v", doc.Cases[1].Name, f)
	}
	if f := doc.Cases[3].Failure; f == nil || f.Type != "threshold_aborted" {
		t.Errorf("aborted threshold: %+v", f)
	}
	if doc.Cases[0].Failure != nil {
		t.Errorf("passed threshold has a failure")
	}
	// Element order matters to the schema: properties, testcase*, system-out, system-err.
	s := buf.String()
	if !(strings.Index(s, "<properties>") < strings.Index(s, "<testcase") &&
		strings.LastIndex(s, "</testcase>") < strings.Index(s, "<system-out>") &&
		strings.Index(s, "<system-out>") < strings.Index(s, "<system-err>")) {
		t.Errorf("elements out of order:\n%s", s)
	}
}

func TestWriteJUnitWithoutThresholdsOrName(t *testing.T) {
	r := gateThresholdReport(t)
	r.Thresholds, r.Scenario, r.Environment.Hostname = nil, nil, ""
	var buf bytes.Buffer
	if err := WriteJUnit(&buf, r); err != nil {
		t.Fatal(err)
	}
	var doc junitDoc
	if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Name != "wsbench thresholds" || doc.Hostname != "localhost" || *doc.Tests != 0 || len(doc.Cases) != 0 {
		t.Errorf("name %q hostname %q tests %d cases %d", doc.Name, doc.Hostname, *doc.Tests, len(doc.Cases))
	}
}

func TestJUnitBaseline(t *testing.T) {
	tests := []struct {
		name       string
		baseline   *Baseline
		cases      int // baseline cases
		failures   int
		want       []string // in a failure message
		wantStdout string
	}{
		{name: "gating, regressed", baseline: testBaseline(), cases: 2, failures: 2,
			want: []string{"rtt p99: base 2.90ms, new 3.60ms, +700µs (+24.1%); tolerance 10%; noise band (95% CI) base 2.80ms–3.00ms, new 3.50ms–3.70ms", "errors rate"}},
		{name: "report only", baseline: func() *Baseline { b := testBaseline(); b.ReportOnly = true; return b }(), cases: 1,
			wantStdout: "baseline regression (not gating): rtt p99: base 2.90ms"},
		{name: "nothing regressed", baseline: &Baseline{Path: "b.json", Tolerance: "10%"}, cases: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := gateThresholdReport(t)
			r.Baseline = tt.baseline
			var buf bytes.Buffer
			if err := WriteJUnit(&buf, r); err != nil {
				t.Fatal(err)
			}
			var doc junitDoc
			if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
				t.Fatalf("not XML: %v", err)
			}
			var cases, failures int
			var messages []string
			for _, c := range doc.Cases {
				if c.Classname != "wsbench.baseline" {
					continue
				}
				cases++
				if c.Failure != nil {
					failures++
					messages = append(messages, c.Failure.Message)
				}
			}
			if cases != tt.cases || failures != tt.failures || *doc.Tests != 6+tt.cases || *doc.Failures != 4+tt.failures {
				t.Fatalf("baseline cases %d failures %d (suite %d/%d), want %d/%d", cases, failures, *doc.Tests, *doc.Failures, tt.cases, tt.failures)
			}
			for _, w := range tt.want {
				if !strings.Contains(strings.Join(messages, "\n"), w) {
					t.Errorf("failure messages lack %q:\n%s", w, strings.Join(messages, "\n"))
				}
			}
			if tt.wantStdout != "" && (doc.SystemOut == nil || !strings.Contains(*doc.SystemOut, tt.wantStdout)) {
				t.Errorf("system-out lacks %q: %v", tt.wantStdout, doc.SystemOut)
			}
		})
	}
}
