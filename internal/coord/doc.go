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
// Concurrency: Run is called once per run; its sinks are called from one
// goroutine, as engine.Run calls its own.
package coord
