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
}

// join adds c to the room named c.roomName, creating it if needed.
func (s *Server) join(c *conn) {
	s.roomsMu.Lock()
	defer s.roomsMu.Unlock()
	r := s.rooms[c.roomName]
	if r == nil {
		r = &room{s: s, name: c.roomName}
		s.rooms[c.roomName] = r
	}
	r.mu.Lock()
	r.members = append(r.members, c)
	r.mu.Unlock()
	c.room = r
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
	}
}

// fanout queues frame (payload length n) for every member. due < 0 means
// now plus ProcessDelay, taken under the room lock so due times rise in
// queue order.
func (r *room) fanout(frame []byte, n, due int64) {
	s := r.s
	every := int64(s.cfg.DropEvery)
	r.mu.Lock()
	defer r.mu.Unlock()
	if due < 0 {
		due = s.now() + int64(s.cfg.ProcessDelay)
	}
	for _, m := range r.members {
		if every > 0 && s.deliveries.Add(1)%every == 0 {
			s.dropped.Add(1)
			continue
		}
		m.enqueue(outFrame{frame: frame, n: n, due: due})
	}
}
