package metrics

// Counters are the event counts of a run (or of one interval of it). Every
// field adds under Merge, so counters from shards, intervals, processes and
// machines combine exactly. JSON names are part of the report schema.
type Counters struct {
	ConnectsAttempted int64 `json:"connects_attempted"`
	ConnectsOK        int64 `json:"connects_ok"`
	ConnectsFailed    int64 `json:"connects_failed"`
	Disconnects       int64 `json:"disconnects"`

	SessionsIntended  int64 `json:"sessions_intended"` // open model: arrivals the schedule asked for
	SessionsStarted   int64 `json:"sessions_started"`
	SessionsCompleted int64 `json:"sessions_completed"` // the flow ran to its end
	SessionsFailed    int64 `json:"sessions_failed"`    // the flow ended on an error
	SessionsDropped   int64 `json:"sessions_dropped"`   // open model: an arrival found no free capacity

	MessagesSent      int64 `json:"messages_sent"`
	MessagesReceived  int64 `json:"messages_received"`
	BytesSent         int64 `json:"bytes_sent"`          // payload bytes
	BytesReceived     int64 `json:"bytes_received"`      // payload bytes
	WireBytesSent     int64 `json:"wire_bytes_sent"`     // frames as written: headers, masking, compression
	WireBytesReceived int64 `json:"wire_bytes_received"` // frames as read

	SendsIntended  int64 `json:"sends_intended"`  // open-loop sends the schedules asked for
	SendsDropped   int64 `json:"sends_dropped"`   // not sent: more than max_lag behind schedule, or the connection failed or stalled under it
	RepliesMissing int64 `json:"replies_missing"` // echoes and requests with no reply by their deadline
	Clamped        int64 `json:"latency_clamped"` // samples above an hour, recorded as an hour

	PingsSent     int64 `json:"pings_sent"`
	PongsReceived int64 `json:"pongs_received"`
	PongsMissed   int64 `json:"pongs_missed"`
	ServerPings   int64 `json:"server_pings"` // pings the server sent, each answered

	PushReceived   int64 `json:"push_received"`
	PushGaps       int64 `json:"push_gaps"`         // sequence numbers never seen
	PushOutOfOrder int64 `json:"push_out_of_order"` // arrived after a higher sequence number

	ClosesByCode      map[string]int64 `json:"closes_by_code"`      // "1000", "1009", "1006" (no close frame)
	ClosesByInitiator map[string]int64 `json:"closes_by_initiator"` // client, server, none
	ErrorsByCause     map[string]int64 `json:"errors_by_cause"`
	ErrorsByStep      map[string]int64 `json:"errors_by_step"` // "flow/step: cause"
}

// Counter is one of the counters every run keeps: its report name and
// where it lives in Counters.
type Counter struct {
	Name  string
	field func(*Counters) *int64
}

// Get returns the counter's value in c.
func (k Counter) Get(c *Counters) int64 { return *k.field(c) }

// Add adds n to the counter in c.
func (k Counter) Add(c *Counters, n int64) { *k.field(c) += n }

// counterList is every numeric counter, in report order. A counter added
// to Counters must be listed here, and only here: merging, the time
// series, thresholds, capacity windows and the wire form all enumerate
// this list (TestCountersListed fails on a field that is missing).
var counterList = [...]Counter{
	{"connects_attempted", func(c *Counters) *int64 { return &c.ConnectsAttempted }},
	{"connects_ok", func(c *Counters) *int64 { return &c.ConnectsOK }},
	{"connects_failed", func(c *Counters) *int64 { return &c.ConnectsFailed }},
	{"disconnects", func(c *Counters) *int64 { return &c.Disconnects }},
	{"sessions_intended", func(c *Counters) *int64 { return &c.SessionsIntended }},
	{"sessions_started", func(c *Counters) *int64 { return &c.SessionsStarted }},
	{"sessions_completed", func(c *Counters) *int64 { return &c.SessionsCompleted }},
	{"sessions_failed", func(c *Counters) *int64 { return &c.SessionsFailed }},
	{"sessions_dropped", func(c *Counters) *int64 { return &c.SessionsDropped }},
	{"messages_sent", func(c *Counters) *int64 { return &c.MessagesSent }},
	{"messages_received", func(c *Counters) *int64 { return &c.MessagesReceived }},
	{"bytes_sent", func(c *Counters) *int64 { return &c.BytesSent }},
	{"bytes_received", func(c *Counters) *int64 { return &c.BytesReceived }},
	{"wire_bytes_sent", func(c *Counters) *int64 { return &c.WireBytesSent }},
	{"wire_bytes_received", func(c *Counters) *int64 { return &c.WireBytesReceived }},
	{"sends_intended", func(c *Counters) *int64 { return &c.SendsIntended }},
	{"sends_dropped", func(c *Counters) *int64 { return &c.SendsDropped }},
	{"replies_missing", func(c *Counters) *int64 { return &c.RepliesMissing }},
	{"latency_clamped", func(c *Counters) *int64 { return &c.Clamped }},
	{"pings_sent", func(c *Counters) *int64 { return &c.PingsSent }},
	{"pongs_received", func(c *Counters) *int64 { return &c.PongsReceived }},
	{"pongs_missed", func(c *Counters) *int64 { return &c.PongsMissed }},
	{"server_pings", func(c *Counters) *int64 { return &c.ServerPings }},
	{"push_received", func(c *Counters) *int64 { return &c.PushReceived }},
	{"push_gaps", func(c *Counters) *int64 { return &c.PushGaps }},
	{"push_out_of_order", func(c *Counters) *int64 { return &c.PushOutOfOrder }},
}

// CounterList returns every numeric counter, in report order.
func CounterList() []Counter { return counterList[:] }

// LookupCounter returns the counter with the report name name.
func LookupCounter(name string) (Counter, bool) {
	for _, k := range counterList {
		if k.Name == name {
			return k, true
		}
	}
	return Counter{}, false
}

// Family is a keyed group of counters (closes by code, errors by cause):
// a map from key to count.
type Family struct {
	Name  string
	field func(*Counters) *map[string]int64
}

// Get returns the family's map in c (nil when empty).
func (f Family) Get(c *Counters) map[string]int64 { return *f.field(c) }

// Add adds n to key in c.
func (f Family) Add(c *Counters, key string, n int64) {
	m := f.field(c)
	if *m == nil {
		*m = make(map[string]int64)
	}
	(*m)[key] += n
}

var familyList = [...]Family{
	{"closes_by_code", func(c *Counters) *map[string]int64 { return &c.ClosesByCode }},
	{"closes_by_initiator", func(c *Counters) *map[string]int64 { return &c.ClosesByInitiator }},
	{"errors_by_cause", func(c *Counters) *map[string]int64 { return &c.ErrorsByCause }},
	{"errors_by_step", func(c *Counters) *map[string]int64 { return &c.ErrorsByStep }},
}

// FamilyList returns every keyed counter family, in report order.
func FamilyList() []Family { return familyList[:] }

// LookupFamily returns the family with the report name name.
func LookupFamily(name string) (Family, bool) {
	for _, f := range familyList {
		if f.Name == name {
			return f, true
		}
	}
	return Family{}, false
}

// Errors returns the number of errors of every cause.
func (c *Counters) Errors() int64 {
	var n int64
	for _, v := range c.ErrorsByCause {
		n += v
	}
	return n
}

// Merge adds o into c.
func (c *Counters) Merge(o *Counters) {
	for _, k := range counterList {
		*k.field(c) += *k.field(o)
	}
	for _, f := range familyList {
		*f.field(c) = mergeMap(*f.field(c), *f.field(o))
	}
}

// IsZero reports whether every counter in c is zero.
func (c *Counters) IsZero() bool {
	for _, k := range counterList {
		if *k.field(c) != 0 {
			return false
		}
	}
	for _, f := range familyList {
		for _, v := range *f.field(c) {
			if v != 0 {
				return false
			}
		}
	}
	return true
}

// Normalize replaces nil maps with empty ones, so a JSON report always has
// every key and readers need not tell "absent" from "zero".
func (c *Counters) Normalize() {
	for _, f := range familyList {
		if m := f.field(c); *m == nil {
			*m = map[string]int64{}
		}
	}
}

func mergeMap(dst, src map[string]int64) map[string]int64 {
	if len(src) == 0 {
		return dst
	}
	if dst == nil {
		dst = make(map[string]int64, len(src))
	}
	for k, v := range src {
		dst[k] += v
	}
	return dst
}
