package engine

import (
	"context"
	"math"
	"sort"
	"sync"
	"time"

	"github.com/wsbench/wsbench/internal/shard"
	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/scenario"
)

// slotEvent starts (delta +1) or stops (-1) one closed-model slot at run
// time at (ns since the start of the load).
type slotEvent struct {
	at    int64
	delta int
}

// closedEvents turns the closed phases into an absolute schedule of slot
// starts and stops. A ramp from a to b over D starts slot k (1-based) at
// D·(k−1)/(b−a) so that a ramp from zero begins at once; an open phase
// stops every closed slot at its start (the models do not mix).
func closedEvents(phases []scenario.Phase) []slotEvent {
	var ev []slotEvent
	level := 0
	var t int64
	for _, p := range phases {
		d := int64(p.Duration)
		target := 0
		if p.Clients != nil {
			target = *p.Clients
		}
		switch diff := target - level; {
		case diff > 0:
			for k := 0; k < diff; k++ {
				ev = append(ev, slotEvent{at: t + d*int64(k)/int64(diff), delta: +1})
			}
		case diff < 0:
			n := -diff
			for k := 1; k <= n; k++ {
				at := t + d*int64(k)/int64(n)
				if p.Clients == nil {
					at = t
				}
				ev = append(ev, slotEvent{at: at, delta: -1})
			}
		}
		level = target
		t += d
	}
	sort.SliceStable(ev, func(i, j int) bool { return ev[i].at < ev[j].at })
	return ev
}

// runClosed starts and stops slots on the closed schedule. Each slot runs
// sessions back to back until it is stopped; the most recently started
// slot stops first.
func (r *runner) runClosed(ctx context.Context, start int64) {
	events := closedEvents(r.sc.Phases)
	if len(events) == 0 {
		return
	}
	var slots []*slot // nil: a slot of another share
	var clientID int64
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for _, e := range events {
		// Every share walks the run's one schedule and acts on its own
		// slots: slot k is share k mod Count's, and a stop stops the most
		// recently started slot of the whole run, whoever's it is.
		if e.delta > 0 {
			clientID++
			if !r.share.mine(clientID - 1) {
				slots = append(slots, nil)
				continue
			}
		} else if n := len(slots); n == 0 || slots[n-1] == nil {
			slots = slots[:max(n-1, 0)]
			continue
		}
		if !waitRun(ctx, r.clock, start+e.at, timer) {
			return
		}
		if e.delta > 0 {
			slots = append(slots, r.startSlot(ctx, clientID))
		} else if n := len(slots); n > 0 {
			slots[n-1].stop()
			slots = slots[:n-1]
		}
	}
}

// arrivals returns, for an open phase ramping from rate r0 to r1 (per
// second) over d, the offset of arrival i from the phase start: the time
// at which the integral of the rate reaches i.
func arrivalAt(i int64, r0, r1 float64, d time.Duration) (time.Duration, bool) {
	secs := d.Seconds()
	x := float64(i)
	var t float64
	if slope := (r1 - r0) / secs; math.Abs(slope) < 1e-12 {
		if r0 <= 0 {
			return 0, false
		}
		t = x / r0
	} else {
		disc := r0*r0 + 2*slope*x
		if disc < 0 {
			return 0, false
		}
		t = (-r0 + math.Sqrt(disc)) / slope
	}
	if t < 0 || t >= secs || math.IsNaN(t) {
		return 0, false
	}
	return time.Duration(t * float64(time.Second)), true
}

// runOpen starts sessions at the open phases' arrival times. An arrival
// that finds max_sessions already running is dropped and counted; an
// arrival is never delayed to wait for capacity.
func (r *runner) runOpen(ctx context.Context, start int64) {
	var t int64
	prevRate := 0.0
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	sh := r.col.Shard(0)
	var client int64
	for _, p := range r.sc.Phases {
		d := int64(p.Duration)
		if p.ArrivalRate == nil {
			t += d
			prevRate = 0
			continue
		}
		r1 := *p.ArrivalRate
		for i := int64(0); d > 0; i++ {
			off, ok := arrivalAt(i, prevRate, r1, p.Duration.D())
			if !ok {
				break
			}
			due := start + t + int64(off)
			if r.share.mine(client) && !waitRun(ctx, r.clock, due, timer) {
				return
			}
			client++
			if !r.share.mine(client - 1) {
				continue // another share's arrival
			}
			lag := r.clock.Now() - due
			if r.sessions.Load() >= r.maxSessions || lag > int64(r.sc.Client.MaxLag) {
				sh.Do(func(s *shard.Rec) {
					s.Counters.SessionsIntended++
					s.Counters.SessionsDropped++
					s.Record(metrics.ScheduleLag, lag/1000)
				})
				continue
			}
			sh.Do(func(s *shard.Rec) {
				s.Counters.SessionsIntended++
				s.Record(metrics.ScheduleLag, lag/1000)
			})
			r.sessions.Add(1)
			r.wg.Add(1) // done when the session is (session.finish)
			s := r.newSession(client, r.pick())
			s.parent = ctx
			r.live.add(s)
			go drive(s, false)
		}
		prevRate = r1
		t += d
	}
}

func waitRun(ctx context.Context, c *Clock, at int64, timer *time.Timer) bool {
	d := time.Duration(at - c.Now())
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer.Reset(d)
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// Share is the part of a run's load one process generates, when several
// generate it together (worker processes, shards on other machines): of
// the run's one schedule of closed-model slots and open-model arrivals,
// the ones whose index modulo Count is Index. The union of the shares is
// exactly the whole run's schedule, ramps and all, and every share's
// arrivals stay evenly spread. Count 0 or 1 is the whole run.
type Share struct {
	Index, Count int
}

func (s Share) mine(k int64) bool {
	return s.Count <= 1 || k%int64(s.Count) == int64(s.Index)
}

// of returns how many of the first n slots are the share's.
func (s Share) of(n int) int {
	if s.Count <= 1 {
		return n
	}
	return (n - s.Index + s.Count - 1) / s.Count
}

// picker chooses flows by weight with smooth weighted round robin, so the
// mix is exact over any window, not just on average.
type picker struct {
	mu      sync.Mutex
	flows   []*flow
	weights []int
	current []int
	total   int
}

func newPicker(flows []*flow) *picker {
	p := &picker{flows: flows, current: make([]int, len(flows))}
	for _, f := range flows {
		p.weights = append(p.weights, f.f.Weight)
		p.total += f.f.Weight
	}
	return p
}

func (p *picker) next() *flow {
	p.mu.Lock()
	defer p.mu.Unlock()
	best := 0
	for i, w := range p.weights {
		p.current[i] += w
		if p.current[i] > p.current[best] {
			best = i
		}
	}
	p.current[best] -= p.total
	return p.flows[best]
}
