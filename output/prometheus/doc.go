// Package prometheus exports a run's measurements to Prometheus while the
// run goes on: a /metrics endpoint for Prometheus to scrape and a
// remote-write client that pushes every interval. Both are one Exporter,
// an engine.Sink, so they see exactly the intervals the report is built
// from, whether the run is one process or a coordinator merging workers.
//
// What is exported, and how it is named, is derived from the metrics
// package's own lists (metrics.CounterList, metrics.FamilyList, the
// registry's latency metrics), so a counter added there is exported
// without a change here. Latencies are classic Prometheus histograms in
// seconds with a fixed bucket layout (Bounds), filled from the HDR
// histograms' buckets (see Bounds for the rounding). The exposition format
// and the metric model are client_golang's; only the remote-write request
// (a small, frozen protobuf message) is encoded here.
//
// Concurrency: the engine calls Start, Interval and Close from one
// goroutine, one call at a time. Scrapes run on the HTTP server's
// goroutines and read the exported values under a mutex, so a scrape sees
// the values after a whole number of intervals, never half of one. Remote
// writes are sent by one goroutine per destination from a bounded queue, so
// neither a slow nor a dead server delays the run. Finish may be called
// once, after the run (every Close) has returned.
package prometheus
