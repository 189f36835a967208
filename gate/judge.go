package gate

import (
	"fmt"
	"slices"

	"github.com/wsbench/wsbench/report"
)

// Baseline is an earlier run to judge a run against.
type Baseline struct {
	Report *report.Report
	Path   string // where it was read from, for people
	// Tolerance is the relative change (0.1 = 10%) a statistic must exceed
	// to regress; zero means report.DefaultTolerance.
	Tolerance float64
	// Gate makes a regression fail the run; without it the comparison is
	// recorded and shown but does not change the verdict.
	Gate bool
}

// Judge records on the finished run r its verdict: the results of its
// thresholds (from Evaluate, or Live.Final when the run was checked live)
// and, with a baseline, the comparison with it. r.Passed is false when a
// threshold failed or a gating baseline found a regression, true when
// there was something to judge and nothing failed, and stays nil when
// there was nothing to judge. Judge is the one place that decides Passed.
func Judge(r *report.Report, results []report.ThresholdResult, base *Baseline) {
	r.Thresholds = results
	var passed *bool
	if len(results) > 0 {
		ok := AllPassed(results)
		passed = &ok
	}
	if base != nil && base.Report != nil {
		tol := base.Tolerance
		if tol <= 0 {
			tol = report.DefaultTolerance
		}
		cmp := report.Compare([]*report.Report{base.Report}, []*report.Report{r}, report.CompareOptions{Tolerance: tol})
		r.Baseline = &report.Baseline{
			Path:        base.Path,
			StartedAt:   base.Report.StartedAt,
			Tolerance:   fmt.Sprintf("%g%%", 100*tol),
			Regressed:   cmp.RegressedKeys(),
			ReportOnly:  !base.Gate,
			Regressions: cmp.Regressions(),
			Notes:       slices.Concat(cmp.Warnings, cmp.Notes),
		}
		if base.Gate {
			ok := len(r.Baseline.Regressed) == 0 && (passed == nil || *passed)
			passed = &ok
		}
	}
	r.Passed = passed
}
