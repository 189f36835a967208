package report

import (
	"sort"
	"time"

	"github.com/wsbench/wsbench/metrics"
)

// Ledger is a run's raw broadcast accounting: which messages each
// publisher wrote into which room and when, and which member of the room
// was connected when and received which of them. Reach and loss are
// computed from it (Results). A run that is one part of a larger one (a
// worker process, a shard) carries its ledger in its report, so that a
// merge can compute them across processes: a publisher in one process and
// its subscribers in another. Times are nanoseconds on the run clock,
// whose origin the processes of one run share.
type Ledger struct {
	Rooms []LedgerRoom `json:"rooms"`
	// Origin and IntervalNS place publishes on the run's series: interval
	// i of the results' per-interval loss is [Origin + i·IntervalNS,
	// Origin + (i+1)·IntervalNS) on the run clock, up to End (when the
	// ledger was taken). IntervalNS 0: no per-interval accounting.
	Origin     int64 `json:"origin_ns,omitempty"`
	IntervalNS int64 `json:"interval_ns,omitempty"`
	End        int64 `json:"end_ns,omitempty"`
}

// LedgerRoom is one concrete room (a connection URL).
type LedgerRoom struct {
	URL     string         `json:"url"`
	Pattern string         `json:"pattern"` // the URL as the scenario writes it: results are grouped by it
	Pubs    []LedgerPub    `json:"pubs,omitempty"`
	Members []LedgerMember `json:"members,omitempty"`
}

// PubID names a publishing connection across the processes of a run.
type PubID struct {
	Worker int64 `json:"worker"`
	Conn   int64 `json:"conn"`
}

// LedgerPub is what one process knows of one publisher in a room: the
// write time of each message if the publisher was its own (Sent, -1 for a
// sequence number never written), and the latest delivery latency of each
// message among its own members (Last, 0 for none).
type LedgerPub struct {
	PubID
	Sent []int64 `json:"sent,omitempty"`
	Last []int64 `json:"last,omitempty"`
}

// LedgerMember is one member connection of a room: when it joined and
// left, and per publisher the bitmap of sequence numbers it received.
type LedgerMember struct {
	Joined     int64        `json:"joined"`
	Left       int64        `json:"left"`
	Recv       []LedgerRecv `json:"recv,omitempty"`
	Duplicates int64        `json:"duplicates,omitempty"`
	Reordered  int64        `json:"reordered,omitempty"`
}

// LedgerRecv is the set of messages of one publisher a member received.
type LedgerRecv struct {
	PubID
	Bits []uint64 `json:"bits"`
}

// Has reports whether bit seq is set.
func (r *LedgerRecv) Has(seq int) bool {
	return seq/64 < len(r.Bits) && r.Bits[seq/64]&(1<<(uint(seq)%64)) != 0
}

// MergeLedgers combines the ledgers of the processes of one run: rooms by
// URL, each publisher's write times (from the process that published) and
// latest delivery latencies (the latest over every process), members side
// by side.
func MergeLedgers(ls ...*Ledger) *Ledger {
	rooms := map[string]*LedgerRoom{}
	var order []string
	for _, l := range ls {
		if l == nil {
			continue
		}
		for _, r := range l.Rooms {
			m := rooms[r.URL]
			if m == nil {
				m = &LedgerRoom{URL: r.URL, Pattern: r.Pattern}
				rooms[r.URL] = m
				order = append(order, r.URL)
			}
			for _, p := range r.Pubs {
				i := sort.Search(len(m.Pubs), func(i int) bool { return !pubLess(m.Pubs[i].PubID, p.PubID) })
				if i == len(m.Pubs) || m.Pubs[i].PubID != p.PubID {
					m.Pubs = append(m.Pubs, LedgerPub{})
					copy(m.Pubs[i+1:], m.Pubs[i:])
					m.Pubs[i] = LedgerPub{PubID: p.PubID}
				}
				dst := &m.Pubs[i]
				for len(dst.Sent) < len(p.Sent) {
					dst.Sent = append(dst.Sent, -1)
				}
				for seq, at := range p.Sent {
					if at >= 0 {
						dst.Sent[seq] = at
					}
				}
				for len(dst.Last) < len(p.Last) {
					dst.Last = append(dst.Last, 0)
				}
				for seq, lat := range p.Last {
					dst.Last[seq] = max(dst.Last[seq], lat)
				}
			}
			m.Members = append(m.Members, r.Members...)
		}
	}
	out := &Ledger{}
	first := true
	for _, l := range ls {
		if l == nil {
			continue
		}
		if first || l.Origin < out.Origin {
			out.Origin = l.Origin
		}
		first = false
		out.IntervalNS = max(out.IntervalNS, l.IntervalNS)
		out.End = max(out.End, l.End)
	}
	for _, url := range order {
		out.Rooms = append(out.Rooms, *rooms[url])
	}
	return out
}

func pubLess(a, b PubID) bool {
	return a.Worker < b.Worker || (a.Worker == b.Worker && a.Conn < b.Conn)
}

// Grace periods of the broadcast accounting. A member counts for a
// message only if it joined at least JoinGrace before the message was
// written (the client sees the 101 a moment before some servers have
// added the connection to the room) and stayed until the message had
// reached everyone else who got it, and at least LeaveGrace. Messages
// outside that window are not expected; delivered, they count as
// unexpected, never as loss.
const (
	JoinGrace  = 50 * time.Millisecond
	LeaveGrace = 20 * time.Millisecond
)

// Results computes reach, loss, duplicates and reordering per room
// pattern, exactly: every written message against every member that was
// connected for its whole delivery window. It records the time until the
// last expected member got each fully delivered message (microseconds)
// into complete, when complete is not nil. With an interval, each
// pattern's expected and lost deliveries are also counted per interval of
// their message's publish time (BroadcastIntervals).
func (l *Ledger) Results(complete *metrics.Histogram) []BroadcastResult {
	byPattern := map[string]*BroadcastResult{}
	intervals := 0
	if l.IntervalNS > 0 {
		intervals = int(max(1, (l.End-l.Origin+l.IntervalNS-1)/l.IntervalNS))
	}
	bucket := func(at int64) int {
		return int(min(max(0, (at-l.Origin)/l.IntervalNS), int64(intervals-1)))
	}
	for ri := range l.Rooms {
		r := &l.Rooms[ri]
		published := false
		for _, p := range r.Pubs {
			for _, at := range p.Sent {
				if at >= 0 {
					published = true
				}
			}
		}
		if !published {
			continue
		}
		res := byPattern[r.Pattern]
		if res == nil {
			res = &BroadcastResult{Room: r.Pattern}
			if intervals > 0 {
				res.Intervals = NewBroadcastIntervals(time.Duration(l.IntervalNS).Seconds(), intervals)
			}
			byPattern[r.Pattern] = res
		}
		res.Rooms++
		// Each member's bitmap of each publisher, looked up once.
		recv := make([]map[PubID]*LedgerRecv, len(r.Members))
		for mi := range r.Members {
			recv[mi] = map[PubID]*LedgerRecv{}
			for k := range r.Members[mi].Recv {
				rc := &r.Members[mi].Recv[k]
				recv[mi][rc.PubID] = rc
			}
		}
		for _, p := range r.Pubs {
			for seq, at := range p.Sent {
				if at < 0 {
					continue
				}
				res.Published++
				last := int64(0)
				if seq < len(p.Last) {
					last = p.Last[seq]
				}
				all := true
				var expected, lost int64
				for mi, m := range r.Members {
					got := false
					if rc := recv[mi][p.PubID]; rc != nil {
						got = rc.Has(seq)
					}
					eligible := m.Joined <= at-int64(JoinGrace) && m.Left >= at+max(int64(LeaveGrace), last)
					switch {
					case eligible && got:
						expected++
					case eligible:
						expected++
						lost++
						all = false
					case got:
						res.Unexpected++
					}
				}
				res.Expected += expected
				res.Delivered += expected - lost
				if iv := res.Intervals; iv != nil {
					b := bucket(at)
					iv.Expected[b] += expected
					iv.Lost[b] += lost
				}
				if all && last > 0 && complete != nil {
					metrics.RecordUS(complete, last/1000)
				}
			}
		}
		for _, m := range r.Members {
			res.Duplicates += m.Duplicates
			res.Reordered += m.Reordered
		}
	}
	out := make([]BroadcastResult, 0, len(byPattern))
	for _, res := range byPattern {
		res.Lost = res.Expected - res.Delivered
		if res.Intervals != nil {
			res.Intervals.Compact()
		}
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
