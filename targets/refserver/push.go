package refserver

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"time"

	"github.com/gobwas/ws"
)

// Limits and defaults of /push (CONTRACT.md).
const (
	DefaultPushRate = 10
	MaxPushRate     = 100000
	DefaultPushSize = 64
)

// pushBatchBytes bounds the frames /push gathers into one Write when
// several are due at once.
const pushBatchBytes = 64 << 10

// pushParams are the query parameters of /push.
type pushParams struct {
	rate  float64 // messages per second
	size  int     // requested message size in bytes
	count int64   // messages to send; 0 means unlimited
}

// parsePush parses rate, size and count. count absent or 0 means unlimited.
func parsePush(q url.Values, maxSize int64) (pushParams, error) {
	p := pushParams{rate: DefaultPushRate, size: DefaultPushSize}
	var errs []error
	if v := q.Get("rate"); v != "" {
		r, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(r) || r <= 0 || r > MaxPushRate {
			errs = append(errs, fmt.Errorf("rate=%q: want a number in (0, %d]", v, MaxPushRate))
		}
		p.rate = r
	}
	if v := q.Get("size"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 || n > maxSize {
			errs = append(errs, fmt.Errorf("size=%q: want an integer in [0, %d]", v, maxSize))
		}
		p.size = int(n)
	}
	if v := q.Get("count"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			errs = append(errs, fmt.Errorf("count=%q: want an integer >= 0", v))
		}
		p.count = n
	}
	return p, errors.Join(errs...)
}

// pushOverhead is the length of a push message without the digits of seq
// and ts_ns and without padding.
const pushOverhead = len(`{"seq":,"ts_ns":,"pad":""}`)

// appendPush appends the text frame of push message seq sent at ts (Unix
// ns), padded to size bytes when the unpadded message is shorter, and
// returns the payload length.
func appendPush(dst []byte, seq, ts int64, size int, pad []byte) ([]byte, int) {
	var num [40]byte
	digits := strconv.AppendInt(num[:0], seq, 10)
	ds := len(digits)
	digits = strconv.AppendInt(digits, ts, 10)
	n := pushOverhead + len(digits)
	padLen := max(size-n, 0)
	n += padLen
	dst = appendHeader(dst, ws.OpText, n)
	dst = append(dst, `{"seq":`...)
	dst = append(dst, digits[:ds]...)
	dst = append(dst, `,"ts_ns":`...)
	dst = append(dst, digits[ds:]...)
	dst = append(dst, `,"pad":"`...)
	dst = append(dst, pad[:padLen]...)
	dst = append(dst, `"}`...)
	return dst, n
}

// pushLoop sends push messages on an absolute schedule from the moment the
// upgrade completed: message i is due at start + i/rate. Messages that are
// due together (after a late wake-up, or at high rates) go out in one
// Write, each stamped with the wall clock as it is written into the batch.
func (c *conn) pushLoop(p pushParams) {
	s := c.s
	start := s.now()
	pad := bytes.Repeat([]byte{'x'}, p.size)
	period := 1e9 / p.rate
	dueAt := func(i int64) int64 { return start + int64(float64(i)*period) }
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	var buf []byte
	for i := int64(0); p.count == 0 || i < p.count; {
		now := s.now()
		if due := dueAt(i); due > now {
			timer.Reset(time.Duration(due - now))
			select {
			case <-timer.C:
				continue
			case <-c.done:
				return
			}
		}
		buf = buf[:0]
		var msgs, payload int64
		for (p.count == 0 || i < p.count) && dueAt(i) <= now && len(buf) < pushBatchBytes {
			var n int
			buf, n = appendPush(buf, i, time.Now().UnixNano(), p.size, pad)
			i++
			msgs++
			payload += int64(n)
		}
		err := c.writeFrame(buf, msgs, payload)
		if err != nil {
			if !errors.Is(err, errClosing) {
				c.nc.Close()
			}
			return
		}
	}
}
