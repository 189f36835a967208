package main

import (
	"fmt"

	"github.com/wsbench/wsbench/gate"
	"github.com/wsbench/wsbench/report"
	"github.com/wsbench/wsbench/scenario"
)

// runGate judges a run: the scenario's thresholds (live, for abort_on_fail,
// and on the finished report) and, when asked, a baseline comparison.
type runGate struct {
	live      *gate.Live
	baseline  *report.Report
	basePath  string
	tolerance float64
}

func newRunGate(sc *scenario.Scenario, o runOptions) (*runGate, error) {
	ts, err := sc.ParsedThresholds()
	if err != nil {
		return nil, err
	}
	g := &runGate{live: gate.NewLive(ts)}
	if o.tolerance != "" && o.baseline == "" {
		return nil, fmt.Errorf("--fail-on-regression needs --baseline")
	}
	if o.baseline != "" {
		// Read the baseline before the run: a typo should not cost a run.
		if g.baseline, err = report.ReadJSONFile(o.baseline); err != nil {
			return nil, fmt.Errorf("--baseline: %w", err)
		}
		g.basePath = o.baseline
		g.tolerance = report.DefaultTolerance
		if o.tolerance != "" {
			if g.tolerance, err = report.ParseTolerance(o.tolerance); err != nil {
				return nil, fmt.Errorf("--fail-on-regression: %w", err)
			}
		}
	}
	return g, nil
}

// judge evaluates every threshold on the finished report and compares it
// with the baseline; a baseline regression fails the run like a threshold.
func (g *runGate) judge(rep *report.Report) {
	if len(g.live.Thresholds) > 0 {
		rep.Thresholds = g.live.Final(rep)
		passed := gate.AllPassed(rep.Thresholds)
		rep.Passed = &passed
	}
	if g.baseline == nil {
		return
	}
	cmp := report.Compare([]*report.Report{g.baseline}, []*report.Report{rep}, report.CompareOptions{Tolerance: g.tolerance})
	regressed := cmp.RegressedKeys()
	rep.Baseline = &report.Baseline{
		Path:      g.basePath,
		StartedAt: g.baseline.StartedAt,
		Tolerance: fmt.Sprintf("%g%%", 100*g.tolerance),
		Regressed: regressed,
	}
	if len(regressed) > 0 {
		passed := false
		rep.Passed = &passed
	}
}
