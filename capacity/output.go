package capacity

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/wsbench/wsbench/report"
)

// Result returns the report of a capacity search: the full report of the
// highest level that met the SLO with a reliable generator (or, when none
// did, of the first step), with c as its capacity section. reports are
// Search's, one per step of c. It returns nil when no step ran.
func Result(c *report.Capacity, reports []*report.Report) *report.Report {
	if len(reports) == 0 || len(reports) != len(c.Steps) {
		return nil
	}
	best := 0
	found := false
	for i, st := range c.Steps {
		if st.Passed && !st.Unreliable && (!found || st.Load > c.Steps[best].Load) {
			best, found = i, true
		}
	}
	out := *reports[best]
	out.Capacity = c
	return &out
}

// WriteTable writes the steps of a capacity search as a table in the order
// they ran (load, achieved load, throughput, p50 and p99 of the latency
// metric named, error rate, and the result), then the verdict.
func WriteTable(w io.Writer, c *report.Capacity, metric string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	unit := loadUnit(c.Variable)
	fmt.Fprintf(tw, "%s\tachieved\treceived/s\t%s p50\t%s p99\terrors\tresult\t\n", unit, metric, metric)
	for _, st := range c.Steps {
		result := "pass"
		switch {
		case st.Unreliable:
			result = "GENERATOR-BOUND"
		case !st.Passed:
			result = "FAIL"
		}
		broke := ""
		if len(st.Failed) > 0 {
			broke = "  " + strings.Join(st.Failed, ", ")
		}
		fmt.Fprintf(tw, "%s\t%s\t%.0f\t%s\t%s\t%s\t%s\t%s\n",
			formatLoad(st.Load), formatAchieved(st.Achieved), st.Throughput,
			report.FormatUS(st.P50US), report.FormatUS(st.P99US), formatRatio(st.ErrorRate), result, broke)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\n%s\n", c.Verdict)
	return err
}

// loadUnit names the unit of a load variable for people.
func loadUnit(variable string) string {
	switch variable {
	case Clients:
		return "clients"
	case ArrivalRate:
		return "arrivals/s"
	case MessageRate:
		return "msgs/s"
	}
	return variable
}

// formatLoad writes a load level without float noise: whole numbers as
// such, others with at most two decimals.
func formatLoad(x float64) string {
	return strconv.FormatFloat(math.Round(x*100)/100, 'f', -1, 64)
}

// formatAchieved writes a measured load to a useful precision.
func formatAchieved(x float64) string {
	if x >= 99.95 { // what rounds to 100.0 or more
		return strconv.FormatFloat(x, 'f', 0, 64)
	}
	return strconv.FormatFloat(x, 'f', 1, 64)
}

func formatRatio(r float64) string {
	if r == 0 {
		return "0"
	}
	return strconv.FormatFloat(100*r, 'g', 3, 64) + "%"
}

// describeResult says what a broken SLO measured, e.g.
// "rtt p99 < 50ms: was 1.20s".
func describeResult(r report.ThresholdResult) string {
	if math.IsNaN(r.Actual) {
		return r.Expr + ": no samples"
	}
	return r.Expr + ": was " + report.FormatValue(r.Actual, r.Unit)
}
