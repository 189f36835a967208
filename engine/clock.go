package engine

import "time"

// Clock is the run clock: nanoseconds since the run's origin, read from
// the monotonic clock. The origin is a wall-clock instant that the
// processes of one run share, so their run times compare (one-way
// latencies across processes on one host); within a process the clock
// only ever moves forward. Wall() maps a run time to Unix nanoseconds.
type Clock struct {
	epoch      time.Time // carries the monotonic reading
	offset     int64     // ns from the origin to epoch
	originWall int64
}

// NewClock starts a clock whose origin is now.
func NewClock() *Clock { return NewClockFrom(time.Time{}) }

// NewClockFrom starts a clock whose origin is the wall-clock instant
// origin (zero: now).
func NewClockFrom(origin time.Time) *Clock {
	now := time.Now()
	if origin.IsZero() {
		origin = now
	}
	return &Clock{epoch: now, offset: now.UnixNano() - origin.UnixNano(), originWall: origin.UnixNano()}
}

// Now returns nanoseconds since the origin.
func (c *Clock) Now() int64 { return int64(time.Since(c.epoch)) + c.offset }

// Wall converts a run time to Unix nanoseconds.
func (c *Clock) Wall(t int64) int64 { return c.originWall + t }

// At returns the monotonic time.Time of run time t, for timers.
func (c *Clock) At(t int64) time.Time { return c.epoch.Add(time.Duration(t - c.offset)) }

// Epoch returns the start of the run.
func (c *Clock) Epoch() time.Time { return c.epoch }
