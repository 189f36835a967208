package engine

import (
	"math"
	"sort"
	"sync"
	"time"

	"github.com/wsbench/wsbench/report"
)

// ledger is the live broadcast accounting of one process: which messages
// its publishers wrote into which room, who of its members was connected
// when, and which member got which message how many times. Rooms are
// keyed by the connection URL. At the end it becomes a report.Ledger,
// from which reach and loss are computed, here or, merged with the other
// processes' ledgers, by whoever merges a multi-process run.
type ledger struct {
	mu    sync.Mutex
	rooms map[string]*room
	// origin and interval place publishes on the run's series (its
	// run-clock start and interval), for the per-interval loss.
	origin, interval int64
}

type room struct {
	mu      sync.Mutex
	url     string
	pattern string
	pubs    map[report.PubID]*pubLog
	members []*member
}

type pubLog struct {
	sent []int64 // write time per seq, run clock; -1 for a seq never written (only for this process's publishers)
	last []int64 // latest delivery latency (ns) per seq, over this process's receivers
}

type member struct {
	room   *room
	joined int64
	left   int64                     // math.MaxInt64 while connected
	recv   map[report.PubID][]uint64 // nil until the first delivery (most listeners of a capacity test get none)
	high   map[report.PubID]int64
	dups   int64
	reord  int64
}

func newLedger() *ledger {
	return &ledger{rooms: map[string]*room{}}
}

func (l *ledger) room(url, pattern string) *room {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.rooms[url]
	if r == nil {
		r = &room{url: url, pattern: pattern, pubs: map[report.PubID]*pubLog{}}
		l.rooms[url] = r
	}
	return r
}

// join registers a connection as a room member from run time now.
func (r *room) join(now int64) *member {
	m := &member{room: r, joined: now, left: math.MaxInt64}
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

// log returns the log of publisher id; r.mu is held.
func (r *room) log(id report.PubID) *pubLog {
	p := r.pubs[id]
	if p == nil {
		p = &pubLog{}
		r.pubs[id] = p
	}
	return p
}

// published records that publisher id wrote message seq at run time at.
func (r *room) published(id report.PubID, seq, at int64) {
	r.mu.Lock()
	p := r.log(id)
	for int64(len(p.sent)) <= seq {
		p.sent = append(p.sent, -1)
	}
	p.sent[seq] = at
	r.mu.Unlock()
}

// unpublished takes back message seq of publisher id, whose write
// failed: nobody can be expected to receive it.
func (r *room) unpublished(id report.PubID, seq int64) {
	r.mu.Lock()
	if p := r.pubs[id]; p != nil && seq < int64(len(p.sent)) {
		p.sent[seq] = -1
	}
	r.mu.Unlock()
}

// deliver records that m received message seq of publisher id, latency ns
// after its intended send time.
func (m *member) deliver(id report.PubID, seq, latency int64) {
	r := m.room
	r.mu.Lock()
	defer r.mu.Unlock()
	if m.recv == nil {
		m.recv, m.high = map[report.PubID][]uint64{}, map[report.PubID]int64{}
	}
	bits := m.recv[id]
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
		if h, ok := m.high[id]; ok && seq < h {
			m.reord++
		}
	}
	if h, ok := m.high[id]; !ok || seq > h {
		m.high[id] = seq
	}
	m.recv[id] = bits
	p := r.log(id)
	for int64(len(p.last)) <= seq {
		p.last = append(p.last, 0)
	}
	if latency > p.last[seq] {
		p.last[seq] = latency
	}
}

// timeline makes the results count expected and lost deliveries per
// series interval of their publish time: [origin + i·interval, origin +
// (i+1)·interval). Call it before the run's first publish.
func (l *ledger) timeline(origin int64, interval time.Duration) {
	l.mu.Lock()
	l.origin, l.interval = origin, int64(interval)
	l.mu.Unlock()
}

// export returns the ledger's data as of run time end: members still
// connected count as having left at end.
func (l *ledger) export(end int64) *report.Ledger {
	l.mu.Lock()
	defer l.mu.Unlock()
	urls := make([]string, 0, len(l.rooms))
	for u := range l.rooms {
		urls = append(urls, u)
	}
	sort.Strings(urls)
	out := &report.Ledger{Origin: l.origin, IntervalNS: l.interval, End: end}
	for _, u := range urls {
		r := l.rooms[u]
		r.mu.Lock()
		lr := report.LedgerRoom{URL: r.url, Pattern: r.pattern}
		for id, p := range r.pubs {
			lr.Pubs = append(lr.Pubs, report.LedgerPub{PubID: id, Sent: append([]int64(nil), p.sent...), Last: append([]int64(nil), p.last...)})
		}
		sort.Slice(lr.Pubs, func(i, j int) bool {
			a, b := lr.Pubs[i].PubID, lr.Pubs[j].PubID
			return a.Worker < b.Worker || (a.Worker == b.Worker && a.Conn < b.Conn)
		})
		for _, m := range r.members {
			lm := report.LedgerMember{Joined: m.joined, Left: min(m.left, end), Duplicates: m.dups, Reordered: m.reord}
			for id, bits := range m.recv {
				lm.Recv = append(lm.Recv, report.LedgerRecv{PubID: id, Bits: append([]uint64(nil), bits...)})
			}
			sort.Slice(lm.Recv, func(i, j int) bool {
				a, b := lm.Recv[i].PubID, lm.Recv[j].PubID
				return a.Worker < b.Worker || (a.Worker == b.Worker && a.Conn < b.Conn)
			})
			lr.Members = append(lr.Members, lm)
		}
		r.mu.Unlock()
		out.Rooms = append(out.Rooms, lr)
	}
	return out
}
