package main

import (
	"errors"

	"github.com/wsbench/wsbench/engine"
	"github.com/wsbench/wsbench/report"
)

// Exit codes are part of wsbench's interface: CI systems branch on them, so
// they never change meaning. README.md ("Exit codes") documents them.
const (
	exitOK          = 0 // the run completed and every threshold passed
	exitFailed      = 1 // the run failed after starting (target died, I/O error writing a report)
	exitCannotStart = 2 // bad flags, bad scenario, target unreachable: nothing was measured
	exitThresholds  = 3 // a threshold (or a regression gate) failed
	exitUnreliable  = 4 // the load generator was the bottleneck; the numbers cannot be trusted
	exitInterrupted = 5 // stopped by a signal before the planned end; a partial report was written
)

// outcome is what happened, as every command sees it; code is the one
// place that turns it into an exit code.
type outcome struct {
	cannotStart bool // nothing was measured (or judged)
	failed      bool // the run failed after it started, or an output could not be written
	interrupted bool
	unreliable  bool // the generator was the bottleneck
	gateFailed  bool // a threshold, SLO or regression gate failed
}

// code maps the outcome to an exit code, in the documented precedence
// 2, 1, 5, 4, 3. An unreliable generator outranks a failed gate: a
// threshold that failed because the generator was starved says nothing
// about the target.
func (o outcome) code() int {
	switch {
	case o.cannotStart:
		return exitCannotStart
	case o.failed:
		return exitFailed
	case o.interrupted:
		return exitInterrupted
	case o.unreliable:
		return exitUnreliable
	case o.gateFailed:
		return exitThresholds
	}
	return exitOK
}

// runOutcome reads the outcome of a run (or a merge of runs) from its
// report and the error the engine returned.
func runOutcome(rep *report.Report, runErr error) outcome {
	var se *engine.StartError
	return outcome{
		cannotStart: errors.As(runErr, &se),
		failed:      runErr != nil || rep.EndReason == report.EndFailed,
		interrupted: rep.EndReason == report.EndInterrupted,
		unreliable:  rep.Generator.Unreliable,
		gateFailed:  rep.Passed != nil && !*rep.Passed,
	}
}
