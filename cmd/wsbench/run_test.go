package main

import (
	"bytes"
	"context"
	"encoding/xml"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wsbench/wsbench/report"
)

func TestRunExitCodes(t *testing.T) {
	dir := t.TempDir()
	closed := func() string {
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		defer ln.Close()
		return "ws://" + ln.Addr().String()
	}()
	tests := []struct {
		name       string
		args       []string
		code       int
		wantReport bool
		stderr     string
	}{
		{name: "thresholds hold", args: []string{"testdata/gate-pass.yaml"}, code: exitOK, wantReport: true},
		{name: "thresholds fail", args: []string{"testdata/gate-slow.yaml"}, code: exitThresholds, wantReport: true},
		{name: "bad scenario", args: []string{"testdata/bad.yaml"}, code: exitCannotStart, stderr: "bad.yaml:4:1: duraton: unknown field"},
		{name: "missing file", args: []string{"testdata/nope.yaml"}, code: exitCannotStart, stderr: "no such file"},
		{name: "unreachable target", args: []string{"--target", closed, "testdata/gate-pass.yaml"}, code: exitCannotStart, wantReport: true, stderr: "unreachable"},
		{name: "bad flag", args: []string{"--clients", "0", "testdata/gate-pass.yaml"}, code: exitCannotStart, stderr: "--clients"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-")+".json")
			junit := strings.TrimSuffix(j, ".json") + ".xml"
			args := append([]string{"run", "--quiet", "--json", j, "--junit", junit}, tt.args...)
			code, _, stderr := wsbench(t, args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tt.code, stderr)
			}
			if !strings.Contains(stderr, tt.stderr) {
				t.Fatalf("stderr %q does not mention %q", stderr, tt.stderr)
			}
			_, err := os.Stat(j)
			if tt.wantReport != (err == nil) {
				t.Fatalf("report written: %v, want %v", err == nil, tt.wantReport)
			}
			if tt.wantReport {
				if _, err := report.ReadJSONFile(j); err != nil {
					t.Fatalf("the written report does not read back: %v", err)
				}
			}
		})
	}
}

func TestJUnitNamesFailedThreshold(t *testing.T) {
	dir := t.TempDir()
	junit := filepath.Join(dir, "junit.xml")
	md := filepath.Join(dir, "summary.md")
	code, _, stderr := wsbench(t, "run", "--quiet", "--json", filepath.Join(dir, "r.json"), "--junit", junit, "--summary-md", md, "testdata/gate-slow.yaml")
	if code != exitThresholds {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	b, err := os.ReadFile(junit)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Cases []struct {
			Name    string `xml:"name,attr"`
			Failure *struct {
				Message string `xml:"message,attr"`
			} `xml:"failure"`
		} `xml:"testcase"`
	}
	if err := xml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("JUnit XML does not parse: %v\n%s", err, b)
	}
	var failed []string
	for _, c := range doc.Cases {
		if c.Failure != nil {
			failed = append(failed, c.Name+" | "+c.Failure.Message)
		}
	}
	if len(doc.Cases) != 2 || len(failed) != 1 || !strings.Contains(failed[0], "rtt p99") || !strings.Contains(failed[0], "ms") {
		t.Fatalf("cases %+v, failures %q", doc.Cases, failed)
	}
	if s, _ := os.ReadFile(md); !strings.Contains(string(s), "FAIL") {
		t.Fatalf("markdown summary does not say FAIL:\n%s", s)
	}
}

// A report path that cannot be written is found before the run, which
// then does not start (nothing is lost: no run was made).
func TestRunUnwritableReportStopsBeforeTheRun(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	html := filepath.Join(dir, "r.html")
	bad := filepath.Join(dir, "no-such-dir", "r.json")
	code, out, stderr := wsbench(t, "run", "--json", bad, "--html", html, "testdata/gate-pass.yaml")
	if code != exitCannotStart {
		t.Errorf("exit %d, want %d", code, exitCannotStart)
	}
	if want := "--json: write " + bad + ": directory " + filepath.Dir(bad) + " does not exist"; !strings.Contains(stderr, want) {
		t.Errorf("stderr does not say %q:\n%s", want, stderr)
	}
	if out != "" || strings.Contains(stderr, "Latency") {
		t.Errorf("the run started:\n%s%s", out, stderr)
	}
	if _, err := os.Stat(html); err == nil {
		t.Error("the HTML report was written though the run could not start")
	}
}

func TestRunInterruptedWritesPartialReport(t *testing.T) {
	dir := t.TempDir()
	j := filepath.Join(dir, "r.json")
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(1500*time.Millisecond, cancel)
	var out, errb bytes.Buffer
	code := runRun(ctx, []string{"--quiet", "--json", j, "--duration", "30s", "testdata/gate-pass.yaml"}, &out, &errb)
	if code != exitInterrupted {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	r, err := report.ReadJSONFile(j)
	if err != nil {
		t.Fatal(err)
	}
	if r.EndReason != report.EndInterrupted || r.Counters.MessagesReceived == 0 || r.DurationS > 10 {
		t.Fatalf("end %s received %d after %.1fs", r.EndReason, r.Counters.MessagesReceived, r.DurationS)
	}
}

func TestFlagsOverrideScenario(t *testing.T) {
	dir := t.TempDir()
	j := filepath.Join(dir, "r.json")
	code, _, stderr := wsbench(t, "run", "--quiet", "--json", j, "--clients", "2", "--duration", "1s", "--rate", "5", "testdata/gate-pass.yaml")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	r, err := report.ReadJSONFile(j)
	if err != nil {
		t.Fatal(err)
	}
	if r.Counters.ConnectsOK != 2 || r.DurationS > 3 {
		t.Fatalf("connects %d duration %.1f", r.Counters.ConnectsOK, r.DurationS)
	}
	// 2 clients × 5/s × 1 s.
	if n := r.Counters.MessagesSent; n < 8 || n > 12 {
		t.Fatalf("sent %d, want about 10", n)
	}
}

func TestHelpAndUnknownCommand(t *testing.T) {
	if code, out, _ := wsbench(t, "--help"); code != exitOK || !strings.Contains(out, "run ") {
		t.Fatalf("help: %d %q", code, out)
	}
	if code, _, errOut := wsbench(t, "frobnicate"); code != exitCannotStart || !strings.Contains(errOut, `unknown command "frobnicate"`) {
		t.Fatalf("unknown: %d %q", code, errOut)
	}
	if code, _, errOut := wsbench(t, "rnu"); code != exitCannotStart || !strings.Contains(errOut, "did you mean run?") {
		t.Fatalf("typo: %d %q", code, errOut)
	}
	if code, out, errOut := wsbench(t, "run", "--help"); code != exitOK || !strings.Contains(out, "Exit codes") || errOut != "" {
		t.Fatalf("run --help: %d %q %q", code, out, errOut)
	}
	if code, out, _ := wsbench(t, "help", "compare"); code != exitOK || !strings.Contains(out, "Usage: wsbench compare") {
		t.Fatalf("help compare: %d %q", code, out)
	}
	if code, _, errOut := wsbench(t); code != exitCannotStart || !strings.Contains(errOut, "Commands:") {
		t.Fatalf("no command: %d %q", code, errOut)
	}
}

func TestAbortOnFailStopsEarly(t *testing.T) {
	dir := t.TempDir()
	j := filepath.Join(dir, "r.json")
	start := time.Now()
	code, _, stderr := wsbench(t, "run", "--quiet", "--json", j, "testdata/abort.yaml")
	if code != exitThresholds {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if time.Since(start) > 15*time.Second {
		t.Fatalf("a 30 s run with a broken abort_on_fail threshold took %v", time.Since(start))
	}
	r, err := report.ReadJSONFile(j)
	if err != nil {
		t.Fatal(err)
	}
	if r.EndReason != report.EndAborted || !r.Thresholds[0].Aborted || r.Thresholds[0].Passed || !r.Thresholds[1].Passed {
		t.Fatalf("end %s thresholds %+v", r.EndReason, r.Thresholds)
	}
}
