// Package threshold is the grammar of wsbench thresholds and SLOs
// ("rtt p99 < 50ms", "errors rate < 0.1%"): parsing, the canonical form,
// and validation against a scenario's metrics. It is a leaf: the scenario
// language validates thresholds with it, and package gate evaluates them
// on runs. A Threshold is plain data and every function is safe for
// concurrent use.
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
package threshold
