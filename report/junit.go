package report

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// Describe says what a threshold measured against its limit, in the form
// CI systems show as a failure message: "rtt p99 = 73.2ms, limit < 50ms".
func (t ThresholdResult) Describe() string {
	actual := FormatValue(t.Actual, t.Unit)
	if math.IsNaN(t.Actual) {
		why := t.Detail
		if why == "" {
			why = "no samples"
		}
		actual = "n/a (" + why + ")"
	} else if t.Window != "" {
		actual += fmt.Sprintf(" in the worst %s window (ending at %.0fs)", t.Window, t.WorstWindow)
	}
	return fmt.Sprintf("%s %s = %s, limit %s %s", t.Metric, t.Stat, actual, t.Op, FormatLimit(t.Limit, t.Unit))
}

// FormatLimit formats a threshold limit the way people write one: 50ms,
// 1.5s, 0.1%, 1000/s.
func FormatLimit(v float64, unit string) string {
	num := func(x float64) string { return strconv.FormatFloat(x, 'g', 6, 64) }
	switch unit {
	case "us", "µs":
		switch {
		case v >= 1e6:
			return num(v/1e6) + "s"
		case v >= 1e3:
			return num(v/1e3) + "ms"
		}
		return num(v) + "µs"
	case "ratio":
		return num(v*100) + "%"
	case "per_s", "/s":
		return num(v) + "/s"
	}
	return num(v)
}

// JUnit XML, in the shape of the common (Ant/Jenkins) schema: a single
// <testsuite> root with properties, test cases, system-out and system-err.
type junitSuite struct {
	XMLName    xml.Name        `xml:"testsuite"`
	Name       string          `xml:"name,attr"`
	Timestamp  string          `xml:"timestamp,attr"`
	Hostname   string          `xml:"hostname,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Time       string          `xml:"time,attr"`
	Properties junitProperties `xml:"properties"`
	Cases      []junitCase     `xml:"testcase"`
	SystemOut  junitText       `xml:"system-out"`
	SystemErr  junitText       `xml:"system-err"`
}

type junitProperties struct {
	Props []junitProperty `xml:"property"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",cdata"`
}

// junitText is element text kept readable (newlines and all) as CDATA.
type junitText struct {
	Text string `xml:",cdata"`
}

// runScenarioName returns the "name" of the scenario embedded in r, or "".
func runScenarioName(r *Report) string {
	var sc struct {
		Name string `json:"name"`
	}
	if len(r.Scenario) == 0 || json.Unmarshal(r.Scenario, &sc) != nil {
		return ""
	}
	return sc.Name
}

// WriteJUnit writes r's thresholds as JUnit XML: one test suite
// "wsbench thresholds" (with the scenario's name, when it has one) holding
// one test case per threshold, so CI systems list each SLO as a test, and,
// when the run was judged against a baseline, its regressions (see
// junitBaseline). The suite's time is the run's duration.
func WriteJUnit(w io.Writer, r *Report) error {
	name := "wsbench thresholds"
	if sn := runScenarioName(r); sn != "" {
		name += ": " + sn
	}
	host := r.Environment.Hostname
	if strings.TrimSpace(host) == "" {
		host = "localhost"
	}
	s := junitSuite{
		Name:      name,
		Timestamp: r.StartedAt.UTC().Format("2006-01-02T15:04:05"),
		Hostname:  host,
		Tests:     len(r.Thresholds),
		Time:      strconv.FormatFloat(r.DurationS, 'f', 3, 64),
	}
	prop := func(k, v string) {
		s.Properties.Props = append(s.Properties.Props, junitProperty{Name: k, Value: v})
	}
	prop("target", r.Target)
	prop("started_at", r.StartedAt.UTC().Format("2006-01-02T15:04:05Z"))
	prop("end_reason", r.EndReason)
	if r.EndDetail != "" {
		prop("end_detail", r.EndDetail)
	}
	prop("generator_unreliable", strconv.FormatBool(r.Generator.Unreliable))
	if r.Insecure() {
		prop("tls_insecure_skip_verify", "true")
	}
	if r.Environment.WsbenchVersion != "" {
		prop("wsbench_version", r.Environment.WsbenchVersion)
	}

	class := "wsbench.thresholds"
	for _, t := range r.Thresholds {
		c := junitCase{Name: t.Expr, Classname: class, Time: "0"}
		if !t.Passed {
			s.Failures++
			typ := "threshold"
			if t.Aborted {
				typ = "threshold_aborted"
			}
			c.Failure = &junitFailure{Message: t.Describe(), Type: typ, Text: junitFailureText(t)}
		}
		s.Cases = append(s.Cases, c)
	}

	var out strings.Builder
	fmt.Fprintf(&out, "target %s, ran %.1fs, end: %s", r.Target, r.DurationS, r.EndReason)
	if r.EndDetail != "" {
		fmt.Fprintf(&out, " (%s)", r.EndDetail)
	}
	out.WriteString("\n")
	if b := r.Baseline; b != nil {
		junitBaseline(&s, &out, b)
	}
	s.SystemOut.Text = out.String()
	if r.Generator.Unreliable {
		s.SystemErr.Text = "load generator unreliable: " + strings.Join(r.Generator.Reasons, "; ") + "\n"
	}
	if r.Insecure() {
		s.SystemErr.Text += insecureWarning + "\n"
	}

	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(s); err != nil {
		return fmt.Errorf("junit: %w", err)
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// junitBaseline adds the baseline comparison to the suite: with a gating
// baseline, one failed test case per regressed metric (its message says
// base, new, change and noise band) or one passed case when nothing
// regressed; a report-only baseline is one passed case, its regressions
// listed in system-out.
func junitBaseline(s *junitSuite, out *strings.Builder, b *Baseline) {
	const class = "wsbench.baseline"
	add := func(c junitCase) {
		s.Cases = append(s.Cases, c)
		s.Tests++
		if c.Failure != nil {
			s.Failures++
		}
	}
	explain := func(i int) string {
		if i < len(b.Regressions) {
			return b.Regressions[i].Explain()
		}
		return b.Regressed[i] + " regressed" // a report from before Regressions
	}
	if len(b.Regressed) == 0 || b.ReportOnly {
		name := fmt.Sprintf("baseline %s: no regression beyond %s and noise", b.Path, b.Tolerance)
		if len(b.Regressed) > 0 {
			name = fmt.Sprintf("baseline %s (report only): %d regressed, not gating", b.Path, len(b.Regressed))
		}
		add(junitCase{Name: name, Classname: class, Time: "0"})
		for i := range b.Regressed {
			fmt.Fprintf(out, "baseline regression (not gating): %s\n", explain(i))
		}
	} else {
		for i, key := range b.Regressed {
			msg := explain(i)
			text := msg + "\nbaseline " + b.Path + ", started " + b.StartedAt.UTC().Format("2006-01-02T15:04:05Z")
			add(junitCase{Name: "baseline " + key, Classname: class, Time: "0",
				Failure: &junitFailure{Message: msg, Type: "regression", Text: text}})
		}
	}
	for _, n := range b.Notes {
		fmt.Fprintf(out, "baseline note: %s\n", n)
	}
}

func junitFailureText(t ThresholdResult) string {
	var lines []string
	lines = append(lines, t.Describe())
	if t.Detail != "" {
		lines = append(lines, t.Detail)
	}
	if t.Aborted {
		lines = append(lines, "this threshold stopped the run (abort_on_fail)")
	}
	return strings.Join(lines, "\n")
}
