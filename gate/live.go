package gate

import (
	"fmt"
	"math"
	"time"

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
// Its Check method has the signature of engine.Options.Live. A Live is not
// safe for concurrent use: the engine calls Check from one goroutine, then
// the caller calls Final.
type Live struct {
	Thresholds      []Threshold
	StopWhenCertain bool

	windows []*windowEval // per threshold, for windowed ones
	seen    []int         // per threshold: intervals whose windows were checked
	stopped int           // 1 + index of the threshold that stopped the run
	at      time.Duration
	failure report.ThresholdResult
}

// NewLive returns a live evaluator of ts.
func NewLive(ts []Threshold) *Live {
	return &Live{Thresholds: ts}
}

// Check evaluates every threshold against the partial report r, elapsed
// into the run, and reports whether to stop the run and why.
func (l *Live) Check(r *report.Report, elapsed time.Duration) (stop bool, reason string) {
	if l.stopped > 0 {
		return true, l.reason()
	}
	if len(l.windows) != len(l.Thresholds) {
		l.windows = make([]*windowEval, len(l.Thresholds))
		l.seen = make([]int, len(l.Thresholds))
	}
	for i, t := range l.Thresholds {
		if elapsed < t.Delay {
			continue
		}
		var res report.ThresholdResult
		var certain bool
		if t.Window > 0 {
			if r.Series == nil {
				continue
			}
			// The series is the run's own and only grows; one evaluator
			// per threshold slides along it.
			if l.windows[i] == nil || l.windows[i].s != r.Series {
				l.windows[i] = newWindowEval(t, r)
				l.seen[i] = 0
			}
			res, certain = t.checkWindowsFrom(r, l.seen[i], l.windows[i])
			l.seen[i] = r.Series.Len()
		} else {
			res, certain = t.Check(r, elapsed)
		}
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
