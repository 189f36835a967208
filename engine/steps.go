package engine

import (
	"context"
	"fmt"
	"math"

	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/scenario"
)

// stepStatus is what running a step did to the flow.
type stepStatus uint8

const (
	stepNext    stepStatus = iota // the step is over (with its error, if any): go on
	stepParked                    // the session parked; a wake runs the step again
	stepEnter                     // the step pushed a frame of steps to run (loop)
	stepHandoff                   // (exec only) the next step may block: it needs a goroutine of its own
)

// stepImpl is the engine's half of a step kind's entry in the step table;
// the scenario's half (validation, defaults, whether it needs a
// connection, its metric) is in package scenario. Each kind defines its
// entry in its own file, step_<kind>.go, with defineStep.
type stepImpl struct {
	// compile prepares a step of the kind (templates, expressions,
	// metric IDs) and notes what its flow needs; nil: nothing to do.
	compile func(cc *compiler, st *step) error
	// run executes the step on the session's current goroutine.
	//
	// A kind that parks (parks true) never blocks: to wait, it parks the
	// session (session.park) and returns stepParked, keeping where it is
	// in s.sp, and run is called again when the session is woken (its
	// time came, its connection ended, or the session must stop). Such
	// steps also run on the resume pool's goroutines, which nothing may
	// hold.
	//
	// Other kinds may block (blocking adapts a function of the step's
	// context), and run on a goroutine of the session's own.
	run   func(s *session, st *step) (stepStatus, error)
	parks bool
}

var stepImpls [256]*stepImpl

// defineStep enters kind's engine entry in the table; each kind's file
// calls it from init.
func defineStep(kind scenario.StepKind, impl *stepImpl) {
	if stepImpls[kind] != nil {
		panic(fmt.Sprintf("engine: step kind %v defined twice", kind))
	}
	stepImpls[kind] = impl
}

// implOf returns kind's engine entry, or nil.
func implOf(kind scenario.StepKind) *stepImpl { return stepImpls[kind] }

// blocking adapts a step function that waits by blocking, under a context
// that ends with the session or at the end of the enclosing duration loop.
func blocking(f func(ctx context.Context, s *session, st *step) error) func(*session, *step) (stepStatus, error) {
	return func(s *session, st *step) (stepStatus, error) {
		ctx := s.context()
		if s.end != math.MaxInt64 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithDeadline(ctx, s.r.clock.At(s.end))
			defer cancel()
		}
		return stepNext, f(ctx, s, st)
	}
}

// blocks adapts a step function that may block but never waits on the
// session's context (a connect, a send): it costs no context.
func blocks(f func(s *session, st *step) error) func(*session, *step) (stepStatus, error) {
	return func(s *session, st *step) (stepStatus, error) { return stepNext, f(s, st) }
}

// compiler is what a kind's compile function works with.
type compiler struct {
	f    *flow
	base string // the run's target, which connect paths are joined to
	reg  *metrics.Registry
}
