// Package gate evaluates thresholds: pass/fail rules over a run such as
// "rtt p99 < 50ms" or "errors rate < 0.1%", whose grammar is package
// threshold's. It judges finished reports (Evaluate, Judge) and runs in
// progress (Live, an engine sink), on every window of their intervals.
//
// Concurrency: a Live is used by one goroutine at a time (the engine's
// sink goroutine, then the caller); everything else is pure functions.
//
// # Missing data
//
// A statistic of nothing (a percentile of a metric with no samples, an error
// rate of a run that sent nothing, reach without broadcasts) has no value:
// its Actual is NaN and the threshold fails with detail "no samples", so an
// SLO on a metric the run never recorded cannot pass silently. Counts are
// never missing: a count of nothing is 0.
//
// # Options
//
// Delay holds a threshold back during a run: Check does not evaluate it
// before Delay has elapsed. The final evaluation always judges the whole
// run, except that a windowed threshold only considers windows that start
// at or after Delay, which is how warm-up is left out.
//
// Window makes a threshold rolling: it is evaluated on every window of that
// length over the run's time series (stepping one interval at a time) and
// fails if any window breaks it. Latency windows merge the intervals'
// histograms, so window percentiles are exact. Windows with no samples of
// a latency metric are skipped. Every metric but reach and loss (known only
// for the whole run) and errors by step can have a window: each interval
// of a run carries every counter.
//
// # Live checks and abort_on_fail
//
// Threshold.Check evaluates a threshold against the running totals and
// recent intervals of a run in progress and also says whether a failure is certain: a count that only
// grows is already past a "<" limit, a max past its limit, a rolling window
// already broken. Live wraps Check with k6's abortOnFail policy: it stops
// the run as soon as a threshold with AbortOnFail fails after its Delay,
// whether or not the failure is certain; with StopWhenCertain it also stops
// on a certain failure of any threshold. A threshold with no samples yet
// never stops a run.
//
// # The verdict
//
// Judge records a finished run's verdict on its report: the threshold
// results and, with a Baseline, the comparison with an earlier run, whose
// regressions fail the run only when the baseline gates. It is the one
// place that sets report.Report.Passed.
package gate
