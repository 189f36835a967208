package report

import (
	"fmt"
	"math"
	"strings"

	"github.com/wsbench/wsbench/metrics"
)

// Helpers the renderers (terminal, markdown, HTML) share, so the three say
// the same thing in the same words.

// Measured formats what a finding measured, in its unit: "1.20ms",
// "97.0%", "42".
func (f Finding) Measured() string { return findingValue(f.Value, f.Unit) }

// LimitText formats the finding's limit in its unit, or "" when the rule
// has none (any occurrence fires it: dropped sends, own limits).
func (f Finding) LimitText() string {
	if f.Limit == 0 {
		return ""
	}
	return findingValue(f.Limit, f.Unit)
}

// Measure says what a finding measured against its limit: "1.20ms, limit
// 1.00ms", or the value alone when the rule has no limit.
func (f Finding) Measure() string {
	if l := f.LimitText(); l != "" {
		return f.Measured() + ", limit " + l
	}
	return f.Measured()
}

func findingValue(v float64, unit string) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "n/a"
	}
	switch unit {
	case "%":
		return fmt.Sprintf("%.1f%%", v)
	case "count":
		return fmt.Sprintf("%.0f", v)
	case "us", "µs":
		return FormatUS(int64(math.Round(v)))
	case "":
		return fmt.Sprintf("%.4g", v)
	}
	return fmt.Sprintf("%.4g %s", v, unit)
}

// generatorFindings splits the generator's findings into the unreliable
// ones and the notes. Reports from before findings existed, and merged
// reports, have only Reasons and Notes; then the notes come back as
// findings without a rule or measure.
func generatorFindings(g *Generator) (unreliable, notes []Finding) {
	if len(g.Findings) == 0 {
		for _, r := range g.Reasons {
			unreliable = append(unreliable, Finding{Verdict: VerdictUnreliable, Detail: r})
		}
		for _, n := range g.Notes {
			notes = append(notes, Finding{Verdict: VerdictNote, Detail: n})
		}
		return unreliable, notes
	}
	for _, f := range g.Findings {
		if f.Verdict == VerdictUnreliable {
			unreliable = append(unreliable, f)
		} else {
			notes = append(notes, f)
		}
	}
	return unreliable, notes
}

// serviceName is the name of the service view of an open-loop round-trip
// metric: rtt_service for rtt (metrics.ServiceSuffix).
func serviceName(name string) string { return name + metrics.ServiceSuffix }

// serviceBase returns the metric whose service view name is, and whether
// it is one.
func serviceBase(name string) (string, bool) {
	base, ok := strings.CutSuffix(name, metrics.ServiceSuffix)
	return base, ok && base != ""
}

// serviceAfterBase moves every service view (rtt_service) to just after
// its metric (rtt), so the two are read side by side.
func serviceAfterBase(names []string) []string {
	has := make(map[string]bool, len(names))
	for _, n := range names {
		has[n] = true
	}
	out := make([]string, 0, len(names))
	for _, n := range names {
		if base, ok := serviceBase(n); ok && has[base] {
			continue // placed after base
		}
		out = append(out, n)
		if s := serviceName(n); has[s] {
			out = append(out, s)
		}
	}
	return out
}

// serviceGapWhy is the one line every output gives for the gap between an
// open-loop round trip and its service view.
const serviceGapWhy = "the gap is the generator's own lateness in writing, which the intended-time view counts (the coordinated-omission correction) and the service view leaves out"

// workerOK is how a worker process that ended normally exited (see
// internal/coord).
const workerOK = "exited with status 0"

// workerTrouble says whether a worker's row needs a reader's attention:
// it was unreliable, did not complete or did not exit cleanly.
func workerTrouble(w WorkerResult) bool {
	return w.Unreliable || w.EndReason != EndCompleted || (w.Exit != "" && w.Exit != workerOK)
}
