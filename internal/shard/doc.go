// Package shard is where a run's sessions record what they measure: a
// bounded number of Shards, each a dense recording Set behind a mutex,
// shared by many sessions, so a run holds a few histograms however many
// connections it has.
//
// Once per interval the Collector swaps every shard's Set for its spare
// and folds the swapped Sets into one packed metrics.Set: that interval's
// exact histograms and counters. The swap holds a shard's lock for one
// pointer exchange, so recording never waits for the fold; the fold scans
// each dense histogram that has samples (tens of microseconds each) and
// allocates only the interval's packed histograms, which stay small.
//
// Concurrency: Shard methods are safe for concurrent use. Collector.Flush
// must be called from one goroutine at a time.
package shard
