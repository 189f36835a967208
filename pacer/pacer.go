// Package pacer wakes goroutines at scheduled instants more precisely than
// Go's timers do when the process is idle.
//
// Go's timers are as precise as the scheduler's wait for work: when every
// goroutine is parked, the runtime sleeps in epoll_wait, whose timeout is
// whole milliseconds, so a timer can fire up to a millisecond late. For an
// open-loop load generator that lateness is not harmless: latency is
// measured from each message's intended send time (to avoid coordinated
// omission), so a lightly loaded run against a 100 µs server reported round
// trips of 600 µs, most of it the generator's own wake-up delay.
//
// On Linux a Pacer keeps one timerfd armed for the earliest pending
// deadline. The timerfd is read through the Go netpoller, so its expiry
// interrupts that epoll_wait at hrtimer precision (microseconds) and costs
// no extra thread. Elsewhere a Pacer falls back to Go timers.
//
// Precision has a price: every distinct deadline is a wake-up of its own,
// where Go's coarse timers batch many into one. That price is worth paying
// while the process has time to spare, and is not when it is busy, which
// is also when Go's timers are precise anyway (a busy scheduler checks
// them often). So a Pacer watches how many waits it is asked for and,
// above CoarseAbove per second, hands them to Go timers until the rate
// falls below three quarters of that.
//
// A Pacer serves many goroutines; each uses its own Waiter, which does not
// allocate per wait.
package pacer

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// CoarseAbove is the wait rate (per second) above which waits use Go
// timers. Measured on 2 cores, an open-loop echo run at 10,000 sends/s
// cost the precise path about 25 points more generator CPU than Go
// timers; at 20,000/s, 33 points, while Go timers were then within about
// 100 µs on their own.
const CoarseAbove = 10000

// window is how often the wait rate is judged.
const window = 250 * time.Millisecond

// Pacer dispatches wake-ups. The zero value is not usable; call New.
type Pacer struct {
	epoch time.Time
	clock clock // nil: Go timers only

	mu     sync.Mutex
	queue  deadlines
	armed  int64 // the deadline the clock is set for; noDeadline when disarmed
	closed bool
	done   chan struct{}

	coarse   atomic.Bool  // waits go to Go timers: the rate is high
	requests atomic.Int64 // waits asked for in this window
	precise  atomic.Int64 // waits served by the precise clock, in all
	timers   atomic.Int64 // waits served by Go timers, in all
}

// clock is the platform's precise alarm: one pending expiry at a time.
type clock interface {
	// arm sets the alarm to go off in d (> 0); disarm with d == 0.
	arm(d time.Duration) error
	// wait blocks until the alarm goes off or the clock is closed (false).
	wait() bool
	close() error
}

const noDeadline = int64(1<<63 - 1)

// New starts a Pacer. When the platform has no precise clock (or it cannot
// be opened), the Pacer still works, with Go timers, and Precise says so.
func New() *Pacer { return newPacer(window) }

// newPacer judges the wait rate every judgeEvery (tests pass an hour to
// drive judge themselves); the rate limit is still per window.
func newPacer(judgeEvery time.Duration) *Pacer {
	p := &Pacer{epoch: time.Now(), armed: noDeadline, done: make(chan struct{})}
	if c, err := openClock(); err == nil {
		p.clock = c
		go p.dispatch()
		go p.judgeRate(judgeEvery)
	} else {
		close(p.done)
	}
	return p
}

// judgeRate switches between precise and coarse waits by the rate of
// waits asked for, with hysteresis so that it does not flap.
func (p *Pacer) judgeRate(every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-p.done:
			return
		case <-t.C:
		}
		p.judge(p.requests.Swap(0))
	}
}

// judge sets the mode from n, the waits asked for in the last window.
func (p *Pacer) judge(n int64) {
	const perWindow = CoarseAbove * int64(window) / int64(time.Second)
	switch {
	case n > perWindow:
		p.coarse.Store(true)
	case n < perWindow*3/4:
		p.coarse.Store(false)
	}
}

// Stats counts the waits served by the precise clock and by Go timers.
func (p *Pacer) Stats() (precise, timers int64) { return p.precise.Load(), p.timers.Load() }

// Precise reports whether wake-ups use the precise clock.
func (p *Pacer) Precise() bool { return p.clock != nil }

// Close stops the dispatcher. Waits still pending return when their own
// context or stop channel ends them; new waits fall back to Go timers.
func (p *Pacer) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.mu.Unlock()
	if p.clock == nil {
		return nil
	}
	err := p.clock.close()
	<-p.done
	return err
}

// NewWaiter returns a Waiter for one goroutine.
func (p *Pacer) NewWaiter() *Waiter {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &Waiter{p: p, ch: make(chan struct{}, 1), timer: t}
}

// Waiter sleeps one goroutine at a time; it is not safe for concurrent use.
type Waiter struct {
	p     *Pacer
	ch    chan struct{}
	gen   uint64 // guarded by p.mu: which pending wait a wake-up is for
	timer *time.Timer
}

// Wait sleeps until at (a time.Time with a monotonic reading) and reports
// true, or returns false as soon as ctx is done or stop is closed. It never
// returns true before at.
func (w *Waiter) Wait(ctx context.Context, at time.Time, stop <-chan struct{}) bool {
	d := time.Until(at)
	if d <= 0 {
		return ctx.Err() == nil
	}
	p := w.p
	p.requests.Add(1)
	if p.clock == nil || p.coarse.Load() {
		p.timers.Add(1)
		return w.waitTimer(ctx, d, stop)
	}
	key := int64(at.Sub(p.epoch))
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		p.timers.Add(1)
		return w.waitTimer(ctx, d, stop)
	}
	p.precise.Add(1)
	w.gen++
	p.queue.push(deadline{at: key, w: w, gen: w.gen})
	if key < p.armed {
		p.arm(key)
	}
	p.mu.Unlock()
	select {
	case <-w.ch:
		return true
	case <-ctx.Done():
	case <-stop:
	}
	w.cancel()
	return false
}

// cancel makes the pending wake-up void and takes back one that was
// already delivered, so the next Wait cannot return early.
func (w *Waiter) cancel() {
	w.p.mu.Lock()
	w.gen++
	select {
	case <-w.ch:
	default:
	}
	w.p.mu.Unlock()
}

func (w *Waiter) waitTimer(ctx context.Context, d time.Duration, stop <-chan struct{}) bool {
	w.timer.Reset(d)
	select {
	case <-w.timer.C:
		return true
	case <-ctx.Done():
	case <-stop:
	}
	w.timer.Stop()
	return false
}

// arm sets the clock for the deadline key; p.mu is held. An arming error
// (the kernel refusing a relative timer cannot happen for d > 0) leaves
// the previous setting, and the dispatcher re-arms on its next expiry.
func (p *Pacer) arm(key int64) {
	if p.closed {
		return // the clock's descriptor may be closed, even reused
	}
	d := time.Duration(key) - time.Since(p.epoch)
	if d <= 0 {
		d = 1 // zero would disarm
	}
	if p.clock.arm(d) == nil {
		p.armed = key
	}
}

// dispatch wakes the waiters whose deadlines have passed each time the
// clock goes off, then re-arms it for the earliest one left.
func (p *Pacer) dispatch() {
	defer close(p.done)
	for p.clock.wait() {
		p.mu.Lock()
		now := int64(time.Since(p.epoch))
		for p.queue.len() > 0 && p.queue.min().at <= now {
			p.wake(p.queue.pop())
		}
		p.armed = noDeadline
		if p.queue.len() > 0 {
			p.arm(p.queue.min().at)
		}
		p.mu.Unlock()
	}
	// Closed: hand what is still queued to Go timers, so that a Wait in
	// progress neither sleeps forever nor wakes early.
	p.mu.Lock()
	for p.queue.len() > 0 {
		dl := p.queue.pop()
		time.AfterFunc(time.Duration(dl.at)-time.Since(p.epoch), func() { p.deliver(dl) })
	}
	p.mu.Unlock()
}

// deliver wakes dl's waiter unless that wait was cancelled.
func (p *Pacer) deliver(dl deadline) {
	p.mu.Lock()
	p.wake(dl)
	p.mu.Unlock()
}

// wake wakes dl's waiter if dl is its current wait; p.mu is held.
func (p *Pacer) wake(dl deadline) {
	if dl.gen == dl.w.gen {
		select {
		case dl.w.ch <- struct{}{}:
		default:
		}
	}
}

type deadline struct {
	at  int64 // nanoseconds since the Pacer's epoch
	w   *Waiter
	gen uint64
}

// deadlines is a binary min-heap by at. It is written out rather than
// built on container/heap, whose interface boxes every element pushed.
type deadlines []deadline

func (h deadlines) len() int       { return len(h) }
func (h deadlines) min() *deadline { return &h[0] }

func (h *deadlines) push(d deadline) {
	*h = append(*h, d)
	q := *h
	for i := len(q) - 1; i > 0; {
		parent := (i - 1) / 2
		if q[parent].at <= q[i].at {
			break
		}
		q[parent], q[i] = q[i], q[parent]
		i = parent
	}
}

func (h *deadlines) pop() deadline {
	q := *h
	top := q[0]
	last := len(q) - 1
	q[0] = q[last]
	q[last] = deadline{} // drop the Waiter pointer
	q = q[:last]
	for i := 0; ; {
		small := i
		if l := 2*i + 1; l < len(q) && q[l].at < q[small].at {
			small = l
		}
		if r := 2*i + 2; r < len(q) && q[r].at < q[small].at {
			small = r
		}
		if small == i {
			break
		}
		q[i], q[small] = q[small], q[i]
		i = small
	}
	*h = q
	return top
}
