package refserver

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
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

// pusher sends a /push connection's messages on an absolute schedule from
// the moment the upgrade completed: message i is due at start + i/rate. It
// has no goroutine: a Go timer runs tick when the next message is due.
// Messages that are due together (after a late wake-up, or at high rates)
// go out in one write, each stamped with the wall clock as it is written
// into the batch.
type pusher struct {
	c      *conn
	p      pushParams
	start  int64
	period float64

	mu      sync.Mutex
	i       int64 // the next message
	buf     []byte
	timer   *time.Timer
	stopped bool
}

// startPush starts c's schedule.
func (c *conn) startPush(p pushParams) {
	ps := &pusher{c: c, p: p, start: c.s.now(), period: 1e9 / p.rate}
	c.push = ps
	ps.mu.Lock()
	ps.timer = time.AfterFunc(0, ps.tick)
	ps.mu.Unlock()
}

func (ps *pusher) dueAt(i int64) int64 { return ps.start + int64(float64(i)*ps.period) }

func (ps *pusher) done() bool { return ps.p.count > 0 && ps.i >= ps.p.count }

// stop ends the schedule; a tick already running finishes its write.
func (ps *pusher) stop() {
	ps.mu.Lock()
	ps.stopped = true
	ps.timer.Stop()
	ps.mu.Unlock()
}

// tick writes the messages that are due and sets the timer for the next.
func (ps *pusher) tick() {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.stopped || ps.done() {
		return
	}
	c := ps.c
	now := c.s.now()
	if due := ps.dueAt(ps.i); due > now {
		ps.timer.Reset(time.Duration(due - now))
		return
	}
	c.wmu.Lock()
	behind := c.writing || len(c.q) > 0
	c.wmu.Unlock()
	if behind {
		// The peer does not take what was sent: build nothing more until
		// it does (the schedule then catches up in batches).
		ps.timer.Reset(max(time.Duration(ps.period), time.Millisecond))
		return
	}
	buf := ps.buf[:0]
	var msgs, payload int64
	pad := padding(ps.p.size)
	for !ps.done() && ps.dueAt(ps.i) <= now && len(buf) < pushBatchBytes {
		var n int
		buf, n = appendPush(buf, ps.i, time.Now().UnixNano(), ps.p.size, pad)
		ps.i++
		msgs++
		payload += int64(n)
	}
	ps.buf = buf
	if c.send(buf, msgs, payload) != nil {
		ps.stopped = true // closing, or the connection failed and is aborted
		return
	}
	if ps.done() {
		return
	}
	ps.timer.Reset(time.Duration(max(ps.dueAt(ps.i)-c.s.now(), 0)))
}

// pad holds 'x' bytes shared by every /push connection's padding.
var pad struct {
	mu sync.Mutex
	b  atomic.Pointer[[]byte]
}

// padding returns n 'x' bytes, which must not be modified.
func padding(n int) []byte {
	if b := pad.b.Load(); b != nil && len(*b) >= n {
		return (*b)[:n]
	}
	pad.mu.Lock()
	defer pad.mu.Unlock()
	if b := pad.b.Load(); b != nil && len(*b) >= n {
		return (*b)[:n]
	}
	b := bytes.Repeat([]byte{'x'}, max(n, 4096))
	pad.b.Store(&b)
	return b[:n]
}
