package refserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// LinkFD is the descriptor a group worker finds its hub link on: the
// first of exec.Cmd.ExtraFiles.
const LinkFD = 3

// groupQueryTimeout bounds a /stats round through the hub.
const groupQueryTimeout = 5 * time.Second

// RunWorker runs one worker process of a group (see StartGroup): a Server
// with cfg listening on addr with SO_REUSEPORT, linked to the coordinator
// through the Unix socket on descriptor linkFD. It returns after ctx ends
// or the link closes (the coordinator is gone), once the server has shut
// down (at most shutdownTimeout, then connections are closed at once).
func RunWorker(ctx context.Context, cfg Config, addr string, linkFD uintptr, shutdownTimeout time.Duration) error {
	f := os.NewFile(linkFD, "wsbench-group-link")
	if f == nil {
		return fmt.Errorf("refserver: group link: descriptor %d is not open", linkFD)
	}
	nc, err := net.FileConn(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("refserver: group link: %w", err)
	}
	ln, err := ListenReusePort(addr)
	if err != nil {
		nc.Close()
		return err
	}
	srv := New(cfg)
	w := &workerLink{
		s:     srv,
		l:     newLink(nc),
		joins: make(map[uint32]chan error),
		sums:  make(map[uint32]chan statsSum),
		done:  make(chan struct{}),
	}
	srv.peers = w
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	go w.readLoop()
	err = w.l.send(msgReady)
	if err == nil {
		select {
		case <-ctx.Done():
		case <-w.done:
			srv.logf("refserver: group link closed: %v", w.err())
		case err = <-served:
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	serr := srv.Shutdown(sctx)
	w.l.close()
	<-w.done
	if err == nil && serr != nil {
		err = fmt.Errorf("refserver: shutdown: %w (connections closed)", serr)
	}
	return err
}

// ListenReusePort listens on addr with SO_REUSEPORT, so the processes of a
// group share the port and the kernel spreads new connections over them.
func ListenReusePort(addr string) (net.Listener, error) {
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) { serr = setReusePort(fd) })
		if err != nil {
			return err
		}
		return serr
	}}
	ln, err := lc.Listen(context.Background(), "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("refserver: listen: %w", err)
	}
	return ln, nil
}

// statsSum is the hub's answer to a /stats request.
type statsSum struct {
	st  GroupStats
	err error
}

// workerLink is a worker's end of its hub link; it implements peers.
type workerLink struct {
	s *Server
	l *link

	mu     sync.Mutex
	nextID uint32
	joins  map[uint32]chan error
	sums   map[uint32]chan statsSum
	failed error // the link's end, once readLoop stopped

	done chan struct{} // closed when readLoop stopped
}

func (w *workerLink) err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.failed
}

// request registers a waiter and returns its id, or the link's error.
func (w *workerLink) request(add func(id uint32)) (uint32, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.failed != nil {
		return 0, w.failed
	}
	w.nextID++
	add(w.nextID)
	return w.nextID, nil
}

func (w *workerLink) join(room string) <-chan error {
	ch := make(chan error, 1)
	id, err := w.request(func(id uint32) { w.joins[id] = ch })
	if err == nil {
		err = w.l.send(msgJoin, u32(id), roomBody(room))
	}
	if err != nil {
		w.mu.Lock()
		delete(w.joins, id)
		w.mu.Unlock()
		ch <- err
	}
	return ch
}

func (w *workerLink) leave(room string) {
	// A failed send means the link is gone; the worker is shutting down.
	_ = w.l.send(msgLeave, roomBody(room))
}

func (w *workerLink) publish(room string, frame []byte, n int64) {
	_ = w.l.send(msgPublish, publishBody(room, n, frame)...)
}

func (w *workerLink) stats() (GroupStats, error) {
	ch := make(chan statsSum, 1)
	id, err := w.request(func(id uint32) { w.sums[id] = ch })
	if err == nil {
		err = w.l.send(msgStatsReq, u32(id))
	}
	if err == nil {
		select {
		case r := <-ch:
			return r.st, r.err
		case <-time.After(groupQueryTimeout):
			err = errors.New("no answer from the server group")
		}
	}
	w.mu.Lock()
	delete(w.sums, id)
	w.mu.Unlock()
	return GroupStats{}, fmt.Errorf("refserver: /stats: %w", err)
}

// readLoop handles the hub's messages until the link ends, then fails
// every waiter.
func (w *workerLink) readLoop() {
	err := w.handleAll()
	w.mu.Lock()
	w.failed = fmt.Errorf("group link: %w", err)
	for id, ch := range w.joins {
		ch <- w.failed
		delete(w.joins, id)
	}
	for id, ch := range w.sums {
		ch <- statsSum{err: w.failed}
		delete(w.sums, id)
	}
	w.mu.Unlock()
	close(w.done)
}

func (w *workerLink) handleAll() error {
	for {
		typ, body, err := w.l.recv()
		if err != nil {
			return err
		}
		switch typ {
		case msgDeliver:
			room, n, frame, err := splitPublish(body)
			if err != nil {
				return err
			}
			w.s.deliver(room, frame, n)
		case msgJoined:
			id, _, err := splitU32(body)
			if err != nil {
				return err
			}
			w.mu.Lock()
			ch := w.joins[id]
			delete(w.joins, id)
			w.mu.Unlock()
			if ch != nil {
				ch <- nil
			}
		case msgStatsQuery:
			st, _ := json.Marshal(w.s.Stats())
			err := w.l.send(msgStatsReply, body[:min(len(body), 4)], st)
			if err != nil {
				return err
			}
		case msgStatsSum:
			id, rest, err := splitU32(body)
			if err != nil {
				return err
			}
			var r statsSum
			if len(rest) > 0 && rest[0] == '{' {
				r.err = json.Unmarshal(rest, &r.st)
			} else {
				r.err = errors.New(string(rest))
			}
			w.mu.Lock()
			ch := w.sums[id]
			delete(w.sums, id)
			w.mu.Unlock()
			if ch != nil {
				ch <- r
			}
		default:
			return fmt.Errorf("unknown link message %q", typ)
		}
	}
}

// RaiseDescriptorLimit raises this process's soft limit on open
// descriptors to the hard limit and returns the new soft limit.
func RaiseDescriptorLimit() (uint64, error) {
	var rl unix.Rlimit
	err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl)
	if err != nil {
		return 0, fmt.Errorf("getrlimit: %w", err)
	}
	if rl.Cur < rl.Max {
		rl.Cur = rl.Max
		err = unix.Setrlimit(unix.RLIMIT_NOFILE, &rl)
		if err != nil {
			return 0, fmt.Errorf("setrlimit: %w", err)
		}
	}
	return rl.Cur, nil
}

func setReusePort(fd uintptr) error {
	return unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
}
