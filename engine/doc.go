// Package engine runs a scenario: it drives the load profile (closed and
// open models), runs each session's flow on a wsclient connection, and
// turns what the sessions record into a report.
//
// Measurement rules the code keeps:
//   - every timestamp is taken from one monotonic run clock (Clock), so
//     latencies never jump with wall-clock adjustments;
//   - open-loop sends and arrivals follow an absolute schedule and latency
//     is measured from the intended send time, so a slow target or a late
//     generator shows up as latency (or as counted drops beyond max_lag)
//     instead of silently stretching the schedule (coordinated omission);
//   - samples go into HdrHistograms in a bounded number of metric shards
//     (package metrics); nothing is averaged, nothing is sampled away;
//   - the run reports its own health (CPU, schedule lag, GC, descriptors)
//     and calls itself unreliable when it, not the target, was the limit.
//
// Sessions only talk to the rest of the engine through metrics shards, the
// broadcast ledger and the active-connection gauge, all of which merge
// exactly, and take their data-file rows from a shared, read-only set
// whose only mutable state is atomic counters; a later multi-process coordinator ships the same interval Sets
// over a pipe instead of reading them from a local Collector.
package engine
