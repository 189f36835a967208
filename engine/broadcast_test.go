package engine

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/wsbench/wsbench/report"
	"github.com/wsbench/wsbench/scenario"
	"github.com/wsbench/wsbench/targets/refserver"
)

// Publishers in one engine.Run and subscribers in another, as two worker
// processes of one run would be: each report carries its ledger, and the
// merge computes reach across them. On a healthy server every expected
// delivery arrives; on one that drops every 7th fan-out, the merged loss
// is exactly the server's drop count. Summing each part's own reach could
// not see any of this: the subscribers' part has no publisher.
func TestBroadcastAcrossRuns(t *testing.T) {
	for _, tc := range []struct {
		name string
		drop int
	}{{"healthy", 0}, {"lossy", 7}} {
		t.Run(tc.name, func(t *testing.T) {
			srv := refserver.New(refserver.Config{DropEvery: tc.drop})
			addr, err := srv.Start("127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_ = srv.Shutdown(ctx)
			})
			publishers := mustScenario(t, `
name: split
target: ws://`+addr+`
phases:
  - {duration: 0s, clients: 2}
  - {duration: 2500ms, clients: 2}
flows:
  - name: writer
    steps:
      - connect: {path: "/broadcast?room=split"}
      - sleep: 600ms
      - publish: {rate: 10, size: 64, duration: 1500ms}
      - listen: {}
`)
			subscribers := mustScenario(t, `
name: split
target: ws://`+addr+`
phases:
  - {duration: 0s, clients: 3}
  - {duration: 2500ms, clients: 3}
flows:
  - name: reader
    steps:
      - connect: {path: "/broadcast?room=split"}
      - listen: {}
`)
			before := httpStats(t, addr)
			origin := time.Now()
			var wg sync.WaitGroup
			reps := make([]*report.Report, 2)
			errs := make([]error, 2)
			for i, sc := range []*scenario.Scenario{publishers, subscribers} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					reps[i], errs[i] = Run(context.Background(), sc, Options{Target: "ws://" + addr, Worker: i + 1, Origin: origin, ExportLedger: true})
				}()
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatalf("run %d: %v", i, err)
				}
			}
			dropped := httpStats(t, addr)["dropped"] - before["dropped"]
			if b := reps[1].Broadcast; len(b) != 0 {
				t.Fatalf("the subscribers' own results %+v: they saw no publisher, so they can judge nothing", b)
			}
			merged, err := report.Merge(reps...)
			if err != nil {
				t.Fatal(err)
			}
			if len(merged.Broadcast) != 1 {
				t.Fatalf("merged broadcast %+v", merged.Broadcast)
			}
			b := merged.Broadcast[0]
			t.Logf("%+v, server dropped %d", b, dropped)
			// Every message the publishers wrote is in the merge, expected
			// at up to all 5 members (fewer for one that joined late on a
			// busy machine: not counted against the server).
			if sent := reps[0].Counters.SendsIntended - reps[0].Counters.SendsDropped; b.Published != sent || b.Expected <= b.Published || b.Expected > 5*b.Published {
				t.Fatalf("published %d (publishers sent %d), expected %d", b.Published, sent, b.Expected)
			}
			// Every drop is a loss when every member had joined before the
			// first publish; a member that joined later (a busy machine)
			// was not expected to get the earlier messages, so the
			// server's drops to it are no loss.
			if allJoinedInTime(merged.Ledger) {
				if b.Lost != dropped {
					t.Fatalf("lost %d, server dropped %d", b.Lost, dropped)
				}
			} else if b.Lost > dropped {
				t.Fatalf("lost %d, more than the server dropped (%d)", b.Lost, dropped)
			}
			if (tc.drop == 0 && b.Reach != 1) || (tc.drop > 0 && dropped == 0) {
				t.Fatalf("reach %v, server dropped %d", b.Reach, dropped)
			}
			if m := merged.Metrics["broadcast_complete"]; tc.drop == 0 && (m == nil || m.Count != b.Published) {
				t.Fatalf("broadcast_complete %+v, want one sample per fully delivered message", m)
			}
		})
	}
}

// allJoinedInTime reports whether every member of every room joined in
// time for every message: before the first publish, less the join grace.
func allJoinedInTime(l *report.Ledger) bool {
	if l == nil {
		return false
	}
	for _, r := range l.Rooms {
		first := int64(-1)
		for _, p := range r.Pubs {
			for _, at := range p.Sent {
				if at >= 0 && (first < 0 || at < first) {
					first = at
				}
			}
		}
		for _, m := range r.Members {
			if m.Joined > first-int64(report.JoinGrace) {
				return false
			}
		}
	}
	return true
}
