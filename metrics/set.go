package metrics

import (
	"fmt"
	"sync"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// ID indexes a latency metric in a Registry and in every Set built from it.
type ID int

// The metrics every run has, in this order; scenario steps add named ones
// after them.
const (
	RTT               ID = iota // echo round trip, from the intended send time
	Connect                     // TCP connect
	Handshake                   // WebSocket upgrade after the TCP connect (and TLS handshake)
	Ping                        // client ping to pong
	PushDelay                   // server send time to client receive (server push)
	BroadcastDelivery           // publisher's intended send to one subscriber's receive
	BroadcastComplete           // publisher's intended send to the last expected subscriber's receive
	ScheduleLag                 // how late sends left versus their schedule (generator health)
	TLSHandshake                // TLS handshake of a wss:// connection, after the TCP connect and before the upgrade
	numBuiltin
)

var builtinNames = [...]string{"rtt", "connect", "handshake", "ping", "push_delay", "broadcast_delivery", "broadcast_complete", "schedule_lag", "tls_handshake"}

// Registry names the latency metrics of a run. It is filled before the run
// starts and read-only afterwards.
type Registry struct {
	names []string
	ids   map[string]ID
}

// NewRegistry returns a registry holding the built-in metrics.
func NewRegistry() *Registry {
	r := &Registry{ids: map[string]ID{}}
	for _, n := range builtinNames {
		r.Add(n)
	}
	return r
}

// Add returns the ID of the metric called name, adding it if it is new.
func (r *Registry) Add(name string) ID {
	if id, ok := r.ids[name]; ok {
		return id
	}
	id := ID(len(r.names))
	r.names = append(r.names, name)
	r.ids[name] = id
	return id
}

// Lookup returns the ID of name.
func (r *Registry) Lookup(name string) (ID, bool) {
	id, ok := r.ids[name]
	return id, ok
}

// Names returns the metric names by ID. The slice must not be modified.
func (r *Registry) Names() []string { return r.names }

// IsBuiltin reports whether name is one of the metrics every run has.
func IsBuiltin(name string) bool {
	for _, n := range builtinNames {
		if n == name {
			return true
		}
	}
	return false
}

// Set is a group of latency histograms and counters recorded together.
// It is not safe for concurrent use; see Shard.
type Set struct {
	names    []string
	Hists    []*hdr.Histogram
	Counters Counters
}

// NewSet returns an empty Set for the metrics of r.
func NewSet(r *Registry) *Set {
	return newSetNames(r.names)
}

func newSetNames(names []string) *Set {
	s := &Set{names: names, Hists: make([]*hdr.Histogram, len(names))}
	for i := range s.Hists {
		s.Hists[i] = NewHistogram()
	}
	return s
}

// Names returns the metric names by ID.
func (s *Set) Names() []string { return s.names }

// Histogram returns the histogram of the metric called name, or nil.
func (s *Set) Histogram(name string) *hdr.Histogram {
	for i, n := range s.names {
		if n == name {
			return s.Hists[i]
		}
	}
	return nil
}

// Merge adds o into s. Both must come from the same Registry.
func (s *Set) Merge(o *Set) {
	for i, h := range o.Hists {
		if h.TotalCount() > 0 {
			// Same geometry on both sides: Merge cannot drop values.
			s.Hists[i].Merge(h)
		}
	}
	s.Counters.Merge(&o.Counters)
}

// Reset empties s for reuse.
func (s *Set) Reset() {
	for _, h := range s.Hists {
		if h.TotalCount() > 0 {
			h.Reset()
		}
	}
	s.Counters = Counters{}
}

// Record records a latency in microseconds.
func (s *Set) Record(id ID, us int64) {
	if RecordUS(s.Hists[id], us) {
		s.Counters.Clamped++
	}
}

// Shard is a Set behind a mutex. Sessions record into a shard shared with
// a few others; the collector swaps its Set out once per interval.
type Shard struct {
	mu  sync.Mutex
	set *Set
}

// Do runs f with the shard's current Set, under the shard's lock. f must not
// keep the Set.
func (sh *Shard) Do(f func(s *Set)) {
	sh.mu.Lock()
	f(sh.set)
	sh.mu.Unlock()
}

// Record records one latency sample.
func (sh *Shard) Record(id ID, us int64) {
	sh.mu.Lock()
	sh.set.Record(id, us)
	sh.mu.Unlock()
}

// Sent counts one data message written.
func (sh *Shard) Sent(payload, wire int) {
	sh.mu.Lock()
	c := &sh.set.Counters
	c.MessagesSent++
	c.BytesSent += int64(payload)
	c.WireBytesSent += int64(wire)
	sh.mu.Unlock()
}

// Received counts one data message read and, when id >= 0, records its
// latency in the same critical section (the common case on the hot path).
func (sh *Shard) Received(payload, wire int, id ID, us int64) {
	sh.mu.Lock()
	c := &sh.set.Counters
	c.MessagesReceived++
	c.BytesReceived += int64(payload)
	c.WireBytesReceived += int64(wire)
	if id >= 0 {
		sh.set.Record(id, us)
	}
	sh.mu.Unlock()
}

// Error counts an error of the given cause, attributed to step (which may
// be empty).
func (sh *Shard) Error(cause, step string) {
	sh.mu.Lock()
	c := &sh.set.Counters
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
	c := &sh.set.Counters
	c.Disconnects++
	inc(&c.ClosesByCode, fmt.Sprint(code))
	inc(&c.ClosesByInitiator, initiator)
	sh.mu.Unlock()
}

// Collector owns the shards of a run and turns them into interval and
// total Sets.
type Collector struct {
	reg    *Registry
	shards []*Shard
	spare  []*Set
	total  *Set
}

// NewCollector returns a collector with n shards for the metrics of reg.
// Register every metric before calling it.
func NewCollector(reg *Registry, n int) *Collector {
	if n < 1 {
		n = 1
	}
	c := &Collector{reg: reg, total: NewSet(reg)}
	for range n {
		c.shards = append(c.shards, &Shard{set: NewSet(reg)})
		c.spare = append(c.spare, NewSet(reg))
	}
	return c
}

// Shard returns shard i modulo the number of shards, so callers can spread
// sessions by any counter.
func (c *Collector) Shard(i int) *Shard {
	return c.shards[uint(i)%uint(len(c.shards))]
}

// Flush swaps every shard's Set for an empty one and returns everything
// recorded since the previous Flush, which is also added to the total. Only
// one goroutine may call Flush and Total.
func (c *Collector) Flush() *Set {
	interval := NewSet(c.reg)
	for i, sh := range c.shards {
		fresh := c.spare[i]
		sh.mu.Lock()
		old := sh.set
		sh.set = fresh
		sh.mu.Unlock()
		interval.Merge(old)
		old.Reset()
		c.spare[i] = old
	}
	c.total.Merge(interval)
	return interval
}

// Total returns everything flushed so far. It must not be modified.
func (c *Collector) Total() *Set { return c.total }

// Registry returns the collector's metric registry.
func (c *Collector) Registry() *Registry { return c.reg }

// SentOnSchedule counts one open-loop send that left lagUS microseconds
// after its intended time, in one critical section with its lag sample.
func (sh *Shard) SentOnSchedule(payload, wire int, lagUS int64) {
	sh.mu.Lock()
	c := &sh.set.Counters
	c.SendsIntended++
	c.MessagesSent++
	c.BytesSent += int64(payload)
	c.WireBytesSent += int64(wire)
	sh.set.Record(ScheduleLag, lagUS)
	sh.mu.Unlock()
}

// DroppedSend counts one open-loop send skipped because the sender was
// lagUS behind schedule, more than the scenario's max_lag.
func (sh *Shard) DroppedSend(lagUS int64) {
	sh.mu.Lock()
	c := &sh.set.Counters
	c.SendsIntended++
	c.SendsDropped++
	sh.set.Record(ScheduleLag, lagUS)
	sh.mu.Unlock()
}

// SentBatch counts n data messages written together, with their schedule
// lags (open loop; nil for closed-loop sends, which have no schedule).
func (sh *Shard) SentBatch(n, payload, wire int, lagsNS []int64) {
	sh.mu.Lock()
	c := &sh.set.Counters
	c.MessagesSent += int64(n)
	c.BytesSent += int64(payload)
	c.WireBytesSent += int64(wire)
	if lagsNS != nil {
		c.SendsIntended += int64(n)
		for _, l := range lagsNS {
			sh.set.Record(ScheduleLag, l/1000)
		}
	}
	sh.mu.Unlock()
}
