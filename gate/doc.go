// Package gate parses and evaluates thresholds: pass/fail rules over a run's
// report such as "rtt p99 < 50ms" or "errors rate < 0.1%".
//
// # Grammar
//
//	threshold = metric [ "[" selector "]" ] [ stat ] op limit [ unit ]
//	op        = "<" | "<=" | ">" | ">=" | "==" | "!="
//	limit     = digits [ "." digits ]        (no sign, no exponent)
//
// Spaces between the parts are optional ("rtt p99<50ms" is fine).
//
// Latency metrics are rtt, connect, tls_handshake (wss:// only),
// handshake, ping, push_delay, broadcast_delivery, broadcast_complete,
// schedule_lag (the generator's own lag) and any metric a scenario step
// names (a request step "login" records "login"). Their statistics are min, mean (avg), max, stddev, count and any
// percentile pNN or pNN.N (p50, p99, p99.9, p99.99; median is p50). A
// latency limit needs a unit: µs or us, ms, s, m (minutes); it is held in
// microseconds. There is no default statistic for a latency metric.
//
// Counter metrics are the JSON names of metrics.Counters (connects_failed,
// messages_received, sends_dropped, replies_missing, push_gaps, …). Their
// statistics are count (the default; a plain number) and rate (per second
// of run time; "1000/s" or "1000").
//
// Derived metrics:
//
//   - errors: every error of every cause. count (default); rate is a ratio,
//     errors / (connects_attempted + messages_sent), written "0.1%" or "0.001".
//   - errors[STEP]: errors attributed to a step. The counter keys are
//     "flow/step: cause"; STEP matches the step's name ("login") or its full
//     label ("chat/login"). count only.
//   - dropped: sends_dropped + sessions_dropped, the load the generator
//     could not start on schedule. count (default) or rate (per second).
//   - reach and reach[ROOM]: broadcast deliveries that arrived, as a ratio.
//     min (default) is the lowest reach of any room pattern; mean is the
//     overall ratio, every delivered message over every expected one.
//   - loss and loss[ROOM]: 1 − reach. max (default) is the worst room
//     pattern; mean the overall ratio.
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
