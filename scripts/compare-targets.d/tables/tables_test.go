package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/report"
)

// fixture describes one synthetic run: a report with a 1 s ramp and a
// steady phase, one interval per second.
type fixture struct {
	target, cas, group, label string
	rc                        int
	scenario                  string   // the scenario JSON (phases and flows)
	steadyS                   int      // length of the steady phase
	perS                      int64    // received (and sent) per steady second
	rampUS, steadyUS          int64    // the latency every sample of the ramp / steady phase has
	metric                    string   // latency metric (rtt, connect, handshake, …)
	connectsPerS              int64    // connects per steady second
	unreliable                bool     // generator.unreliable
	errors                    int64    // errors (cause "refused")
	rss                       [2]int64 // server rss and peak rss
	peakConns                 int64
	broadcast                 *report.BroadcastResult
	capacity                  *report.Capacity
	serverPings               int64
}

func histo(t *testing.T, n int64, us int64) string {
	t.Helper()
	h := metrics.NewHistogram()
	for range n {
		metrics.RecordUS(h, us)
	}
	s, err := metrics.EncodeHistogram(h)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (f fixture) report(t *testing.T) *report.Report {
	t.Helper()
	metric := f.metric
	if metric == "" {
		metric = "rtt"
	}
	n := 1 + f.steadyS
	s := &report.Series{IntervalS: 1, Latency: map[string]*report.LatencySeries{}}
	ls := &report.LatencySeries{}
	whole := metrics.NewHistogram()
	for i := range n {
		s.T = append(s.T, float64(i+1)+0.003)
		recv, us, conns := f.perS, f.steadyUS, f.connectsPerS
		if i == 0 { // the ramp: half the load, a different latency
			recv, us, conns = f.perS/2, f.rampUS, f.connectsPerS/2
		}
		s.Received = append(s.Received, recv)
		s.Sent = append(s.Sent, recv)
		s.Connects = append(s.Connects, conns)
		ls.Count = append(ls.Count, recv)
		ls.HDR = append(ls.HDR, histo(t, recv, us))
		for range recv {
			metrics.RecordUS(whole, us)
		}
	}
	s.Latency[metric] = ls
	m, err := report.NewMetric(whole)
	if err != nil {
		t.Fatal(err)
	}
	rep := &report.Report{
		Schema: report.SchemaVersion, EndReason: report.EndCompleted, DurationS: float64(n) + 0.01,
		Target: "ws://127.0.0.1:1", Scenario: json.RawMessage(f.scenario), Series: s,
		Metrics: map[string]*report.Metric{metric: m},
		Phases: []report.PhaseResult{
			{Name: "ramp", StartS: 0, EndS: 1, Model: "closed"},
			{Name: "steady", StartS: 1, EndS: float64(n), Model: "closed"},
		},
		Broadcast: nil,
		Capacity:  f.capacity,
	}
	rep.Counters.ServerPings = f.serverPings
	rep.Rates.PeakConnections = f.peakConns
	if f.errors > 0 {
		rep.Counters.ErrorsByCause = map[string]int64{"refused": f.errors}
	}
	if f.unreliable {
		rep.Generator.Unreliable = true
		rep.Generator.Reasons = []string{"generator CPU saturated"}
	}
	if f.rss[1] > 0 {
		rep.Server = &report.ServerObs{After: map[string]int64{"rss_bytes": f.rss[0], "peak_rss_bytes": f.rss[1]}}
	}
	if f.broadcast != nil {
		rep.Broadcast = []report.BroadcastResult{*f.broadcast}
		rep.Metrics["broadcast_delivery"] = m
		rep.Metrics["broadcast_complete"] = m
	}
	return rep
}

const (
	echoScenario   = `{"phases":[{"clients":100},{"clients":100}],"flows":[{"steps":[{"connect":{"path":"/echo"}},{"echo":{"rate":%d,"size":64}}]}]}`
	closedScenario = `{"phases":[{"clients":500},{"clients":500}],"flows":[{"steps":[{"connect":{"path":"/echo"}},{"echo":{"inflight":1,"size":64}}]}]}`
	churnScenario  = `{"phases":[{"arrival_rate":500},{"arrival_rate":500}],"flows":[{"steps":[{"connect":{"path":"/echo"}},{"request":{"size":64}},{"close":{}}]}]}`
	idleScenario   = `{"phases":[{"clients":%d},{"clients":%d}],"flows":[{"steps":[{"connect":{"path":"/echo"}},{"listen":{}}]}]}`
)

func writeFixtures(t *testing.T, dir string, fs []fixture) {
	t.Helper()
	var man strings.Builder
	man.WriteString("target\tcase\tgroup\tlabel\tjson\thtml\trc\tload1\twall_s\tbusy_pct\n")
	for _, f := range fs {
		rel := filepath.Join("runs", f.target, f.cas)
		if err := os.MkdirAll(filepath.Join(dir, "runs", f.target), 0o755); err != nil {
			t.Fatal(err)
		}
		if f.rc != 2 { // exit 2: wsbench could not start, no report
			if err := report.WriteJSONFile(filepath.Join(dir, rel+".json"), f.report(t)); err != nil {
				t.Fatal(err)
			}
		}
		group := f.group
		if group == "" {
			group = "base"
		}
		fmt.Fprintf(&man, "%s\t%s\t%s\t%s\t%s.json\t%s.html\t%d\t0.25\t10.1\t7\n", f.target, f.cas, group, f.label, rel, rel, f.rc)
	}
	if err := os.WriteFile(filepath.Join(dir, "manifest.tsv"), []byte(man.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	meta := "date=2026-01-01 00:00 UTC\nmode=full\ncommand=scripts/compare-targets\nnproc=2\ncpu_model=Test CPU\nkernel=Linux 6.1\n" +
		"go_version=go1.26.0\npython_version=Python 3.11.2\npkg_python3-tornado=6.2.0-3\nmodule_tornado=6.2\nload_start=0.20 0.30 0.40\nload_end=0.50 0.40 0.30\nelapsed_s=754\n"
	if err := os.WriteFile(filepath.Join(dir, "meta.env"), []byte(meta), 0o644); err != nil {
		t.Fatal(err)
	}
}

func ptr(v float64) *float64 { return &v }

func TestTablesFromFixtures(t *testing.T) {
	dir := t.TempDir()
	capOK := &report.Capacity{Variable: "clients", SLO: []string{"rtt p99 < 50ms", "errors rate < 0.1%"},
		MaxOK: ptr(2000), FirstFail: ptr(4000), Knee: ptr(1000),
		Steps: []report.CapacityStep{
			{Load: 500, Passed: true, P99US: 2000}, {Load: 1000, Passed: true, P99US: 3000},
			{Load: 2000, Passed: true, P99US: 9000}, {Load: 4000, Passed: false, P99US: 180000, Failed: []string{"rtt p99 < 50ms"}},
		}}
	capLB := &report.Capacity{Variable: "clients", SLO: capOK.SLO, MaxOK: ptr(8000), LowerBound: true,
		Steps: []report.CapacityStep{{Load: 4000, Passed: true, P99US: 1000}, {Load: 8000, Passed: true, P99US: 1500, Unreliable: true}}}
	bc := &report.BroadcastResult{Room: "r", Rooms: 1, Published: 440, Expected: 88880, Delivered: 88880, Reach: 1}
	fs := []fixture{
		{target: "go", cas: "echo-r10", scenario: fmt.Sprintf(echoScenario, 10), steadyS: 9, perS: 1000, rampUS: 900_000, steadyUS: 700},
		{target: "go", cas: "echo-max", label: "GOMAXPROCS=1, CPU 0", rc: 4, scenario: closedScenario, steadyS: 8, perS: 70000, rampUS: 5000, steadyUS: 6000, unreliable: true},
		// Repeats of the closed loop: the base run is the median, so the
		// headline stays 70,000; the range covers all three.
		{target: "go", cas: "echo-max.2", group: "repeat", label: "GOMAXPROCS=1, CPU 0", scenario: closedScenario, steadyS: 8, perS: 64000, steadyUS: 6500},
		{target: "go", cas: "echo-max.3", group: "repeat", label: "GOMAXPROCS=1, CPU 0", rc: 4, scenario: closedScenario, steadyS: 8, perS: 90000, steadyUS: 5000, unreliable: true},
		{target: "go", cas: "churn-500", scenario: churnScenario, steadyS: 9, perS: 500, connectsPerS: 500, rampUS: 100, steadyUS: 120, metric: "handshake"},
		{target: "go", cas: "broadcast", scenario: fmt.Sprintf(idleScenario, 202, 202), steadyS: 11, perS: 8000, rampUS: 2000, steadyUS: 1500, metric: "broadcast_delivery", broadcast: bc},
		{target: "go", cas: "idle-base", scenario: fmt.Sprintf(idleScenario, 1, 1), steadyS: 2, rss: [2]int64{10 << 20, 10 << 20}, peakConns: 1},
		{target: "go", cas: "idle", scenario: fmt.Sprintf(idleScenario, 2001, 2001), steadyS: 5, rss: [2]int64{29 << 20, 30 << 20}, peakConns: 2001},
		{target: "go", cas: "capacity", scenario: fmt.Sprintf(echoScenario, 2), steadyS: 5, perS: 100, capacity: capLB},
		{target: "go", cas: "tune-gomaxprocs2", group: "tune", label: "GOMAXPROCS=2, CPU 0", scenario: closedScenario, steadyS: 8, perS: 60000, steadyUS: 7000},
		{target: "tornado", cas: "echo-r10", scenario: fmt.Sprintf(echoScenario, 10), steadyS: 9, perS: 990, rampUS: 800, steadyUS: 1200, errors: 3},
		{target: "tornado", cas: "echo-max", scenario: closedScenario, steadyS: 8, perS: 12000, steadyUS: 40000},
		{target: "tornado", cas: "echo-max.2", group: "repeat", scenario: closedScenario, steadyS: 8, perS: 9000, steadyUS: 50000},
		{target: "tornado", cas: "echo-max.3", group: "repeat", scenario: closedScenario, steadyS: 8, perS: 15000, steadyUS: 30000},
		{target: "tornado", cas: "churn-500", rc: 2},
		{target: "tornado", cas: "capacity", scenario: fmt.Sprintf(echoScenario, 2), steadyS: 5, perS: 100, capacity: capOK},
		{target: "tornado", cas: "tune-ping-1s", group: "tune", label: "websocket_ping_interval 1 s", scenario: closedScenario, steadyS: 8, perS: 11000, steadyUS: 45000, serverPings: 4000, rss: [2]int64{36 << 20, 37 << 20}},
	}
	writeFixtures(t, dir, fs)
	md, html := filepath.Join(dir, "out.md"), filepath.Join(dir, "compare.html")
	if err := generate(dir, md, "", html); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(md)
	if err != nil {
		t.Fatal(err)
	}
	out := string(b)
	for _, want := range []string{
		"| target | max echoes/s (closed loop) | p99 at 1,000 msg/s | handshake p99 at 500 conn/s | memory / idle conn | max conns within SLO |",
		"| go | 70,000 ⚠ | 700µs | 120µs | 10.2KiB | ≥ 8,000 |",
		"| tornado | 12,000 | 1.20ms ✗ | — | — | 2,000 |",
		"| go | ≥ 8,000 ⚠ | — | — | the generator's CPU | 4,000 ✓, 8,000 ⚠ |",
		// The steady window: 9 intervals of 1000, the ramp's 900 ms latency left out.
		"| target | offered 1,000/s | max sustained (closed loop) | closed-loop runs | closed-loop p50 | closed-loop p99 |",
		"| go | 1,000 | 70,000 ⚠ | 64,000–90,000 (3 runs) | 6.00ms | 6.00ms |",
		"| tornado | 990 ✗ | 12,000 | 9,000–15,000 (3 runs) | 40.0ms | 40.0ms |",
		// 15,000 / 9,000 − 1.
		"The closed-loop maximum is the median of 3 runs per target, whose highest and lowest differed by up to 67% here",
		"| 1,000/s | go | 1,000 | 700µs | 700µs | 700µs | 700µs | 700µs |",
		"tornado echo-r10: 3 errors (3 × refused) ✗",
		"go echo-max (GOMAXPROCS=1, CPU 0): generator unreliable ⚠ (generator CPU saturated)",
		"| 500/s | go | 500 | — | — | 120µs | 120µs | — | 0 |",
		"| 500/s | tornado | failed ✗ |",
		"tornado churn-500: no report (wsbench exited 2) ✗",
		"| go | 202 | 36.7 | 7,407 | 1.0000 |",
		// (30 MiB − 10 MiB) / 2000 extra connections = 10.24 KiB.
		"| go | 2,001 | 10.0MiB | 30.0MiB | 10.2KiB |",
		"| go | ≥ 8,000 ⚠ | — | — | the generator's CPU | 4,000 ✓, 8,000 ⚠ |",
		"| tornado | 2,000 | 4,000 | 1,000 | rtt p99 < 50ms (p99 180.0ms) | 500 ✓, 1,000 ✓, 2,000 ✓, 4,000 ✗ |",
		"| go | GOMAXPROCS=1, CPU 0 | 500 conns × 1 in flight, 64 B | 70,000 ⚠ |",
		"| go | GOMAXPROCS=2, CPU 0 | 500 conns × 1 in flight, 64 B | 60,000 |",
		"| tornado | websocket_ping_interval 1 s | 500 conns × 1 in flight, 64 B | 11,000 | 45.0ms | 45.0ms | — | 4,000 | 37.0MiB |",
		"| machine | 2 CPUs, Test CPU, Linux 6.1 |",
		"| tornado | python3-tornado | 6.2.0-3 | 6.2 |",
		"median 0.25, min 0.25, max 0.25",
		"12 min 34 s of measurements",
		"| other processes | median 7%, max 7% of one CPU in the second before each run |",
		"```sh\nscripts/compare-targets\n```",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("markdown:\n%s", out)
	}

	page, err := os.ReadFile(html)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`href="runs/go/echo-r10.html"`, "Most connections within the SLO", `data-charts-expected="5"`} {
		if !strings.Contains(string(page), want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
	// A run without a report gets no link.
	if strings.Contains(string(page), `href="runs/tornado/churn-500.html"`) {
		t.Error("HTML links to a report that does not exist")
	}
}

// With repeated closed-loop runs every table shows the median run: the
// summary, the throughput table and the tuning row of the labelled run
// agree, and a noisy outlier (here the unreliable base run) is not the
// headline.
func TestRepeatedRunsShowTheMedian(t *testing.T) {
	dir := t.TempDir()
	const label = "GOMAXPROCS=1, CPU 0"
	writeFixtures(t, dir, []fixture{
		{target: "go", cas: "echo-max", label: label, rc: 4, scenario: closedScenario, steadyS: 8, perS: 40000, steadyUS: 9000, unreliable: true},
		{target: "go", cas: "echo-max.2", group: "repeat", label: label, scenario: closedScenario, steadyS: 8, perS: 72000, steadyUS: 6000},
		{target: "go", cas: "echo-max.3", group: "repeat", label: label, scenario: closedScenario, steadyS: 8, perS: 80000, steadyUS: 5000},
		{target: "go", cas: "echo-max.4", group: "repeat", label: label, rc: 2}, // no report: not counted
	})
	b, err := load(dir)
	if err != nil {
		t.Fatal(err)
	}
	med, rates := b.repeated("go", "echo-max")
	if med == nil || med.Case != "echo-max.2" {
		t.Fatalf("median run %+v, want echo-max.2", med)
	}
	if len(rates) != 3 || rates[0] != 40000 || rates[2] != 80000 {
		t.Fatalf("rates %v, want 3 ascending from 40,000 to 80,000", rates)
	}
	md := filepath.Join(dir, "out.md")
	if err := generate(dir, md, "", ""); err != nil {
		t.Fatal(err)
	}
	out, err := os.ReadFile(md)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| go | 72,000 | — | — |",                                               // summary
		"| go | 72,000 | 40,000–80,000 (3 runs) | 6.00ms | 6.00ms |",            // throughput
		"| go | GOMAXPROCS=1, CPU 0 | 500 conns × 1 in flight, 64 B | 72,000 |", // tuning
		"differed by up to 100% here",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
	if strings.Contains(string(out), "40,000 ⚠") {
		t.Error("the unreliable outlier is shown as a headline")
	}
	if t.Failed() {
		t.Logf("markdown:\n%s", out)
	}
}

func TestSteadyWindowExcludesRamp(t *testing.T) {
	rep := fixture{scenario: fmt.Sprintf(echoScenario, 10), steadyS: 4, perS: 1000, rampUS: 500_000, steadyUS: 800}.report(t)
	w, ok := steady(rep)
	if !ok {
		t.Fatal("no steady window")
	}
	if w.first != 1 || w.dur < 3.99 || w.dur > 4.0 {
		t.Fatalf("window first %d dur %.3f, want 1 and ≈4 s", w.first, w.dur)
	}
	m := w.latency("rtt")
	if m.Count != 4000 || m.MaxUS > 801 {
		t.Fatalf("window latency count %d max %dµs, want 4000 samples of 800µs", m.Count, m.MaxUS)
	}
	if got := offeredEcho(rep); got != 1000 {
		t.Fatalf("offered %v, want 1000", got)
	}
}
