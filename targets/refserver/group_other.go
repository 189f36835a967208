//go:build !linux

package refserver

import (
	"errors"
	"io"
	"time"
)

// GroupOptions configures StartGroup.
type GroupOptions struct {
	Procs        int
	Addr         string
	Command      func(addr string) []string
	Stderr       io.Writer
	ReadyTimeout time.Duration
	Logf         func(format string, args ...any)
}

// Group is a group of server processes; on this system StartGroup
// always fails.
type Group struct{}

// StartGroup needs Linux (SO_REUSEPORT load balancing, parent-death
// signal).
func StartGroup(GroupOptions) (*Group, error) {
	return nil, errors.New("refserver: a server group (--procs > 1) needs Linux")
}

// Addr returns "".
func (g *Group) Addr() string { return "" }

// Failed returns a channel that is never closed.
func (g *Group) Failed() <-chan struct{} { return nil }

// Err returns nil.
func (g *Group) Err() error { return nil }

// Stop does nothing.
func (g *Group) Stop(time.Duration) {}
