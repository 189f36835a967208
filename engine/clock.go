package engine

import "time"

// Clock is the run clock: nanoseconds since the run's epoch, read from the
// monotonic clock. Wall() maps a run time to Unix nanoseconds so reports
// and other processes on the same host can line them up.
type Clock struct {
	epoch     time.Time // carries the monotonic reading
	epochWall int64
}

// NewClock starts a clock at now.
func NewClock() *Clock {
	now := time.Now()
	return &Clock{epoch: now, epochWall: now.UnixNano()}
}

// Now returns nanoseconds since the epoch.
func (c *Clock) Now() int64 { return int64(time.Since(c.epoch)) }

// Wall converts a run time to Unix nanoseconds.
func (c *Clock) Wall(t int64) int64 { return c.epochWall + t }

// At returns the monotonic time.Time of run time t, for timers.
func (c *Clock) At(t int64) time.Time { return c.epoch.Add(time.Duration(t)) }

// Epoch returns the start of the run.
func (c *Clock) Epoch() time.Time { return c.epoch }
