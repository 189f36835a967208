package report

import (
	"bytes"
	"encoding/json"
	"flag"
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
	Charts []struct {
		ID     string     `json:"id"`
		Kind   string     `json:"kind"`
		X      []*float64 `json:"x"`
		Series []struct {
			Label  string     `json:"label"`
			Values []*float64 `json:"values"`
		} `json:"series"`
	} `json:"charts"`
	Phases []phaseMarker `json:"phases"`
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
			if len(s.Values) != len(c.X) {
				t.Errorf("chart %s series %s: %d values for %d x", c.ID, s.Label, len(s.Values), len(c.X))
			}
		}
	}
	if len(d.Phases) != 2 {
		t.Errorf("phases in chart data: %d, want 2", len(d.Phases))
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
		// Without a series only the spectra (six metrics) and the
		// capacity chart remain.
		{"no series", func() *Report { r := *htmlFixture(t); r.Series = nil; return &r }(), 7},
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
