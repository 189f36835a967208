package gate

import (
	"fmt"
	"math"
	"time"

	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/report"
)

// Live checks thresholds while a run goes on and decides when to stop it,
// with k6's abortOnFail semantics: a threshold with AbortOnFail that fails
// at or after its Delay stops the run at once, recoverable or not. With
// StopWhenCertain, a threshold that has failed for good (see
// Threshold.Check) stops the run too, even without AbortOnFail: there is
// no point measuring the rest in CI. A threshold with no samples yet never
// stops a run.
//
// Live is an interval sink of the engine (engine.Sink): it sees every
// interval and the running totals, and keeps only as many recent intervals
// as its longest window needs, so a long run costs it no memory. Its work
// per interval is a few histogram merges, not a rebuilt report. A Live is
// not safe for concurrent use: the engine calls Interval from one
// goroutine, then the caller calls Final.
type Live struct {
	Thresholds      []Threshold
	StopWhenCertain bool

	recent  metrics.Timeline // the last intervals, enough for the longest window
	stopped int              // 1 + index of the threshold that stopped the run
	at      time.Duration
	failure report.ThresholdResult
}

// NewLive returns a live evaluator of ts.
func NewLive(ts []Threshold) *Live {
	return &Live{Thresholds: ts}
}

// AbortError is what Live.Interval returns when a threshold stops the run.
type AbortError struct{ Reason string }

func (e *AbortError) Error() string { return e.Reason }

// Interval evaluates every threshold after the interval iv, with total the
// run's running totals, and returns an *AbortError when the run must stop.
func (l *Live) Interval(iv *metrics.Interval, total *metrics.Set) error {
	if stop, why := l.check(iv, total); stop {
		return &AbortError{Reason: why}
	}
	return nil
}

// Close does nothing: the caller judges the finished report with Final.
func (l *Live) Close(*report.Report) {}

func (l *Live) check(iv *metrics.Interval, total *metrics.Set) (stop bool, reason string) {
	if l.stopped > 0 {
		return true, l.reason()
	}
	l.remember(iv)
	elapsed := iv.End
	for i, t := range l.Thresholds {
		res, certain := Check(t, total, &l.recent, elapsed)
		if res.Passed || math.IsNaN(res.Actual) {
			continue
		}
		if t.AbortOnFail || (l.StopWhenCertain && certain) {
			l.stopped, l.at, l.failure = i+1, elapsed, res
			return true, l.reason()
		}
	}
	return false, ""
}

// remember keeps iv and drops intervals no window can reach any more.
func (l *Live) remember(iv *metrics.Interval) {
	if l.recent.Step == 0 {
		l.recent.Step = iv.Duration()
	}
	keep := 1
	for _, t := range l.Thresholds {
		if t.Window > 0 && l.recent.Step > 0 {
			keep = max(keep, windowSize(t, &l.recent))
		}
	}
	l.recent.Append(iv)
	if n := l.recent.Len(); n > 2*keep {
		l.recent.Intervals = append(l.recent.Intervals[:0], l.recent.Intervals[n-keep:]...)
	}
}

func (l *Live) reason() string {
	return fmt.Sprintf("threshold %q failed after %s: %s", l.failure.Expr, l.at.Round(time.Second), l.failure.Describe())
}

// Stopped returns the threshold that stopped the run, if one did.
func (l *Live) Stopped() (Threshold, bool) {
	if l.stopped == 0 {
		return Threshold{}, false
	}
	return l.Thresholds[l.stopped-1], true
}

// Final evaluates every threshold against the finished run, as Evaluate
// does, and marks the one that stopped the run: Aborted, and failed even
// if the whole run's value passes, with its live failure in Detail.
func (l *Live) Final(r *report.Report) []report.ThresholdResult {
	res := Evaluate(l.Thresholds, r)
	if l.stopped > 0 {
		x := &res[l.stopped-1]
		x.Aborted, x.Passed = true, false
		why := fmt.Sprintf("stopped the run after %s (%s)", l.at.Round(time.Second), l.failure.Describe())
		if x.Detail != "" {
			why = x.Detail + "; " + why
		}
		x.Detail = why
	}
	return res
}
