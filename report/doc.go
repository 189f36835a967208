// Package report defines wsbench's JSON report — the one format every other
// output (terminal summary, HTML, JUnit, markdown) is rendered from, and the
// one that compare and merge read back — and the code that writes, reads,
// renders, compares and merges it.
//
// Latency metrics carry their HdrHistogram in compressed form next to the
// summary statistics, so a report is never lossy: merging two reports merges
// histograms, not percentiles.
package report
