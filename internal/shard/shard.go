package shard

import (
	"fmt"
	"sync"

	"github.com/wsbench/wsbench/metrics"
)

// Rec is a recording Set: dense histograms, fast to record into, and
// counters. Callers reach it through Shard.Do and must not keep it.
type Rec struct {
	Hists    []*metrics.Recorder
	Counters metrics.Counters
}

func newRec(n int) *Rec {
	r := &Rec{Hists: make([]*metrics.Recorder, n)}
	for i := range r.Hists {
		r.Hists[i] = metrics.NewRecorder()
	}
	return r
}

// Record records a latency in microseconds, counting a clamped sample.
func (r *Rec) Record(id metrics.ID, us int64) {
	if r.Hists[id].RecordUS(us) {
		r.Counters.Clamped++
	}
}

// Shard is a recording Set behind a mutex. Sessions record into a shard
// shared with a few others; the collector swaps its Set out once per
// interval.
type Shard struct {
	mu  sync.Mutex
	rec *Rec
}

// Do runs f with the shard's current Set, under the shard's lock.
func (sh *Shard) Do(f func(r *Rec)) {
	sh.mu.Lock()
	f(sh.rec)
	sh.mu.Unlock()
}

// Record records one latency sample.
func (sh *Shard) Record(id metrics.ID, us int64) {
	sh.mu.Lock()
	sh.rec.Record(id, us)
	sh.mu.Unlock()
}

// Sent counts one data message written.
func (sh *Shard) Sent(payload, wire int) {
	sh.mu.Lock()
	c := &sh.rec.Counters
	c.MessagesSent++
	c.BytesSent += int64(payload)
	c.WireBytesSent += int64(wire)
	sh.mu.Unlock()
}

// Received counts one data message read and, when id >= 0, records its
// latency in the same critical section (the common case on the hot path).
func (sh *Shard) Received(payload, wire int, id metrics.ID, us int64) {
	sh.mu.Lock()
	c := &sh.rec.Counters
	c.MessagesReceived++
	c.BytesReceived += int64(payload)
	c.WireBytesReceived += int64(wire)
	if id >= 0 {
		sh.rec.Record(id, us)
	}
	sh.mu.Unlock()
}

// Error counts an error of the given cause, attributed to step (which may
// be empty).
func (sh *Shard) Error(cause, step string) {
	sh.mu.Lock()
	c := &sh.rec.Counters
	inc(&c.ErrorsByCause, cause)
	if step != "" {
		inc(&c.ErrorsByStep, step+": "+cause)
	}
	sh.mu.Unlock()
}

// Close counts a closed connection by close code and by who started the
// close: "client", "server", or "none" when the connection ended without a
// close handshake (code 1006).
func (sh *Shard) Close(code int, initiator string) {
	sh.mu.Lock()
	c := &sh.rec.Counters
	c.Disconnects++
	inc(&c.ClosesByCode, fmt.Sprint(code))
	inc(&c.ClosesByInitiator, initiator)
	sh.mu.Unlock()
}

// SentOnSchedule counts one open-loop send that left lagUS microseconds
// after its intended time, in one critical section with its lag sample.
func (sh *Shard) SentOnSchedule(payload, wire int, lagUS int64) {
	sh.mu.Lock()
	c := &sh.rec.Counters
	c.SendsIntended++
	c.MessagesSent++
	c.BytesSent += int64(payload)
	c.WireBytesSent += int64(wire)
	sh.rec.Record(metrics.ScheduleLag, lagUS)
	sh.mu.Unlock()
}

// DroppedSend counts one open-loop send skipped because the sender was
// lagUS behind schedule, more than the scenario's max_lag.
func (sh *Shard) DroppedSend(lagUS int64) {
	sh.mu.Lock()
	c := &sh.rec.Counters
	c.SendsIntended++
	c.SendsDropped++
	sh.rec.Record(metrics.ScheduleLag, lagUS)
	sh.mu.Unlock()
}

// SentBatch counts n data messages written together, with their schedule
// lags (open loop; nil for closed-loop sends, which have no schedule).
func (sh *Shard) SentBatch(n, payload, wire int, lagsNS []int64) {
	sh.mu.Lock()
	c := &sh.rec.Counters
	c.MessagesSent += int64(n)
	c.BytesSent += int64(payload)
	c.WireBytesSent += int64(wire)
	if lagsNS != nil {
		c.SendsIntended += int64(n)
		for _, l := range lagsNS {
			sh.rec.Record(metrics.ScheduleLag, l/1000)
		}
	}
	sh.mu.Unlock()
}

func inc(m *map[string]int64, k string) {
	if *m == nil {
		*m = make(map[string]int64)
	}
	(*m)[k]++
}

// Collector owns the shards of a run and turns them into interval Sets.
type Collector struct {
	reg    *metrics.Registry
	shards []*Shard
	spare  []*Rec
}

// NewCollector returns a collector with n shards for the metrics of reg.
// Register every metric before calling it.
func NewCollector(reg *metrics.Registry, n int) *Collector {
	n = max(n, 1)
	c := &Collector{reg: reg}
	k := len(reg.Names())
	for range n {
		c.shards = append(c.shards, &Shard{rec: newRec(k)})
		c.spare = append(c.spare, newRec(k))
	}
	return c
}

// Shard returns shard i modulo the number of shards, so callers can spread
// sessions by any counter.
func (c *Collector) Shard(i int) *Shard {
	return c.shards[uint(i)%uint(len(c.shards))]
}

// Registry returns the collector's metric registry.
func (c *Collector) Registry() *metrics.Registry { return c.reg }

// Flush returns everything recorded since the previous Flush as a packed
// Set. Each shard's lock is held only to swap its recording Set for the
// spare; folding the swapped Set happens outside it. Between shards Flush
// calls yield (if not nil), so a caller sharing one CPU with the senders
// can let them run; the fold of one shard is tens of microseconds.
func (c *Collector) Flush(yield func()) *metrics.Set {
	out := metrics.NewSet(c.reg)
	for i, sh := range c.shards {
		fresh := c.spare[i]
		sh.mu.Lock()
		old := sh.rec
		sh.rec = fresh
		sh.mu.Unlock()
		for id, h := range old.Hists {
			h.FoldInto(out.Hists[id])
		}
		out.Counters.Merge(&old.Counters)
		old.Counters = metrics.Counters{}
		c.spare[i] = old
		if yield != nil && i < len(c.shards)-1 {
			yield()
		}
	}
	return out
}
