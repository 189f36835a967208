package refserver

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
)

// A group is several server processes sharing one port with SO_REUSEPORT
// (`wsbench serve --procs N`): a coordinator process that serves nothing
// itself and N worker processes, each a Server. The coordinator is the hub
// of a star of Unix socket links, one per worker, over which
//
//   - broadcast messages are ordered: a worker publishes every message from
//     a /broadcast member to the hub, which forwards it, in the one order it
//     received them, to every worker that has members in the room (the
//     publisher included); each worker then fans it out to its own members.
//     So every member of a room, on whichever process, receives the room's
//     messages in the same order, at the price of a round trip through the
//     hub for each message;
//   - room membership is announced: a worker's first member of a room waits
//     for the hub to acknowledge the join before its 101 goes out, so it
//     receives every message published after its handshake, as on one
//     process;
//   - /stats is answered live: the worker that receives the request asks
//     the hub, which asks every worker and sends back the sum and each
//     process's counters.
//
// Link messages are a type byte, a 32-bit big-endian length and the body.
const (
	msgReady      = 'R' // worker → hub: listening
	msgJoin       = 'J' // worker → hub: id, room: forward the room here
	msgJoined     = 'j' // hub → worker: id
	msgLeave      = 'L' // worker → hub: room: no members here any more
	msgPublish    = 'P' // worker → hub: room, n, frame
	msgDeliver    = 'D' // hub → worker: room, n, frame
	msgStatsReq   = 'S' // worker → hub: id
	msgStatsQuery = 'Q' // hub → worker: id
	msgStatsReply = 'T' // worker → hub: id, JSON Stats
	msgStatsSum   = 's' // hub → worker: id, JSON GroupStats or an error text
)

// maxLinkMessage bounds a link message: a frame of the largest message
// size Config allows with room to spare.
const maxLinkMessage = 1<<31 - 1

// ProcessStats are one worker process's counters in GroupStats.
type ProcessStats struct {
	PID int `json:"pid"`
	Stats
}

// GroupStats is the /stats document of a group: the sum of every process's
// counters, and each process's own.
type GroupStats struct {
	Stats
	Processes []ProcessStats `json:"processes"`
}

// link is one end of a hub link: framed messages over a stream.
type link struct {
	rw io.ReadWriteCloser
	br *bufio.Reader

	wmu sync.Mutex
	bw  *bufio.Writer
}

func newLink(rw io.ReadWriteCloser) *link {
	return &link{rw: rw, br: bufio.NewReaderSize(rw, 64<<10), bw: bufio.NewWriterSize(rw, 64<<10)}
}

// send writes one message made of parts and flushes it.
func (l *link) send(typ byte, parts ...[]byte) error {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	if n > maxLinkMessage {
		return fmt.Errorf("link message of %d bytes", n)
	}
	var hdr [5]byte
	hdr[0] = typ
	binary.BigEndian.PutUint32(hdr[1:], uint32(n))
	l.wmu.Lock()
	defer l.wmu.Unlock()
	l.bw.Write(hdr[:])
	for _, p := range parts {
		l.bw.Write(p)
	}
	return l.bw.Flush()
}

// recv reads the next message; the body is newly allocated.
func (l *link) recv() (byte, []byte, error) {
	var hdr [5]byte
	_, err := io.ReadFull(l.br, hdr[:])
	if err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[1:])
	if n > maxLinkMessage {
		return 0, nil, fmt.Errorf("link message of %d bytes", n)
	}
	body := make([]byte, n)
	_, err = io.ReadFull(l.br, body)
	if err != nil {
		return 0, nil, fmt.Errorf("link: %w", io.ErrUnexpectedEOF)
	}
	return hdr[0], body, nil
}

func (l *link) close() error { return l.rw.Close() }

// Encoding helpers for link bodies.

func u32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

// roomBody encodes a room name with a 16-bit length.
func roomBody(room string) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(len(room)))
	return append(b, room...)
}

var errShortBody = errors.New("link: short message")

// splitRoom decodes a room name at the start of b.
func splitRoom(b []byte) (string, []byte, error) {
	if len(b) < 2 {
		return "", nil, errShortBody
	}
	n := int(binary.BigEndian.Uint16(b))
	if len(b) < 2+n {
		return "", nil, errShortBody
	}
	return string(b[2 : 2+n]), b[2+n:], nil
}

// splitU32 decodes a 32-bit id at the start of b.
func splitU32(b []byte) (uint32, []byte, error) {
	if len(b) < 4 {
		return 0, nil, errShortBody
	}
	return binary.BigEndian.Uint32(b), b[4:], nil
}

// publishBody encodes a broadcast message: room, payload length, frame.
func publishBody(room string, n int64, frame []byte) [][]byte {
	return [][]byte{roomBody(room), binary.BigEndian.AppendUint64(nil, uint64(n)), frame}
}

// splitPublish decodes publishBody.
func splitPublish(b []byte) (room string, n int64, frame []byte, err error) {
	room, b, err = splitRoom(b)
	if err != nil {
		return "", 0, nil, err
	}
	if len(b) < 8 {
		return "", 0, nil, errShortBody
	}
	return room, int64(binary.BigEndian.Uint64(b)), b[8:], nil
}

// peers is a worker's view of its group (nil on a standalone Server).
type peers interface {
	// join asks the hub to forward room's messages to this process; the
	// channel receives nil once it does.
	join(room string) <-chan error
	// leave tells the hub this process has no member of room any more.
	leave(room string)
	// publish sends a broadcast message to every process with members in
	// room, this one included, in the hub's order.
	publish(room string, frame []byte, n int64)
	// stats returns the group's counters, live.
	stats() (GroupStats, error)
}
