package report

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
)

// WriteText writes the terminal summary of r: what ran, whether it passed,
// latency per metric, counts and rates, errors and close codes, and the
// generator's health.
func WriteText(w io.Writer, r *Report) error {
	ew := &errWriter{w: w}
	p := ew.printf
	// The thresholds' verdict comes from the thresholds themselves: Passed
	// also covers a baseline gate, which has its own word below.
	verdict := "none"
	if len(r.Thresholds) > 0 {
		verdict = "PASSED"
		for _, t := range r.Thresholds {
			if !t.Passed {
				verdict = "FAILED"
			}
		}
	}
	p("wsbench %s · target %s\n", r.Environment.WsbenchVersion, r.Target)
	p("started %s · ran %.1fs · end: %s", r.StartedAt.Format("2006-01-02 15:04:05Z07:00"), r.DurationS, r.EndReason)
	if r.EndDetail != "" {
		p(" (%s)", r.EndDetail)
	}
	p(" · thresholds: %s", verdict)
	if b := r.Baseline; b != nil {
		p(" · baseline: %s", baselineVerdict(b))
	}
	p("\n")
	if r.Insecure() {
		p("\n!! INSECURE: %s\n", insecureWarning)
	}
	if r.Generator.Unreliable {
		p("\n!! UNRELIABLE: the load generator may have been the bottleneck:\n")
		for _, why := range r.Generator.Reasons {
			p("   - %s\n", why)
		}
	}

	if len(r.Metrics) > 0 {
		p("\nLatency              count      min      p50      p90      p99    p99.9      max     mean\n")
		for _, name := range metricOrder(r.Metrics) {
			m := r.Metrics[name]
			p("%-18s %7d %8s %8s %8s %8s %8s %8s %8s\n", trunc(name, 18), m.Count, FormatUS(m.MinUS), FormatUS(m.P50US), FormatUS(m.P90US),
				FormatUS(m.P99US), FormatUS(m.P999US), FormatUS(m.MaxUS), FormatUS(int64(math.Round(m.MeanUS))))
		}
		for _, line := range serviceLines(r.Metrics) {
			p("%s\n", line)
		}
		if line := clockLine(r); line != "" {
			p("%s\n", line)
		}
	}

	c := &r.Counters
	p("\nConnections  attempted %d · ok %d · failed %d · peak open %d · closed %d\n",
		c.ConnectsAttempted, c.ConnectsOK, c.ConnectsFailed, r.Rates.PeakConnections, c.Disconnects)
	p("Sessions     started %d · completed %d · failed %d · stopped by the end %d", c.SessionsStarted, c.SessionsCompleted, c.SessionsFailed,
		max(0, c.SessionsStarted-c.SessionsCompleted-c.SessionsFailed))
	if c.SessionsIntended > 0 {
		p(" · arrivals intended %d · dropped %d", c.SessionsIntended, c.SessionsDropped)
	}
	p("\n")
	p("Messages     sent %d (%.0f/s) · received %d (%.0f/s)", c.MessagesSent, r.Rates.SendsAchievedPerS, c.MessagesReceived, r.Rates.ReceivedPerS)
	if c.SendsIntended > 0 {
		p(" · intended %.0f/s · dropped %d", r.Rates.SendsIntendedPerS, c.SendsDropped)
	}
	if c.RepliesMissing > 0 {
		p(" · replies missing %d", c.RepliesMissing)
	}
	p("\n")
	p("Bytes        payload sent %s · received %s · on the wire sent %s · received %s\n",
		FormatBytes(c.BytesSent), FormatBytes(c.BytesReceived), FormatBytes(c.WireBytesSent), FormatBytes(c.WireBytesReceived))
	if c.PushReceived > 0 {
		p("Push         received %d · gaps %d · out of order %d\n", c.PushReceived, c.PushGaps, c.PushOutOfOrder)
	}
	if c.PingsSent > 0 || c.ServerPings > 0 {
		p("Heartbeats   pings sent %d · pongs %d · missed %d · server pings answered %d\n", c.PingsSent, c.PongsReceived, c.PongsMissed, c.ServerPings)
	}
	for _, b := range r.Broadcast {
		p("Broadcast    %s (%d rooms): published %d · expected %d · delivered %d · reach %.4f · lost %d · duplicates %d · reordered %d\n",
			b.Room, b.Rooms, b.Published, b.Expected, b.Delivered, b.Reach, b.Lost, b.Duplicates, b.Reordered)
	}
	if len(c.ClosesByCode) > 0 {
		p("Closes       %s (by %s)\n", joinCounts(c.ClosesByCode), joinCounts(c.ClosesByInitiator))
	}
	if len(c.ErrorsByCause) > 0 {
		p("Errors       %s\n", joinCounts(c.ErrorsByCause))
		steps := keysByCount(c.ErrorsByStep)
		for i, k := range steps {
			if i == 8 {
				p("             … %d more\n", len(steps)-8)
				break
			}
			p("             %6d  %s\n", c.ErrorsByStep[k], k)
		}
		shown := 0
		for _, k := range keysByCount(c.ErrorsByCause) {
			if msg := r.ErrorExamples[k]; msg != "" && shown < 8 {
				p("             first %s: %s\n", k, msg)
				shown++
			}
		}
	} else {
		p("Errors       none\n")
	}

	if len(r.Thresholds) > 0 {
		p("\nThresholds\n")
		tw := tabwriter.NewWriter(ew, 2, 4, 2, ' ', 0)
		for _, t := range r.Thresholds {
			mark := "ok  "
			if !t.Passed {
				mark = "FAIL"
			}
			fmt.Fprintf(tw, "  %s\t%s\tactual %s\t%s\n", mark, t.Expr, FormatValue(t.Actual, t.Unit), t.Detail)
		}
		_ = tw.Flush()
	}
	if lines := serverLines(r.Server); len(lines) > 0 {
		p("\n%s\n", strings.Join(lines, "\n"))
	}
	if b := r.Baseline; b != nil {
		writeBaselineText(ew, b)
	}
	g := &r.Generator
	p("\nGenerator    CPU mean %.0f%% peak %.0f%% of %.0f%% · schedule lag p99 %s · GC pauses %d (max %s) · fds peak %d of %d\n",
		g.CPUPercent, g.CPUPeakPercent, g.CPUCapacity, lagP99(g), g.GCPauses, FormatUS(g.GCPauseMaxUS), g.FDPeak, g.FDLimit)
	if g.IncludesTarget {
		p("             (the built-in target ran in this process: its CPU, memory and GC are included)\n")
	}
	for _, n := range g.Notes {
		p("             note: %s\n", n)
	}
	if len(r.Workers) > 0 {
		p("\nWorkers      %d processes\n", len(r.Workers))
		tw := tabwriter.NewWriter(ew, 2, 4, 2, ' ', 0)
		for _, w := range r.Workers {
			flag := ""
			if w.Unreliable {
				flag = " · unreliable"
			}
			fmt.Fprintf(tw, "  %d	pid %d	peak %d conns	connects %d	sent %d	received %d	errors %d	rss %s	%s · %s%s\n",
				w.Index, w.PID, w.PeakConnections, w.ConnectsOK, w.MessagesSent, w.MessagesReceived, w.Errors, FormatBytes(w.MaxRSSBytes), w.EndReason, w.Exit, flag)
		}
		_ = tw.Flush()
		for _, w := range r.Workers {
			if len(w.SourceAddrs) > 0 {
				p("  %d  from %s\n", w.Index, strings.Join(w.SourceAddrs, ", "))
			}
		}
	}
	return ew.err
}

// baselineVerdict is the one-word outcome of a baseline comparison.
func baselineVerdict(b *Baseline) string {
	switch {
	case len(b.Regressed) == 0:
		return "no regressions"
	case b.ReportOnly:
		return fmt.Sprintf("%s (not gating)", plural(len(b.Regressed), "regression"))
	}
	return fmt.Sprintf("REGRESSED (%d)", len(b.Regressed))
}

// writeBaselineText writes the baseline section of the terminal summary:
// the baseline, whether it gates, and each regressed metric with both
// values, the change and the noise band.
func writeBaselineText(ew *errWriter, b *Baseline) {
	p := ew.printf
	p("\nBaseline     %s (%s, tolerance %s", b.Path, b.StartedAt.Format("2006-01-02 15:04:05Z07:00"), b.Tolerance)
	if b.ReportOnly {
		p(", report only: add --fail-on-regression to gate")
	}
	p("): %s\n", baselineVerdict(b))
	mark := "REGRESSED"
	if b.ReportOnly {
		mark = "regressed"
	}
	if len(b.Regressions) > 0 {
		for _, row := range b.Regressions {
			p("  %s  %s\n", mark, row.Explain())
		}
	} else {
		// A report from before regressions carried their values.
		for _, k := range b.Regressed {
			p("  %s  %s\n", mark, k)
		}
	}
	for _, n := range b.Notes {
		p("  note: %s\n", n)
	}
}

// plural returns "1 word" or "N words".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func lagP99(g *Generator) string {
	if g.ScheduleLag == nil || g.ScheduleLag.Count == 0 {
		return "-"
	}
	return FormatUS(g.ScheduleLag.P99US)
}

// metricOrder lists the built-in metrics first in a fixed order, then the
// named ones alphabetically; a service view (rtt_service) comes right
// after its metric.
func metricOrder(m map[string]*Metric) []string {
	fixed := []string{"rtt", "connect", "tls_handshake", "handshake", "ping", "push_delay", "broadcast_delivery", "broadcast_complete", "schedule_lag"}
	var out []string
	for _, n := range fixed {
		if _, ok := m[n]; ok {
			out = append(out, n)
		}
	}
	for _, n := range SortedKeys(m) {
		isFixed := false
		for _, f := range fixed {
			isFixed = isFixed || f == n
		}
		if !isFixed {
			out = append(out, n)
		}
	}
	return serviceAfterBase(out)
}

// serviceLines puts, under the latency table, each open-loop round
// trip's p99 beside its service view's (rtt beside rtt_service) and says
// what the gap between them is.
func serviceLines(m map[string]*Metric) []string {
	var lines []string
	for _, name := range metricOrder(m) {
		base, svc := m[name], m[serviceName(name)]
		if base == nil || svc == nil || base.Count == 0 || svc.Count == 0 {
			continue
		}
		lines = append(lines, fmt.Sprintf("  %s p99 %s from each message's intended send time, %s from its actual write (%s)",
			name, FormatUS(base.P99US), FormatUS(svc.P99US), serviceName(name)))
	}
	if len(lines) > 0 {
		lines = append(lines, "    ("+serviceGapWhy+")")
	}
	return lines
}

// MetricOrder returns the metric names of r in display order.
func MetricOrder(r *Report) []string { return metricOrder(r.Metrics) }

func joinCounts(m map[string]int64) string {
	parts := make([]string, 0, len(m))
	for _, k := range SortedKeys(m) {
		parts = append(parts, fmt.Sprintf("%s×%d", k, m[k]))
	}
	return strings.Join(parts, " ")
}

func trunc(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

// FormatUS formats microseconds with a unit people read at a glance.
func FormatUS(us int64) string {
	switch {
	case us == 0:
		return "0"
	case us < 1000:
		return fmt.Sprintf("%dµs", us)
	case us < 10_000:
		return fmt.Sprintf("%.2fms", float64(us)/1e3)
	case us < 1_000_000:
		return fmt.Sprintf("%.1fms", float64(us)/1e3)
	}
	return fmt.Sprintf("%.2fs", float64(us)/1e6)
}

// FormatBytes formats a byte count in binary units.
func FormatBytes(n int64) string {
	switch {
	case n < 1<<10:
		return fmt.Sprintf("%dB", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1fKiB", float64(n)/(1<<10))
	case n < 1<<30:
		return fmt.Sprintf("%.1fMiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.2fGiB", float64(n)/(1<<30))
}

// FormatValue formats a threshold value in its unit (µs, ratio, per_s, count).
func FormatValue(v float64, unit string) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	switch unit {
	case "us", "µs":
		return FormatUS(int64(math.Round(v)))
	case "ratio":
		return fmt.Sprintf("%.4g%%", 100*v)
	case "per_s", "/s":
		return fmt.Sprintf("%.4g/s", v)
	}
	return fmt.Sprintf("%.6g", v)
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

func (e *errWriter) printf(format string, args ...any) {
	fmt.Fprintf(e, format, args...)
}

// clockLine says how far the one-way latencies of a run over several
// machines may be off because of their clocks; "" for one machine.
func clockLine(r *Report) string {
	c := r.Clock
	if c == nil {
		return ""
	}
	switch {
	case c.OneWayBoundUS != nil:
		return fmt.Sprintf("clocks: one-way latencies between machines (broadcast_*) are within ±%s of the truth (offsets measured, corrected)", FormatUS(int64(math.Ceil(*c.OneWayBoundUS))))
	case c.Method == ClockUnmeasured:
		return "clocks: not measured; one-way latencies between machines (broadcast_*) carry their hosts' clock offsets"
	case c.BoundUS > 0:
		return fmt.Sprintf("clock: this worker's offset %s ± %s, corrected", FormatUS(int64(math.Round(c.OffsetUS))), FormatUS(int64(math.Ceil(c.BoundUS))))
	}
	return ""
}
