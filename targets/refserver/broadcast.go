package refserver

import (
	"slices"
	"sync"
)

// room is a broadcast room. Its mutex orders fan-out: every member's queue
// receives the room's messages in the one order the room saw them.
type room struct {
	s       *Server
	name    string
	mu      sync.Mutex
	members []*conn
	// ready is closed once messages of the room reach this process: at
	// once on a standalone server, when the hub acknowledged the join in a
	// group (joinErr is set before, if it failed).
	ready   chan struct{}
	joinErr error
}

// join adds c to the room named c.roomName, creating it if needed, and
// returns once c receives every message published from now on.
func (s *Server) join(c *conn) error {
	s.roomsMu.Lock()
	r := s.rooms[c.roomName]
	var ack <-chan error
	if r == nil {
		r = &room{s: s, name: c.roomName, ready: make(chan struct{})}
		s.rooms[c.roomName] = r
		if s.peers == nil {
			close(r.ready)
		} else {
			// Sent under roomsMu, so a leave and a later join of the same
			// room reach the hub in that order.
			ack = s.peers.join(c.roomName)
		}
	}
	r.mu.Lock()
	r.members = append(r.members, c)
	r.mu.Unlock()
	c.room = r
	s.roomsMu.Unlock()
	if ack != nil {
		r.joinErr = <-ack
		close(r.ready)
	}
	<-r.ready
	return r.joinErr
}

// leave removes c from its room and deletes the room when it is empty.
func (s *Server) leave(c *conn) {
	s.roomsMu.Lock()
	defer s.roomsMu.Unlock()
	r := c.room
	r.mu.Lock()
	if i := slices.Index(r.members, c); i >= 0 {
		last := len(r.members) - 1
		r.members[i] = r.members[last]
		r.members[last] = nil
		r.members = r.members[:last]
	}
	empty := len(r.members) == 0
	r.mu.Unlock()
	if empty && s.rooms[r.name] == r {
		delete(s.rooms, r.name)
		if s.peers != nil {
			s.peers.leave(r.name)
		}
	}
}

// broadcast sends a member's message to room r: straight to the members
// on a standalone server, through the hub in a group (every process then
// fans it out with due = now + ProcessDelay, since due times are per
// process clocks).
func (s *Server) broadcast(r *room, frame []byte, n, due int64) {
	if s.peers != nil {
		s.peers.publish(r.name, frame, n)
		return
	}
	r.fanout(frame, n, due)
}

// deliver fans out a group's broadcast message to this process's members
// of room.
func (s *Server) deliver(room string, frame []byte, n int64) {
	s.roomsMu.Lock()
	r := s.rooms[room]
	s.roomsMu.Unlock()
	if r != nil {
		r.fanout(frame, n, -1)
	}
}

// targets lends fan-out its list of members to flush.
var targets = sync.Pool{New: func() any { return new([]*conn) }}

// fanout queues frame (payload length n) for every member, then writes
// each member's due frames. due < 0 means now plus ProcessDelay, taken
// under the room lock so due times rise in queue order. The writes happen
// outside the room lock, so one room's senders do not wait for each
// other's system calls; every member's queue is already in room order.
func (r *room) fanout(frame []byte, n, due int64) {
	s := r.s
	every := int64(s.cfg.DropEvery)
	tp := targets.Get().(*[]*conn)
	ms := (*tp)[:0]
	r.mu.Lock()
	if due < 0 {
		due = s.now() + int64(s.cfg.ProcessDelay)
	}
	for _, m := range r.members {
		if every > 0 && s.deliveries.Add(1)%every == 0 {
			s.dropped.Add(1)
			continue
		}
		m.enqueue(outFrame{frame: frame, msgs: 1, n: n, due: due})
		ms = append(ms, m)
	}
	r.mu.Unlock()
	for _, m := range ms {
		m.flush()
	}
	clear(ms)
	*tp = ms[:0]
	targets.Put(tp)
}
