package engine

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/wsbench/wsbench/report"
	"github.com/wsbench/wsbench/targets/refserver"
)

// Three shares of one run, run side by side as three worker processes
// would, generate exactly the run's schedule between them: every closed
// slot once (and the ramp-down stops the right ones), every open arrival
// once.
func TestSharesAddUpToTheRun(t *testing.T) {
	srv := refserver.New(refserver.Config{})
	addr, err := srv.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	sc := mustScenario(t, `
name: shares
target: ws://`+addr+`
interval: 200ms
phases:
  - {name: up, duration: 600ms, clients: 7}
  - {name: down, duration: 600ms, clients: 4}
  - {name: open, duration: 1s, arrival_rate: 30}
flows:
  - name: hold
    steps:
      - connect: {path: /echo}
      - listen: {}
`)
	const n = 3
	origin := time.Now().Add(200 * time.Millisecond)
	reps := make([]*report.Report, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			reps[i], err = Run(context.Background(), sc, Options{Share: Share{Index: i, Count: n}, Worker: i + 1, Origin: origin, StartAt: origin})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	var intended int64
	for i, r := range reps {
		t.Logf("share %d: peak %d, sessions intended %d started %d", i, r.Rates.PeakConnections, r.Counters.SessionsIntended, r.Counters.SessionsStarted)
		intended += r.Counters.SessionsIntended
		if !r.StartedAt.Equal(origin.UTC()) {
			t.Errorf("share %d started at %v, not at the common start %v", i, r.StartedAt, origin)
		}
	}
	// The open phase ramps from 0 to 30/s over a second: 15 arrivals,
	// each in one share (5 each, every third of the run's schedule).
	if intended != 15 {
		t.Fatalf("the shares' arrivals add up to %d, want 15", intended)
	}
	for i, r := range reps {
		if r.Counters.SessionsIntended != 5 {
			t.Errorf("share %d had %d arrivals, want 5", i, r.Counters.SessionsIntended)
		}
	}
	merged, err := report.Merge(reps...)
	if err != nil {
		t.Fatal(err)
	}
	// Slots 1..7 go to shares 0,1,2,0,1,2,0, each starting one session
	// that holds until its slot stops: 7 closed sessions and the 15 open
	// ones. Each share's phase targets are its part (3+2+2 of 7, 2+1+1 of
	// the 4 left after the ramp down, a third of the arrival rate).
	if got := merged.Counters.SessionsStarted; got != 7+15 {
		t.Errorf("%d sessions started in all, want 22", got)
	}
	for i, want := range []float64{7, 4, 30} {
		if got := merged.Phases[i].Target; got != want {
			t.Errorf("merged phase %s target %v, want %v", merged.Phases[i].Name, got, want)
		}
	}

}
