// Package coord splits one run over several worker processes on this
// machine and merges what they measure, so that a run can hold more
// connections than one process may open (20,000 descriptors here) and
// use more than one source address.
//
// The coordinator starts each worker as a child process (the wsbench
// binary's hidden `worker` command), hands it an Assignment on its
// standard input (the scenario, its share of the run's schedule, a common
// start instant) and reads its standard output: a stream of frames, each
// interval in the metrics wire form as it closes, then the worker's final
// report. Intervals are merged by index as every live worker delivers
// them, exactly, and fed to the coordinator's sinks (progress line, live
// thresholds), so the run is watched and gated as one. At the end the
// workers' reports, which carry their broadcast ledgers, are merged into
// one report (report.Merge) that also lists each worker's share.
//
// A worker that dies is reported with its exit status and its share
// counted as failed, and the run goes on without it. A stop (Ctrl-C, a
// threshold with abort_on_fail) reaches every worker through its standard
// input, and no worker outlives the coordinator: each dies with it (the
// Linux parent-death signal), and a worker whose standard input closes
// stops at once.
//
// Remote workers (Coordinate, Join) speak the same protocol over one
// full-duplex HTTP/2 stream each, with TLS and a shared token
// (remote.go, join.go): frames up the request body, control lines down
// the response. Before the start, each measures its clock against the
// coordinator's NTP-style over that stream and runs on the coordinator's
// clock, so one-way latencies between machines carry a stated bound
// (clock.go). The coordinator's loop, live merge and final report are
// the same for local and remote workers (drive). A remote worker whose
// coordinator vanishes stops at once and keeps its partial report, which
// records its shard, in a local file.
//
// Concurrency: Run and Coordinate are called once per run; their sinks
// are called from one goroutine, as engine.Run calls its own. Join runs
// one remote worker; several may run in one process (tests do).
package coord
