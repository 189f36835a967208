package main

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/wsbench/wsbench/report"
	"github.com/wsbench/wsbench/scenario"
)

// Cell markers, explained under every table that uses them.
const (
	markUnreliable = "⚠" // the generator said it was the bottleneck
	markTrouble    = "✗" // errors, dropped sends or arrivals, missing replies, an incomplete run
)

// cell is one table cell: the text, the number behind it (for bars), and
// where it came from.
type cell struct {
	Text  string
	Value float64 // NaN when there is no number
	Warn  bool
	Run   *run // the run the cell shows, for a link to its report
	Num   bool
}

// table is one section of the output, rendered both as markdown and HTML.
type table struct {
	ID, Title, Note string
	Columns         []string
	Rows            [][]cell
	Footnotes       []string
	Charts          []report.MultiChart
	BarCols         []int // columns drawn with bars (HTML)
}

func text(s string) cell { return cell{Text: s, Value: math.NaN()} }

// missing is a cell without a number: "—", or "failed" (noted) when r
// is a run without a usable report.
func (f *footnotes) missing(r *run) cell {
	c := cell{Text: "—", Value: math.NaN()}
	if r == nil {
		return c
	}
	c.Text = "failed"
	if r.Rep != nil {
		c.Text = "no data"
	}
	c = f.mark(c, r)
	c.Run = nil
	if r.Rep == nil && !strings.Contains(c.Text, markTrouble) {
		c.Text += " " + markTrouble
	}
	c.Warn = true
	return c
}

func dash() cell { return cell{Text: "—", Value: math.NaN()} }

// footnotes collects what went wrong in the runs a table shows, once per
// run.
type footnotes struct {
	seen  map[*run]bool
	lines []string
}

// mark returns c with the markers of r's problems, and notes them.
func (f *footnotes) mark(c cell, r *run) cell {
	if r == nil {
		return c
	}
	c.Run = r
	unreliable, trouble, why := problems(r)
	if unreliable {
		c.Text += " " + markUnreliable
		c.Warn = true
	}
	if trouble {
		c.Text += " " + markTrouble
		c.Warn = true
	}
	if len(why) > 0 && !f.seen[r] {
		if f.seen == nil {
			f.seen = map[*run]bool{}
		}
		f.seen[r] = true
		name := r.Target + " " + r.Case
		if r.Label != "" {
			name += " (" + r.Label + ")"
		}
		f.lines = append(f.lines, name+": "+strings.Join(why, "; "))
	}
	return c
}

// problems says what in a run makes its numbers doubtful.
func problems(r *run) (unreliable, trouble bool, why []string) {
	if r.RC == 124 || r.RC == 137 {
		trouble = true
		why = append(why, "stopped by the script's time limit")
	}
	rep := r.Rep
	if rep == nil {
		if r.Err != nil {
			why = append(why, r.Err.Error()+" "+markTrouble)
		}
		return false, true, why
	}
	if rep.Generator.Unreliable {
		unreliable = true
		w := "generator unreliable " + markUnreliable
		if len(rep.Generator.Reasons) > 0 {
			w += " (" + strings.Join(rep.Generator.Reasons, "; ") + ")"
		}
		why = append(why, w)
	}
	if rep.EndReason != "" && rep.EndReason != report.EndCompleted {
		trouble = true
		why = append(why, "ended "+rep.EndReason+trimDetail(rep.EndDetail))
	}
	c := &rep.Counters
	if n := c.Errors(); n > 0 {
		trouble = true
		why = append(why, fmt.Sprintf("%d errors (%s)", n, topCounts(c.ErrorsByCause, 3)))
	}
	if c.SendsDropped > 0 {
		trouble = true
		why = append(why, fmt.Sprintf("%d sends dropped (more than max_lag behind schedule)", c.SendsDropped))
	}
	if c.SessionsDropped > 0 {
		trouble = true
		why = append(why, fmt.Sprintf("%d arrivals dropped", c.SessionsDropped))
	}
	if c.RepliesMissing > 0 {
		trouble = true
		why = append(why, fmt.Sprintf("%d replies missing", c.RepliesMissing))
	}
	if trouble && !unreliable {
		why[len(why)-1] += " " + markTrouble
	}
	return unreliable, trouble, why
}

func trimDetail(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return ": " + s
}

func topCounts(m map[string]int64, n int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	var parts []string
	for i, k := range keys {
		if i == n {
			parts = append(parts, "…")
			break
		}
		parts = append(parts, fmt.Sprintf("%d × %s", m[k], k))
	}
	return strings.Join(parts, ", ")
}

// ---- formatting ----

func fmtRate(v float64) string {
	if math.IsNaN(v) {
		return "—"
	}
	if v >= 100 {
		return group(int64(math.Round(v)))
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

func group(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func latCell(m *report.Metric, pick func(*report.Metric) int64) cell {
	if m == nil || m.Count == 0 {
		return cell{Text: "—", Value: math.NaN(), Num: true}
	}
	us := pick(m)
	return cell{Text: report.FormatUS(us), Value: float64(us) / 1000, Num: true}
}

func rateCell(v float64) cell { return cell{Text: fmtRate(v), Value: v, Num: true} }

func bytesCell(n float64) cell {
	if math.IsNaN(n) {
		return cell{Text: "—", Value: math.NaN(), Num: true}
	}
	return cell{Text: report.FormatBytes(int64(math.Round(n))), Value: n, Num: true}
}

func p50(m *report.Metric) int64  { return m.P50US }
func p90(m *report.Metric) int64  { return m.P90US }
func p99(m *report.Metric) int64  { return m.P99US }
func p999(m *report.Metric) int64 { return m.P999US }
func pmax(m *report.Metric) int64 { return m.MaxUS }

// casesWithPrefix returns the distinct cases that start with prefix, in
// manifest order.
func (b *bench) casesWithPrefix(prefix string) []string {
	var out []string
	seen := map[string]bool{}
	for _, r := range b.Runs {
		if r.Group == "base" && strings.HasPrefix(r.Case, prefix) && !seen[r.Case] {
			seen[r.Case] = true
			out = append(out, r.Case)
		}
	}
	return out
}

// repeated returns the run of a measurement repeated as case, case.2,
// case.3, … (the extra runs in group "repeat") to show: the median run by
// steady-phase throughput, and the throughputs of every run with a steady
// window, ascending. One noisy run then neither makes nor breaks a target's
// headline number. Without a usable run it returns the first, so that the
// cell can say why.
func (b *bench) repeated(target, c string) (*run, []float64) {
	type measured struct {
		r    *run
		rate float64
	}
	var ms []measured
	first := b.get(target, c)
	for _, r := range b.Runs {
		if r.Target != target || !(r == first || r.Group == "repeat" && strings.HasPrefix(r.Case, c+".")) {
			continue
		}
		if w, ok := steady(r.Rep); ok {
			ms = append(ms, measured{r, w.rate("messages_received")})
		}
	}
	if len(ms) == 0 {
		return first, nil
	}
	sort.SliceStable(ms, func(i, j int) bool { return ms[i].rate < ms[j].rate })
	rates := make([]float64, len(ms))
	for i, m := range ms {
		rates[i] = m.rate
	}
	// The lower median for an even count: a headline should not be the
	// better of two.
	return ms[(len(ms)-1)/2].r, rates
}

// spreadCell shows the range of repeated runs' throughputs.
func spreadCell(rates []float64) cell {
	if len(rates) < 2 {
		return dash()
	}
	lo, hi := rates[0], rates[len(rates)-1]
	return cell{Text: fmt.Sprintf("%s–%s (%d runs)", fmtRate(lo), fmtRate(hi), len(rates)), Value: hi - lo, Num: true}
}

// maxSpread is the largest relative range (max/min − 1) of any target's
// repeated closed-loop runs, and how many runs the largest repeat had.
func (b *bench) maxSpread() (spread float64, runs int) {
	for _, tg := range b.Targets {
		_, rates := b.repeated(tg, "echo-max")
		runs = max(runs, len(rates))
		if len(rates) > 1 && rates[0] > 0 {
			spread = max(spread, rates[len(rates)-1]/rates[0]-1)
		}
	}
	return spread, runs
}

// levels pairs cases with their offered load, sorted by load.
type level struct {
	Case    string
	Offered float64
}

func (b *bench) levels(prefix string, offered func(*report.Report) float64) []level {
	var out []level
	for _, c := range b.casesWithPrefix(prefix) {
		v := math.NaN()
		for _, t := range b.Targets {
			if r := b.get(t, c); r != nil && r.Rep != nil {
				if v = offered(r.Rep); !math.IsNaN(v) {
					break
				}
			}
		}
		out = append(out, level{c, v})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Offered < out[j].Offered })
	return out
}

func (b *bench) tables() []table {
	var ts []table
	for _, f := range []func() (table, bool){b.summary, b.throughput, b.latency, b.churn, b.broadcast, b.idle, b.capacity, b.tuning} {
		if t, ok := f(); ok {
			ts = append(ts, t)
		}
	}
	return ts
}

// ---- throughput ----

func (b *bench) throughput() (table, bool) {
	lv := b.levels("echo-r", offeredEcho)
	hasMax := len(b.casesWithPrefix("echo-max")) > 0
	if len(lv) == 0 && !hasMax {
		return table{}, false
	}
	t := table{ID: "throughput", Title: "Throughput"}
	t.Columns = []string{"target"}
	for _, l := range lv {
		t.Columns = append(t.Columns, "offered "+fmtRate(l.Offered)+"/s")
	}
	maxClients := 0
	if hasMax {
		for _, tg := range b.Targets {
			if r := b.get(tg, "echo-max"); r != nil && r.Rep != nil {
				maxClients = steadyClients(r.Rep)
				break
			}
		}
		t.Columns = append(t.Columns, "max sustained (closed loop)", "closed-loop runs", "closed-loop p50", "closed-loop p99")
		t.BarCols = []int{len(t.Columns) - 4}
	}
	var fn footnotes
	chart := report.MultiChart{Title: "Achieved against offered echo load", XLabel: "offered msg/s", YLabel: "echoes/s", Unit: "/s"}
	for _, l := range lv {
		chart.X = append(chart.X, l.Offered)
	}
	for _, tg := range b.Targets {
		row := []cell{text(tg)}
		var line []float64
		for _, l := range lv {
			r := b.get(tg, l.Case)
			w, ok := steady(runRep(r))
			if !ok {
				row = append(row, fn.missing(r))
				line = append(line, math.NaN())
				continue
			}
			v := w.rate("messages_received")
			row = append(row, fn.mark(rateCell(v), r))
			line = append(line, v)
		}
		chart.Series = append(chart.Series, report.MultiSeries{Label: tg, Values: line, Color: b.color(tg)})
		if hasMax {
			r, rates := b.repeated(tg, "echo-max")
			if w, ok := steady(runRep(r)); ok {
				m := w.latency("rtt")
				row = append(row, fn.mark(rateCell(w.rate("messages_received")), r), spreadCell(rates), latCell(m, p50), latCell(m, p99))
			} else {
				row = append(row, fn.missing(r), dash(), dash(), dash())
			}
		}
		t.Rows = append(t.Rows, row)
	}
	chart.Series = append(chart.Series, report.MultiSeries{Label: "offered", Values: append([]float64(nil), chart.X...), Color: 8})
	t.Note = "Echoes per second the target returned during the steady phase (wsbench's received messages over the phase, the drain included). " +
		"The fixed loads are open-loop: 100 connections each sending 64-byte messages on an absolute schedule, so a target that keeps up returns exactly the offered rate and one that cannot falls behind it (and drops sends more than 1 s late). "
	if hasMax {
		t.Note += fmt.Sprintf("Max sustained is the closed loop: %d connections each with one message in flight, sending the next as soon as the reply arrives; its p50/p99 are measured from the actual send, so they show queueing at saturation, not an SLO-grade latency. ", maxClients) +
			"When the closed loop ran more than once, max sustained and its p50/p99 come from the median run by throughput, and closed-loop runs gives the lowest and highest of all runs."
	}
	t.Footnotes = fn.lines
	if len(lv) > 0 {
		t.Charts = []report.MultiChart{chart}
	}
	return t, true
}

// color is a target's chart colour (palette entry + 1), the same in
// every chart.
func (b *bench) color(target string) int {
	for i, t := range b.Targets {
		if t == target {
			return i%7 + 1
		}
	}
	return 8
}

func runRep(r *run) *report.Report {
	if r == nil {
		return nil
	}
	return r.Rep
}

// ---- latency at fixed loads ----

func (b *bench) latency() (table, bool) {
	lv := b.levels("echo-r", offeredEcho)
	if len(lv) == 0 {
		return table{}, false
	}
	t := table{ID: "latency", Title: "Latency at fixed offered loads (open loop)",
		Columns: []string{"offered", "target", "achieved/s", "p50", "p90", "p99", "p99.9", "max"}}
	t.BarCols = []int{5}
	var fn footnotes
	p50c := report.MultiChart{Title: "Round trip p50 against offered load", XLabel: "offered msg/s", YLabel: "p50", Unit: "ms", YLog: true}
	p99c := report.MultiChart{Title: "Round trip p99 against offered load", XLabel: "offered msg/s", YLabel: "p99", Unit: "ms", YLog: true}
	for _, l := range lv {
		p50c.X = append(p50c.X, l.Offered)
		p99c.X = append(p99c.X, l.Offered)
	}
	lines50 := map[string][]float64{}
	lines99 := map[string][]float64{}
	for _, l := range lv {
		for _, tg := range b.Targets {
			r := b.get(tg, l.Case)
			row := []cell{text(fmtRate(l.Offered) + "/s"), text(tg)}
			w, ok := steady(runRep(r))
			if !ok {
				row = append(row, fn.missing(r), dash(), dash(), dash(), dash(), dash())
				lines50[tg] = append(lines50[tg], math.NaN())
				lines99[tg] = append(lines99[tg], math.NaN())
				t.Rows = append(t.Rows, row)
				continue
			}
			m := w.latency("rtt")
			row = append(row, fn.mark(rateCell(w.rate("messages_received")), r),
				latCell(m, p50), latCell(m, p90), latCell(m, p99), latCell(m, p999), latCell(m, pmax))
			lines50[tg] = append(lines50[tg], row[3].Value)
			lines99[tg] = append(lines99[tg], row[5].Value)
			t.Rows = append(t.Rows, row)
		}
	}
	for _, tg := range b.Targets {
		p50c.Series = append(p50c.Series, report.MultiSeries{Label: tg, Values: lines50[tg], Color: b.color(tg)})
		p99c.Series = append(p99c.Series, report.MultiSeries{Label: tg, Values: lines99[tg], Color: b.color(tg)})
	}
	t.Note = "Round-trip percentiles of the open-loop echo during the steady phase, each message timed from its intended send time (so a stall counts against every message that should have gone out during it: no coordinated omission), from the steady intervals' HdrHistograms merged exactly. " +
		"They include up to about 1 ms of the generator's own timer lateness on this machine, the same for every target."
	t.Footnotes = fn.lines
	t.Charts = []report.MultiChart{p50c, p99c}
	return t, true
}

// ---- connection churn ----

func (b *bench) churn() (table, bool) {
	lv := b.levels("churn-", offeredArrivals)
	if len(lv) == 0 {
		return table{}, false
	}
	t := table{ID: "churn", Title: "Connection churn (open model)",
		Columns: []string{"offered", "target", "connects/s", "connect p50", "connect p99", "handshake p50", "handshake p99", "request p99", "failed"}}
	t.BarCols = []int{6}
	var fn footnotes
	hs := report.MultiChart{Title: "Handshake p99 against arrival rate", XLabel: "sessions/s", YLabel: "handshake p99", Unit: "ms", YLog: true}
	for _, l := range lv {
		hs.X = append(hs.X, l.Offered)
	}
	lines := map[string][]float64{}
	for _, l := range lv {
		for _, tg := range b.Targets {
			r := b.get(tg, l.Case)
			row := []cell{text(fmtRate(l.Offered) + "/s"), text(tg)}
			w, ok := steady(runRep(r))
			if !ok {
				row = append(row, fn.missing(r))
				for range 6 {
					row = append(row, dash())
				}
				lines[tg] = append(lines[tg], math.NaN())
				t.Rows = append(t.Rows, row)
				continue
			}
			conn, hand, req := w.latency("connect"), w.latency("handshake"), w.latency("request")
			c := &w.rep.Counters
			failed := c.ConnectsFailed + c.SessionsFailed + c.SessionsDropped
			row = append(row, fn.mark(rateCell(w.rate("connects_ok")), r),
				latCell(conn, p50), latCell(conn, p99), latCell(hand, p50), latCell(hand, p99), latCell(req, p99),
				cell{Text: group(failed), Value: float64(failed), Num: true, Warn: failed > 0})
			lines[tg] = append(lines[tg], row[6].Value)
			t.Rows = append(t.Rows, row)
		}
	}
	for _, tg := range b.Targets {
		hs.Series = append(hs.Series, report.MultiSeries{Label: tg, Values: lines[tg], Color: b.color(tg)})
	}
	t.Note = "Short sessions arrive on a fixed schedule whatever happened to earlier ones; each opens a connection to /echo, sends one 64-byte request, waits for its echo and closes with a close handshake. " +
		"Connects/s is the achieved rate during the steady phase; connect is the TCP connect, handshake the WebSocket upgrade after it, request the one round trip; failed counts failed connects and sessions and arrivals dropped because the generator could not start them in time. " +
		"A connect p99 of about 1 s or more is the kernel retransmitting a SYN that a full listen backlog dropped: every target listens with a backlog of 100 to 128, so such a target accepted and upgraded connections more slowly than they arrived (a slow handshake p50 says where the time went), which also holds the achieved rate below the offered one."
	t.Footnotes = fn.lines
	t.Charts = []report.MultiChart{hs}
	return t, true
}

// ---- broadcast ----

func (b *bench) broadcast() (table, bool) {
	if len(b.casesWithPrefix("broadcast")) == 0 {
		return table{}, false
	}
	t := table{ID: "broadcast", Title: "Broadcast fan-out",
		Columns: []string{"target", "members", "published/s", "deliveries/s", "reach", "delivery p50", "delivery p99", "complete p99", "lost · dup · reordered"}}
	t.BarCols = []int{7}
	var fn footnotes
	members, ramp := 0, 0.0
	for _, tg := range b.Targets {
		r := b.get(tg, "broadcast")
		rep := runRep(r)
		if rep == nil || len(rep.Broadcast) == 0 {
			row := []cell{text(tg)}
			row = append(row, fn.missing(r))
			for range 7 {
				row = append(row, dash())
			}
			t.Rows = append(t.Rows, row)
			continue
		}
		br := rep.Broadcast[0]
		members = steadyClients(rep)
		d := planned(rep)
		ramp = rampS(rep)
		reach := cell{Text: fmt.Sprintf("%.4f", br.Reach), Value: br.Reach, Num: true, Warn: br.Reach < 1}
		t.Rows = append(t.Rows, []cell{text(tg),
			{Text: strconv.Itoa(steadyClients(rep)), Value: math.NaN(), Num: true},
			fn.mark(rateCell(float64(br.Published)/d), r),
			rateCell(float64(br.Delivered) / d),
			reach,
			latCell(rep.Metrics["broadcast_delivery"], p50),
			latCell(rep.Metrics["broadcast_delivery"], p99),
			latCell(rep.Metrics["broadcast_complete"], p99),
			{Text: fmt.Sprintf("%d · %d · %d", br.Lost, br.Duplicates, br.Reordered), Value: math.NaN(), Num: true, Warn: br.Lost+br.Duplicates+br.Reordered > 0},
		})
	}
	t.Note = fmt.Sprintf("One room of %d members, two of them publishing 20 messages a second each on a fixed schedule; the server sends every message to every member, publishers included. ", members) +
		fmt.Sprintf("Delivery is the time from a message's intended send time to each member's receipt, complete the time until the last member got it; reach is the share of expected deliveries that arrived (members count from 50 ms after they joined); all over the whole run, including the %s ramp, with rates per second of the planned run length.", secs(ramp))
	t.Footnotes = fn.lines
	return t, true
}

// ---- idle connections and memory ----

func (b *bench) idle() (table, bool) {
	if len(b.casesWithPrefix("idle")) == 0 {
		return table{}, false
	}
	t := table{ID: "memory", Title: "Idle connections and memory per connection",
		Columns: []string{"target", "idle connections", "peak RSS, 1 connection", "peak RSS, N connections", "per connection", "handshake p99"}}
	t.BarCols = []int{4}
	var fn footnotes
	n, ramp := 0, 0.0
	for _, tg := range b.Targets {
		base, idle := b.get(tg, "idle-base"), b.get(tg, "idle")
		br, ir := runRep(base), runRep(idle)
		if br == nil || ir == nil || br.Server == nil || ir.Server == nil || ir.Server.After["peak_rss_bytes"] == 0 {
			r := idle
			if br == nil {
				r = base
			}
			t.Rows = append(t.Rows, []cell{text(tg), fn.missing(r), dash(), dash(), dash(), dash()})
			continue
		}
		conns := ir.Rates.PeakConnections
		ramp = rampS(ir)
		n = max(n, int(conns))
		b0, b1 := float64(br.Server.After["peak_rss_bytes"]), float64(ir.Server.After["peak_rss_bytes"])
		per := math.NaN()
		if conns > 1 {
			per = (b1 - b0) / float64(conns-1)
		}
		t.Rows = append(t.Rows, []cell{text(tg),
			fn.mark(cell{Text: group(conns), Value: float64(conns), Num: true}, idle),
			fn.mark(bytesCell(b0), base), bytesCell(b1), bytesCell(per),
			latCell(ir.Metrics["handshake"], p99)})
	}
	t.Note = fmt.Sprintf("The target's peak resident memory (VmHWM, read by wsbench from /proc when the run ends) with %d connections opened over %s and then idle, minus its peak with one idle connection, divided by the extra connections: what an idle WebSocket connection costs the server process (kernel socket buffers are not in RSS). ", n, secs(ramp)) +
		"No target pings in that time (their default ping interval is 20 s)."
	t.Footnotes = fn.lines
	return t, true
}

// ---- capacity ----

func (b *bench) capacity() (table, bool) {
	if len(b.casesWithPrefix("capacity")) == 0 {
		return table{}, false
	}
	t := table{ID: "capacity", Title: "Most connections within the SLO",
		Columns: []string{"target", "max connections within SLO", "first failing", "knee", "what broke first", "levels tried"}}
	t.BarCols = []int{1}
	var fn footnotes
	chart := report.MultiChart{Title: "Round trip p99 of each capacity level", XLabel: "connections", YLabel: "rtt p99", Unit: "ms", XLog: true, YLog: true}
	xs := map[float64]bool{}
	caps := map[string]*report.Capacity{}
	var slo []string
	for _, tg := range b.Targets {
		r := b.get(tg, "capacity")
		rep := runRep(r)
		if rep == nil || rep.Capacity == nil {
			t.Rows = append(t.Rows, []cell{text(tg), fn.missing(r), dash(), dash(), dash(), dash()})
			continue
		}
		c := rep.Capacity
		caps[tg] = c
		slo = c.SLO
		for _, st := range c.Steps {
			xs[st.Load] = true
		}
		maxOK := cell{Text: "none passed", Value: 0, Num: true, Warn: true}
		if c.MaxOK != nil {
			maxOK = cell{Text: group(int64(*c.MaxOK)), Value: *c.MaxOK, Num: true}
			if c.LowerBound || c.FirstFail == nil {
				maxOK.Text = "≥ " + maxOK.Text // the search stopped before anything broke
			}
		}
		maxOK.Run = r
		if c.LowerBound {
			maxOK.Text += " " + markUnreliable
			maxOK.Warn = true
			fn.lines = append(fn.lines, tg+" capacity: the generator became the bottleneck "+markUnreliable+", so the maximum is a lower bound")
		}
		first, broke := cell{Text: "—", Value: math.NaN(), Num: true}, "nothing up to the maximum tried"
		if c.FirstFail != nil {
			first = cell{Text: group(int64(*c.FirstFail)), Value: *c.FirstFail, Num: true}
			for _, st := range c.Steps {
				if st.Load == *c.FirstFail && len(st.Failed) > 0 {
					broke = strings.Join(st.Failed, ", ") + fmt.Sprintf(" (p99 %s)", report.FormatUS(st.P99US))
				}
			}
		} else if c.LowerBound {
			broke = "the generator's CPU"
		}
		knee := cell{Text: "—", Value: math.NaN(), Num: true}
		if c.Knee != nil {
			knee = cell{Text: group(int64(*c.Knee)), Value: *c.Knee, Num: true}
		}
		var tried []string
		noted := c.LowerBound
		for _, st := range c.Steps {
			if st.Unreliable && !noted && c.Verdict != "" {
				fn.lines = append(fn.lines, tg+" capacity: "+c.Verdict)
				noted = true
			}
			s := group(int64(st.Load))
			switch {
			case st.Unreliable:
				s += " " + markUnreliable
			case !st.Passed:
				s += " ✗"
			default:
				s += " ✓"
			}
			tried = append(tried, s)
		}
		t.Rows = append(t.Rows, []cell{text(tg), maxOK, first, knee, text(broke), text(strings.Join(tried, ", "))})
	}
	for x := range xs {
		chart.X = append(chart.X, x)
	}
	sort.Float64s(chart.X)
	for _, tg := range b.Targets {
		c := caps[tg]
		if c == nil {
			continue
		}
		vals := make([]float64, len(chart.X))
		for i, x := range chart.X {
			vals[i] = math.NaN()
			for _, st := range c.Steps {
				if st.Load == x {
					vals[i] = float64(st.P99US) / 1000
				}
			}
		}
		chart.Series = append(chart.Series, report.MultiSeries{Label: tg, Values: vals, Color: b.color(tg)})
	}
	t.Note = "A short capacity search (wsbench capacity, variable clients): every level is a fresh target ramped to N connections, each echoing 64-byte messages twice a second on an open-loop schedule, and judged after the ramp against the SLO " +
		strings.Join(slo, " and ") + "; levels double from the start and one bisection refines between the last pass and the first failure, so the true limit lies between the two columns (≥: nothing broke up to the largest level tried). " +
		"✓ passed, ✗ broke the SLO, ⚠ the generator was the bottleneck; the knee is where p99 starts to rise steeply."
	t.Footnotes = fn.lines
	if len(chart.X) > 0 {
		t.Charts = []report.MultiChart{chart}
	}
	return t, true
}

// ---- tuning ----

func (b *bench) tuning() (table, bool) {
	var rows []*run
	for _, tg := range b.Targets {
		for _, r := range b.Runs {
			if r.Target != tg {
				continue
			}
			switch {
			case r.Group == "tune":
				rows = append(rows, r)
			case r.Group == "base" && r.Case == "echo-max" && r.Label != "":
				// The same run as the throughput table's, so both agree.
				med, _ := b.repeated(tg, "echo-max")
				rows = append(rows, med)
			}
		}
	}
	if len(rows) == 0 {
		return table{}, false
	}
	t := table{ID: "tuning", Title: "One tuning experiment per framework",
		Columns: []string{"target", "setting", "workload", "echoes/s", "p50", "p99", "wire bytes/msg", "server pings", "peak RSS"}}
	t.BarCols = []int{3}
	var fn footnotes
	for _, r := range rows {
		w, ok := steady(r.Rep)
		if !ok {
			t.Rows = append(t.Rows, []cell{text(r.Target), text(r.Label), fn.missing(r), dash(), dash(), dash(), dash(), dash(), dash()})
			continue
		}
		rep := w.rep
		m := w.latency("rtt")
		wl := "echo-max"
		if s := shape(rep); len(s.Flows) > 0 {
			scenario.WalkSteps(s.Flows[0].Steps, func(st *scenario.Step) bool {
				if st.Kind() != scenario.KindEcho {
					return true
				}
				if r := st.Rate(); *r > 0 {
					wl = fmt.Sprintf("%d conns × %g msg/s, %d B", steadyClients(rep), *r, st.Echo.Size)
				} else {
					wl = fmt.Sprintf("%d conns × %d in flight, %d B", steadyClients(rep), max(st.Echo.Inflight, 1), st.Echo.Size)
				}
				return true
			})
		}
		if strings.Contains(r.Case, "compression") {
			wl += ", client offers deflate"
		}
		rss := math.NaN()
		if rep.Server != nil && rep.Server.After["peak_rss_bytes"] > 0 {
			rss = float64(rep.Server.After["peak_rss_bytes"])
		}
		wire := math.NaN()
		if c := rep.Counters; c.MessagesSent > 0 {
			wire = float64(c.WireBytesSent) / float64(c.MessagesSent)
		}
		t.Rows = append(t.Rows, []cell{text(r.Target), text(r.Label), text(wl),
			fn.mark(rateCell(w.rate("messages_received")), r), latCell(m, p50), latCell(m, p99),
			{Text: fmtRate(wire), Value: wire, Num: true},
			{Text: group(rep.Counters.ServerPings), Value: float64(rep.Counters.ServerPings), Num: true},
			bytesCell(rss)})
	}
	t.Note = "One commonly recommended setting changed per row, everything else (pinning, the generator, run length) as in the other tables; most rows use the closed-loop maximum-throughput workload of the throughput table, so a setting's cost shows as fewer echoes/s. " +
		"Echoes/s and latency are from the steady phase; wire bytes/msg is what the client wrote per message, frame headers included (compression shows here); server pings are the pings the clients received from the target. " +
		"Tornado: websocket_ping_interval (the target's --ping-interval) off against 1 s. " +
		"Twisted: the reactor (--reactor epoll, poll, select). " +
		"websockets: permessage-deflate (--compression none against deflate) with 1 KiB messages and a client that offers it, at a fixed 3,000 msg/s (open loop: in a closed loop the generator, which compresses too, runs out of CPU first), so the cost shows as latency. " +
		"aiohttp: the heartbeat (--ping-interval) off against 1 s; aiohttp restarts its heartbeat timer on every incoming frame, so busy connections are not pinged at all. " +
		"Go: GOMAXPROCS 1 against 2 on the same single CPU, and 2 with CPUs 0-1, where the server shares the generator's CPU (not a fair comparison: shown to size the effect)."
	t.Footnotes = fn.lines
	return t, true
}

// planned is the run's planned length (the end of its last phase).
func planned(rep *report.Report) float64 {
	if len(rep.Phases) > 0 && rep.Phases[len(rep.Phases)-1].EndS > 0 {
		return rep.Phases[len(rep.Phases)-1].EndS
	}
	return rep.DurationS
}

// rampS is the length of the phase named "ramp", or 0.
func rampS(rep *report.Report) float64 {
	for _, p := range rep.Phases {
		if p.Name == "ramp" {
			return p.EndS - p.StartS
		}
	}
	return 0
}

func secs(s float64) string { return strconv.FormatFloat(s, 'g', 3, 64) + " s" }

// ---- summary ----

// summary picks one headline number per question from the tables below
// it: the closed-loop maximum, p99 at the highest fixed load, handshake
// p99 at the highest churn rate, memory per idle connection and the
// capacity search's result.
func (b *bench) summary() (table, bool) {
	lv := b.levels("echo-r", offeredEcho)
	ch := b.levels("churn-", offeredArrivals)
	t := table{ID: "summary", Title: "Summary", Columns: []string{"target", "max echoes/s (closed loop)"}}
	if len(lv) > 0 {
		t.Columns = append(t.Columns, "p99 at "+fmtRate(lv[len(lv)-1].Offered)+" msg/s")
	}
	if len(ch) > 0 {
		t.Columns = append(t.Columns, "handshake p99 at "+fmtRate(ch[len(ch)-1].Offered)+" conn/s")
	}
	t.Columns = append(t.Columns, "memory / idle conn", "max conns within SLO")
	var fn footnotes
	have := false
	for _, tg := range b.Targets {
		row := []cell{text(tg)}
		maxRun, _ := b.repeated(tg, "echo-max")
		if w, ok := steady(runRep(maxRun)); ok {
			row = append(row, fn.mark(rateCell(w.rate("messages_received")), maxRun))
			have = true
		} else {
			row = append(row, dash())
		}
		if len(lv) > 0 {
			r := b.get(tg, lv[len(lv)-1].Case)
			if w, ok := steady(runRep(r)); ok {
				row = append(row, fn.mark(latCell(w.latency("rtt"), p99), r))
				have = true
			} else {
				row = append(row, dash())
			}
		}
		if len(ch) > 0 {
			r := b.get(tg, ch[len(ch)-1].Case)
			if w, ok := steady(runRep(r)); ok {
				row = append(row, fn.mark(latCell(w.latency("handshake"), p99), r))
				have = true
			} else {
				row = append(row, dash())
			}
		}
		base, idle := runRep(b.get(tg, "idle-base")), runRep(b.get(tg, "idle"))
		if base != nil && idle != nil && base.Server != nil && idle.Server != nil && idle.Rates.PeakConnections > 1 && idle.Server.After["peak_rss_bytes"] > 0 {
			per := float64(idle.Server.After["peak_rss_bytes"]-base.Server.After["peak_rss_bytes"]) / float64(idle.Rates.PeakConnections-1)
			c := bytesCell(per)
			c.Run = b.get(tg, "idle")
			row = append(row, c)
			have = true
		} else {
			row = append(row, dash())
		}
		if rep := runRep(b.get(tg, "capacity")); rep != nil && rep.Capacity != nil && rep.Capacity.MaxOK != nil {
			c := cell{Text: group(int64(*rep.Capacity.MaxOK)), Value: *rep.Capacity.MaxOK, Num: true, Run: b.get(tg, "capacity")}
			if rep.Capacity.LowerBound || rep.Capacity.FirstFail == nil {
				c.Text = "≥ " + c.Text
			}
			row = append(row, c)
			have = true
		} else {
			row = append(row, dash())
		}
		t.Rows = append(t.Rows, row)
	}
	t.Note = "One number per question, taken from the tables below (which say how each was measured): higher is better for echoes/s and connections, lower for latency and memory."
	t.Footnotes = fn.lines
	return t, have
}
