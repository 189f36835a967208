package main

// Exit codes are part of wsbench's interface: CI systems branch on them, so
// they never change meaning. README.md ("Exit codes") documents them.
const (
	exitOK          = 0 // the run completed and every threshold passed
	exitFailed      = 1 // the run failed after starting (target died, I/O error writing a report)
	exitCannotStart = 2 // bad flags, bad scenario, target unreachable: nothing was measured
	exitThresholds  = 3 // a threshold (or a compare gate) failed
	exitUnreliable  = 4 // the load generator was the bottleneck; the numbers cannot be trusted
	exitInterrupted = 5 // stopped by a signal before the planned end; a partial report was written
)
