package report

import (
	"fmt"
	"io"
	"math"
	"strings"
)

// mdMaxLatencyRows caps the latency table so the summary stays one screen.
const mdMaxLatencyRows = 8

// RunVerdict is the one-word outcome of a run, in the precedence of the
// exit codes: FAIL when the run failed, INTERRUPTED, UNRELIABLE when the
// generator was the bottleneck, FAIL when a threshold failed (or stopped
// the run) or a gating baseline comparison regressed, PASS otherwise.
func RunVerdict(r *Report) string {
	switch {
	case r.EndReason == EndFailed:
		return "FAIL"
	case r.EndReason == EndInterrupted:
		return "INTERRUPTED"
	case r.Generator.Unreliable:
		return "UNRELIABLE"
	case r.EndReason == EndAborted, r.Passed != nil && !*r.Passed:
		return "FAIL"
	case r.Baseline != nil && len(r.Baseline.Regressed) > 0 && !r.Baseline.ReportOnly:
		return "FAIL"
	}
	return "PASS"
}

// WriteMarkdownSummary writes a one-screen markdown summary of r for a
// pull-request comment or a CI job summary: the verdict, what ran, a
// compact latency table, throughput, errors, the thresholds, a warning
// when the generator was unreliable (each finding with what it measured
// against its limit), baseline regressions, and, collapsed, the
// generator's notes and the worker processes of a split run (open when a
// worker needs attention).
func WriteMarkdownSummary(w io.Writer, r *Report) error {
	ew := &errWriter{w: w}
	p := ew.printf

	verdict := RunVerdict(r)
	icon := map[string]string{"PASS": "✅", "FAIL": "❌", "INTERRUPTED": "⏹️", "UNRELIABLE": "⚠️"}[verdict]
	title := "wsbench"
	if sn := runScenarioName(r); sn != "" {
		title += " · " + mdCell(sn)
	}
	p("### %s %s — %s\n\n", icon, verdict, title)
	p("**Target** `%s` · **ran** %.1fs · **end** %s", mdCode(r.Target), r.DurationS, r.EndReason)
	if r.EndDetail != "" {
		p(" (%s)", mdCell(r.EndDetail))
	}
	p(" · %s\n\n", r.StartedAt.UTC().Format("2006-01-02 15:04 UTC"))

	if r.Insecure() {
		p("> [!WARNING]\n> **Insecure TLS**: %s.\n\n", insecureWarning)
	}
	unreliable, notes := generatorFindings(&r.Generator)
	if r.Generator.Unreliable {
		p("> [!WARNING]\n> **Load generator unreliable**: it may have been the bottleneck, so these numbers may describe it rather than the target.\n")
		for _, f := range unreliable {
			p("> - %s\n", mdFinding(f))
		}
		p("\n")
	}

	var names []string
	for _, n := range metricOrder(r.Metrics) {
		if m := r.Metrics[n]; m != nil && m.Count > 0 {
			names = append(names, n)
		}
	}
	if len(names) > 0 {
		p("| latency | count | p50 | p90 | p99 | max |\n|---|--:|--:|--:|--:|--:|\n")
		for i, n := range names {
			if i == mdMaxLatencyRows {
				p("| … %d more | | | | | |\n", len(names)-i)
				break
			}
			m := r.Metrics[n]
			p("| %s | %d | %s | %s | %s | %s |\n", mdCell(n), m.Count, FormatUS(m.P50US), FormatUS(m.P90US), FormatUS(m.P99US), FormatUS(m.MaxUS))
		}
		p("\n")
	}

	c := &r.Counters
	p("**Throughput** sent %s/s · received %s/s · connects %s/s · peak %d connections",
		mdNum(r.Rates.SendsAchievedPerS), mdNum(r.Rates.ReceivedPerS), mdNum(r.Rates.ConnectsPerS), r.Rates.PeakConnections)
	if c.SendsIntended > 0 {
		p(" · intended %s/s", mdNum(r.Rates.SendsIntendedPerS))
	}
	if d := c.SendsDropped + c.SessionsDropped; d > 0 {
		p(" · **dropped %d**", d)
	}
	p("\n\n")
	if n := c.Errors(); n > 0 {
		p("**Errors** %d", n)
		if ops := c.ConnectsAttempted + c.MessagesSent; ops > 0 {
			p(" (%s of connects and messages)", FormatValue(float64(n)/float64(ops), "ratio"))
		}
		p(": %s", mdCell(mdTopCounts(c.ErrorsByCause, 5)))
	} else {
		p("**Errors** none")
	}
	if c.ConnectsFailed > 0 {
		p(" · connects failed %d", c.ConnectsFailed)
	}
	if c.RepliesMissing > 0 {
		p(" · replies missing %d", c.RepliesMissing)
	}
	p("\n\n")

	if len(r.Thresholds) > 0 {
		passed := 0
		for _, t := range r.Thresholds {
			if t.Passed {
				passed++
			}
		}
		p("**Thresholds** %d of %d passed\n\n| | threshold | actual | detail |\n|---|---|--:|---|\n", passed, len(r.Thresholds))
		for _, t := range r.Thresholds {
			mark := "✅"
			if !t.Passed {
				mark = "❌"
			}
			actual := FormatValue(t.Actual, t.Unit)
			if t.Window != "" && !math.IsNaN(t.Actual) {
				actual += " (worst " + t.Window + ")"
			}
			detail := t.Detail
			if t.Aborted {
				detail = strings.TrimSpace("stopped the run. " + detail)
			}
			p("| %s | `%s` | %s | %s |\n", mark, mdCode(t.Expr), actual, mdCell(detail))
		}
		p("\n")
	}

	if b := r.Baseline; b != nil {
		writeBaselineMarkdown(ew, b)
		if len(notes) > 0 || len(r.Workers) > 0 {
			p("\n") // the blank line that ends its table or note
		}
	}
	if len(notes) > 0 {
		// Notes do not change the verdict: collapsed, so the summary
		// stays one screen.
		p("<details><summary>Generator: %s</summary>\n\n", plural(len(notes), "note"))
		for _, f := range notes {
			p("- %s\n", mdFinding(f))
		}
		p("\n</details>\n\n")
	}
	if len(r.Workers) > 0 {
		writeWorkersMarkdown(ew, r.Workers)
	}
	return ew.err
}

// mdFinding is one finding about the generator as a list item: the rule,
// the measure against its limit, and the detail.
func mdFinding(f Finding) string {
	if f.Rule == "" {
		return mdCell(f.Detail) // a report without findings: only the detail
	}
	return fmt.Sprintf("`%s` %s: %s", mdCode(f.Rule), mdCell(f.Measure()), mdCell(f.Detail))
}

// writeWorkersMarkdown writes the worker processes' table, the same
// columns as the terminal summary's. It is collapsed unless a worker
// needs attention (unreliable, not completed, or not exited cleanly).
func writeWorkersMarkdown(ew *errWriter, ws []WorkerResult) {
	p := ew.printf
	trouble := 0
	for _, w := range ws {
		if workerTrouble(w) {
			trouble++
		}
	}
	open, sum := "", fmt.Sprintf("%d processes", len(ws))
	if len(ws) == 1 {
		sum = "1 process"
	}
	if trouble > 0 {
		open = " open"
		sum += fmt.Sprintf(", %d need attention", trouble)
	}
	p("<details%s><summary>Workers: %s</summary>\n\n", open, sum)
	p("| | worker | pid | peak conns | connects | sent | received | errors | max RSS | end | from |\n|---|--:|--:|--:|--:|--:|--:|--:|--:|---|---|\n")
	for _, w := range ws {
		mark := ""
		if workerTrouble(w) {
			mark = "⚠️"
		}
		end := mdCell(w.EndReason + " · " + w.Exit)
		if w.Unreliable {
			end += " · **unreliable**"
		}
		from := ""
		if len(w.SourceAddrs) > 0 {
			from = "`" + mdCode(strings.Join(w.SourceAddrs, ", ")) + "`"
		}
		p("| %s | %d | %d | %d | %d | %d | %d | %d | %s | %s | %s |\n", mark, w.Index, w.PID, w.PeakConnections, w.ConnectsOK,
			w.MessagesSent, w.MessagesReceived, w.Errors, FormatBytes(w.MaxRSSBytes), end, from)
	}
	p("\n</details>\n\n")
}

// writeBaselineMarkdown writes the baseline line and, when something
// regressed, a table of the regressed metrics with both values, the
// change and the noise band.
func writeBaselineMarkdown(ew *errWriter, b *Baseline) {
	p := ew.printf
	p("**Baseline** `%s` (%s", mdCode(b.Path), b.StartedAt.UTC().Format("2006-01-02 15:04 UTC"))
	if b.Tolerance != "" {
		p(", tolerance %s", mdCell(b.Tolerance))
	}
	if b.ReportOnly {
		p(", report only")
	}
	p("): ")
	switch {
	case len(b.Regressed) == 0:
		p("no regressions\n")
	case b.ReportOnly:
		p("%s, not gating\n", plural(len(b.Regressed), "regression"))
	default:
		p("**%s**\n", plural(len(b.Regressed), "regression"))
	}
	mark := "❌"
	if b.ReportOnly {
		mark = "⚠️"
	}
	switch {
	case len(b.Regressions) > 0:
		p("\n| | metric | base | new | change | | noise band (95%% CI) |\n|---|---|--:|--:|--:|--:|---|\n")
		for _, row := range b.Regressions {
			abs, rel := compareDelta(row)
			p("| %s | %s | %s | %s | %s | %s | base %s · new %s |\n", mark, mdCell(row.label()),
				compareValue(row.Base, row.Unit), compareValue(row.New, row.Unit), abs, rel,
				row.band(row.BaseLow, row.BaseHigh), row.band(row.NewLow, row.NewHigh))
		}
	case len(b.Regressed) > 0:
		quoted := make([]string, len(b.Regressed))
		for i, k := range b.Regressed {
			quoted[i] = "`" + mdCode(k) + "`"
		}
		p("\n%s %s\n", mark, strings.Join(quoted, ", "))
	}
	for _, n := range b.Notes {
		p("\n> %s\n", mdCell(n))
	}
}

// mdCell makes text safe inside a markdown table cell.
func mdCell(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	s = strings.ReplaceAll(s, "|", `\|`)
	return s
}

// mdCode makes text safe inside a `code span` in a table cell.
func mdCode(s string) string {
	s = strings.ReplaceAll(s, "`", "'")
	return mdCell(s)
}

func mdNum(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "n/a"
	}
	if v >= 100 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.3g", v)
}

// mdTopCounts lists the n largest counts, "cause×count", largest first.
func mdTopCounts(m map[string]int64, n int) string {
	keys := keysByCount(m)
	var parts []string
	for i, k := range keys {
		if i == n {
			parts = append(parts, fmt.Sprintf("… %d more", len(keys)-n))
			break
		}
		parts = append(parts, fmt.Sprintf("%s×%d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}
