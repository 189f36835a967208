package report

import (
	"bytes"
	"html"
	"math"
	"regexp"
	"strings"
	"testing"
)

func TestFindingMeasure(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		f    Finding
		want string
	}{
		{Finding{Value: 1200, Limit: 1000, Unit: "us"}, "1.20ms, limit 1.00ms"},
		{Finding{Value: 97.25, Limit: 90, Unit: "%"}, "97.2%, limit 90.0%"},
		{Finding{Value: 120, Unit: "count"}, "120"},
		{Finding{Value: 980, Limit: 1024, Unit: "count"}, "980, limit 1024"},
		{Finding{Value: 2.5, Limit: 1, Unit: "widgets"}, "2.5 widgets, limit 1 widgets"},
		{Finding{Value: math.NaN(), Unit: "us"}, "n/a"},
	} {
		if got := tc.f.Measure(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.f, got, tc.want)
		}
	}
}

func TestMetricOrderServiceAfterBase(t *testing.T) {
	t.Parallel()
	m := map[string]*Metric{}
	for _, n := range []string{"connect", "rtt", "alpha", "fast", "fast_service", "rtt_service", "zeta_service", "handshake"} {
		m[n] = &Metric{}
	}
	got := strings.Join(metricOrder(m), " ")
	// A service view without its metric stays where its name puts it.
	want := "rtt rtt_service connect handshake alpha fast fast_service zeta_service"
	if got != want {
		t.Errorf("order %q, want %q", got, want)
	}
}

func TestTextServiceView(t *testing.T) {
	t.Parallel()
	r := plainHTMLFixture(t)
	var buf bytes.Buffer
	if err := WriteText(&buf, r); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	rtt, svc := r.Metrics["rtt"], r.Metrics["rtt_service"]
	if svc.P99US >= rtt.P99US {
		t.Fatalf("fixture: rtt_service p99 %d not below rtt's %d", svc.P99US, rtt.P99US)
	}
	want := "rtt p99 " + FormatUS(rtt.P99US) + " from each message's intended send time, " + FormatUS(svc.P99US) + " from its actual write (rtt_service)"
	if !strings.Contains(out, want) || !strings.Contains(out, "coordinated-omission correction") {
		t.Errorf("summary lacks %q and why:\n%s", want, out)
	}
	if a, b := strings.Index(out, "\nrtt "), strings.Index(out, "\nrtt_service "); a < 0 || b < a || strings.Count(out[a:b], "\n") != 1 {
		t.Errorf("rtt_service's row is not right after rtt's:\n%s", out)
	}
	// Without the service view, no such line.
	r2 := *r
	r2.Metrics = map[string]*Metric{"rtt": rtt}
	buf.Reset()
	if err := WriteText(&buf, &r2); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), "actual write") {
		t.Errorf("a report without rtt_service mentions it:\n%s", buf.String())
	}
}

func TestTextWorkers(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	if err := WriteText(&buf, plainHTMLFixture(t)); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, re := range []string{
		`Workers +2 processes`,
		`(?m)^  1 +pid 41001 +peak 100 conns +connects 100 +sent \d+ +received \d+ +errors 7 +rss 48\.0MiB +completed · exited with status 0$`,
		`(?m)^  2 +pid 41002 .* rss 51\.0MiB +completed · exited with status 0 · unreliable$`,
		`(?m)^  2  from 127\.0\.0\.3, 127\.0\.0\.4$`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("summary lacks %s:\n%s", re, out)
		}
	}
}

// A report that carries its broadcast ledger (a worker's, or a merge's,
// for merging again) renders exactly as one without: the ledger is raw
// data for merges, not something to show.
func TestLedgerIsNotRendered(t *testing.T) {
	t.Parallel()
	plain := broadcastHTMLFixture(t)
	with := *plain
	with.Ledger = &Ledger{Origin: 1, IntervalNS: 1e9, End: 61e9, Rooms: []LedgerRoom{{
		URL: "ws://127.0.0.1:8765/lobby-1", Pattern: "lobby-*",
		Pubs:    []LedgerPub{{PubID: PubID{Worker: 1, Conn: 7}, Sent: []int64{1e9, 2e9, -1}, Last: []int64{3e6, 4e6, 0}}},
		Members: []LedgerMember{{Joined: 0, Left: 61e9, Recv: []LedgerRecv{{PubID: PubID{Worker: 1, Conn: 7}, Bits: []uint64{3}}}}},
	}}}
	for name, write := range map[string]func(*bytes.Buffer, *Report) error{
		"html":     func(b *bytes.Buffer, r *Report) error { return WriteHTML(b, r) },
		"text":     func(b *bytes.Buffer, r *Report) error { return WriteText(b, r) },
		"markdown": func(b *bytes.Buffer, r *Report) error { return WriteMarkdownSummary(b, r) },
		"junit":    func(b *bytes.Buffer, r *Report) error { return WriteJUnit(b, r) },
	} {
		var a, b bytes.Buffer
		if err := write(&a, plain); err != nil {
			t.Fatal(err)
		}
		if err := write(&b, &with); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a.Bytes(), b.Bytes()) {
			t.Errorf("%s: a report with a broadcast ledger renders differently from one without", name)
		}
	}
}

func TestWriteHTMLServiceView(t *testing.T) {
	t.Parallel()
	r := plainHTMLFixture(t)
	page := renderHTML(t, r)
	d := pageData(t, page)
	for _, c := range d.Charts {
		if strings.Contains(c.ID, "rtt_service") {
			t.Errorf("rtt_service has a chart of its own (%s); it belongs on rtt's", c.ID)
		}
	}
	// Over time: rtt_service's p50 and p99 on rtt's chart, per interval,
	// on the same x as rtt's own lines.
	lat := d.chart(t, "-lat-rtt")
	ls := r.Series.Latency["rtt_service"]
	found := 0
	for _, s := range lat.Series {
		var col []int64
		switch s.Label {
		case "p50 service":
			col = ls.P50
		case "p99 service":
			col = ls.P99
		default:
			continue
		}
		found++
		if s.Ref || s.Dash == "" || len(s.X) != 0 || len(s.Values) != len(lat.X) {
			t.Fatalf("%s: ref %v, dash %q, %d own x, %d values for %d x", s.Label, s.Ref, s.Dash, len(s.X), len(s.Values), len(lat.X))
		}
		for i, v := range s.Values {
			if v == nil || *v != float64(col[i])/1e3 {
				t.Fatalf("%s point %d: %v, want %v", s.Label, i, v, float64(col[i])/1e3)
			}
		}
	}
	if found != 2 {
		t.Fatalf("rtt over time has %d service lines, want p50 and p99: %+v", found, lat.Series)
	}
	// In the stall the two views part: the service view leaves out the
	// wait for the stalled server.
	rttP99, svcP99 := r.Series.Latency["rtt"].P99[31], ls.P99[31]
	if svcP99*2 > rttP99 {
		t.Errorf("fixture: in the stall rtt_service p99 %d is not well below rtt's %d", svcP99, rttP99)
	}
	spec := d.chart(t, "-spec-rtt")
	if len(spec.Series) != 2 || spec.Series[0].Label != "rtt" || spec.Series[1].Label != "rtt_service" || spec.Series[1].Ref {
		t.Fatalf("rtt spectrum series %+v, want rtt and rtt_service", spec.Series)
	}
	text := html.UnescapeString(string(page))
	for _, want := range []string{"dashed, p50 and p99 of <code>rtt_service</code>", `id="service-note"`, serviceGapWhy} {
		if !strings.Contains(text, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if a, b := strings.Index(text, "<td><code>rtt</code>"), strings.Index(text, "<td><code>rtt_service</code>"); a < 0 || b < a || strings.Count(text[a:b], "<tr>") != 1 {
		t.Error("rtt_service's row is not right after rtt's in the latency table")
	}
}

func TestWriteHTMLBaselineJudgement(t *testing.T) {
	t.Parallel()
	gating := plainHTMLFixture(t)
	gating.Baseline = htmlFixture(t).Baseline
	row := gating.Baseline.Regressions[0]
	abs, rel := compareDelta(row)
	for _, tc := range []struct {
		name string
		r    *Report
		want []string
		not  []string
	}{
		{"gating", gating, []string{
			`<span class="badge bad" title="baseline comparison: a regression fails the run">baseline: REGRESSED (1)</span>`,
			`<h2>Baseline <span class="badge bad">REGRESSED (1)</span></h2>`,
			`gating: a regression fails the run`,
			`<h3>Regressed</h3>`,
			`<tr class="fail"><td><code>rtt p99</code></td><td class="num">2.90ms</td><td class="num">` + compareValue(row.New, "us") + `</td><td class="num">` + abs + `</td><td class="num">` + rel + `</td><td>baseline 2.80ms–3.00ms · this run ` + row.band(row.NewLow, row.NewHigh) + `</td></tr>`,
			`<li>the new run's generator was unreliable`,
		}, []string{"report only"}},
		{"report only", reportOnlyHTMLFixture(t), []string{
			`<span class="badge warn" title="baseline comparison, report only: it does not fail the run">baseline: 1 regression (not gating)</span>`,
			`report only: the comparison is shown but does not fail the run (add <code>--fail-on-regression</code> to gate)`,
			`<h3>Regressed (not gating)</h3>`,
			`<tr class="warnrow"><td><code>rtt p99</code></td>`,
		}, []string{"REGRESSED (1)"}},
		{"no regressions", func() *Report {
			r := plainHTMLFixture(t)
			r.Baseline = &Baseline{Path: "b.json", Tolerance: "10%"}
			return r
		}(), []string{`baseline: no regressions</span>`, `<tr><th>regressions</th><td><span class="badge good">none</span></td></tr>`}, []string{"<h3>Regressed"}},
		// A report from before regressions carried their values: the keys.
		{"keys only", func() *Report {
			r := plainHTMLFixture(t)
			r.Baseline = &Baseline{Path: "b.json", Tolerance: "10%", Regressed: []string{"rtt.p99"}}
			return r
		}(), []string{`<ul class="bad"><li>rtt.p99</li></ul>`}, []string{"<h3>Regressed"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			page := html.UnescapeString(string(renderHTML(t, tc.r)))
			for _, want := range tc.want {
				if !strings.Contains(page, want) {
					t.Errorf("page lacks %s", want)
				}
			}
			for _, not := range tc.not {
				if strings.Contains(page, not) {
					t.Errorf("page has %s", not)
				}
			}
			// The baseline comes before the latency, near the top.
			if b, l := strings.Index(page, `<section id="baseline">`), strings.Index(page, `<section id="latency">`); b < 0 || b > l {
				t.Errorf("baseline section at %d, latency at %d", b, l)
			}
		})
	}
}

// A run whose thresholds all held but whose gating baseline regressed
// failed (the header) without failing a threshold (the section).
func TestWriteHTMLThresholdsVerdictIgnoresBaseline(t *testing.T) {
	t.Parallel()
	r := plainHTMLFixture(t)
	r.Thresholds = r.Thresholds[:1]
	r.Passed = new(false)
	r.Baseline = htmlFixture(t).Baseline
	page := string(renderHTML(t, r))
	for _, want := range []string{
		`<span class="badge bad" title="thresholds">FAIL</span>`,
		`<h2>Thresholds <span class="badge good">PASS</span></h2>`,
		`baseline: REGRESSED (1)`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s", want)
		}
	}
}

func TestWriteHTMLGeneratorFindings(t *testing.T) {
	t.Parallel()
	page := string(renderHTML(t, plainHTMLFixture(t)))
	rows := tableRows(t, page, "findings")
	want := [][]string{
		{"unreliable", "schedule_lag", "1.20ms", "1.00ms", "sends left late (schedule lag p99 1.2ms) while the generator CPU peaked at 50%"},
		{"note", "dropped", "120", "—", "120 sends/sessions dropped (behind schedule or at max_sessions) while the generator CPU peaked at 50%"},
		{"note", "gc", "1.4%", "1.0%", "GC paused the generator for 840 ms (1.4% of the run); any effect on sends is in the schedule lag"},
	}
	checkRows(t, "findings", rows, want)

	// A report without findings (older, or merged) lists its reasons and
	// notes, without a rule or measure.
	r := plainHTMLFixture(t)
	g := r.Generator
	g.Findings = nil
	r.Generator = g
	rows = tableRows(t, string(renderHTML(t, r)), "findings")
	checkRows(t, "findings without rules", rows, [][]string{
		{"unreliable", "—", "—", "—", g.Reasons[0]},
		{"note", "—", "—", "—", g.Notes[0]},
		{"note", "—", "—", "—", g.Notes[1]},
	})
}

func TestWriteHTMLWorkers(t *testing.T) {
	t.Parallel()
	r := plainHTMLFixture(t)
	page := string(renderHTML(t, r))
	if !strings.Contains(page, `<a href="#workers">workers</a>`) {
		t.Error("no link to the workers section")
	}
	rows := tableRows(t, page, "workers")
	w := r.Workers
	checkRows(t, "workers", rows, [][]string{
		{"1", "41001", "127.0.0.2", "100", "100", fmtInt(w[0].MessagesSent), fmtInt(w[0].MessagesReceived), "7", "48.0MiB", "completed", "exited with status 0"},
		{"2", "41002", "127.0.0.3, 127.0.0.4", "100", "100", fmtInt(w[1].MessagesSent), fmtInt(w[1].MessagesReceived), "7", "51.0MiB", "completed unreliable", "exited with status 0"},
	})
	if !strings.Contains(page, `<tr class="warnrow"><td class="num">2</td>`) || strings.Contains(page, `<tr class="warnrow"><td class="num">1</td>`) {
		t.Error("the unreliable worker, and only it, is marked")
	}
	r.Workers = nil
	if strings.Contains(string(renderHTML(t, r)), `id="workers"`) {
		t.Error("a run without workers has a workers section")
	}
}

func TestWriteHTMLTarget(t *testing.T) {
	t.Parallel()
	page := string(renderHTML(t, plainHTMLFixture(t)))
	if strings.Contains(page, hostile) {
		t.Fatal("a hostile /info value or room name reached the page unescaped")
	}
	esc := html.EscapeString(hostile)
	checkRows(t, "target info", tableRows(t, page, "target-info"), [][]string{
		{"framework", "tornado"}, {"version", "6.2"}, {"Python", "3.11.2"}, {"event loop", "asyncio.unix_events._UnixSelectorEventLoop"},
		{"message bus", "redis 127.0.0.1:6390 (pub/sub)"}, {"accelerations requested", esc}, {"pid", "4242"},
	})
	checkRows(t, "accelerations", tableRows(t, page, "target-accel"), [][]string{
		{"utf8_validation", "Python (built in)"}, {"websocket_mask", "C (tornado.speedups.websocket_mask)"},
	})
	checkRows(t, "proxy", tableRows(t, page, "proxy"), [][]string{
		{"tornado-1", "127.0.0.1:9001", "101", "50.2%", "", "100", "0 ms", "0"},
		{"tornado-2", "127.0.0.1:9002", "100", "49.8%", "", "100", "1 ms", "1"},
	})
	// The bars are the shares, the largest full width.
	if !strings.Contains(page, `style="width: 100%"`) || !strings.Contains(page, `style="width: 99%"`) {
		t.Error("proxy bars are not 100% and 99% wide")
	}
	checkRows(t, "processes", tableRows(t, page, "processes"), [][]string{
		{"redis", "bus", "4240", "127.0.0.1:6390", "9.0MiB", "10.0MiB"},
		{"tornado-1", "target", "4242", "127.0.0.1:9001", "38.0MiB", "41.0MiB"},
		{"tornado-2", "target", "4243", "127.0.0.1:9002", "37.0MiB", "40.0MiB"},
		{"haproxy", "proxy", "4244", "127.0.0.1:8765", "12.0MiB", "14.0MiB"},
	})
	// Rooms by their deliveries over every process; a room's processes
	// in start order.
	rooms := tableRows(t, page, "rooms")
	var order []string
	for _, r := range rooms {
		order = append(order, r[0]+"@"+r[1])
	}
	if got, want := strings.Join(order, " "), "lobby-1@tornado-1 lobby-3@tornado-2 lobby-4@tornado-2 lobby-2@tornado-1 alerts@tornado-1 alerts@tornado-2 "+esc+"@tornado-2"; got != want {
		t.Errorf("room rows %s, want %s", got, want)
	}
	text := html.UnescapeString(page)
	for _, want := range []string{
		"Counters of the target processes", "Counters of the bus process", "Counters of the proxy process",
		`<td class="num">106 <span class="delta">+101</span></td>`, // connections_total of tornado-1
		`<td class="num">1.2MiB <span class="delta">+200.0KiB</span></td>`,
		"Proxy: how haproxy 2.6.12-1+deb12u4 spread the connections", "balance <code>roundrobin</code> · 201 connections accepted",
		"Target's own counts (GET /stats), all target processes together",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("target section lacks %s", want)
		}
	}
	// The target section is the target's, apart from the generator's.
	if tg, gen := strings.Index(page, `<section id="target">`), strings.Index(page, `<section id="generator">`); tg < 0 || tg > gen {
		t.Errorf("target section at %d, generator at %d", tg, gen)
	}

	// A target of one process with /stats only: its counts, nothing more.
	r := plainHTMLFixture(t)
	r.Server = &ServerObs{Before: map[string]int64{"connections_total": 1}, After: map[string]int64{"connections_total": 5}}
	page = string(renderHTML(t, r))
	for _, id := range []string{"target-info", "proxy", "processes", "rooms"} {
		if strings.Contains(page, `id="`+id+`"`) {
			t.Errorf("a single-process target's page has %s", id)
		}
	}
	if !strings.Contains(page, "Target's own counts (GET /stats)</h3>") {
		t.Error("a single-process target's page lacks its counts")
	}
}

var (
	tagRe   = regexp.MustCompile(`<[^>]*>`)
	spaceRe = regexp.MustCompile(`[ \t\n]+`)
	cellRe  = regexp.MustCompile(`(?s)<td[^>]*>(.*?)</td>`)
	tbodyRe = regexp.MustCompile(`(?s)<tbody>(.*?)</tbody>`)
)

// tableRows returns the text of the body cells of the table with id, or
// of the first table in the section with id, row by row. A table without
// a body (a key-value table) gives its rows' header and cell.
func tableRows(t *testing.T, page, id string) [][]string {
	t.Helper()
	start := strings.Index(page, `id="`+id+`"`)
	if start < 0 {
		t.Fatalf("no element with id %q", id)
	}
	rest := page[start:]
	end := strings.Index(rest, "</table>")
	if end < 0 {
		t.Fatalf("no table at id %q", id)
	}
	table := rest[:end]
	if m := tbodyRe.FindStringSubmatch(table); m != nil {
		table = m[1]
	}
	var rows [][]string
	for _, tr := range strings.Split(table, "<tr")[1:] {
		var cells []string
		if th := regexp.MustCompile(`(?s)<th[^>]*>(.*?)</th>`).FindStringSubmatch(tr); th != nil && !strings.Contains(tr, "<thead") {
			cells = append(cells, cellText(th[1]))
		}
		for _, m := range cellRe.FindAllStringSubmatch(tr, -1) {
			cells = append(cells, cellText(m[1]))
		}
		if len(cells) > 0 {
			rows = append(rows, cells)
		}
	}
	return rows
}

func cellText(s string) string {
	return strings.TrimSpace(spaceRe.ReplaceAllString(tagRe.ReplaceAllString(s, ""), " "))
}

func checkRows(t *testing.T, what string, got, want [][]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d rows %q, want %d", what, len(got), got, len(want))
		return
	}
	for i := range want {
		if strings.Join(got[i], " | ") != strings.Join(want[i], " | ") {
			t.Errorf("%s row %d:\n got %q\nwant %q", what, i, got[i], want[i])
		}
	}
}

// The text summary shows each cause's first message after the counts,
// the most frequent cause first.
func TestTextErrorExamples(t *testing.T) {
	t.Parallel()
	r := plainHTMLFixture(t)
	r.Counters.ErrorsByCause = map[string]int64{"timeout": 2, "reset": 5, "closed": 1}
	r.ErrorExamples = map[string]string{"timeout": "f/expect#3: reply timed out after 5s", "reset": "f/echo#2: read: connection reset by peer"}
	var buf bytes.Buffer
	if err := WriteText(&buf, r); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	reset := strings.Index(out, "first reset: f/echo#2: read: connection reset by peer\n")
	timeout := strings.Index(out, "first timeout: f/expect#3: reply timed out after 5s\n")
	if reset < 0 || timeout < reset || strings.Contains(out, "first closed") {
		t.Errorf("want the reset example, then the timeout one, and none for closed:\n%s", out)
	}
}
