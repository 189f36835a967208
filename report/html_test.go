package report

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"html"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/wsbench/wsbench/metrics"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/ from the current output")

func renderHTML(tb testing.TB, r *Report) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if err := WriteHTML(&buf, r); err != nil {
		tb.Fatalf("WriteHTML: %v", err)
	}
	return buf.Bytes()
}

// renderHTMLWith renders r with options, after mutate (if not nil) has
// had its way with the page: the tests break a chart on purpose with it.
func renderHTMLWith(tb testing.TB, r *Report, o HTMLOptions, mutate func(*htmlPage)) []byte {
	tb.Helper()
	p, err := newHTMLPage(r, o)
	if err != nil {
		tb.Fatalf("newHTMLPage: %v", err)
	}
	if mutate != nil {
		mutate(p)
	}
	var buf bytes.Buffer
	if err := p.write(&buf); err != nil {
		tb.Fatalf("write: %v", err)
	}
	return buf.Bytes()
}

func TestWriteHTMLGolden(t *testing.T) {
	got := renderHTML(t, htmlFixture(t))
	golden := filepath.Join("testdata", "report.golden.html")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./report -run TestWriteHTMLGolden -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := range min(len(gl), len(wl)) {
			if gl[i] != wl[i] {
				t.Fatalf("HTML differs from %s at line %d:\n got: %.300s\nwant: %.300s\n(run with -update if the change is intended)", golden, i+1, gl[i], wl[i])
			}
		}
		t.Fatalf("HTML differs from %s: %d lines, want %d (run with -update if the change is intended)", golden, len(gl), len(wl))
	}
}

// TestWriteHTMLDeterministic builds the fixture afresh (not the shared
// one) and renders it twice: the builder and the renderer must both give
// the same bytes every time.
func TestWriteHTMLDeterministic(t *testing.T) {
	r, err := buildHTMLFixture()
	if err != nil {
		t.Fatal(err)
	}
	a := renderHTML(t, r)
	b := renderHTML(t, r)
	if !bytes.Equal(a, b) {
		t.Fatal("two renderings of the same report differ")
	}
	if !bytes.Equal(a, renderHTML(t, htmlFixture(t))) {
		t.Fatal("two builds of the fixture render differently")
	}
}

var dataRe = regexp.MustCompile(`(?s)<script type="application/json" id="wsbench-data">(.*?)</script>`)

// pageData extracts and decodes the chart data the page's script reads.
func pageData(tb testing.TB, page []byte) chartDataJSON {
	tb.Helper()
	m := dataRe.FindSubmatch(page)
	if m == nil {
		tb.Fatal("no chart data block in the page")
	}
	var d chartDataJSON
	if err := json.Unmarshal(m[1], &d); err != nil {
		tb.Fatalf("chart data is not JSON: %v\n%.500s", err, m[1])
	}
	return d
}

// chartDataJSON mirrors chartData for decoding (column writes null for
// missing values, which decodes as a nil pointer).
type chartDataJSON struct {
	Charts []chartJSON   `json:"charts"`
	Phases []phaseMarker `json:"phases"`
	Drain  *span         `json:"drain"`
}

type chartJSON struct {
	ID     string       `json:"id"`
	Kind   string       `json:"kind"`
	X      []*float64   `json:"x"`
	XLabel string       `json:"x_label"`
	YLabel string       `json:"y_label"`
	Series []seriesJSON `json:"series"`
	HLines []refLine    `json:"hlines"`
	VLines []refLine    `json:"vlines"`
}

type seriesJSON struct {
	Label  string     `json:"label"`
	Color  int        `json:"color"`
	Dash   string     `json:"dash"`
	Width  float64    `json:"width"`
	Ref    bool       `json:"ref"`
	X      []*float64 `json:"x"`
	Values []*float64 `json:"values"`
}

// chart returns the chart whose id ends in suffix.
func (d chartDataJSON) chart(tb testing.TB, suffix string) chartJSON {
	tb.Helper()
	for _, c := range d.Charts {
		if strings.HasSuffix(c.ID, suffix) {
			return c
		}
	}
	tb.Fatalf("no chart %q in the page", suffix)
	return chartJSON{}
}

func TestWriteHTMLEscaping(t *testing.T) {
	r := htmlFixture(t)
	page := string(renderHTML(t, r))
	if strings.Contains(page, hostile) || strings.Contains(page, "<b onmouseover") || strings.Contains(page, `alert("x")</script>`) {
		t.Fatal("a hostile error cause reached the page unescaped")
	}
	// The JSON data block must decode to the original strings: the
	// template escaped them for the <script> context without changing
	// their value.
	d := pageData(t, []byte(page))
	found := false
	for _, c := range d.Charts {
		for _, s := range c.Series {
			found = found || s.Label == hostile
		}
	}
	if !found {
		t.Fatalf("the hostile error cause did not round-trip through the chart data")
	}
	// And in HTML text it is escaped, not dropped.
	if !strings.Contains(page, "&lt;/script&gt;&lt;script&gt;alert(&#34;x&#34;)") {
		t.Fatal("the hostile error cause is missing from the errors table")
	}
	if !strings.Contains(page, `ws://127.0.0.1:8765/echo?room=lobby&amp;x=&lt;1&gt;`) {
		t.Fatal("target not shown escaped")
	}
	if n := strings.Count(page, "</script>"); n != 4 {
		t.Fatalf("page has %d </script> tags, want 4 (error recorder, data, uPlot, report script): a stray one means broken escaping", n)
	}
}

func TestWriteHTMLContent(t *testing.T) {
	page := string(renderHTML(t, htmlFixture(t)))
	for _, want := range []string{
		`<span class="badge bad" title="thresholds">FAIL</span>`,
		`UNRELIABLE`,
		`sends left late (schedule lag p99 1.2ms)`,
		`<code>rtt p99 &lt; 50ms</code>`,
		`<span class="badge good">pass</span>`,
		`1006 abnormal: no close frame`,
		`lobby-*`,
		`id="capacity"`,
		`baselines/main.json`,
		`connections_total`,
		`<code>chat/login</code>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	// Self-contained: nothing is loaded from anywhere. (uPlot's banner
	// comment names its home page; that loads nothing.)
	for _, bad := range []string{"<link ", " src=", "@import", "url(http", "//cdn", "fetch("} {
		if strings.Contains(page, bad) {
			t.Errorf("page contains %q: it must be self-contained", bad)
		}
	}
	d := pageData(t, []byte(page))
	if got, want := len(d.Charts), strings.Count(page, `<div class="chart" id=`); got != want {
		t.Errorf("%d charts in the data, %d chart containers", got, want)
	}
	ids := map[string]bool{}
	for _, c := range d.Charts {
		if ids[c.ID] {
			t.Errorf("duplicate chart id %q", c.ID)
		}
		ids[c.ID] = true
		if !strings.Contains(page, `id="`+c.ID+`"`) {
			t.Errorf("chart %q has no container", c.ID)
		}
		for _, s := range c.Series {
			if len(s.Values) != len(c.X) && len(s.Values) != len(s.X) {
				t.Errorf("chart %s series %s: %d values for %d x", c.ID, s.Label, len(s.Values), len(c.X))
			}
		}
		// Every axis says what it shows, with its unit.
		if c.XLabel == "" || c.YLabel == "" {
			t.Errorf("chart %s: x label %q, y label %q; want both", c.ID, c.XLabel, c.YLabel)
		}
	}
	if len(d.Phases) != 2 || d.Phases[1] != (phaseMarker{Name: "steady", Start: 10, End: 60}) {
		t.Errorf("phases in chart data: %+v, want ramp and steady with their ends", d.Phases)
	}
	// A capacity report opens with its answer, before the step's numbers.
	if c, n := strings.Index(page, `<section id="capacity"`), strings.Index(page, `<section id="numbers"`); c < 0 || c > n {
		t.Errorf("capacity section at %d, key numbers at %d: the answer must come first", c, n)
	}
}

// TestWriteHTMLLongRun checks that a two-hour report at one-second
// intervals stays small: charts are downsampled and the per-interval
// histograms are not embedded.
func TestWriteHTMLLongRun(t *testing.T) {
	r := bigHTMLFixture(t)
	page := renderHTML(t, r)
	t.Logf("2-hour report: HTML %.2f MB", float64(len(page))/1e6)
	if len(page) >= 5<<20 {
		t.Fatalf("HTML of a 2-hour report is %d bytes, want < 5 MB", len(page))
	}
	hdr := r.Series.Latency["rtt"].HDR[100]
	if hdr == "" || bytes.Contains(page, []byte(hdr)) {
		t.Fatal("per-interval histograms are embedded in the HTML")
	}
	d := pageData(t, page)
	for _, c := range d.Charts {
		if len(c.X) > maxChartPoints {
			t.Errorf("chart %s has %d points, want at most %d", c.ID, len(c.X), maxChartPoints)
		}
	}
	if !bytes.Contains(page, []byte("buckets of 10 intervals")) {
		t.Error("the page does not say how it downsampled")
	}
}

func TestWriteHTMLSparseReports(t *testing.T) {
	for _, tc := range []struct {
		name   string
		r      *Report
		charts int
	}{
		// Failed run: throughput, bytes, active, churn, errors by cause,
		// CPU; no latency, closes or lag charts (nothing was measured).
		{"failed", failedHTMLFixture(), 6},
		{"empty", emptyHTMLFixture(), 0},
		// Without a series only the spectra (six metrics), the two
		// capacity charts and broadcast loss over time (which has its own
		// intervals) remain.
		{"no series", func() *Report { r := *htmlFixture(t); r.Series = nil; return &r }(), 9},
	} {
		t.Run(tc.name, func(t *testing.T) {
			page := renderHTML(t, tc.r)
			d := pageData(t, page)
			if len(d.Charts) != tc.charts {
				var ids []string
				for _, c := range d.Charts {
					ids = append(ids, c.ID)
				}
				t.Errorf("%d charts %v, want %d", len(d.Charts), ids, tc.charts)
			}
			if !bytes.Contains(page, []byte(`"charts":[`)) && !bytes.Contains(page, []byte(`"charts":null`)) {
				t.Error("no charts array in the data")
			}
		})
	}
}

func TestDownsampler(t *testing.T) {
	for _, tc := range []struct {
		name     string
		n        int
		interval float64
		max      int
		k        int
	}{
		{"short", 60, 1, 1500, 1},
		{"at limit", 1500, 1, 1500, 1},
		{"just over", 1501, 1, 1500, 3},
		{"two hours", 7200, 1, 1500, 10},
		{"sub-second", 5000, 0.1, 1500, 7},
		{"one", 1, 1, 1500, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := NewSeries(tc.interval)
			counts := make([]int64, tc.n)
			lat := make([]float64, tc.n)
			var total int64
			for i := range tc.n {
				s.T = append(s.T, float64(i+1)*tc.interval)
				counts[i] = int64((i*7919)%13 + 1)
				total += counts[i]
				lat[i] = float64((i*104729)%997 + 1)
			}
			// a spike and a dip that must survive
			lat[tc.n/2] = 1e6
			lat[tc.n/3] = 0.5
			if tc.n == 1 {
				lat[0] = 1e6
			}
			d := newDownsampler(s, tc.max)
			if d.k != tc.k {
				t.Fatalf("k = %d, want %d", d.k, tc.k)
			}
			x := d.x()
			if len(x) > tc.max {
				t.Fatalf("%d points, want at most %d", len(x), tc.max)
			}
			for i := 1; i < len(x); i++ {
				if x[i] < x[i-1] {
					t.Fatalf("x not sorted at %d: %v < %v", i, x[i], x[i-1])
				}
			}
			if x[len(x)-1] != s.T[tc.n-1] {
				t.Errorf("last x %v, want the run's end %v", x[len(x)-1], s.T[tc.n-1])
			}
			// Rates keep the total: sum over buckets of rate × duration.
			rates := d.rate(counts)
			if len(rates) != len(x) {
				t.Fatalf("%d rates for %d x", len(rates), len(x))
			}
			var area float64
			j := 0
			for _, b := range d.bounds {
				area += rates[j] * (s.T[b[1]] - d.start(b[0]))
				j++
				if b[1] > b[0] {
					if rates[j] != rates[j-1] {
						t.Fatalf("bucket rate not flat")
					}
					j++
				}
			}
			if math.Abs(area-float64(total)) > 1e-6*float64(total) {
				t.Errorf("rates integrate to %v, want %d", area, total)
			}
			ext := d.extremes(func(i int) float64 { return lat[i] })
			if len(ext) != len(x) {
				t.Fatalf("%d extremes for %d x", len(ext), len(x))
			}
			lo, hi := math.Inf(1), math.Inf(-1)
			for _, v := range ext {
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
			if hi != 1e6 || (tc.n > 1 && lo != 0.5) {
				t.Errorf("extremes lost the spike or the dip: min %v max %v", lo, hi)
			}
			cpu := d.mean(lat)
			if len(cpu) != len(x) {
				t.Fatalf("%d means for %d x", len(cpu), len(x))
			}
		})
	}
}

func TestDownsamplerMissing(t *testing.T) {
	s := NewSeries(1)
	for i := range 3000 {
		s.T = append(s.T, float64(i+1))
	}
	d := newDownsampler(s, 1500)
	ext := d.extremes(func(i int) float64 {
		if i < 1000 {
			return math.NaN()
		}
		return float64(i)
	})
	if !math.IsNaN(ext[0]) || !math.IsNaN(ext[1]) {
		t.Errorf("a bucket without samples must stay empty, got %v %v", ext[0], ext[1])
	}
	if ext[len(ext)-1] != 2999 {
		t.Errorf("last value %v, want 2999", ext[len(ext)-1])
	}
}

func TestSpectrum(t *testing.T) {
	r := htmlFixture(t)
	for _, name := range []string{"rtt", "connect", "ping"} {
		m := r.Metrics[name]
		spec, err := spectrum(m)
		if err != nil {
			t.Fatal(err)
		}
		h, _ := m.Histogram()
		xs, ys := spec.X, spec.Series[0].Values
		if xs[0] != 1 {
			t.Errorf("%s: spectrum starts at x=%v, want 1 (p0)", name, xs[0])
		}
		last := xs[len(xs)-1]
		if want := math.Min(float64(m.Count), 1e5); math.Abs(last-want) > 1e-6*want {
			t.Errorf("%s: spectrum ends at x=%v, want %v", name, last, want)
		}
		for i := range xs {
			if i > 0 && (xs[i] <= xs[i-1] || ys[i] < ys[i-1]) {
				t.Fatalf("%s: spectrum not increasing at %d", name, i)
			}
			p := 100 * (1 - 1/xs[i])
			if want := float64(h.ValueAtPercentile(p)) / 1e3; ys[i] != want {
				t.Errorf("%s: at p%v got %v ms, want %v", name, p, ys[i], want)
			}
		}
	}
	h := metrics.NewHistogram()
	metrics.RecordUS(h, 5)
	m, _ := NewMetric(h)
	if spec, err := spectrum(m); err != nil || spec != nil {
		t.Errorf("one sample: got %v, %v; want no spectrum", spec, err)
	}
}

func TestColumnJSON(t *testing.T) {
	b, err := json.Marshal(column{1, math.NaN(), 0.001, 1234567.891, math.Inf(1), 12.345})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), `[1,null,0.001,1234568,null,12.345]`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestFormatters(t *testing.T) {
	for _, tc := range []struct {
		us   int64
		want string
	}{
		{0, "0"}, {1, "0.001"}, {42, "0.042"}, {999, "0.999"}, {1000, "1.00"}, {1234, "1.23"},
		{12345, "12.3"}, {123456, "123"}, {1234567, "1\u202f235"},
	} {
		if got := fmtMS(tc.us); got != tc.want {
			t.Errorf("fmtMS(%d) = %q, want %q", tc.us, got, tc.want)
		}
	}
	for _, tc := range []struct {
		s    float64
		want string
	}{
		{0, "0s"}, {0.25, "250ms"}, {42.5, "42.5s"}, {60.02, "1m00s"}, {7200, "2h00m00s"}, {3725, "1h02m05s"},
	} {
		if got := fmtDuration(tc.s); got != tc.want {
			t.Errorf("fmtDuration(%v) = %q, want %q", tc.s, got, tc.want)
		}
	}
	if got := fmtInt(-1234567); got != "-1\u202f234\u202f567" {
		t.Errorf("fmtInt = %q", got)
	}
	for _, tc := range []struct {
		ratio float64
		want  string
	}{
		{0, "0%"}, {1, "100%"}, {0.5, "50.0%"}, {56990.0 / 57000, "99.98%"}, {10.0 / 57000, "0.02%"}, {1e-7, "0.00001%"}, {math.NaN(), "n/a"},
	} {
		if got := fmtPct(tc.ratio); got != tc.want {
			t.Errorf("fmtPct(%v) = %q, want %q", tc.ratio, got, tc.want)
		}
	}
}

// TestWriteHTMLFromJSON renders the fixture after a trip through its JSON
// file form, as `wsbench report` does, and expects the same page.
// With WSBENCH_FIXTURE_DIR set it also leaves the fixtures there as JSON,
// to try `wsbench report` on by hand.
func TestWriteHTMLFromJSON(t *testing.T) {
	dir := os.Getenv("WSBENCH_FIXTURE_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	for name, r := range map[string]*Report{"fixture": htmlFixture(t), "failed": failedHTMLFixture(), "empty": emptyHTMLFixture()} {
		path := filepath.Join(dir, name+".json")
		if err := WriteJSONFile(path, r); err != nil {
			t.Fatal(err)
		}
		back, err := ReadJSONFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(renderHTML(t, r), renderHTML(t, back)) {
			t.Errorf("%s: the page rendered from the JSON file differs from the one rendered from memory", name)
		}
	}
	if os.Getenv("WSBENCH_FIXTURE_DIR") != "" {
		if err := WriteJSONFile(filepath.Join(dir, "two-hours.json"), bigHTMLFixture(t)); err != nil {
			t.Fatal(err)
		}
	}
}

func TestUnescapeHTMLInJSON(t *testing.T) {
	for in, want := range map[string]string{
		`{"a":"\u003c/script\u003e \u0026"}`: `{"a":"</script> &"}`,
		`{"a":"\\u003c"}`:                    `{"a":"\\u003c"}`,
		`{"a":"\"\u003e\\"}`:                 `{"a":"\">\\"}`,
		`{"a":"\u00e9"}`:                     `{"a":"\u00e9"}`,
	} {
		if got := unescapeHTMLInJSON([]byte(in)); got != want {
			t.Errorf("unescapeHTMLInJSON(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestDrainIndex(t *testing.T) {
	t.Parallel()
	mk := func(interval float64, ts ...float64) *Series {
		s := NewSeries(interval)
		s.T = ts
		return s
	}
	for _, tc := range []struct {
		name string
		s    *Series
		want int
	}{
		{"short drain", mk(1, 1, 2, 3, 3.02), 3},
		{"long drain", mk(1, 1, 2, 3, 9), 3},
		{"full last interval", mk(1, 1, 2, 3, 4), -1},
		{"late tick", mk(1, 1, 2, 3, 4.03), -1},
		{"one interval", mk(1, 0.4), -1},
		{"none", mk(1), -1},
		{"nil", nil, -1},
	} {
		if got := drainIndex(tc.s); got != tc.want {
			t.Errorf("%s: drainIndex %d, want %d", tc.name, got, tc.want)
		}
	}
}

// TestDownsamplerDrain checks that the drain interval is always a point of
// its own, left out of rates and means but not of levels.
func TestDownsamplerDrain(t *testing.T) {
	t.Parallel()
	for _, n := range []int{10, 3000} {
		s := NewSeries(1)
		counts := make([]int64, n+1)
		for i := range n {
			s.T = append(s.T, float64(i+1))
			counts[i] = 100
		}
		s.T = append(s.T, float64(n)+0.004) // 4 ms of drain
		counts[n] = 50                      // a rate of 12 500/s, were it shown
		d := newDownsampler(s, 1500)
		x := d.x()
		if len(x) > 1500 {
			t.Fatalf("n=%d: %d points, want at most 1500", n, len(x))
		}
		if last := x[len(x)-1]; last != s.T[n] || x[len(x)-2] == last {
			t.Errorf("n=%d: last points %v, want the drain's end %v on its own", n, x[len(x)-2:], s.T[n])
		}
		rates := d.rate(counts)
		if !math.IsNaN(rates[len(rates)-1]) {
			t.Errorf("n=%d: drain rate %v, want a gap", n, rates[len(rates)-1])
		}
		for i, r := range rates[:len(rates)-1] {
			if math.Abs(r-100) > 1e-9 {
				t.Fatalf("n=%d: rate %v at point %d, want 100/s", n, r, i)
			}
		}
		if m := d.mean(make([]float64, n+1)); !math.IsNaN(m[len(m)-1]) {
			t.Errorf("n=%d: drain mean %v, want a gap", n, m[len(m)-1])
		}
		if e := d.extremes(func(i int) float64 { return float64(i) }); e[len(e)-1] != float64(n) {
			t.Errorf("n=%d: drain level %v, want %d", n, e[len(e)-1], n)
		}
	}
}

func TestWriteHTMLDrain(t *testing.T) {
	t.Parallel()
	page := renderHTML(t, plainHTMLFixture(t))
	d := pageData(t, page)
	if d.Drain == nil || d.Drain.Start != 60 || d.Drain.End != 60.02 {
		t.Fatalf("drain %+v, want 60s to 60.02s", d.Drain)
	}
	if !bytes.Contains(page, []byte(`The last interval (20ms), hatched and labelled`)) {
		t.Error("the page does not say what the drain is")
	}
	thr := d.chart(t, "-throughput")
	for _, s := range thr.Series {
		if last := s.Values[len(s.Values)-1]; last != nil {
			t.Errorf("throughput %s: drain point %v, want a gap", s.Label, *last)
		}
		if s.Label == "received" && s.Values[len(s.Values)-2] == nil {
			t.Error("throughput received: the last full interval is missing")
		}
	}
	rtt := d.chart(t, "-lat-rtt")
	if last := rtt.Series[0].Values[len(rtt.Series[0].Values)-1]; last == nil {
		t.Error("rtt p50: the drain's latency is missing; its replies are real samples")
	}
}

// TestWriteHTMLSentReceived checks that sent and received differ in
// colour and in line style, so they stay apart in grayscale.
func TestWriteHTMLSentReceived(t *testing.T) {
	t.Parallel()
	d := pageData(t, renderHTML(t, plainHTMLFixture(t)))
	for _, id := range []string{"-throughput", "-bytes"} {
		c := d.chart(t, id)
		sent, recv := c.Series[0], c.Series[1]
		if sent.Label != "sent" || recv.Label != "received" {
			t.Fatalf("%s: series %q, %q", id, sent.Label, recv.Label)
		}
		if sent.Color == recv.Color || sent.Dash == recv.Dash {
			t.Errorf("%s: sent (colour %d, dash %q) and received (colour %d, dash %q) must differ in both", id, sent.Color, sent.Dash, recv.Color, recv.Dash)
		}
	}
}

func TestWriteHTMLBaselineOverlay(t *testing.T) {
	t.Parallel()
	base := htmlBaselineFixture(t)
	page := renderHTMLWith(t, plainHTMLFixture(t), HTMLOptions{Baseline: base, BaselineLabel: "main@yesterday"}, nil)
	d := pageData(t, page)
	rtt := d.chart(t, "-lat-rtt")
	var p99 *seriesJSON
	for i := range rtt.Series {
		if rtt.Series[i].Label == "p99 baseline" {
			p99 = &rtt.Series[i]
		}
	}
	if p99 == nil || !p99.Ref || p99.Dash == "" {
		t.Fatalf("rtt over time has no dashed reference line for the baseline's p99: %+v", rtt.Series)
	}
	// On the baseline's own time axis, with its own interval values.
	ls := base.Series.Latency["rtt"]
	if len(p99.X) != base.Series.Len() || len(p99.Values) != len(p99.X) {
		t.Fatalf("baseline p99: %d x, %d values; want the baseline's %d intervals", len(p99.X), len(p99.Values), base.Series.Len())
	}
	for i, v := range p99.Values {
		if *p99.X[i] != base.Series.T[i] || v == nil || *v != float64(ls.P99[i])/1e3 {
			t.Fatalf("baseline p99 point %d: (%v, %v), want (%v, %v)", i, *p99.X[i], v, base.Series.T[i], float64(ls.P99[i])/1e3)
		}
	}
	spec := d.chart(t, "-spec-rtt")
	want, err := spectrum(base.Metrics["rtt"])
	if err != nil {
		t.Fatal(err)
	}
	// rtt, rtt_service, then the baseline's rtt.
	if len(spec.Series) != 3 || spec.Series[2].Label != "baseline" || !spec.Series[2].Ref || len(spec.Series[2].Values) != len(want.X) {
		t.Fatalf("rtt spectrum series %+v, want this run's two views and the baseline's %d points", spec.Series, len(want.X))
	}
	for i, v := range spec.Series[2].Values {
		if *v != want.Series[0].Values[i] {
			t.Fatalf("baseline spectrum point %d: %v, want %v", i, *v, want.Series[0].Values[i])
		}
	}
	text := html.UnescapeString(string(page))
	for _, s := range []string{"main@yesterday", "<code>rtt p99</code>", "+470.4%", "2025-03-13 09:26:53 UTC"} {
		if !strings.Contains(text, s) {
			t.Errorf("baseline section lacks %q", s)
		}
	}
	// Judged against a baseline whose report is not at hand: the verdict,
	// and how to get the overlay.
	judged := plainHTMLFixture(t)
	judged.Baseline = htmlFixture(t).Baseline
	text = html.UnescapeString(string(renderHTML(t, judged)))
	for _, s := range []string{"REGRESSED (1)", "<code>rtt p99</code>", "wsbench report --baseline"} {
		if !strings.Contains(text, s) {
			t.Errorf("judged page lacks %q", s)
		}
	}
}

func TestWriteHTMLCapacity(t *testing.T) {
	t.Parallel()
	page := renderHTML(t, htmlFixture(t))
	d := pageData(t, page)
	c := d.chart(t, "-capacity")
	if len(c.HLines) != 1 || c.HLines[0].Value != 50 || !strings.Contains(c.HLines[0].Label, "rtt p99 < 50ms") {
		t.Errorf("SLO lines %+v, want rtt p99 < 50ms at 50 ms", c.HLines)
	}
	var vl []string
	for _, l := range c.VLines {
		vl = append(vl, fmt.Sprintf("%s@%g", l.Label, l.Value))
	}
	if got := strings.Join(vl, ","); got != "max OK 400@400,first fail 800@800" {
		t.Errorf("vertical lines %s, want max OK at 400 and first fail at 800", got)
	}
	if c.Series[0].Label != "rtt p99" || len(c.X) != 4 || *c.X[0] != 100 || *c.X[3] != 800 {
		t.Errorf("capacity chart: first series %q, x %d points; want rtt p99 over the four loads in order", c.Series[0].Label, len(c.X))
	}
	if thr := d.chart(t, "-capacity-throughput"); len(thr.HLines) != 1 || thr.HLines[0].Value != 0.1 || !thr.HLines[0].Right {
		t.Errorf("error SLO line %+v, want 0.1%% on the right axis", thr.HLines)
	}
	if !bytes.Contains(page, []byte("the run at <b>400 clients (the highest load that met the SLO with a reliable generator)</b>")) {
		t.Error("the page does not say which step the detail is")
	}
}

func TestParseLatencySLO(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		ok   bool
		want latencySLO
	}{
		{"rtt p99 < 50ms", true, latencySLO{"rtt p99 < 50ms", "rtt", "p99", 50}},
		{" connect p99.9 <= 1.5s ", true, latencySLO{"connect p99.9 <= 1.5s", "connect", "p99.9", 1500}},
		{"chat_login max < 800us", true, latencySLO{"chat_login max < 800us", "chat_login", "max", 0.8}},
		{"errors rate < 0.1%", false, latencySLO{}},
		{"rtt p99 > 50ms", false, latencySLO{}},
		{"reach[lobby] > 99.9%", false, latencySLO{}},
	} {
		got, ok := parseLatencySLO(tc.in)
		if ok != tc.ok || got != tc.want {
			t.Errorf("parseLatencySLO(%q) = %+v, %v; want %+v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
	if v, ok := parseErrorSLO("errors rate < 0.1%"); !ok || v != 0.1 {
		t.Errorf("parseErrorSLO = %v, %v", v, ok)
	}
}

func TestWriteHTMLBroadcast(t *testing.T) {
	t.Parallel()
	page := renderHTML(t, broadcastHTMLFixture(t))
	text := html.UnescapeString(string(page))
	for _, s := range []string{"<code>lobby-*</code>", "<code>alerts</code>", "all patterns", "63\u202f000", "3.00 / 7.68"} {
		if !strings.Contains(text, s) {
			t.Errorf("broadcast table lacks %q", s)
		}
	}
	c := pageData(t, page).chart(t, "-broadcast-loss")
	if len(c.X) != 60 || *c.X[59] != 60 {
		t.Fatalf("loss over time: %d points ending at %v, want 60 intervals up to the last publish", len(c.X), *c.X[len(c.X)-1])
	}
	at := func(series, i int) float64 { return *c.Series[series].Values[i] }
	if c.Series[0].Label != "lobby-*" || math.Abs(at(0, 30)-100*4.0/950) > 1e-6 || at(0, 29) != 0 {
		t.Errorf("lobby loss at 30s, 31s: %v, %v; want 0 and %v%%", at(0, 29), at(0, 30), 100*4.0/950)
	}
	if c.Series[1].Label != "alerts" || at(1, 46) != 35 {
		t.Errorf("alerts loss at 47s: %v, want 35%%", at(1, 46))
	}
	// A report from before per-interval accounting says so.
	r := broadcastHTMLFixture(t)
	r.Broadcast = append([]BroadcastResult(nil), r.Broadcast...)
	for i := range r.Broadcast {
		r.Broadcast[i].Intervals = nil
	}
	if page := renderHTML(t, r); !bytes.Contains(page, []byte("no broadcast accounting over time")) {
		t.Error("without intervals the page does not say why there is no loss chart")
	}
}
