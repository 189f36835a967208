package report

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wsbench/wsbench/metrics"
)

// DefaultTolerance is the relative change a comparison row must exceed to
// count as a regression or an improvement, when CompareOptions gives none.
const DefaultTolerance = 0.10

// compareZ is the normal quantile of the 95% confidence intervals.
const compareZ = 1.96

// Comparison row statuses.
const (
	StatusRegressed   = "regressed"    // worse beyond tolerance, and beyond noise
	StatusImproved    = "improved"     // better beyond tolerance, and beyond noise
	StatusWithinNoise = "within noise" // changed, but within tolerance or within the confidence intervals
	StatusUnchanged   = "unchanged"    // exactly the same value
	StatusNA          = "n/a"          // one side has no value
)

// CompareOptions tune a comparison.
type CompareOptions struct {
	// Tolerance is the relative change (0.1 = 10%) a row must exceed to
	// count as a regression or an improvement. Zero means DefaultTolerance.
	Tolerance float64
	// PerMetric overrides Tolerance by row key ("rtt.p99") or by metric
	// ("rtt", every statistic of it). A key naming a max row also gates it.
	PerMetric map[string]float64
}

// Comparison is the result of Compare: one row per metric and statistic.
type Comparison struct {
	Base      []RunRef     `json:"base"`
	New       []RunRef     `json:"new"`
	Tolerance float64      `json:"tolerance"`
	Rows      []CompareRow `json:"rows"`
	Notes     []string     `json:"notes,omitempty"`
	// Warnings say the comparison may be meaningless: the two sides ran
	// different scenarios, or the same scenario with different load.
	Warnings []string `json:"warnings,omitempty"`
}

// RunRef identifies one compared run.
type RunRef struct {
	StartedAt  time.Time `json:"started_at"`
	Target     string    `json:"target"`
	Scenario   string    `json:"scenario,omitempty"`
	DurationS  float64   `json:"duration_s"`
	EndReason  string    `json:"end_reason"`
	Unreliable bool      `json:"generator_unreliable"`
}

// CompareRow compares one statistic. Base and New are medians across each
// side's runs; the Low/High bounds are 95% confidence intervals (spanning
// every run's interval when a side has several), NaN when unknown.
type CompareRow struct {
	Key           string  `json:"key"` // "rtt.p99", "messages_received.rate"
	Metric        string  `json:"metric"`
	Stat          string  `json:"stat"`
	Unit          string  `json:"unit"` // us, per_s, ratio or count
	LowerIsBetter bool    `json:"lower_is_better"`
	Base          float64 `json:"base"`
	New           float64 `json:"new"`
	BaseLow       float64 `json:"base_low"`
	BaseHigh      float64 `json:"base_high"`
	NewLow        float64 `json:"new_low"`
	NewHigh       float64 `json:"new_high"`
	Delta         float64 `json:"delta"`    // New − Base
	Relative      float64 `json:"relative"` // Delta / Base; ±Inf from zero
	Tolerance     float64 `json:"tolerance"`
	Gated         bool    `json:"gated"` // a regression here fails a gate (max rows only when named)
	Status        string  `json:"status"`
}

// Regression reports whether the row fails a regression gate.
func (r CompareRow) Regression() bool { return r.Gated && r.Status == StatusRegressed }

// MarshalJSON writes NaN and infinite values as null.
func (r CompareRow) MarshalJSON() ([]byte, error) {
	type plain CompareRow
	return json.Marshal(struct {
		plain
		Base     jsonFloat `json:"base"`
		New      jsonFloat `json:"new"`
		BaseLow  jsonFloat `json:"base_low"`
		BaseHigh jsonFloat `json:"base_high"`
		NewLow   jsonFloat `json:"new_low"`
		NewHigh  jsonFloat `json:"new_high"`
		Delta    jsonFloat `json:"delta"`
		Relative jsonFloat `json:"relative"`
	}{plain(r), jsonFloat(r.Base), jsonFloat(r.New), jsonFloat(r.BaseLow), jsonFloat(r.BaseHigh),
		jsonFloat(r.NewLow), jsonFloat(r.NewHigh), jsonFloat(r.Delta), jsonFloat(r.Relative)})
}

// Regressions returns the rows that fail a regression gate.
func (c *Comparison) Regressions() []CompareRow {
	var out []CompareRow
	for _, r := range c.Rows {
		if r.Regression() {
			out = append(out, r)
		}
	}
	return out
}

// RegressedKeys returns the keys of Regressions, for Baseline.Regressed.
func (c *Comparison) RegressedKeys() []string {
	var out []string
	for _, r := range c.Regressions() {
		out = append(out, r.Key)
	}
	return out
}

// compareLatencyStats are the latency rows of every metric, in order.
var compareLatencyStats = []string{"p50", "p90", "p99", "p99.9", "max", "mean"}

// compareEstimate is one run's value of a statistic with its 95% interval.
type compareEstimate struct{ v, lo, hi float64 }

var noCompareEstimate = compareEstimate{math.NaN(), math.NaN(), math.NaN()}

// Compare compares the runs of cur with those of base. Each side may hold
// several repeated runs of the same scenario: per statistic, the median
// across runs is compared. A row is a regression (or an improvement) only
// when the change exceeds its tolerance AND the two sides' 95% confidence
// intervals do not overlap, so noise alone does not fail a build.
//
// Intervals: a latency percentile's comes from its histogram by order
// statistics (ranks n·q ± z·√(n·q·(1−q)), mapped back to values through
// the cumulative counts); a mean's from its standard error; a count's and
// a rate's from Poisson counting noise; the error rate's is a Wilson score
// interval. With several runs a side's interval spans all of its runs'.
// A percentile with fewer than 5 samples beyond it (p99.9 of fewer than
// 5000 samples) cannot be resolved and is never called significant.
// A max is a single sample with no interval, and schedule_lag measures
// the generator rather than the target: their rows are shown but do not
// gate unless PerMetric names them (schedule_lag by metric or row key, a
// max row by its key).
func Compare(base, cur []*Report, opts CompareOptions) *Comparison {
	tol := opts.Tolerance
	if tol <= 0 {
		tol = DefaultTolerance
	}
	c := &Comparison{Tolerance: tol, Base: compareRefs(base), New: compareRefs(cur)}
	if len(base) == 0 || len(cur) == 0 {
		c.Notes = append(c.Notes, "nothing to compare: one side has no reports")
		return c
	}
	c.Warnings = compareWarnings(base, cur)
	c.Notes = append(c.Notes, compareNotes("base", base)...)
	c.Notes = append(c.Notes, compareNotes("new", cur)...)

	// Latency metrics present with samples on either side, in display order.
	seen := map[string]*Metric{}
	for _, r := range slices.Concat(base, cur) {
		for n, m := range r.Metrics {
			if m != nil && m.Count > 0 {
				seen[n] = m
			}
		}
	}
	hists := map[*Metric]*metrics.Histogram{}
	for _, name := range metricOrder(seen) {
		for _, stat := range compareLatencyStats {
			get := func(r *Report) compareEstimate {
				e, err := compareLatency(r.Metrics[name], stat, hists)
				if err != nil {
					note := fmt.Sprintf("%s: %v (no confidence interval)", name, err)
					if !slices.Contains(c.Notes, note) {
						c.Notes = append(c.Notes, note)
					}
				}
				return e
			}
			c.Rows = append(c.Rows, c.row(name, stat, "us", true, base, cur, get, opts))
		}
	}

	c.Rows = append(c.Rows,
		c.row("messages_received", "rate", "per_s", false, base, cur, func(r *Report) compareEstimate {
			return comparePoisson(r.Counters.MessagesReceived, r.DurationS)
		}, opts),
		c.row("errors", "rate", "ratio", true, base, cur, func(r *Report) compareEstimate {
			return compareWilson(r.Counters.Errors(), r.Counters.ConnectsAttempted+r.Counters.MessagesSent)
		}, opts),
		c.row("connects_failed", "count", "count", true, base, cur, func(r *Report) compareEstimate {
			return comparePoisson(r.Counters.ConnectsFailed, 1)
		}, opts),
		c.row("dropped", "count", "count", true, base, cur, func(r *Report) compareEstimate {
			return comparePoisson(r.Counters.SendsDropped+r.Counters.SessionsDropped, 1)
		}, opts),
	)
	return c
}

func compareRefs(rs []*Report) []RunRef {
	out := make([]RunRef, 0, len(rs))
	for _, r := range rs {
		out = append(out, RunRef{StartedAt: r.StartedAt, Target: r.Target, Scenario: runScenarioName(r),
			DurationS: r.DurationS, EndReason: r.EndReason, Unreliable: r.Generator.Unreliable})
	}
	return out
}

// compareWarnings says when the runs compared are not of the same
// workload: different scenarios (by name, or by flows under one name), or
// one scenario with different load profiles (phases), as --clients or
// --duration make. Each side is checked against the first base run.
func compareWarnings(base, cur []*Report) []string {
	ref := embeddedScenario(base[0])
	var out []string
	add := func(w string) {
		if !slices.Contains(out, w) {
			out = append(out, w)
		}
	}
	for i, r := range slices.Concat(base, cur) {
		side := "new"
		if i < len(base) {
			side = "base"
		}
		h := embeddedScenario(r)
		switch {
		case h.Name != ref.Name:
			add(fmt.Sprintf("DIFFERENT SCENARIOS: base ran %s, %s ran %s; the rows compare different workloads", ref.name(), side, h.name()))
		case !jsonEqual(h.Flows, ref.Flows):
			add(fmt.Sprintf("DIFFERENT SCENARIOS: %s's scenario %s has other flows than base's; the rows compare different workloads", side, h.name()))
		case !jsonEqual(h.Phases, ref.Phases):
			add(fmt.Sprintf("different load: %s ran scenario %s with other phases (clients, rates or durations) than base", side, h.name()))
		}
	}
	return out
}

func compareNotes(side string, rs []*Report) []string {
	var notes []string
	if len(rs) > 1 {
		notes = append(notes, fmt.Sprintf("%s: median of %d runs", side, len(rs)))
	}
	for i, r := range rs {
		who := side
		if len(rs) > 1 {
			who = fmt.Sprintf("%s run %d", side, i+1)
		}
		if r.Generator.Unreliable {
			notes = append(notes, fmt.Sprintf("%s had an unreliable load generator: its numbers may describe the generator, not the target", who))
		}
		if r.EndReason != "" && r.EndReason != EndCompleted {
			notes = append(notes, fmt.Sprintf("%s ended %s", who, r.EndReason))
		}
	}
	return notes
}

// row builds one comparison row from each side's per-run estimates.
func (c *Comparison) row(metric, stat, unit string, lowerBetter bool, base, cur []*Report, get func(*Report) compareEstimate, opts CompareOptions) CompareRow {
	key := metric + "." + stat
	// A max is one sample, and schedule lag measures the generator, not
	// the target: neither gates unless named.
	generator := metric == "schedule_lag"
	row := CompareRow{Key: key, Metric: metric, Stat: stat, Unit: unit, LowerIsBetter: lowerBetter, Tolerance: c.Tolerance,
		Gated: stat != "max" && !generator}
	if t, ok := opts.PerMetric[key]; ok {
		row.Tolerance, row.Gated = t, true
	} else if t, ok := opts.PerMetric[metric]; ok {
		row.Tolerance = t
		row.Gated = stat != "max"
	}
	b, n := compareCombine(base, get), compareCombine(cur, get)
	row.Base, row.BaseLow, row.BaseHigh = b.v, b.lo, b.hi
	row.New, row.NewLow, row.NewHigh = n.v, n.lo, n.hi
	row.Delta = n.v - b.v
	switch {
	case b.v == n.v:
		row.Relative = 0
	case b.v == 0:
		row.Relative = math.Inf(1)
		if n.v < 0 {
			row.Relative = math.Inf(-1)
		}
	default:
		row.Relative = row.Delta / math.Abs(b.v)
	}

	switch {
	case math.IsNaN(b.v) || math.IsNaN(n.v):
		row.Status = StatusNA
	case b.v == n.v:
		row.Status = StatusUnchanged
	default:
		worse := (n.v > b.v) == lowerBetter
		beyondTolerance := math.Abs(row.Relative) > row.Tolerance
		known := !math.IsNaN(b.lo) && !math.IsNaN(n.lo)
		separate := !known || n.lo > b.hi || n.hi < b.lo
		switch {
		case beyondTolerance && separate && worse:
			row.Status = StatusRegressed
		case beyondTolerance && separate:
			row.Status = StatusImproved
		default:
			row.Status = StatusWithinNoise
		}
	}
	return row
}

// compareCombine takes the median value across runs and an interval
// spanning every run's interval (or value, for runs without one).
func compareCombine(rs []*Report, get func(*Report) compareEstimate) compareEstimate {
	var vals []float64
	lo, hi := math.Inf(1), math.Inf(-1)
	intervals := len(rs) > 1
	for _, r := range rs {
		e := get(r)
		if math.IsNaN(e.v) {
			continue
		}
		vals = append(vals, e.v)
		if math.IsNaN(e.lo) {
			lo, hi = math.Min(lo, e.v), math.Max(hi, e.v)
		} else {
			intervals = true
			lo, hi = math.Min(lo, e.lo), math.Max(hi, e.hi)
		}
	}
	if len(vals) == 0 {
		return noCompareEstimate
	}
	sort.Float64s(vals)
	med := vals[len(vals)/2]
	if len(vals)%2 == 0 {
		med = (vals[len(vals)/2-1] + vals[len(vals)/2]) / 2
	}
	if !intervals {
		return compareEstimate{med, math.NaN(), math.NaN()}
	}
	return compareEstimate{med, lo, hi}
}

func compareLatency(m *Metric, stat string, cache map[*Metric]*metrics.Histogram) (compareEstimate, error) {
	if m == nil || m.Count == 0 {
		return noCompareEstimate, nil
	}
	e := noCompareEstimate
	var q float64
	switch stat {
	case "p50":
		e.v, q = float64(m.P50US), 50
	case "p90":
		e.v, q = float64(m.P90US), 90
	case "p99":
		e.v, q = float64(m.P99US), 99
	case "p99.9":
		e.v, q = float64(m.P999US), 99.9
	case "max":
		e.v = float64(m.MaxUS)
		return e, nil
	case "mean":
		e.v = m.MeanUS
		se := compareZ * m.StdUS / math.Sqrt(float64(m.Count))
		e.lo, e.hi = e.v-se, e.v+se
		return e, nil
	default:
		return e, fmt.Errorf("unknown statistic %q", stat)
	}
	if m.HDR == "" {
		return e, fmt.Errorf("the report carries no histogram")
	}
	h, ok := cache[m]
	if !ok {
		var err error
		if h, err = m.Histogram(); err != nil {
			cache[m] = nil
			return e, err
		}
		cache[m] = h
	}
	if h == nil || h.TotalCount() == 0 {
		return e, nil
	}
	e.lo, e.hi = comparePercentileInterval(h, q)
	return e, nil
}

// comparePercentileInterval returns the 95% confidence interval of percentile q
// (0 to 100) of the population h samples: the values at the order
// statistics n·p ± z·√(n·p·(1−p)). With fewer than 5 samples on either
// side of the percentile the normal approximation fails and the sample
// cannot place the percentile at all: the interval is then the whole
// range, min to max.
func comparePercentileInterval(h *metrics.Histogram, q float64) (lo, hi float64) {
	n := float64(h.TotalCount())
	p := q / 100
	if n*p < 5 || n*(1-p) < 5 {
		return float64(h.Min()), float64(h.Max())
	}
	centre, half := n*p, compareZ*math.Sqrt(n*p*(1-p))
	rlo := math.Max(1, math.Floor(centre-half))
	rhi := math.Min(n, math.Ceil(centre+half))
	at := func(rank float64) float64 {
		return float64(h.ValueAtPercentile(100 * rank / n))
	}
	return at(rlo), at(rhi)
}

// comparePoisson is a count k over durationS seconds (1 for a plain
// count) with the interval k + z²/2 ± z·√(k + z²/4), which stays sensible
// at zero.
func comparePoisson(k int64, durationS float64) compareEstimate {
	if durationS <= 0 {
		return noCompareEstimate
	}
	x := float64(k)
	z2 := compareZ * compareZ
	half := compareZ * math.Sqrt(x+z2/4)
	return compareEstimate{x / durationS, math.Max(0, x+z2/2-half) / durationS, (x + z2/2 + half) / durationS}
}

// compareWilson is the proportion k of n with its Wilson score interval.
func compareWilson(k, n int64) compareEstimate {
	if n <= 0 {
		return noCompareEstimate
	}
	p, nf := float64(k)/float64(n), float64(n)
	z2 := compareZ * compareZ
	centre := (p + z2/(2*nf)) / (1 + z2/nf)
	half := compareZ / (1 + z2/nf) * math.Sqrt(p*(1-p)/nf+z2/(4*nf*nf))
	return compareEstimate{p, math.Max(0, centre-half), math.Min(1, centre+half)}
}

// ParseTolerance parses a relative tolerance: "10%" or a fraction "0.1".
func ParseTolerance(s string) (float64, error) {
	s = strings.TrimSpace(s)
	pct := strings.HasSuffix(s, "%")
	v, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(s, "%")), 64)
	switch {
	case err != nil || math.IsNaN(v) || math.IsInf(v, 0):
		return 0, fmt.Errorf("tolerance %q: want a percentage like 10%% or a fraction like 0.1", s)
	case v < 0:
		return 0, fmt.Errorf("tolerance %q is negative", s)
	case pct:
		return v / 100, nil
	case v > 1:
		return 0, fmt.Errorf("tolerance %q: a plain number is a fraction; write %g%% for %g percent", s, v, v)
	}
	return v, nil
}

// ParseMetricTolerance parses "KEY=TOLERANCE", e.g. "rtt.p99=15%".
func ParseMetricTolerance(s string) (key string, tol float64, err error) {
	key, val, ok := strings.Cut(s, "=")
	key = strings.TrimSpace(key)
	if !ok || key == "" {
		return "", 0, fmt.Errorf("tolerance %q: want METRIC.STAT=TOLERANCE, e.g. rtt.p99=15%%", s)
	}
	tol, err = ParseTolerance(val)
	return key, tol, err
}

// Counts returns how many rows have each status.
func (c *Comparison) Counts() map[string]int {
	m := map[string]int{}
	for _, r := range c.Rows {
		m[r.Status]++
	}
	return m
}

func (c *Comparison) summaryLine() string {
	n := c.Counts()
	var parts []string
	for _, s := range []string{StatusRegressed, StatusImproved, StatusWithinNoise, StatusUnchanged, StatusNA} {
		if n[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n[s], s))
		}
	}
	if len(parts) == 0 {
		return "no rows"
	}
	return strings.Join(parts, ", ")
}

func compareSide(refs []RunRef) string {
	switch len(refs) {
	case 0:
		return "nothing"
	case 1:
		return refs[0].StartedAt.UTC().Format("2006-01-02 15:04:05 UTC")
	}
	return fmt.Sprintf("%d runs (median)", len(refs))
}

// compareValue formats a row value in its unit.
func compareValue(v float64, unit string) string {
	if math.IsNaN(v) {
		return "-"
	}
	switch unit {
	case "us":
		return FormatUS(int64(math.Round(v)))
	case "count":
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return FormatValue(v, unit)
}

func compareDelta(r CompareRow) (abs, rel string) {
	if math.IsNaN(r.Delta) {
		return "-", "-"
	}
	sign := "+"
	if r.Delta < 0 {
		sign = "-"
	}
	abs = sign + compareValue(math.Abs(r.Delta), r.Unit)
	if r.Unit == "ratio" {
		abs = sign + strconv.FormatFloat(100*math.Abs(r.Delta), 'g', 3, 64) + "pp"
	}
	switch {
	case math.IsInf(r.Relative, 0):
		rel = sign + "∞"
	default:
		rel = fmt.Sprintf("%+.1f%%", 100*r.Relative)
	}
	if r.Delta == 0 {
		abs, rel = "0", "0%"
	}
	return abs, rel
}

// Explain says in one line what a row measured on each side and why it has
// its status: "rtt p99: base 2.90ms, new 3.60ms, +700µs (+24.1%); tolerance
// 10%; noise band (95% CI) base 2.80ms–3.00ms, new 3.50ms–3.70ms".
func (r CompareRow) Explain() string {
	abs, rel := compareDelta(r)
	return fmt.Sprintf("%s: base %s, new %s, %s (%s); tolerance %s; %s",
		r.label(), compareValue(r.Base, r.Unit), compareValue(r.New, r.Unit), abs, rel,
		FormatLimit(r.Tolerance, "ratio"), r.NoiseBand())
}

// NoiseBand describes the two sides' 95% confidence intervals, the noise
// a change must clear to count.
func (r CompareRow) NoiseBand() string {
	return fmt.Sprintf("noise band (95%% CI) base %s, new %s", r.band(r.BaseLow, r.BaseHigh), r.band(r.NewLow, r.NewHigh))
}

// band formats one side's confidence interval.
func (r CompareRow) band(lo, hi float64) string {
	if math.IsNaN(lo) || math.IsNaN(hi) {
		return "no interval"
	}
	return compareValue(lo, r.Unit) + "–" + compareValue(hi, r.Unit)
}

func (r CompareRow) label() string {
	return r.Metric + " " + r.Stat
}

// WriteText writes the comparison as a terminal table.
func (c *Comparison) WriteText(w io.Writer) error {
	ew := &errWriter{w: w}
	for _, w := range c.Warnings {
		fmt.Fprintf(ew, "WARNING: %s\n", w)
	}
	fmt.Fprintf(ew, "base: %s · new: %s · tolerance %s\n", compareSide(c.Base), compareSide(c.New), FormatLimit(c.Tolerance, "ratio"))
	for _, n := range c.Notes {
		fmt.Fprintf(ew, "note: %s\n", n)
	}
	fmt.Fprintln(ew)
	table := [][]string{{"metric", "base", "new", "change", "", "status"}}
	for _, r := range c.Rows {
		abs, rel := compareDelta(r)
		status := r.Status
		if r.Regression() {
			status = "REGRESSED"
		} else if r.Status == StatusRegressed {
			status = "regressed (not gated)"
		}
		table = append(table, []string{r.label(), compareValue(r.Base, r.Unit), compareValue(r.New, r.Unit), abs, rel, status})
	}
	// The metric and status columns read left to right, the numbers line
	// up on the right.
	width := make([]int, len(table[0]))
	for _, row := range table {
		for i, cell := range row {
			width[i] = max(width[i], utf8.RuneCountInString(cell))
		}
	}
	for _, row := range table {
		var b strings.Builder
		for i, cell := range row {
			pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(cell))
			switch i {
			case 0:
				b.WriteString(cell + pad)
			case len(row) - 1:
				b.WriteString("  " + cell)
			default:
				b.WriteString("  " + pad + cell)
			}
		}
		fmt.Fprintln(ew, strings.TrimRight(b.String(), " "))
	}
	fmt.Fprintf(ew, "\n%s\n", c.summaryLine())
	return ew.err
}

// WriteMarkdown writes the comparison as a markdown table.
func (c *Comparison) WriteMarkdown(w io.Writer) error {
	ew := &errWriter{w: w}
	icon := "✅"
	if len(c.Regressions()) > 0 {
		icon = "❌"
	}
	fmt.Fprintf(ew, "### %s wsbench compare\n\n", icon)
	if len(c.Warnings) > 0 {
		fmt.Fprintf(ew, "> [!WARNING]\n")
		for _, w := range c.Warnings {
			fmt.Fprintf(ew, "> %s\n", mdCell(w))
		}
		fmt.Fprintln(ew)
	}
	fmt.Fprintf(ew, "base: %s · new: %s · tolerance %s\n\n", mdCell(compareSide(c.Base)), mdCell(compareSide(c.New)), FormatLimit(c.Tolerance, "ratio"))
	for _, n := range c.Notes {
		fmt.Fprintf(ew, "> %s\n", mdCell(n))
	}
	if len(c.Notes) > 0 {
		fmt.Fprintln(ew)
	}
	fmt.Fprintf(ew, "| metric | base | new | change | | status |\n|---|--:|--:|--:|--:|---|\n")
	for _, r := range c.Rows {
		abs, rel := compareDelta(r)
		status := r.Status
		switch {
		case r.Regression():
			status = "🔴 **regressed**"
		case r.Status == StatusRegressed:
			status = "🟠 regressed (not gated)"
		case r.Status == StatusImproved:
			status = "🟢 improved"
		}
		fmt.Fprintf(ew, "| %s | %s | %s | %s | %s | %s |\n", mdCell(r.label()), compareValue(r.Base, r.Unit), compareValue(r.New, r.Unit), abs, rel, status)
	}
	fmt.Fprintf(ew, "\n%s\n", c.summaryLine())
	return ew.err
}

// WriteJSON writes the comparison as indented JSON.
func (c *Comparison) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(c)
}
