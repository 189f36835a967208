package netpoll

import (
	"math"
	"sync"
	"time"
)

// Wheel is a hashed timer wheel: many coarse timers (one or two per
// connection) for the price of one goroutine and one Go timer. Scheduling
// and stopping a Timer are O(1); each tick visits one slot. A timer fires at
// or after its due time, late by up to one tick plus scheduling delay, so
// choose a tick well below the shortest interval that matters (a tenth of
// the ping interval, say). See the package documentation for the contract.
type Wheel struct {
	tick  time.Duration
	start time.Time

	mu    sync.Mutex
	slots []*Timer // circular lists, one per slot; nil when empty
	mask  uint64
	now   uint64 // the last tick processed
	count int    // scheduled timers
	stop  bool
	// until is the tick the loop sleeps until (math.MaxUint64 while the
	// wheel is empty): a timer due earlier wakes it.
	until  uint64
	wakeup uint64 // wake-ups of the loop, for tests

	wake chan struct{} // capacity 1: a timer was added to an empty wheel
	quit chan struct{}
	done chan struct{}
}

// Timer is one timer of a Wheel. Create it with Wheel.NewTimer; it is idle
// until Schedule.
type Timer struct {
	w          *Wheel
	f          func()
	prev, next *Timer
	when       uint64 // the tick it fires at
	scheduled  bool
}

// DefaultWheelSlots is the number of slots of a Wheel: a timer due within
// this many ticks is visited once, a later one once per turn of the wheel.
const DefaultWheelSlots = 4096

// NewWheel returns a running wheel with the given tick (at least a
// millisecond). Stop it with Stop.
func NewWheel(tick time.Duration) *Wheel {
	tick = max(tick, time.Millisecond)
	w := &Wheel{
		tick:  tick,
		start: time.Now(),
		slots: make([]*Timer, DefaultWheelSlots),
		mask:  DefaultWheelSlots - 1,
		until: math.MaxUint64,
		wake:  make(chan struct{}, 1),
		quit:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	go w.loop()
	return w
}

// Tick returns the wheel's resolution.
func (w *Wheel) Tick() time.Duration { return w.tick }

// Len returns the number of scheduled timers.
func (w *Wheel) Len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.count
}

// Stop stops the wheel's goroutine and waits for a running timer function
// to return. Timers still scheduled never fire; Schedule after Stop does
// nothing. Stop is idempotent and must not be called from a timer
// function.
func (w *Wheel) Stop() {
	w.mu.Lock()
	if !w.stop {
		w.stop = true
		close(w.quit)
	}
	w.mu.Unlock()
	<-w.done
}

// NewTimer returns an idle timer that runs f on the wheel's goroutine when
// it fires.
func (w *Wheel) NewTimer(f func()) *Timer { return &Timer{w: w, f: f} }

// Schedule (re)schedules t to fire d from now, replacing any earlier
// schedule. It may be called from t's own function.
func (t *Timer) Schedule(d time.Duration) {
	w := t.w
	due := time.Since(w.start) + max(d, 0)
	// The first tick at or after due: never early.
	when := uint64((due + w.tick - 1) / w.tick)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stop {
		return
	}
	if t.scheduled {
		w.unlink(t)
	}
	when = max(when, w.now+1)
	t.when = when
	t.scheduled = true
	w.link(t)
	w.count++
	if when < w.until {
		w.until = when
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
}

// Stop cancels t. It returns true if that prevented t from firing, false
// if t was not scheduled (already fired, running, or stopped).
func (t *Timer) Stop() bool {
	w := t.w
	w.mu.Lock()
	defer w.mu.Unlock()
	if !t.scheduled {
		return false
	}
	w.unlink(t)
	t.scheduled = false
	w.count--
	return true
}

// link adds t to its slot's list. Called with mu held.
func (w *Wheel) link(t *Timer) {
	s := &w.slots[t.when&w.mask]
	if *s == nil {
		t.prev, t.next = t, t
		*s = t
		return
	}
	head := *s
	t.prev, t.next = head.prev, head
	head.prev.next = t
	head.prev = t
}

// unlink removes t from its slot's list. Called with mu held.
func (w *Wheel) unlink(t *Timer) {
	s := &w.slots[t.when&w.mask]
	if t.next == t {
		*s = nil
	} else {
		t.prev.next = t.next
		t.next.prev = t.prev
		if *s == t {
			*s = t.next
		}
	}
	t.prev, t.next = nil, nil
}

// loop is the wheel's goroutine. It sleeps until the next tick that has
// a timer due, not tick by tick: ten thousand idle connections with a
// heartbeat every 30 s have one due every 3 ms, and a wake-up every
// millisecond would cost more than the heartbeats.
func (w *Wheel) loop() {
	defer close(w.done)
	sleep := time.NewTimer(time.Hour)
	defer sleep.Stop()
	var due []*Timer
	for {
		w.mu.Lock()
		w.until = math.MaxUint64
		if w.count > 0 {
			w.until = w.nextDue()
		}
		next := time.Duration(w.until) * w.tick
		idle := w.count == 0
		w.mu.Unlock()
		if idle {
			select {
			case <-w.wake:
				continue
			case <-w.quit:
				return
			}
		}
		sleep.Reset(next - time.Since(w.start))
		select {
		case <-sleep.C:
		case <-w.wake:
			continue // a timer due before next
		case <-w.quit:
			return
		}
		due = w.advance(uint64(time.Since(w.start)/w.tick), due[:0])
		for i, t := range due {
			due[i] = nil
			t.f()
		}
	}
}

// nextDue returns the first tick after now at which a timer is due, or
// the end of the wheel's turn when none is due within it (the loop then
// looks again). It visits the slots in order and stops at the first
// timer due in its slot's tick, so it costs about as many steps as there
// are timers in the slots it passes. Called with mu held.
func (w *Wheel) nextDue() uint64 {
	end := w.now + uint64(len(w.slots))
	for k := w.now + 1; k < end; k++ {
		head := w.slots[k&w.mask]
		if head == nil {
			continue
		}
		for t := head; ; {
			if t.when <= k {
				return k
			}
			if t = t.next; t == head {
				break
			}
		}
	}
	return end
}

// advance processes every tick up to and including now and appends the
// timers that fired, unscheduled, to due.
func (w *Wheel) advance(now uint64, due []*Timer) []*Timer {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.wakeup++
	if now <= w.now || w.stop {
		return due
	}
	first, last := w.now+1, now
	if last-first >= uint64(len(w.slots)) {
		// Late by a whole turn or more: every slot once.
		first, last = 0, uint64(len(w.slots)-1)
	}
	for k := first; k <= last; k++ {
		s := &w.slots[k&w.mask]
		t := *s
		for n := w.slotLen(t); n > 0; n-- {
			next := t.next
			if t.when <= now {
				w.unlink(t)
				t.scheduled = false
				w.count--
				due = append(due, t)
			}
			t = next
		}
	}
	w.now = now
	return due
}

// slotLen returns the length of the list starting at head.
func (w *Wheel) slotLen(head *Timer) int {
	if head == nil {
		return 0
	}
	n := 1
	for t := head.next; t != head; t = t.next {
		n++
	}
	return n
}
