package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wsbench/wsbench/metrics"
	promout "github.com/wsbench/wsbench/output/prometheus"
	"github.com/wsbench/wsbench/report"
)

// These tests run Debian's Prometheus server (package prometheus) as a
// child process on loopback, with its storage in a temporary directory,
// and ask its HTTP API what it got from a wsbench run: the run's message
// count must be the report's, and histogram_quantile's p99 the one the
// report's histogram gives in the exported buckets.

// TestPrometheusScrapesRun: Prometheus scrapes --metrics-addr every
// second during a run, and the endpoint lingers until Prometheus has
// scraped the final values.
func TestPrometheusScrapesRun(t *testing.T) {
	t.Parallel()
	addr := freeLoopbackAddr(t)
	prom := startPrometheus(t, addr)
	// Prometheus takes its targets on about 5 s after it starts; the run
	// starts once it is trying to scrape, so that it scrapes during it.
	waitScraping(t, prom)
	dir := t.TempDir()
	j := filepath.Join(dir, "r.json")
	code, _, stderr := wsbench(t, "run", "--quiet", "--json", j, "--metrics-addr", addr, "--metrics-linger", "2m",
		"--metrics-label", "test=scrape", "testdata/gate-pass.yaml")
	if !measured(code) {
		t.Fatalf("exit %d:\n%s", code, stderr)
	}
	if !strings.Contains(stderr, "Prometheus metrics at http://"+addr+"/metrics") || strings.Contains(stderr, "not scraped") {
		t.Errorf("stderr:\n%s", stderr)
	}
	// Once wsbench has exited, Prometheus's next scrape fails and marks
	// its series stale: checkPrometheus reads the last values before that
	// (last_over_time), as docs/prometheus.md says to after a run.
	at := time.Now()
	rep, err := report.ReadJSONFile(j)
	if err != nil {
		t.Fatal(err)
	}
	checkPrometheus(t, prom, at, `{test="scrape"}`, rep)
	// Scraped while the run went on, not only before and after it:
	// connections were open in some scrape.
	if n := promValue(t, prom, at, `max_over_time(wsbench_open_connections{test="scrape"}[10m])`); !(n > 0) {
		t.Errorf("open connections at most %v in every scrape: none scraped the run under way", n)
	}
	// The queries docs/prometheus.md and its Grafana dashboard give run,
	// and those about the round trips and messages find the run.
	for _, q := range docQueries(t) {
		q = strings.NewReplacer("$__rate_interval", "1m", "$scenario", ".*").Replace(q)
		n := len(promQuery(t, prom, at, q))
		if n == 0 && (strings.Contains(q, "rtt") || strings.Contains(q, "messages_")) {
			t.Errorf("documented query %s: no result", q)
		}
	}
}

// docQueries returns the PromQL of docs/prometheus.md (its promql blocks,
// a query a line) and of the Grafana dashboard beside it.
func docQueries(t *testing.T) []string {
	t.Helper()
	doc, err := os.ReadFile("../../docs/prometheus.md")
	if err != nil {
		t.Fatal(err)
	}
	var qs []string
	for _, block := range strings.Split(string(doc), "```promql\n")[1:] {
		block, _, _ = strings.Cut(block, "```")
		for _, l := range strings.Split(block, "\n") {
			if l = strings.TrimSpace(l); l != "" {
				qs = append(qs, l)
			}
		}
	}
	b, err := os.ReadFile("../../docs/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			qs = append(qs, tg.Expr)
		}
	}
	if len(qs) < 10 {
		t.Fatalf("%d queries in the docs", len(qs))
	}
	return qs
}

// TestPrometheusReceivesRemoteWrite: wsbench --out prometheus-rw pushes
// every interval to Prometheus's remote-write receiver, from the
// coordinator of two worker processes, timestamped with the intervals'
// ends.
func TestPrometheusReceivesRemoteWrite(t *testing.T) {
	t.Parallel()
	prom := startPrometheus(t, "", "--web.enable-remote-write-receiver")
	dir := t.TempDir()
	j := filepath.Join(dir, "r.json")
	// The test binary is wsbench itself with WSBENCH_TEST_MAIN (TestMain),
	// and so are the workers it starts.
	cmd := exec.Command(os.Args[0], "run", "--quiet", "--json", j, "--workers", "2", "--out", "prometheus-rw="+prom+"/api/v1/write",
		"--metrics-label", "test=rw", "testdata/gate-pass.yaml")
	cmd.Env = append(os.Environ(), "WSBENCH_TEST_MAIN=1")
	out, err := cmd.CombinedOutput()
	exited := time.Now()
	var ee *exec.ExitError
	if err != nil && (!errors.As(err, &ee) || !measured(ee.ExitCode())) {
		t.Fatalf("%v:\n%s", err, out)
	}
	if strings.Contains(string(out), "prometheus-rw") {
		t.Errorf("remote write reported problems:\n%s", out)
	}
	rep, err := report.ReadJSONFile(j)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Workers) != 2 {
		t.Fatalf("%d workers in the report, want 2", len(rep.Workers))
	}
	now := time.Now()
	checkPrometheus(t, prom, now, `{test="rw"}`, rep)
	// A coordinator's merged intervals are stamped as they arrive, on
	// the wall clock: during the run, never later than the push.
	ts := promValue(t, prom, now, `timestamp(wsbench_messages_sent_total{test="rw"})`)
	if last := time.UnixMilli(int64(math.Round(ts * 1e3))); !last.After(rep.StartedAt) || last.After(exited) {
		t.Errorf("last sample at %v: not between the run's start %v and wsbench's exit %v", last, rep.StartedAt, exited)
	}
	if n := promValue(t, prom, now, `count_over_time(wsbench_messages_sent_total{test="rw"}[10m])`); n < 2 {
		t.Errorf("%v samples, want one per interval", n)
	}
}

// TestInterruptedRunPushesWhatItMeasured: after Ctrl-C the partial
// report is written and the remote write still delivers the intervals
// measured so far: Prometheus ends with the partial report's counts.
func TestInterruptedRunPushesWhatItMeasured(t *testing.T) {
	t.Parallel()
	prom := startPrometheus(t, "", "--web.enable-remote-write-receiver")
	j := filepath.Join(t.TempDir(), "r.json")
	cmd := exec.Command(os.Args[0], "run", "--json", j, "--duration", "1m", "--out", "prometheus-rw="+prom+"/api/v1/write",
		"--metrics-label", "test=interrupt", "testdata/gate-pass.yaml")
	cmd.Env = append(os.Environ(), "WSBENCH_TEST_MAIN=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	// Two progress lines: two intervals measured and on their way.
	sc := bufio.NewScanner(stderr)
	var out []string
	for n := 0; n < 2 && sc.Scan(); {
		out = append(out, sc.Text())
		if strings.Contains(sc.Text(), "conns 4") {
			n++
		}
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitInterrupted {
		t.Fatalf("wait: %v, want exit %d; stderr:\n%s", err, exitInterrupted, strings.Join(out, "\n"))
	}
	rep, err := report.ReadJSONFile(j)
	if err != nil {
		t.Fatal(err)
	}
	if rep.EndReason != report.EndInterrupted || rep.Counters.MessagesSent == 0 {
		t.Fatalf("end %s after %d messages", rep.EndReason, rep.Counters.MessagesSent)
	}
	// The writes were flushed before wsbench exited: no waiting here.
	now := time.Now()
	sent := promValue(t, prom, now, `wsbench_messages_sent_total{test="interrupt"}`)
	if sent != float64(rep.Counters.MessagesSent) {
		t.Errorf("Prometheus has %v messages sent, the partial report %d; stderr:\n%s", sent, rep.Counters.MessagesSent, strings.Join(out, "\n"))
	}
	// In one process each sample is stamped with its interval's end on
	// the run's clock: the last one is the report's last interval's end.
	ts := promValue(t, prom, now, `timestamp(wsbench_messages_sent_total{test="interrupt"})`)
	series := rep.Series.T
	want := rep.StartedAt.Add(time.Duration(series[len(series)-1] * float64(time.Second))).UnixMilli()
	if got := int64(math.Round(ts * 1e3)); got < want-1 || got > want+1 {
		t.Errorf("last sample at %d ms, the report's last interval ends at %d ms", got, want)
	}
}

// The export flags are checked as they are parsed: a mistake is a usage
// error before anything runs.
func TestExportFlagErrors(t *testing.T) {
	t.Parallel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	tests := []struct {
		args  []string
		want  string
		usage bool
	}{
		{[]string{"run", "--out", "influx=http://x", "testdata/gate-pass.yaml"}, `unknown output "influx"; want KIND=TARGET with KIND one of: prometheus-rw`, true},
		{[]string{"run", "--out", "prometheus-rw", "testdata/gate-pass.yaml"}, `remote-write URL "": want http:// or https://`, true},
		{[]string{"run", "--out", "prometheus-rw=127.0.0.1:9090", "testdata/gate-pass.yaml"}, "want http:// or https://", true},
		{[]string{"run", "--metrics-addr", "localhost", "testdata/gate-pass.yaml"}, `address "localhost": want PORT, :PORT or HOST:PORT`, true},
		{[]string{"run", "--metrics-addr", ":70000", "testdata/gate-pass.yaml"}, `port "70000" is not a number from 0 to 65535`, true},
		{[]string{"run", "--metrics-label", "run", "testdata/gate-pass.yaml"}, "want NAME=VALUE", true},
		{[]string{"run", "--metrics-label", "le=1", "testdata/gate-pass.yaml"}, `label "le" is set by wsbench itself`, true},
		{[]string{"run", "--metrics-label", "a=1", "--metrics-label", "a=2", "testdata/gate-pass.yaml"}, "label a given twice", true},
		{[]string{"capacity", "--metrics-addr", "x:y", "testdata/gate-pass.yaml"}, `port "y" is not a number`, true},
		// An address in use is found before the run, which does not start.
		{[]string{"run", "--metrics-addr", busy.Addr().String(), "testdata/gate-pass.yaml"}, "--metrics-addr: metrics endpoint: listen tcp " + busy.Addr().String(), false},
	}
	dir := t.TempDir()
	for _, tt := range tests {
		j := filepath.Join(dir, "r.json")
		code, out, errOut := wsbench(t, append([]string{tt.args[0], "--json", j}, tt.args[1:]...)...)
		if code != exitCannotStart || out != "" || !strings.Contains(errOut, tt.want) || strings.Contains(errOut, "Usage: wsbench") != tt.usage {
			t.Errorf("%q: exit %d, stdout %q, stderr:\n%s\nwant %q (usage line: %v)", tt.args, code, out, errOut, tt.want, tt.usage)
		}
		if _, err := os.Stat(j); err == nil {
			t.Errorf("%q: a run started and wrote a report", tt.args)
			os.Remove(j)
		}
	}
}

// measured reports whether exit code says the run went through, whatever
// its verdict: on a machine busy enough, gate-pass.yaml's thresholds or the
// generator's health can fail, which is not what these tests are about.
func measured(code int) bool {
	return code == exitOK || code == exitThresholds || code == exitUnreliable
}

// checkPrometheus waits until Prometheus has the run's final values, then
// compares them with the report: message counts exactly, the rtt
// histogram bucket for bucket, and its p50 and p99.
func checkPrometheus(t *testing.T, prom string, at time.Time, sel string, rep *report.Report) {
	t.Helper()
	c := rep.Counters
	if c.MessagesReceived == 0 {
		t.Fatal("the run received no messages")
	}
	want := map[string]float64{
		"wsbench_messages_sent_total":     float64(c.MessagesSent),
		"wsbench_messages_received_total": float64(c.MessagesReceived),
		"wsbench_connects_ok_total":       float64(c.ConnectsOK),
		"wsbench_rtt_seconds_count":       float64(rep.Metrics["rtt"].Count),
	}
	// The last values arrive just after the run: wait for them.
	deadline := time.Now().Add(60 * time.Second)
	for name, v := range want {
		for {
			got := promValue(t, prom, at, "last_over_time("+name+sel+"[10m])")
			if got == v {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s%s = %v in Prometheus, %v in the report", name, sel, got, v)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	h, err := metrics.DecodeHistogram(rep.Metrics["rtt"].HDR)
	if err != nil {
		t.Fatal(err)
	}
	// Bucket for bucket what the report's histogram gives.
	wantBuckets := promout.BucketCounts(h)
	for i, n := range wantBuckets {
		le := "+Inf"
		if i < len(promout.Bounds) {
			le = strconv.FormatFloat(promout.Bounds[i], 'g', -1, 64)
		}
		q := fmt.Sprintf(`last_over_time(wsbench_rtt_seconds_bucket{le=%q,%s[10m])`, le, strings.TrimPrefix(sel, "{"))
		if got := promValue(t, prom, at, q); got != float64(n) {
			t.Errorf("%s = %v, want %d", q, got, n)
		}
	}
	for _, q := range []float64{0.5, 0.99} {
		got := promValue(t, prom, at, fmt.Sprintf(`histogram_quantile(%g, last_over_time(wsbench_rtt_seconds_bucket%s[10m]))`, q, sel))
		// histogram_quantile interpolates in the bucket holding the
		// sample of rank q × count: the report's histogram puts that
		// sample in the same bucket.
		n := float64(h.TotalCount())
		rank := math.Ceil(q * n)
		sample := float64(h.ValueAtPercentile(100*rank/n)) / 1e6
		lo, hi := bucketAround(sample)
		t.Logf("p%g: Prometheus %.6fs; the report's histogram: sample %v of %v is %.6fs, in bucket (%g, %g]; the report's p%g %v µs",
			100*q, got, rank, n, sample, lo, hi, 100*q, map[float64]int64{0.5: rep.Metrics["rtt"].P50US, 0.99: rep.Metrics["rtt"].P99US}[q])
		if got < lo || got > hi {
			t.Errorf("p%g: Prometheus says %.6fs, outside the bucket (%g, %g] of the report's %.6fs", 100*q, got, lo, hi, sample)
		}
	}
}

// bucketAround returns the bounds of the exported bucket holding v
// seconds (+Inf's lower bound for values above the last).
func bucketAround(v float64) (lo, hi float64) {
	for _, b := range promout.Bounds {
		if v <= b {
			return lo, b
		}
		lo = b
	}
	return lo, lo
}

// promValue runs an instant query at time at and returns its one value
// (NaN for no result).
func promValue(t *testing.T, prom string, at time.Time, query string) float64 {
	t.Helper()
	res := promQuery(t, prom, at, query)
	switch len(res) {
	case 0:
		return math.NaN()
	case 1:
	default:
		t.Fatalf("query %s: %d series, want one: %v", query, len(res), res)
	}
	s, _ := res[0].Value[1].(string)
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("query %s: value %v", query, res[0].Value)
	}
	return v
}

// promSample is one series of an instant query's result.
type promSample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

// promQuery runs an instant query at time at, failing the test on an
// error (a query that does not parse, say).
func promQuery(t *testing.T, prom string, at time.Time, query string) []promSample {
	t.Helper()
	q := url.Values{"query": {query}, "time": {strconv.FormatFloat(float64(at.UnixMilli())/1e3, 'f', 3, 64)}}
	resp, err := http.Get(prom + "/api/v1/query?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []promSample `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatalf("query %s: %v", query, err)
	}
	if r.Status != "success" {
		t.Fatalf("query %s: %s", query, r.Error)
	}
	return r.Data.Result
}

// startPrometheus starts Prometheus on a free loopback port, scraping
// target (host:port, none if empty) every second, and returns its URL
// once it is ready. It is stopped when the test ends.
func startPrometheus(t *testing.T, target string, flags ...string) string {
	t.Helper()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		missingTool(t, "prometheus is not installed (Debian package prometheus): %v", err)
	}
	dir := t.TempDir()
	// A generous timeout: a final scrape that Prometheus abandons on a
	// busy machine looks served to wsbench, which then exits.
	cfg := "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
	if target != "" {
		cfg += fmt.Sprintf("scrape_configs:\n  - job_name: wsbench\n    static_configs:\n      - targets: [%q]\n", target)
	}
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freeLoopbackAddr(t)
	cmd := exec.Command(bin, append([]string{
		"--config.file=" + cfgPath, "--storage.tsdb.path=" + filepath.Join(dir, "data"),
		"--web.listen-address=" + addr, "--log.level=warn",
	}, flags...)...)
	var log syncBuffer
	cmd.Stdout, cmd.Stderr = &log, &log
	// It must not outlive the test binary, whatever kills that.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("prometheus log:\n%s", log.String())
		}
	})
	base := "http://" + addr
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(base + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base
			}
		}
		select {
		case <-exited:
			t.Fatalf("prometheus exited: %v\n%s", cmd.ProcessState, log.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus not ready after 60s:\n%s", log.String())
		}
	}
}

// waitScraping waits until Prometheus has tried to scrape its target.
func waitScraping(t *testing.T, prom string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var r struct {
			Data struct {
				ActiveTargets []struct {
					LastScrape time.Time `json:"lastScrape"`
				} `json:"activeTargets"`
			} `json:"data"`
		}
		resp, err := http.Get(prom + "/api/v1/targets")
		if err != nil {
			t.Fatal(err)
		}
		err = json.NewDecoder(resp.Body).Decode(&r)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if ts := r.Data.ActiveTargets; len(ts) > 0 && !ts[0].LastScrape.IsZero() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("prometheus has not scraped after 60s")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// freeLoopbackAddr returns a loopback address with a port that was free a
// moment ago.
func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
