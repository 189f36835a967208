package pacer

import (
	"context"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestHeapOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var h deadlines
	var want []int64
	for range 1000 {
		at := rng.Int64N(1e6)
		h.push(deadline{at: at})
		want = append(want, at)
		if rng.IntN(3) == 0 { // interleave pops with pushes
			slices.Sort(want)
			if got := h.pop().at; got != want[0] {
				t.Fatalf("pop %d, want %d", got, want[0])
			}
			want = want[1:]
		}
	}
	slices.Sort(want)
	for _, w := range want {
		if got := h.pop().at; got != w {
			t.Fatalf("pop %d, want %d", got, w)
		}
	}
	if h.len() != 0 {
		t.Fatalf("%d left", h.len())
	}
}

// Every wait returns true, and never before its deadline, with many
// goroutines sharing one Pacer and deadlines landing in any order.
func TestWaitNeverEarly(t *testing.T) {
	p := New()
	defer p.Close()
	t.Logf("precise clock: %v", p.Precise())
	const goroutines, waits = 50, 40
	var wg sync.WaitGroup
	errs := make(chan string, goroutines)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := p.NewWaiter()
			rng := rand.New(rand.NewPCG(uint64(g), 7))
			for range waits {
				at := time.Now().Add(time.Duration(rng.IntN(2000)) * time.Microsecond)
				if !w.Wait(context.Background(), at, nil) {
					errs <- "Wait returned false without being stopped"
					return
				}
				if now := time.Now(); now.Before(at) {
					errs <- "woke " + at.Sub(now).String() + " early"
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func TestStop(t *testing.T) {
	p := New()
	defer p.Close()
	w := p.NewWaiter()
	stop := make(chan struct{})
	close(stop)
	if w.Wait(context.Background(), time.Now().Add(time.Hour), stop) {
		t.Fatal("Wait returned true though stop was closed")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if w.Wait(ctx, time.Now().Add(time.Hour), nil) {
		t.Fatal("Wait returned true though ctx was done")
	}
	if w.Wait(ctx, time.Now().Add(-time.Second), nil) {
		t.Fatal("a past deadline with ctx done should report false")
	}
	if !w.Wait(context.Background(), time.Now().Add(-time.Second), nil) {
		t.Fatal("a past deadline should report true at once")
	}
}

// Closing the Pacer under a pending wait neither strands it nor wakes it
// early; waits after Close use Go timers.
func TestCloseWithPendingWait(t *testing.T) {
	p := New()
	w := p.NewWaiter()
	at := time.Now().Add(30 * time.Millisecond)
	result := make(chan time.Time, 1)
	go func() {
		if w.Wait(context.Background(), at, nil) {
			result <- time.Now()
		}
		close(result)
	}()
	time.Sleep(5 * time.Millisecond)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case woke, ok := <-result:
		if !ok {
			t.Fatal("pending Wait returned false")
		}
		if woke.Before(at) {
			t.Fatalf("pending Wait woke %v early", at.Sub(woke))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("pending Wait stranded by Close")
	}
	w2 := p.NewWaiter()
	at = time.Now().Add(time.Millisecond)
	if !w2.Wait(context.Background(), at, nil) || time.Now().Before(at) {
		t.Fatal("Wait after Close misbehaved")
	}
}

func TestWaitDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	p := New()
	defer p.Close()
	w := p.NewWaiter()
	ctx := context.Background()
	// Warm the heap's backing array.
	w.Wait(ctx, time.Now().Add(50*time.Microsecond), nil)
	if n := testing.AllocsPerRun(50, func() { w.Wait(ctx, time.Now().Add(50*time.Microsecond), nil) }); n > 0 {
		t.Errorf("Wait allocates %.1f times", n)
	}
}
