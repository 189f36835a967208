// Package metrics records what a load run measures: latency histograms
// (HdrHistogram, microseconds) and counters, in a form that can be merged
// exactly, whether the parts come from goroutines of one process or from
// reports of many processes.
//
// The unit of recording is a Set: histograms indexed by a small integer ID
// plus Counters. Sets are not safe for concurrent use. Recorders are
// Shards: a Set behind a mutex that many sessions share, so a run holds a
// bounded number of histograms however many connections it has. A
// Collector swaps every shard's Set once per interval, which gives exact
// per-interval histograms (for time series) and exact totals, without
// stopping recording for longer than one pointer swap.
package metrics
