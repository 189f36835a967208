package metrics

import "fmt"

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

// ServiceSuffix names the service view of an open-loop round-trip metric:
// rtt_service is rtt measured from each message's actual write instead of
// its intended send time. The difference between the two is the
// generator's own lateness (and, against a server that stalls, the
// coordinated omission the intended-time view corrects).
const ServiceSuffix = "_service"

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

// BuiltinNames returns the names of the metrics every run has, in ID
// order.
func BuiltinNames() []string { return append([]string(nil), builtinNames[:]...) }

// IsBuiltin reports whether name is one of the metrics every run has.
func IsBuiltin(name string) bool {
	for _, n := range builtinNames {
		if n == name {
			return true
		}
	}
	return false
}

// Set is a group of latency histograms and counters that belong together:
// one interval of a run, a run's totals, or a window of intervals. Sets
// merge exactly (histogram counts and counters add), which is what lets
// intervals from goroutines, processes and machines combine into one
// report. A Set is not safe for concurrent use.
type Set struct {
	names    []string
	Hists    []*Histogram // by ID; never nil
	Counters Counters
}

// NewSet returns an empty Set for the metrics of r.
func NewSet(r *Registry) *Set {
	return NewSetNames(r.names)
}

// NewSetNames returns an empty Set for metrics named by ID; names must not
// be modified afterwards.
func NewSetNames(names []string) *Set {
	s := &Set{names: names, Hists: make([]*Histogram, len(names))}
	for i := range s.Hists {
		s.Hists[i] = NewHistogram()
	}
	return s
}

// Names returns the metric names by ID. The slice must not be modified.
func (s *Set) Names() []string { return s.names }

// Histogram returns the histogram of the metric called name, or nil.
func (s *Set) Histogram(name string) *Histogram {
	for i, n := range s.names {
		if n == name {
			return s.Hists[i]
		}
	}
	return nil
}

// Merge adds o into s. Metrics are matched by name; a metric of o that s
// does not have is added to s.
func (s *Set) Merge(o *Set) error {
	if sameNames(s.names, o.names) {
		for i, h := range o.Hists {
			if err := mergeInto(s.Hists[i], h); err != nil {
				return fmt.Errorf("%s: %w", s.names[i], err)
			}
		}
	} else {
		for i, h := range o.Hists {
			if err := mergeInto(s.hist(o.names[i]), h); err != nil {
				return fmt.Errorf("%s: %w", o.names[i], err)
			}
		}
	}
	s.Counters.Merge(&o.Counters)
	return nil
}

// hist returns the histogram called name, adding an empty one if s has
// none (the names slice is copied first: it may be shared).
func (s *Set) hist(name string) *Histogram {
	if h := s.Histogram(name); h != nil {
		return h
	}
	s.names = append(s.names[:len(s.names):len(s.names)], name)
	h := NewHistogram()
	s.Hists = append(s.Hists, h)
	return h
}

func sameNames(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	if len(a) > 0 && &a[0] == &b[0] {
		return true
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Clone returns a deep copy of s.
func (s *Set) Clone() *Set {
	c := &Set{names: s.names, Hists: make([]*Histogram, len(s.Hists))}
	for i, h := range s.Hists {
		c.Hists[i] = h.Clone()
	}
	c.Counters.Merge(&s.Counters)
	return c
}

// Reset empties s for reuse, keeping its storage.
func (s *Set) Reset() {
	for _, h := range s.Hists {
		h.Reset()
	}
	s.Counters = Counters{}
}

// Record records a latency in microseconds; the run's hot paths record
// through a Recorder instead.
func (s *Set) Record(id ID, us int64) {
	if RecordUS(s.Hists[id], us) {
		s.Counters.Clamped++
	}
}
