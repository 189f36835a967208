package netpoll

import (
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
	if w.count == 1 {
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

// loop is the wheel's goroutine.
func (w *Wheel) loop() {
	defer close(w.done)
	sleep := time.NewTimer(time.Hour)
	defer sleep.Stop()
	var due []*Timer
	for {
		w.mu.Lock()
		idle := w.count == 0
		next := time.Duration(w.now+1) * w.tick
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

// advance processes every tick up to and including now and appends the
// timers that fired, unscheduled, to due.
func (w *Wheel) advance(now uint64, due []*Timer) []*Timer {
	w.mu.Lock()
	defer w.mu.Unlock()
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
