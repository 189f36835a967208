package prometheus

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/wsbench/wsbench/metrics"
)

// fullInterval returns an interval in which every counter, every family
// and every histogram of names has a value, distinct per counter and
// scaled by k.
func fullInterval(k int64, names []string) *metrics.Interval {
	set := metrics.NewSetNames(names)
	for i, c := range metrics.CounterList() {
		c.Add(&set.Counters, k*int64(i+1))
	}
	for i, f := range metrics.FamilyList() {
		f.Add(&set.Counters, fmt.Sprintf("key%d", i), k*int64(100+i))
	}
	for id := range names {
		for j := range 10 {
			metrics.RecordUS(set.Hists[id], int64(100*(id+1)+j))
		}
	}
	return &metrics.Interval{Start: time.Duration(k-1) * time.Second, End: time.Duration(k) * time.Second, Set: set, Active: 7 * k, CPUPercent: 50}
}

func gather(t *testing.T, e *Exporter) map[string]*dto.MetricFamily {
	t.Helper()
	fams, err := e.Registry().Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	out := map[string]*dto.MetricFamily{}
	for _, f := range fams {
		out[f.GetName()] = f
	}
	return out
}

func labelsOf(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

// TestEveryCounterExported fails when a counter or family of the report
// is missing from the export or has the wrong value: the exporter derives
// its metrics from metrics.CounterList and metrics.FamilyList, and this
// keeps it so.
func TestEveryCounterExported(t *testing.T) {
	t.Parallel()
	names := append(metrics.BuiltinNames(), "login", "rtt_service")
	e, err := New(Options{Scenario: "chat", Labels: map[string]string{"build": "42"}, Target: "ws://x"})
	if err != nil {
		t.Fatal(err)
	}
	// Two intervals: the export is the runs' cumulative values.
	for k := int64(1); k <= 2; k++ {
		if err := e.Interval(fullInterval(k, names), nil); err != nil {
			t.Fatal(err)
		}
	}
	fams := gather(t, e)
	value := func(name string) (float64, map[string]string) {
		t.Helper()
		f := fams[name]
		if f == nil || len(f.GetMetric()) != 1 {
			t.Fatalf("%s: not exported as one series", name)
		}
		m := f.GetMetric()[0]
		return m.GetCounter().GetValue() + m.GetGauge().GetValue(), labelsOf(m)
	}
	for i, c := range metrics.CounterList() {
		v, ls := value(CounterName(c.Name))
		if fams[CounterName(c.Name)].GetType() != dto.MetricType_COUNTER || v != float64(3*(i+1)) {
			t.Errorf("%s = %v (%v), want counter %d", CounterName(c.Name), v, fams[CounterName(c.Name)].GetType(), 3*(i+1))
		}
		if ls["scenario"] != "chat" || ls["build"] != "42" {
			t.Errorf("%s: labels %v", c.Name, ls)
		}
	}
	for i, f := range metrics.FamilyList() {
		name := CounterName(f.Name)
		v, ls := value(name)
		if want := fmt.Sprintf("key%d", i); ls[familyLabel(f.Name)] != want || v != float64(3*(100+i)) {
			t.Errorf("%s: %v %v, want %s=%q and %d", name, ls, v, familyLabel(f.Name), want, 3*(100+i))
		}
	}
	for want, got := range map[string]string{"closes_by_code": "code", "closes_by_initiator": "initiator", "errors_by_cause": "cause", "errors_by_step": "step", "odd": "key"} {
		if familyLabel(want) != got {
			t.Errorf("familyLabel(%s) = %s, want %s", want, familyLabel(want), got)
		}
	}
	for id, n := range names {
		f := fams[HistogramName(n)]
		if f == nil || f.GetType() != dto.MetricType_HISTOGRAM {
			t.Fatalf("%s: not exported as a histogram", HistogramName(n))
		}
		h := f.GetMetric()[0].GetHistogram()
		// Twice 10 samples of 100(id+1)..100(id+1)+9 µs.
		wantSum := 2 * float64(10*100*(id+1)+45) / 1e6
		if h.GetSampleCount() != 20 || fmt.Sprintf("%.9f", h.GetSampleSum()) != fmt.Sprintf("%.9f", wantSum) || len(h.GetBucket()) != len(Bounds) {
			t.Errorf("%s: count %d sum %g buckets %d, want 20, %g, %d", n, h.GetSampleCount(), h.GetSampleSum(), len(h.GetBucket()), wantSum, len(Bounds))
		}
	}
	if v, _ := value(Prefix + "open_connections"); v != 14 {
		t.Errorf("open connections %v, want the last interval's 14", v)
	}
	if v, _ := value(Prefix + "generator_cpu_seconds_total"); v != 1 {
		t.Errorf("generator CPU %v s, want 2 × 50%% × 1 s", v)
	}
	if _, ls := value(Prefix + "run_info"); ls["target"] != "ws://x" || ls["version"] == "" {
		t.Errorf("run_info labels %v", ls)
	}
}

func TestHistogramsExportedFromTheStart(t *testing.T) {
	t.Parallel()
	e, err := New(Options{Scenario: "s", Histograms: []string{"rtt", "login"}})
	if err != nil {
		t.Fatal(err)
	}
	fams := gather(t, e)
	for _, n := range []string{"rtt", "login"} {
		if f := fams[HistogramName(n)]; f == nil || f.GetMetric()[0].GetHistogram().GetSampleCount() != 0 {
			t.Errorf("%s: want an empty histogram before the first interval", n)
		}
	}
	if f := fams[CounterName("messages_sent")]; f == nil || f.GetMetric()[0].GetCounter().GetValue() != 0 {
		t.Errorf("messages_sent: want 0 before the first interval")
	}
}

func TestCheckLabel(t *testing.T) {
	t.Parallel()
	for name, ok := range map[string]bool{"run": true, "build_id": true, "_x": true, "": false, "9x": false, "a-b": false, "__name__": false, "scenario": false, "le": false, "cause": false, "step": false, "job": false} {
		if err := CheckLabel(name); (err == nil) != ok {
			t.Errorf("CheckLabel(%q) = %v, want ok %v", name, err, ok)
		}
	}
	if _, err := New(Options{Labels: map[string]string{"le": "1"}}); err == nil {
		t.Error("New accepted the label le")
	}
}

func TestListenAddr(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"9464": "127.0.0.1:9464", ":9464": "127.0.0.1:9464", "0": "127.0.0.1:0",
		"0.0.0.0:9464": "0.0.0.0:9464", "[::1]:80": "[::1]:80", "localhost:9464": "localhost:9464", "[::]:9464": "[::]:9464",
		"": "", "x": "", "1.2.3.4": "", ":99999": "", ":http": "", "host:-1": "",
	} {
		got, err := ListenAddr(in)
		if got != want || (err == nil) != (want != "") {
			t.Errorf("ListenAddr(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// scrape fetches url and returns its samples, one "name{labels} value"
// per line, labels sorted.
func scrape(t *testing.T, url string) []string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("scrape %s: %s %v", url, resp.Status, err)
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		out = append(out, normalize(t, line))
	}
	sort.Strings(out)
	return out
}

var sampleRe = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$`)
var labelRe = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"`)

func normalize(t *testing.T, line string) string {
	m := sampleRe.FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("not a sample line: %q", line)
	}
	var ls []string
	for _, l := range labelRe.FindAllStringSubmatch(m[2], -1) {
		ls = append(ls, l[1]+"="+strconv.Quote(l[2]))
	}
	sort.Strings(ls)
	v, err := strconv.ParseFloat(m[3], 64)
	if err != nil {
		t.Fatalf("%q: %v", line, err)
	}
	return fmt.Sprintf("%s{%s} %g", m[1], strings.Join(ls, ","), v)
}

func TestEndpointServesAndLingers(t *testing.T) {
	t.Parallel()
	e, err := New(Options{Scenario: "s"})
	if err != nil {
		t.Fatal(err)
	}
	url, err := e.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Interval(fullInterval(1, []string{"rtt"}), nil); err != nil {
		t.Fatal(err)
	}
	lines := scrape(t, url)
	want := `wsbench_messages_sent_total{scenario="s"} 10`
	if !contains(lines, want) {
		t.Fatalf("no %q in the scrape:\n%s", want, strings.Join(lines, "\n"))
	}
	// Finish waits for a scrape that starts after it; a scrape ends it.
	done := make(chan []string)
	go func() { done <- e.Finish(context.Background(), time.Hour, time.Second) }()
	var notes []string
	for finished := false; !finished; {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
		}
		select {
		case notes = <-done:
			finished = true
		case <-time.After(10 * time.Millisecond):
		}
	}
	if len(notes) != 0 {
		t.Errorf("notes after a final scrape: %v", notes)
	}
	if _, err := http.Get(url); err == nil {
		t.Error("the endpoint still answers after Finish")
	}
}

func TestEndpointNotScraped(t *testing.T) {
	t.Parallel()
	e, _ := New(Options{Scenario: "s"})
	if _, err := e.Listen("0"); err != nil {
		t.Fatal(err)
	}
	// Without a single interval (the run never started) it does not wait.
	if notes := e.Finish(context.Background(), time.Hour, time.Second); len(notes) != 0 {
		t.Errorf("notes %q without a run", notes)
	}
	e, _ = New(Options{Scenario: "s"})
	if _, err := e.Listen("0"); err != nil {
		t.Fatal(err)
	}
	_ = e.Interval(fullInterval(1, nil), nil)
	notes := e.Finish(context.Background(), time.Millisecond, time.Second)
	if len(notes) != 1 || !strings.Contains(notes[0], "not scraped") {
		t.Errorf("notes %q, want one saying the final values were not scraped", notes)
	}
	// A cancelled context (Ctrl-C) does not wait at all.
	e, _ = New(Options{Scenario: "s"})
	if _, err := e.Listen("0"); err != nil {
		t.Fatal(err)
	}
	_ = e.Interval(fullInterval(1, nil), nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if notes := e.Finish(ctx, time.Hour, time.Second); len(notes) != 0 {
		t.Errorf("notes %q after an interrupt", notes)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// BenchmarkInterval is the exporter's work per interval on the run's sink
// goroutine: adding an interval of 500 populated buckets in each of 9
// histograms, then gathering and encoding the remote write (b.N intervals,
// nothing sent), and the size of one write, compressed.
func BenchmarkInterval(b *testing.B) {
	names := append(metrics.BuiltinNames(), "rtt_service")
	iv := fullInterval(1, names)
	for id := range names {
		for v := range int64(500) {
			metrics.RecordUS(iv.Set.Hists[id], 50+v*v*7)
		}
	}
	e, _ := New(Options{Scenario: "bench"})
	w := &remoteWriter{logf: func(string, ...any) {}, wake: make(chan struct{}, 1)}
	e.writers = append(e.writers, w)
	b.ReportAllocs()
	size := 0
	for b.Loop() {
		_ = e.Interval(iv, nil)
		size = len(w.queue[0])
		w.queue = w.queue[:0]
	}
	b.ReportMetric(float64(size), "bytes/write")
}
