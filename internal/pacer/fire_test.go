package pacer

import (
	"math/rand/v2"
	"testing"
	"time"
)

// fakeClock records what the Pacer arms it for; the test decides when it
// goes off by calling fire, so the rationing policy is checked by
// construction rather than by how fast a busy machine runs goroutines.
type fakeClock struct {
	now   *int64
	armed int64 // absolute expiry, noDeadline when disarmed
}

func (c *fakeClock) arm(d time.Duration) error {
	if d == 0 {
		c.armed = noDeadline
		return nil
	}
	c.armed = *c.now + int64(d)
	return nil
}
func (c *fakeClock) wait() bool   { panic("fake clock: the test calls fire") }
func (c *fakeClock) close() error { return nil }

type sim struct {
	t     *testing.T
	now   int64
	clock *fakeClock
	p     *Pacer
}

func newSim(t *testing.T) *sim {
	s := &sim{t: t}
	s.clock = &fakeClock{now: &s.now, armed: noDeadline}
	s.p = newPacer(s.clock, func() int64 { return s.now })
	return s
}

// wait queues a wait of w for the deadline at, as Wait does.
func (s *sim) wait(w *Waiter, at int64) {
	s.p.mu.Lock()
	s.p.enqueue(w, at)
	s.p.mu.Unlock()
}

// expire advances the fake time to the armed alarm plus late and fires.
// It reports false when nothing is armed.
func (s *sim) expire(late int64) bool {
	if s.clock.armed == noDeadline {
		return false
	}
	if s.clock.armed+late > s.now {
		s.now = s.clock.armed + late
	}
	s.clock.armed = noDeadline // a timerfd is one-shot
	s.p.mu.Lock()
	s.p.fire(s.now)
	s.p.mu.Unlock()
	return true
}

func woken(w *Waiter) bool {
	select {
	case <-w.ch:
		return true
	default:
		return false
	}
}

// Deadlines closer together than MinGap share wake-ups: however densely
// the sends are scheduled, the clock goes off at most Burst times plus
// once per MinGap, nobody wakes early and nobody is forgotten. Without
// the ration every distinct deadline would be an alarm of its own (500
// here), which this test would catch.
func TestWakeupsAtMostOnePerGap(t *testing.T) {
	for _, tc := range []struct {
		name    string
		spacing time.Duration
		late    int64 // how late the clock goes off after its armed time
	}{
		{"2µs apart, on time", 2 * time.Microsecond, 0},
		{"2µs apart, clock 30µs late", 2 * time.Microsecond, 30_000},
		{"20µs apart, on time", 20 * time.Microsecond, 0},
		{"500µs apart, on time", 500 * time.Microsecond, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSim(t)
			const waiters = 500
			start := int64(20 * time.Millisecond)
			ws := make([]*Waiter, waiters)
			at := make([]int64, waiters)
			wokeAt := make([]int64, waiters)
			for i := range ws {
				ws[i] = s.p.NewWaiter()
				at[i] = start + int64(i)*int64(tc.spacing)
				s.wait(ws[i], at[i])
			}
			for s.expire(tc.late) {
				for i, w := range ws {
					if woken(w) {
						if wokeAt[i] != 0 {
							t.Fatalf("waiter %d woken twice", i)
						}
						wokeAt[i] = s.now
					}
				}
			}
			var last int64
			for i := range ws {
				switch {
				case wokeAt[i] == 0:
					t.Fatalf("waiter %d (deadline %v) never woken", i, time.Duration(at[i]))
				case wokeAt[i] < at[i]:
					t.Fatalf("waiter %d woken %v early", i, time.Duration(at[i]-wokeAt[i]))
				case wokeAt[i]-at[i] > int64(MinGap)+tc.late:
					t.Errorf("waiter %d woken %v late, more than the ration's gap", i, time.Duration(wokeAt[i]-at[i]))
				}
				last = max(last, wokeAt[i])
			}
			_, _, alarms := s.p.Stats()
			limit := Burst + (last-start)/int64(MinGap) + 1
			// Sparse deadlines need no rationing: one alarm each.
			if tc.spacing >= MinGap {
				limit = waiters
			}
			t.Logf("%d deadlines %v apart, %d alarms over %v (limit %d)", waiters, tc.spacing, alarms, time.Duration(last-start), limit)
			if alarms > limit {
				t.Fatalf("the clock went off %d times in %v: more than %d and once per %v", alarms, time.Duration(last-start), Burst, MinGap)
			}
		})
	}
}

// A cancelled wait's wake-up must not end the next wait early: its
// deadline stays queued, and when it expires it must find the waiter
// waiting for something else.
func TestCancelledWaitLeavesNoWakeUp(t *testing.T) {
	s := newSim(t)
	w := s.p.NewWaiter()
	s.wait(w, int64(10*time.Millisecond))
	w.cancel()
	s.wait(w, int64(30*time.Millisecond))
	if !s.expire(0) {
		t.Fatal("nothing armed")
	}
	if s.now != int64(10*time.Millisecond) {
		t.Fatalf("first alarm at %v, want the cancelled deadline's 10ms", time.Duration(s.now))
	}
	if woken(w) {
		t.Fatal("the cancelled deadline woke the next wait 20ms early")
	}
	if !s.expire(0) || !woken(w) || s.now != int64(30*time.Millisecond) {
		t.Fatalf("second wait not woken at its deadline (now %v)", time.Duration(s.now))
	}
	// A wake-up delivered just before the cancel is taken back too.
	s.wait(w, s.now+1000)
	s.expire(0)
	w.cancel()
	if woken(w) {
		t.Fatal("a delivered wake-up survived cancel")
	}
}

// Deadlines pushed in any order, with the clock going off late by random
// amounts, wake in deadline order and never early.
func TestRandomDeadlinesNeverEarly(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	s := newSim(t)
	const n = 2000
	ws := make([]*Waiter, n)
	at := make([]int64, n)
	for i := range ws {
		ws[i] = s.p.NewWaiter()
		at[i] = rng.Int64N(int64(50 * time.Millisecond))
		s.wait(ws[i], at[i])
	}
	left := n
	for s.expire(rng.Int64N(200_000)) {
		for i, w := range ws {
			if woken(w) {
				if s.now < at[i] {
					t.Fatalf("woken %v early", time.Duration(at[i]-s.now))
				}
				left--
			}
		}
	}
	if left != 0 {
		t.Fatalf("%d waiters never woken", left)
	}
}
