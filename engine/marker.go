package engine

import (
	"bytes"
	"math"
	"strconv"

	"github.com/wsbench/wsbench/metrics"
)

// Marked messages start with
//
//	wsb2:<kind><metric>:<worker>:<conn>:<seq>:<ts>:<sent>;
//
// and are padded with 'x' to the requested size. kind is e (echo), b
// (broadcast publish) or r (request); metric is the metric ID an echo
// records into; worker the sending process's worker number (0 for a run
// of one process) and conn its connection ID, which together name a
// connection across the processes of a run; seq the connection's sequence
// number; ts the intended send time and sent the actual write time, both
// on the run clock (ns since the run's origin, which the processes of one
// run share). Decimal ASCII keeps the marker valid UTF-8 for text
// messages and readable in a packet capture.
var markerPrefix = []byte("wsb2:")

type marker struct {
	kind   byte
	metric int
	worker int64
	conn   int64
	seq    int64
	ts     int64 // intended send time
	sent   int64 // actual write time
}

// appendMarker appends m and padding up to size bytes to dst.
func appendMarker(dst []byte, m marker, size int) []byte {
	start := len(dst)
	dst = append(dst, markerPrefix...)
	dst = append(dst, m.kind)
	dst = strconv.AppendInt(dst, int64(m.metric), 10)
	dst = append(dst, ':')
	dst = strconv.AppendInt(dst, m.worker, 10)
	dst = append(dst, ':')
	dst = strconv.AppendInt(dst, m.conn, 10)
	dst = append(dst, ':')
	dst = strconv.AppendInt(dst, m.seq, 10)
	dst = append(dst, ':')
	dst = strconv.AppendInt(dst, m.ts, 10)
	dst = append(dst, ':')
	dst = strconv.AppendInt(dst, m.sent, 10)
	dst = append(dst, ';')
	for len(dst)-start < size {
		dst = append(dst, 'x')
	}
	return dst
}

// parseMarker reads a marker at the start of p without allocating.
func parseMarker(p []byte) (m marker, ok bool) {
	if !bytes.HasPrefix(p, markerPrefix) || len(p) < len(markerPrefix)+8 {
		return m, false
	}
	p = p[len(markerPrefix):]
	m.kind = p[0]
	p = p[1:]
	var n int64
	var fields [6]int64
	for i := range fields {
		n, p, ok = parseUint(p)
		if !ok || len(p) == 0 {
			return m, false
		}
		want := byte(':')
		if i == len(fields)-1 {
			want = ';'
		}
		if p[0] != want {
			return m, false
		}
		p = p[1:]
		fields[i] = n
	}
	m.metric, m.worker, m.conn, m.seq, m.ts, m.sent = int(fields[0]), fields[1], fields[2], fields[3], fields[4], fields[5]
	return m, true
}

// parseUint reads a decimal number of at most 19 digits that fits an
// int64. A larger one is rejected rather than wrapped: a wrapped sequence
// number or timestamp would be a plausible wrong value, not an error.
func parseUint(p []byte) (int64, []byte, bool) {
	var n int64
	i := 0
	for ; i < len(p) && i < 19; i++ {
		c := p[i]
		if c < '0' || c > '9' {
			break
		}
		d := int64(c - '0')
		if n > (math.MaxInt64-d)/10 {
			return 0, p, false
		}
		n = n*10 + d
	}
	return n, p[i:], i > 0
}

// echoMetric returns the metric an echo marker records into, if it is one
// of the run's n metrics. Markers come back from the server, which may
// mangle them: an ID outside the registry must not index a histogram.
func (m marker) echoMetric(n int) (metrics.ID, bool) {
	if m.metric < 0 || m.metric >= n {
		return -1, false
	}
	return metrics.ID(m.metric), true
}

// pushPrefix is how every contract /push message starts.
var (
	pushPrefix = []byte(`{"seq":`)
	pushTS     = []byte(`,"ts_ns":`)
)

// parsePush reads seq and ts_ns from a contract push message.
func parsePush(p []byte) (seq, tsNS int64, ok bool) {
	if !bytes.HasPrefix(p, pushPrefix) {
		return 0, 0, false
	}
	seq, p, ok = parseUint(p[len(pushPrefix):])
	if !ok || !bytes.HasPrefix(p, pushTS) {
		return 0, 0, false
	}
	tsNS, _, ok = parseUint(p[len(pushTS):])
	return seq, tsNS, ok
}
