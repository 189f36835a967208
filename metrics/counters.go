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
	c.ConnectsAttempted += o.ConnectsAttempted
	c.ConnectsOK += o.ConnectsOK
	c.ConnectsFailed += o.ConnectsFailed
	c.Disconnects += o.Disconnects
	c.SessionsIntended += o.SessionsIntended
	c.SessionsStarted += o.SessionsStarted
	c.SessionsCompleted += o.SessionsCompleted
	c.SessionsFailed += o.SessionsFailed
	c.SessionsDropped += o.SessionsDropped
	c.MessagesSent += o.MessagesSent
	c.MessagesReceived += o.MessagesReceived
	c.BytesSent += o.BytesSent
	c.BytesReceived += o.BytesReceived
	c.WireBytesSent += o.WireBytesSent
	c.WireBytesReceived += o.WireBytesReceived
	c.SendsIntended += o.SendsIntended
	c.SendsDropped += o.SendsDropped
	c.RepliesMissing += o.RepliesMissing
	c.Clamped += o.Clamped
	c.PingsSent += o.PingsSent
	c.PongsReceived += o.PongsReceived
	c.PongsMissed += o.PongsMissed
	c.ServerPings += o.ServerPings
	c.PushReceived += o.PushReceived
	c.PushGaps += o.PushGaps
	c.PushOutOfOrder += o.PushOutOfOrder
	c.ClosesByCode = mergeMap(c.ClosesByCode, o.ClosesByCode)
	c.ClosesByInitiator = mergeMap(c.ClosesByInitiator, o.ClosesByInitiator)
	c.ErrorsByCause = mergeMap(c.ErrorsByCause, o.ErrorsByCause)
	c.ErrorsByStep = mergeMap(c.ErrorsByStep, o.ErrorsByStep)
}

// Normalize replaces nil maps with empty ones, so a JSON report always has
// every key and readers need not tell "absent" from "zero".
func (c *Counters) Normalize() {
	for _, m := range []*map[string]int64{&c.ClosesByCode, &c.ClosesByInitiator, &c.ErrorsByCause, &c.ErrorsByStep} {
		if *m == nil {
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

func inc(m *map[string]int64, k string) {
	if *m == nil {
		*m = make(map[string]int64)
	}
	(*m)[k]++
}
