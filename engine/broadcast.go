package engine

import (
	"math"
	"sort"
	"sync"
	"time"

	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/report"
)

// joinGrace is how long a member must have been connected before a publish
// to count as a member for it: the client sees the 101 a moment before some
// servers have added the connection to the room. Publishes inside the
// window are not expected but, if delivered, counted as "unexpected", never
// as loss.
const joinGrace = 50 * time.Millisecond

// leaveGrace is the least time a member must stay connected after a
// publish to be expected to receive it; the ledger raises it per message to
// the latest delivery anyone observed.
const leaveGrace = 20 * time.Millisecond

// ledger is the exact accounting of broadcast fan-out: which messages were
// published into which room, who was a member when, and which member got
// which message how many times. Rooms are keyed by the connection URL.
type ledger struct {
	mu    sync.Mutex
	rooms map[string]*room
	grace int64 // a member must stay at least this long after a publish to be expected to get it
}

type room struct {
	mu      sync.Mutex
	pattern string
	pubs    map[int64]*pubLog
	members []*member
}

type pubLog struct {
	sent []int64 // run-clock write time per seq; -1 for a seq never written
	last []int64 // latest delivery latency (ns) per seq, over all receivers
}

type member struct {
	room   *room
	joined int64
	left   int64 // math.MaxInt64 while connected
	recv   map[int64][]uint64
	high   map[int64]int64
	dups   int64
	reord  int64
}

func newLedger(grace time.Duration) *ledger {
	return &ledger{rooms: map[string]*room{}, grace: int64(grace)}
}

func (l *ledger) room(url, pattern string) *room {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.rooms[url]
	if r == nil {
		r = &room{pattern: pattern, pubs: map[int64]*pubLog{}}
		l.rooms[url] = r
	}
	return r
}

// join registers a connection as a room member from run time now.
func (r *room) join(now int64) *member {
	m := &member{room: r, joined: now, left: math.MaxInt64, recv: map[int64][]uint64{}, high: map[int64]int64{}}
	r.mu.Lock()
	r.members = append(r.members, m)
	r.mu.Unlock()
	return m
}

func (m *member) leave(now int64) {
	m.room.mu.Lock()
	if m.left == math.MaxInt64 {
		m.left = now
	}
	m.room.mu.Unlock()
}

// published records that conn wrote message seq at run time at.
func (r *room) published(conn, seq, at int64) {
	r.mu.Lock()
	p := r.pubs[conn]
	if p == nil {
		p = &pubLog{}
		r.pubs[conn] = p
	}
	for int64(len(p.sent)) <= seq {
		p.sent = append(p.sent, -1)
		p.last = append(p.last, 0)
	}
	p.sent[seq] = at
	r.mu.Unlock()
}

// unpublished takes back message seq of publisher conn, whose write
// failed: nobody can be expected to receive it.
func (r *room) unpublished(conn, seq int64) {
	r.mu.Lock()
	if p := r.pubs[conn]; p != nil && seq < int64(len(p.sent)) {
		p.sent[seq] = -1
	}
	r.mu.Unlock()
}

// deliver records that m received message seq of publisher conn, latency
// ns after its intended send time.
func (m *member) deliver(conn, seq, latency int64) {
	r := m.room
	r.mu.Lock()
	defer r.mu.Unlock()
	bits := m.recv[conn]
	w := int(seq / 64)
	for len(bits) <= w {
		bits = append(bits, 0)
	}
	bit := uint64(1) << (seq % 64)
	switch {
	case bits[w]&bit != 0:
		m.dups++
	default:
		bits[w] |= bit
		if h, ok := m.high[conn]; ok && seq < h {
			m.reord++
		}
	}
	if h, ok := m.high[conn]; !ok || seq > h {
		m.high[conn] = seq
	}
	m.recv[conn] = bits
	if p := r.pubs[conn]; p != nil && seq < int64(len(p.last)) && latency > p.last[seq] {
		p.last[seq] = latency
	}
}

// results computes reach, loss, duplicates and reordering per room
// pattern, and records the time until the last expected member got each
// fully delivered message into complete (microseconds).
func (l *ledger) results(end int64, complete *metrics.Set) []report.BroadcastResult {
	l.mu.Lock()
	defer l.mu.Unlock()
	byPattern := map[string]*report.BroadcastResult{}
	for _, r := range l.rooms {
		r.mu.Lock()
		if len(r.pubs) == 0 {
			r.mu.Unlock()
			continue
		}
		res := byPattern[r.pattern]
		if res == nil {
			res = &report.BroadcastResult{Room: r.pattern}
			byPattern[r.pattern] = res
		}
		res.Rooms++
		for conn, p := range r.pubs {
			for seq, at := range p.sent {
				if at < 0 {
					continue
				}
				res.Published++
				all := true
				for _, m := range r.members {
					left := m.left
					if left == math.MaxInt64 {
						left = end
					}
					got := false
					if bits := m.recv[conn]; seq/64 < len(bits) {
						got = bits[seq/64]&(1<<(uint(seq)%64)) != 0
					}
					// A member is expected to get a message if it joined
					// before the publish and stayed until the message had
					// reached everyone else who got it (at least l.grace).
					eligible := m.joined <= at-int64(joinGrace) && left >= at+max(l.grace, p.last[seq])
					switch {
					case eligible && got:
						res.Expected++
						res.Delivered++
					case eligible:
						res.Expected++
						all = false
					case got:
						res.Unexpected++
					}
				}
				if all && p.last[seq] > 0 {
					complete.Record(metrics.BroadcastComplete, p.last[seq]/1000)
				}
			}
		}
		for _, m := range r.members {
			res.Duplicates += m.dups
			res.Reordered += m.reord
		}
		r.mu.Unlock()
	}
	out := make([]report.BroadcastResult, 0, len(byPattern))
	for _, res := range byPattern {
		res.Lost = res.Expected - res.Delivered
		res.Reach, res.Loss = 1, 0
		if res.Expected > 0 {
			res.Reach = float64(res.Delivered) / float64(res.Expected)
			res.Loss = float64(res.Lost) / float64(res.Expected)
		}
		out = append(out, *res)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Room < out[j].Room })
	return out
}
