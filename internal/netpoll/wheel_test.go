package netpoll

import (
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// firings records when timers fired, in the fake time of a synctest
// bubble.
type firings struct {
	start time.Time
	mu    sync.Mutex
	at    map[int][]time.Duration
}

func newFirings() *firings { return &firings{start: time.Now(), at: map[int][]time.Duration{}} }

func (f *firings) fn(id int) func() {
	return func() {
		f.mu.Lock()
		f.at[id] = append(f.at[id], time.Since(f.start))
		f.mu.Unlock()
	}
}

func (f *firings) get(id int) []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Duration(nil), f.at[id]...)
}

func TestWheelFiresOnTimeNeverEarly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const tick = 10 * time.Millisecond
		w := NewWheel(tick)
		defer w.Stop()
		f := newFirings()
		delays := []time.Duration{
			0,
			time.Millisecond,
			tick,
			tick + time.Nanosecond,
			95 * time.Millisecond,
			time.Second,
			// Beyond one turn of the wheel: stays in its slot for turns.
			DefaultWheelSlots*tick + 3*tick,
			3*DefaultWheelSlots*tick + 7*time.Millisecond,
		}
		for i, d := range delays {
			w.NewTimer(f.fn(i)).Schedule(d)
		}
		time.Sleep(4 * DefaultWheelSlots * tick)
		synctest.Wait()
		for i, d := range delays {
			got := f.get(i)
			if len(got) != 1 {
				t.Errorf(
					"timer %d (%v): fired %d times, want once",
					i, d, len(got))
				continue
			}
			if got[0] < d || got[0] > d+tick {
				t.Errorf(
					"timer %d: due after %v, fired after %v; want within one tick (%v) after",
					i, d, got[0], tick)
			}
		}
		if n := w.Len(); n != 0 {
			t.Errorf(
				"%d timers left scheduled",
				n)
		}
	})
}

func TestWheelStopAndReschedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const tick = 5 * time.Millisecond
		w := NewWheel(tick)
		defer w.Stop()
		f := newFirings()

		stopped := w.NewTimer(f.fn(0))
		stopped.Schedule(50 * time.Millisecond)
		moved := w.NewTimer(f.fn(1))
		moved.Schedule(20 * time.Millisecond)
		moved.Schedule(80 * time.Millisecond) // replaces the first schedule
		fired := w.NewTimer(f.fn(2))
		fired.Schedule(10 * time.Millisecond)

		time.Sleep(30 * time.Millisecond)
		synctest.Wait()
		if !stopped.Stop() {
			t.Errorf("Stop of a pending timer = false")
		}
		if fired.Stop() {
			t.Errorf("Stop of a fired timer = true")
		}
		time.Sleep(100 * time.Millisecond)
		synctest.Wait()
		if got := f.get(0); len(got) != 0 {
			t.Errorf(
				"stopped timer fired at %v",
				got)
		}
		if got := f.get(1); len(got) != 1 || got[0] < 80*time.Millisecond {
			t.Errorf(
				"rescheduled timer fired at %v, want once at or after 80ms",
				got)
		}
		if got := f.get(2); len(got) != 1 {
			t.Errorf(
				"timer fired %d times, want once",
				len(got))
		}
	})
}

// TestWheelPeriodic re-schedules a timer from its own function, the way a
// heartbeat does, and checks the periods do not drift by more than a tick.
func TestWheelPeriodic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const (
			tick   = 10 * time.Millisecond
			period = 100 * time.Millisecond
			n      = 20
		)
		w := NewWheel(tick)
		defer w.Stop()
		start := time.Now()
		var at []time.Duration
		var tm *Timer
		tm = w.NewTimer(func() {
			at = append(at, time.Since(start))
			if len(at) < n {
				// Absolute schedule: period i is due at (i+1)*period.
				tm.Schedule(time.Duration(len(at)+1)*period - time.Since(start))
			}
		})
		tm.Schedule(period)
		time.Sleep((n + 2) * period)
		synctest.Wait()
		if len(at) != n {
			t.Fatalf(
				"fired %d times, want %d",
				len(at), n)
		}
		for i, d := range at {
			due := time.Duration(i+1) * period
			if d < due || d > due+tick {
				t.Errorf(
					"firing %d at %v, due %v",
					i, d, due)
			}
		}
	})
}

// TestWheelCatchUp stalls the wheel's goroutine for several turns (a timer
// function that sleeps): every timer that came due meanwhile fires once
// afterwards.
func TestWheelCatchUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const tick = time.Millisecond
		w := NewWheel(tick)
		defer w.Stop()
		f := newFirings()
		w.NewTimer(func() { time.Sleep(3 * DefaultWheelSlots * tick) }).Schedule(tick)
		const timers = 100
		for i := range timers {
			w.NewTimer(f.fn(i)).Schedule(time.Duration(i+2) * 37 * tick)
		}
		time.Sleep(5 * DefaultWheelSlots * tick)
		synctest.Wait()
		for i := range timers {
			if got := f.get(i); len(got) != 1 {
				t.Errorf(
					"timer %d fired %d times, want once",
					i, len(got))
			}
		}
	})
}

func TestWheelStopped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := NewWheel(time.Millisecond)
		f := newFirings()
		tm := w.NewTimer(f.fn(0))
		tm.Schedule(10 * time.Millisecond)
		w.Stop()
		w.Stop()
		tm.Schedule(time.Millisecond)
		time.Sleep(50 * time.Millisecond)
		synctest.Wait()
		if got := f.get(0); len(got) != 0 {
			t.Errorf(
				"timer of a stopped wheel fired at %v",
				got)
		}
	})
}

func TestBufferClasses(t *testing.T) {
	tests := []struct {
		n, cap int
	}{
		{0, MinBuffer},
		{1, MinBuffer},
		{MinBuffer, MinBuffer},
		{MinBuffer + 1, 2 * MinBuffer},
		{4096, 4096},
		{4097, 8192},
		{MaxPooled, MaxPooled},
		{MaxPooled + 1, MaxPooled + 1}, // not pooled: exact
	}
	for _, tt := range tests {
		b := GetBuffer(tt.n)
		if len(*b) != tt.n || cap(*b) != tt.cap {
			t.Errorf(
				"GetBuffer(%d): len %d cap %d, want len %d cap %d",
				tt.n, len(*b), cap(*b), tt.n, tt.cap)
		}
		PutBuffer(b)
	}
	// A pooled buffer comes back with the requested length.
	b := GetBuffer(3000)
	PutBuffer(b)
	if b2 := GetBuffer(2100); len(*b2) != 2100 || cap(*b2) != 4096 {
		t.Errorf(
			"reused buffer: len %d cap %d",
			len(*b2), cap(*b2))
	}
}

// The wheel sleeps until the next due timer, not tick by tick, and a
// timer scheduled before that wakes it in time.
func TestWheelSleepsUntilDue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const tick = time.Millisecond
		w := NewWheel(tick)
		defer w.Stop()
		f := newFirings()
		w.NewTimer(f.fn(0)).Schedule(time.Second)
		// Beyond three turns of the wheel: looked at once per turn.
		w.NewTimer(f.fn(1)).Schedule(3*DefaultWheelSlots*tick + 500*tick)
		time.Sleep(10 * tick)
		w.NewTimer(f.fn(2)).Schedule(20 * tick) // earlier than the loop's sleep
		time.Sleep(4 * DefaultWheelSlots * tick)
		synctest.Wait()
		for id, want := range map[int]time.Duration{0: time.Second, 1: 3*DefaultWheelSlots*tick + 500*tick, 2: 30 * tick} {
			got := f.get(id)
			if len(got) != 1 || got[0] < want || got[0] > want+tick {
				t.Errorf("timer %d fired at %v, want once, at %v (within a tick)", id, got, want)
			}
		}
		w.mu.Lock()
		wakeups := w.wakeup
		w.mu.Unlock()
		// Three firings and one look per turn; ticking would be thousands.
		if wakeups > 10 {
			t.Errorf("%d wake-ups for 3 timers over %v", wakeups, 4*DefaultWheelSlots*tick)
		}
	})
}
