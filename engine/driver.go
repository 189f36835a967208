package engine

import (
	"context"
	"errors"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsbench/wsbench/internal/shard"
	"github.com/wsbench/wsbench/internal/wsclient"
)

// The flow interpreter.
//
// A session is a small state machine (phase) whose flow runs on an
// explicit stack of frames (the flow's steps, then one frame per loop
// being run), so that it can stop at a wait and go on later on another
// goroutine. A step kind that can wait without blocking (sleep, think,
// listen, close; see stepImpl.parks) parks the session: it schedules the
// session's wheel timer, sets parked, and its goroutine returns. Three
// things wake a parked session: its timer, the end of the connection it
// watches (the reader's exit), and its stop (the run's end, a ramp-down,
// the grace's end); a wake hands the session to the runner's resume pool,
// which calls the step again. The pool is bounded and must not be held: a
// session it resumes that is about to run a step that may block (a send,
// an echo, a connect) moves to a goroutine of its own first. So an idle
// or listening session holds no goroutine, and the stop of a run with
// many parked sessions goes through a few goroutines, not one per session.
//
// Exactly one goroutine drives a session at a time: a driver parks with a
// store, and a wake resumes the session only if it takes the parked flag
// back (CompareAndSwap), so a session is resumed once per park. A driver
// checks what it waits for after setting parked, and takes the flag back
// itself if the wait is already over, so no wake is lost between its
// check and its park.

// phase is where a session is in its life.
type phase uint8

const (
	phStart      phase = iota // count it started, or fail at once for lack of data rows
	phBackoff                 // a closed-model slot waits after a failed session before starting this one
	phFlow                    // the flow's steps
	phRetryClose              // on_error reconnect: close before backing off
	phRetryWait               // on_error reconnect: back off
	phClose                   // the final close handshake
	phDone                    // count the outcome; the slot starts its next session
)

// frame is one level of the flow's stack: the flow's steps, or a loop's.
type frame struct {
	steps []*step
	pc    int   // the step to run next
	iter  int   // loop iterations done
	loop  *step // the loop this frame runs; nil for the flow's own steps
	end   int64 // when the frame's steps must stop (the innermost duration loop's end); math.MaxInt64 for never
}

// begin starts the flow from its first step.
func (s *session) begin() {
	s.stack = append(s.stack[:0], frame{steps: s.flow.steps, end: math.MaxInt64})
	s.sp = stepState{}
}

// drive runs s until it parks or ends (and then the sessions its slot
// starts after it). pooled says drive runs on the resume pool, which it
// must not hold: a step that may block is handed to a goroutine of its own.
func drive(s *session, pooled bool) {
	if s.tm != nil {
		// Whatever woke the session, its timer is not needed any more.
		s.tm.Stop()
	}
	for s != nil {
		s.pooled = pooled
		switch s.phase {
		case phBackoff:
			if !s.stopping() && s.park(max(s.until, 1), true, nil) {
				return
			}
			if s.stopping() {
				// The slot stopped during its backoff: no session.
				s.counted = true
				s.phase = phDone
				continue
			}
			s.phase = phStart
		case phStart:
			if s.dataErr != nil {
				s.err = s.failData()
				s.counted = true
				s.phase = phDone
				continue
			}
			s.shard.Do(func(set *shard.Rec) { set.Counters.SessionsStarted++ })
			s.begin()
			s.phase = phFlow
		case phFlow:
			switch st, err := s.exec(pooled); st {
			case stepParked:
				return
			case stepHandoff:
				go drive(s, false)
				return
			default:
				s.err = err
			}
			if s.err == nil || s.stopping() || s.flow.f.OnError != "reconnect" || s.attempt >= s.flow.f.Backoff.MaxAttempts {
				s.phase = phClose
			} else {
				s.phase = phRetryClose
			}
		case phRetryClose:
			if s.closeConnPark(1000, "") {
				return
			}
			s.until = s.r.clock.Now() + int64(s.backoff(s.attempt))
			s.phase = phRetryWait
		case phRetryWait:
			if !s.stopping() && s.park(max(s.until, 1), true, nil) {
				return
			}
			if s.stopping() {
				s.phase = phClose
				continue
			}
			s.attempt++
			s.iter++
			s.begin()
			s.phase = phFlow
		case phClose:
			if s.closeConnPark(1000, "") {
				return
			}
			s.phase = phDone
		case phDone:
			s = s.finish()
		}
	}
}

// finish counts the session's outcome, takes it off the registry and
// returns the session its slot runs next (nil: none, or an open-model
// session).
func (s *session) finish() *session {
	err := s.err
	if !s.counted {
		// A session the run's end (or a ramp-down) cut short is neither
		// completed nor failed: started − completed − failed counts them.
		// A session whose connection failed is failed even when the end
		// came before the slot could start another: its error is counted.
		failed := err != nil && !errors.Is(err, errStopped) && classify(err) != wsclient.CauseCanceled
		stopped := !failed && s.stopping()
		s.shard.Do(func(set *shard.Rec) {
			switch {
			case failed:
				set.Counters.SessionsFailed++
			case !stopped:
				set.Counters.SessionsCompleted++
			}
		})
		if !failed {
			err = nil
		}
	}
	s.r.live.remove(s)
	s.cur.Store(nil)
	s.ctxMu.Lock()
	if s.cancel != nil {
		s.cancel() // its context is done with: out of the run's
	}
	s.ctxMu.Unlock()
	if s.slot == nil {
		s.r.sessions.Add(-1)
		s.r.wg.Done()
		return nil
	}
	return s.slot.next(s, err)
}

// exec runs the flow's steps from where the session stands until the flow
// ends (stepNext, with its error), the session parks (stepParked) or, on
// the pool, a step that may block is next (stepHandoff).
func (s *session) exec(pooled bool) (stepStatus, error) {
	// A pool goroutine runs a bounded number of steps, so that a loop of
	// steps that never wait (sleep: 0s) cannot hold it.
	budget := 64
	for {
		n := len(s.stack)
		if n == 0 {
			return stepNext, nil
		}
		f := &s.stack[n-1]
		if !s.sp.begun {
			// Between steps (a parked step goes on below whatever
			// happened: it handles its own end).
			if s.stopping() {
				// The session is stopping: every level ends, without error.
				s.stack = s.stack[:0]
				return stepNext, nil
			}
			if f.end != math.MaxInt64 && s.r.clock.Now() >= f.end {
				// A duration loop's time is up: the loop is over.
				s.stack = s.stack[:n-1]
				continue
			}
			if f.pc == len(f.steps) {
				if f.loop == nil {
					s.stack = s.stack[:0]
					return stepNext, nil
				}
				f.iter++
				f.pc = 0
				if c := f.loop.s.Loop.Count; c > 0 && f.iter >= c {
					s.stack = s.stack[:n-1]
				}
				continue
			}
			if pooled {
				budget--
				if !f.steps[f.pc].impl.parks || budget == 0 {
					return stepHandoff, nil
				}
			}
		}
		st := f.steps[f.pc]
		s.end = f.end
		status, err := s.runStep(st)
		switch status {
		case stepParked:
			return stepParked, nil
		case stepEnter:
			s.sp = stepState{}
			continue
		}
		s.sp = stepState{}
		if err != nil {
			if (s.stopping() || (f.end != math.MaxInt64 && s.r.clock.Now() >= f.end)) &&
				(errors.Is(err, errStopped) || errors.Is(err, context.Canceled)) {
				// The step was cut short by the session's end or its
				// loop's: nothing failed, and the checks above end
				// whatever has to end.
				continue
			}
			cause := classify(err)
			if cause != wsclient.CauseCanceled {
				s.countError(cause, st.label, err)
			}
			s.stack = s.stack[:0]
			return stepNext, &stepError{st: st, err: err}
		}
		f.pc++
	}
}

// runStep runs st (again, when it parked): a step that needs the
// connection first checks it has one that has not ended.
func (s *session) runStep(st *step) (stepStatus, error) {
	if !s.sp.begun {
		s.sp.begun = true
		if st.needsConn {
			if s.c == nil {
				return stepNext, errors.New("no open connection (connect first)")
			}
			if ended(s.c) {
				return stepNext, s.c.err
			}
		}
	}
	return st.impl.run(s, st)
}

// ended reports whether c's reader has exited (c.err is then set).
func ended(c *conn) bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// park suspends the session until run time until (0: no time limit), the
// session's stop (stop), or the end of connection watch (nil: none). It
// returns true when the session is parked: the caller's goroutine must
// return at once and let the wake resume the session. It returns false
// when the wait is over already: the caller goes on, and checks which of
// the things it waited for happened.
func (s *session) park(until int64, stop bool, watch *conn) bool {
	over := func() bool {
		return (until > 0 && s.r.clock.Now() >= until) || (stop && s.stopping()) || (watch != nil && ended(watch))
	}
	if over() {
		return false
	}
	if until > 0 {
		if s.tm == nil {
			s.tm = s.r.wheel.NewTimer(s.wake)
		}
		s.tm.Schedule(time.Duration(until - s.r.clock.Now()))
	}
	s.parked.Store(true)
	// A wake between the check above and the store found the session not
	// parked and did nothing: look again, and take the flag back if the
	// wait is over.
	if over() && s.parked.CompareAndSwap(true, false) {
		if s.tm != nil {
			s.tm.Stop()
		}
		return false
	}
	return true
}

// wake resumes the session on the resume pool if it is parked. Anything
// a parked session waits for may call it, from any goroutine, any number
// of times; the session looks at what happened and parks again if its
// wait is not over.
func (s *session) wake() {
	if s.parked.CompareAndSwap(true, false) {
		s.r.resumeq.push(s)
	}
}

// stopping reports whether the session must stop: the run's load is
// over, or its slot was stopped (a ramp-down), or stop was called.
func (s *session) stopping() bool {
	return s.stopped.Load() || s.parent.Err() != nil || (s.slot != nil && s.slot.stopped.Load())
}

// context returns the session's context, for the steps that wait by
// blocking: it ends when the session must stop. It is made on first use,
// so that a session that never blocks on a wait (an idle one) costs no
// context.
func (s *session) context() context.Context {
	s.ctxMu.Lock()
	defer s.ctxMu.Unlock()
	if s.ctx == nil {
		s.ctx, s.cancel = context.WithCancel(s.parent)
		if s.stopping() {
			s.cancel()
		}
	}
	return s.ctx
}

// stop makes the session stop: a write in progress is cut short, a step
// waiting on the session's context returns, and a parked session wakes
// to end.
func (s *session) stop() {
	s.stopped.Store(true)
	s.ctxMu.Lock()
	if s.cancel != nil {
		s.cancel()
	}
	s.ctxMu.Unlock()
	if c := s.cur.Load(); c != nil {
		c.ws.InterruptWrite()
	}
	s.wake()
}

// resumeQueue is the bounded pool of goroutines that resume woken
// sessions.
type resumeQueue struct {
	mu   sync.Mutex
	cond sync.Cond
	q    []*session
	head int
	quit bool
	wg   sync.WaitGroup
}

func newResumeQueue(workers int) *resumeQueue {
	rq := &resumeQueue{}
	rq.cond.L = &rq.mu
	for range workers {
		rq.wg.Go(rq.work)
	}
	return rq
}

func (rq *resumeQueue) push(s *session) {
	rq.mu.Lock()
	rq.q = append(rq.q, s)
	rq.mu.Unlock()
	rq.cond.Signal()
}

func (rq *resumeQueue) work() {
	for {
		rq.mu.Lock()
		for rq.head == len(rq.q) && !rq.quit {
			rq.cond.Wait()
		}
		if rq.head == len(rq.q) {
			rq.mu.Unlock()
			return
		}
		s := rq.q[rq.head]
		rq.q[rq.head] = nil
		rq.head++
		if rq.head == len(rq.q) {
			rq.q, rq.head = rq.q[:0], 0
		} else if rq.head > 1024 && rq.head*2 > len(rq.q) {
			n := copy(rq.q, rq.q[rq.head:])
			clear(rq.q[n:])
			rq.q, rq.head = rq.q[:n], 0
		}
		rq.mu.Unlock()
		drive(s, true)
	}
}

// close stops the workers once the queue is empty.
func (rq *resumeQueue) close() {
	rq.mu.Lock()
	rq.quit = true
	rq.mu.Unlock()
	rq.cond.Broadcast()
	rq.wg.Wait()
}

// registry is the set of live sessions, for the run's stop and its hard
// end, which reach every session (parked or not) without a goroutine or
// a context registration per session.
type registry struct {
	shards [64]registryShard
}

type registryShard struct {
	mu   sync.Mutex
	head *session
	_    [48]byte // one shard per cache line
}

func (g *registry) shard(s *session) *registryShard { return &g.shards[uint64(s.id)%64] }

func (g *registry) add(s *session) {
	sh := g.shard(s)
	sh.mu.Lock()
	s.regPrev, s.regNext = nil, sh.head
	if sh.head != nil {
		sh.head.regPrev = s
	}
	sh.head = s
	sh.mu.Unlock()
}

func (g *registry) remove(s *session) {
	sh := g.shard(s)
	sh.mu.Lock()
	if s.regPrev != nil {
		s.regPrev.regNext = s.regNext
	} else if sh.head == s {
		sh.head = s.regNext
	}
	if s.regNext != nil {
		s.regNext.regPrev = s.regPrev
	}
	s.regPrev, s.regNext = nil, nil
	sh.mu.Unlock()
}

// each calls f for every live session. f runs under a shard's lock: it
// must be short and must not add or remove sessions.
func (g *registry) each(f func(s *session)) {
	for i := range g.shards {
		sh := &g.shards[i]
		sh.mu.Lock()
		for s := sh.head; s != nil; s = s.regNext {
			f(s)
		}
		sh.mu.Unlock()
	}
}

// stopAll stops every live session: the run's load is over.
func (r *runner) stopAll() { r.live.each((*session).stop) }

// abortAll gives up on every connection still open: the grace after the
// run's end is over.
func (r *runner) abortAll() {
	r.live.each(func(s *session) {
		if c := s.cur.Load(); c != nil {
			c.abort(errStopped, 0, "")
		}
		s.wake()
	})
}

// slot is one closed-model client: it runs sessions back to back until it
// is stopped, backing off after failed ones.
type slot struct {
	r        *runner
	client   int64
	parent   context.Context // the run's load
	stopped  atomic.Bool
	failures int
	cur      atomic.Pointer[session]
}

// startSlot starts a slot (counted in r.wg until it ends).
func (r *runner) startSlot(ctx context.Context, client int64) *slot {
	sl := &slot{r: r, client: client, parent: ctx}
	r.wg.Add(1)
	s := sl.session(phStart)
	go drive(s, false)
	return sl
}

// session makes the slot's next session, starting in phase ph.
func (sl *slot) session(ph phase) *session {
	s := sl.r.newSession(sl.client, sl.r.pick())
	s.slot, s.parent, s.phase = sl, sl.parent, ph
	sl.r.live.add(s)
	sl.cur.Store(s)
	return s
}

// stop stops the slot: its session stops, and it starts no other. (A
// session the slot starts meanwhile sees stopped: see session.stopping.)
func (sl *slot) stop() {
	sl.stopped.Store(true)
	if s := sl.cur.Load(); s != nil {
		s.stop()
	}
}

// next is called when the slot's session prev ended with err (nil unless
// it failed): it returns the next session, which backs off first after a
// failure (a target that is down is not hammered), or nil when the slot
// is stopped.
func (sl *slot) next(prev *session, err error) *session {
	if sl.stopped.Load() || sl.parent.Err() != nil {
		sl.cur.Store(nil)
		sl.r.wg.Done()
		return nil
	}
	if err == nil {
		sl.failures = 0
		return sl.session(phStart)
	}
	s := sl.session(phBackoff)
	s.until = sl.r.clock.Now() + int64(prev.backoff(sl.failures))
	sl.failures++
	return s
}
