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
// where Go's timers batch many into one. So the clock's wake-ups are
// rationed like a token bucket: up to Burst in a row at full precision, on
// average no more than one per MinGap. Past that, deadlines closer together
// than MinGap share a wake-up, each about MinGap late at most and none
// early, and the clock's own cost stays bounded however many sends are
// scheduled. An earlier version handed waits to Go timers above 10,000 per
// second, on the theory that a busy scheduler runs its timers on time. It
// does, but in bursts: the sends due in one scheduler round leave together
// and queue behind each other, which the schedule lag does not show and the
// round trips do (see MinGap).
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

// MinGap is the least average time between two wake-ups of the clock,
// and Burst how many may come closer together than that. Measured with
// 1,000 connections echoing open-loop against the reference server (each
// process pinned to its own core, the generator with GOMAXPROCS=1), two
// runs each: at 10,000, 20,000 and 40,000 sends/s the round-trip p50 was
// 0.19-0.20, 0.27-0.32 and 0.31-0.34 ms, against 0.52-0.55, 0.62-0.64 and
// 0.81-0.86 ms when Go's timers took over above 10,000 waits/s (p99 1.1-1.5
// against 1.4-1.5 ms, 2.0-2.9 against 3.2-3.3, 3.6-4.0 against 7.0-7.4), for
// 8 to 20 more points of generator CPU. Without the ration, 20,000 sends/s
// cost about 10 points more CPU for no better latency.
const (
	MinGap = 100 * time.Microsecond
	Burst  = 10
)

// Pacer dispatches wake-ups. The zero value is not usable; call New.
type Pacer struct {
	epoch time.Time
	clock clock        // nil: Go timers only
	now   func() int64 // nanoseconds since epoch; a fake in tests

	mu    sync.Mutex
	queue deadlines
	armed int64 // the deadline the clock is set for; noDeadline when disarmed
	// The wake-up ration: tokens (in units of MinGap, at most Burst) as
	// of refilled, when the clock last went off.
	tokens   float64
	refilled int64
	closed   bool
	done     chan struct{}

	precise atomic.Int64 // waits served by the precise clock, in all
	timers  atomic.Int64 // waits served by Go timers, in all
	alarms  atomic.Int64 // times the clock went off, in all
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
func New() *Pacer {
	c, err := openClock()
	if err != nil {
		c = nil
	}
	p := newPacer(c, nil)
	if p.clock != nil {
		go p.dispatch()
	} else {
		close(p.done)
	}
	return p
}

// newPacer builds a Pacer on clock c (nil: Go timers only) reading the
// time from now (nil: the monotonic clock). It starts no dispatcher, so a
// test can drive fire itself.
func newPacer(c clock, now func() int64) *Pacer {
	p := &Pacer{epoch: time.Now(), clock: c, now: now, armed: noDeadline, tokens: Burst, done: make(chan struct{})}
	if p.now == nil {
		p.now = func() int64 { return int64(time.Since(p.epoch)) }
	}
	return p
}

// Stats counts the waits served by the precise clock and by Go timers
// (without a precise clock, or after Close), and how many times the clock
// went off: fewer than the precise waits when deadlines shared wake-ups.
func (p *Pacer) Stats() (precise, timers, alarms int64) {
	return p.precise.Load(), p.timers.Load(), p.alarms.Load()
}

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
	if p.clock == nil {
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
	p.enqueue(w, key)
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

// enqueue queues w's wake-up for the deadline key and arms the clock if
// that deadline (or the ration) calls for an earlier alarm; p.mu is held.
func (p *Pacer) enqueue(w *Waiter, key int64) {
	w.gen++
	p.queue.push(deadline{at: key, w: w, gen: w.gen})
	if alarm := p.alarmFor(key); alarm < p.armed {
		p.arm(alarm)
	}
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
	d := time.Duration(key - p.now())
	if d <= 0 {
		d = 1 // zero would disarm
	}
	if p.clock.arm(d) == nil {
		p.armed = key
	}
}

// alarmFor is when the clock should go off for a deadline at key: then,
// or when the ration next allows a wake-up if that is later; p.mu is held.
func (p *Pacer) alarmFor(key int64) int64 {
	if p.tokens >= 1 {
		return key
	}
	return max(key, p.refilled+int64((1-p.tokens)*float64(MinGap)))
}

// spend takes one wake-up from the ration at now; p.mu is held.
func (p *Pacer) spend(now int64) {
	p.tokens = min(Burst, p.tokens+float64(now-p.refilled)/float64(MinGap)) - 1
	p.refilled = now
}

// dispatch wakes the waiters whose deadlines have passed each time the
// clock goes off, then re-arms it for the earliest one left.
func (p *Pacer) dispatch() {
	defer close(p.done)
	for p.clock.wait() {
		p.mu.Lock()
		p.fire(p.now())
		p.mu.Unlock()
	}
	// Closed: hand what is still queued to Go timers, so that a Wait in
	// progress neither sleeps forever nor wakes early.
	p.mu.Lock()
	for p.queue.len() > 0 {
		dl := p.queue.pop()
		time.AfterFunc(time.Duration(dl.at-p.now()), func() { p.deliver(dl) })
	}
	p.mu.Unlock()
}

// fire is one expiry of the clock at now: it spends a wake-up from the
// ration, wakes every waiter whose deadline has passed and re-arms the
// clock for the earliest one left; p.mu is held. It is the whole of the
// rationing policy, so tests drive it with a fake clock instead of
// depending on how fast a busy machine schedules goroutines.
func (p *Pacer) fire(now int64) {
	p.alarms.Add(1)
	p.spend(now)
	for p.queue.len() > 0 && p.queue.min().at <= now {
		p.wake(p.queue.pop())
	}
	p.armed = noDeadline
	if p.queue.len() > 0 {
		p.arm(p.alarmFor(p.queue.min().at))
	}
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
