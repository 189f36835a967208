//go:build linux

package refserver

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// GroupOptions configures StartGroup.
type GroupOptions struct {
	// Procs is the number of worker processes (at least 1).
	Procs int
	// Addr is the shared listen address; port 0 picks a free port.
	Addr string
	// Command returns the argv of a worker that listens on addr: a program
	// that calls RunWorker with descriptor LinkFD (`wsbench serve` does
	// with its hidden --group-worker flag).
	Command func(addr string) []string
	// Stderr receives the workers' standard output and error.
	Stderr io.Writer
	// ReadyTimeout bounds the wait for every worker to listen; 0 means 15 s.
	ReadyTimeout time.Duration
	// Logf, if set, receives the coordinator's events (a worker that
	// exited). nil is silent.
	Logf func(format string, args ...any)
}

// Group is a running group of server processes sharing one port: the
// calling process coordinates (it serves no connection itself), the
// workers serve. Linux only: it relies on SO_REUSEPORT's load balancing
// and on the parent-death signal.
type Group struct {
	addr    string
	reserve int // bound, never listening: holds the port while the group runs
	hub     *hub
	cmds    []*exec.Cmd
	exited  chan int // worker index, once per worker
	stopped sync.Once
	logf    func(string, ...any)

	mu       sync.Mutex
	stopping bool
	failure  error
	failed   chan struct{} // closed when a worker died before Stop
}

// Addr returns the address every worker listens on.
func (g *Group) Addr() string { return g.addr }

// Failed is closed when a worker exits while the group is not stopping;
// Err then says which.
func (g *Group) Failed() <-chan struct{} { return g.failed }

// Err returns why the group failed, or nil.
func (g *Group) Err() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.failure
}

// StartGroup raises the descriptor limit, reserves the port, starts the
// workers (each dies with this process: Linux's parent-death signal sends
// it SIGTERM, and it also stops when its hub link closes) and returns once
// every worker listens. Stop the group with Stop.
func StartGroup(o GroupOptions) (*Group, error) {
	if o.Procs < 1 {
		return nil, fmt.Errorf("refserver: a group needs at least one process, got %d", o.Procs)
	}
	if o.ReadyTimeout <= 0 {
		o.ReadyTimeout = 15 * time.Second
	}
	logf := o.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if _, err := RaiseDescriptorLimit(); err != nil {
		logf("refserver: %v", err)
	}
	fd, addr, err := reservePort(o.Addr)
	if err != nil {
		return nil, err
	}
	g := &Group{
		addr:    addr,
		reserve: fd,
		hub:     newHub(o.Procs),
		exited:  make(chan int, o.Procs),
		logf:    logf,
		failed:  make(chan struct{}),
	}
	// The parent-death signal fires when the thread that started a child
	// exits, not the process; Go may end a thread only when a goroutine
	// locked to it exits, so the children are started from a thread locked
	// for the duration (see Stop).
	runtime.LockOSThread()
	for i := range o.Procs {
		err := g.startWorker(i, o)
		if err != nil {
			g.Stop(time.Second)
			return nil, err
		}
	}
	select {
	case <-g.hub.allReady:
		return g, nil
	case <-g.failed:
		err = g.Err()
	case <-time.After(o.ReadyTimeout):
		err = fmt.Errorf("refserver: the group's workers did not listen within %v", o.ReadyTimeout)
	}
	g.Stop(time.Second)
	return nil, err
}

func (g *Group) startWorker(i int, o GroupOptions) error {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("refserver: group link: %w", err)
	}
	mine := os.NewFile(uintptr(fds[0]), "wsbench-group-hub")
	theirs := os.NewFile(uintptr(fds[1]), "wsbench-group-link")
	defer theirs.Close()
	argv := o.Command(g.addr)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.ExtraFiles = []*os.File{theirs} // LinkFD
	cmd.Stdout = o.Stderr
	cmd.Stderr = o.Stderr
	// Its own process group: a Ctrl-C in a terminal reaches only the
	// coordinator, which stops the workers with one SIGTERM each (a
	// second signal would make them exit without closing connections).
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM, Setpgid: true}
	err = cmd.Start()
	if err != nil {
		mine.Close()
		return fmt.Errorf("refserver: start worker %d: %w", i, err)
	}
	nc, err := net.FileConn(mine)
	mine.Close()
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return fmt.Errorf("refserver: group link: %w", err)
	}
	g.cmds = append(g.cmds, cmd)
	g.hub.add(i, cmd.Process.Pid, newLink(nc))
	go func() {
		err := cmd.Wait()
		g.exited <- i
		g.mu.Lock()
		defer g.mu.Unlock()
		if !g.stopping && g.failure == nil {
			g.failure = fmt.Errorf("refserver: worker %d (pid %d) exited: %v", i, cmd.Process.Pid, err)
			g.logf("%v", g.failure)
			close(g.failed)
		}
	}()
	return nil
}

// Stop sends SIGTERM to every worker (each closes its connections with
// 1001), waits up to timeout for them to exit, kills the rest and releases
// the port. It is idempotent and must be called from the goroutine that
// called StartGroup.
func (g *Group) Stop(timeout time.Duration) {
	g.stopped.Do(func() {
		g.mu.Lock()
		g.stopping = true
		g.mu.Unlock()
		for _, cmd := range g.cmds {
			cmd.Process.Signal(syscall.SIGTERM)
		}
		deadline := time.After(timeout)
		left := len(g.cmds)
	wait:
		for left > 0 {
			select {
			case <-g.exited:
				left--
			case <-deadline:
				for _, cmd := range g.cmds {
					cmd.Process.Kill()
				}
				break wait
			}
		}
		for ; left > 0; left-- {
			<-g.exited
		}
		g.hub.close()
		unix.Close(g.reserve)
		runtime.UnlockOSThread()
	})
}

// reservePort binds a socket with SO_REUSEPORT to addr without listening,
// so the port is the group's (port 0 picks one) but no connection is
// queued on it; the workers' listeners share it. A probe bind without
// SO_REUSEPORT first makes sure nobody holds the port: any process of
// the same user that sets SO_REUSEPORT could otherwise join the group's
// port (another group started on it, say) and take a share of its
// connections.
func reservePort(addr string) (int, string, error) {
	probe, probed, err := bindPort(addr, false)
	if err != nil {
		return -1, "", err
	}
	unix.Close(probe)
	return bindPort(probed, true)
}

// bindPort binds a TCP socket to addr (with SO_REUSEADDR, as Go's
// listeners do, so connections of an earlier server in TIME_WAIT do not
// count, and with SO_REUSEPORT if reuse) and returns it with the bound
// address.
func bindPort(addr string, reuse bool) (int, string, error) {
	ta, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		return -1, "", fmt.Errorf("refserver: listen address: %w", err)
	}
	family, sa := unix.AF_INET, unix.Sockaddr(nil)
	if ip4 := ta.IP.To4(); ip4 != nil || ta.IP == nil {
		s4 := &unix.SockaddrInet4{Port: ta.Port}
		if ip4 != nil {
			copy(s4.Addr[:], ip4)
		}
		sa = s4
	} else {
		family = unix.AF_INET6
		s6 := &unix.SockaddrInet6{Port: ta.Port}
		copy(s6.Addr[:], ta.IP.To16())
		sa = s6
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, "", fmt.Errorf("refserver: reserve port: %w", err)
	}
	err = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	if err == nil && reuse {
		err = setReusePort(uintptr(fd))
	}
	if err == nil {
		err = unix.Bind(fd, sa)
	}
	var got unix.Sockaddr
	if err == nil {
		got, err = unix.Getsockname(fd)
	}
	if err != nil {
		unix.Close(fd)
		return -1, "", fmt.Errorf("refserver: listen %s: %w", addr, err)
	}
	port := 0
	switch a := got.(type) {
	case *unix.SockaddrInet4:
		port = a.Port
	case *unix.SockaddrInet6:
		port = a.Port
	}
	host := ta.IP.String()
	if ta.IP == nil {
		host = ""
	}
	return fd, net.JoinHostPort(host, strconv.Itoa(port)), nil
}

// hub is the coordinator's end of every worker's link: it orders
// broadcast messages and answers /stats (see group.go).
type hub struct {
	mu       sync.Mutex
	workers  []*hubWorker
	rooms    map[string]map[*hubWorker]struct{}
	queries  map[uint32]*statsQuery
	nextQ    uint32
	ready    int
	allReady chan struct{}
	wg       sync.WaitGroup
}

// hubWorker is one worker's link as the hub sees it. Messages to it go
// through a queue drained by a writer goroutine, so a worker that reads
// slowly never holds up the hub's ordering of the others' messages (nor
// does the hub deadlock with a worker writing to it). A worker that lets
// maxHubQueue bytes pile up is stuck: it is killed, which fails the group,
// rather than growing the coordinator without bound.
type hubWorker struct {
	i   int
	pid int
	l   *link

	qmu    sync.Mutex
	qcond  sync.Cond
	out    [][]byte // encoded messages
	queued int      // bytes in out
	closed bool
}

// maxHubQueue bounds the bytes waiting for one worker.
const maxHubQueue = 512 << 20

// statsQuery is a /stats request waiting for every worker's counters.
type statsQuery struct {
	from    *hubWorker
	id      []byte // the requester's id, echoed
	replies []*ProcessStats
	left    int
	timer   *time.Timer
}

func newHub(n int) *hub {
	return &hub{
		workers:  make([]*hubWorker, n),
		rooms:    make(map[string]map[*hubWorker]struct{}),
		queries:  make(map[uint32]*statsQuery),
		allReady: make(chan struct{}),
	}
}

func (h *hub) add(i, pid int, l *link) {
	w := &hubWorker{i: i, pid: pid, l: l}
	w.qcond.L = &w.qmu
	h.mu.Lock()
	h.workers[i] = w
	h.mu.Unlock()
	h.wg.Go(w.writeLoop)
	h.wg.Go(func() { h.readLoop(w) })
}

// close ends every link and waits for the hub's goroutines.
func (h *hub) close() {
	h.mu.Lock()
	for _, w := range h.workers {
		if w != nil {
			w.l.close()
			w.qmu.Lock()
			w.closed = true
			w.qcond.Broadcast()
			w.qmu.Unlock()
		}
	}
	h.mu.Unlock()
	h.wg.Wait()
}

// encode builds one link message.
func encode(typ byte, parts ...[]byte) []byte {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	b := make([]byte, 5, 5+n)
	b[0] = typ
	binary.BigEndian.PutUint32(b[1:], uint32(n))
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// queue appends an encoded message to w's outbound queue.
func (w *hubWorker) queue(msg []byte) {
	w.qmu.Lock()
	defer w.qmu.Unlock()
	if w.closed {
		return
	}
	if w.queued+len(msg) > maxHubQueue {
		w.closed = true
		w.out = nil
		w.qcond.Signal()
		// Its exit fails the group with this worker's PID.
		syscall.Kill(w.pid, syscall.SIGKILL)
		return
	}
	w.out = append(w.out, msg)
	w.queued += len(msg)
	w.qcond.Signal()
}

func (w *hubWorker) writeLoop() {
	for {
		w.qmu.Lock()
		for len(w.out) == 0 && !w.closed {
			w.qcond.Wait()
		}
		if w.closed {
			w.qmu.Unlock()
			return
		}
		batch := w.out
		w.out = nil
		w.queued = 0
		w.qmu.Unlock()
		bufs := net.Buffers(batch)
		_, err := bufs.WriteTo(w.l.rw)
		if err != nil {
			return // the worker is gone; its exit is reported by Wait
		}
	}
}

// readLoop handles one worker's messages until its link ends.
func (h *hub) readLoop(w *hubWorker) {
	for {
		typ, body, err := w.l.recv()
		if err != nil {
			h.mu.Lock()
			for room, ws := range h.rooms {
				delete(ws, w)
				if len(ws) == 0 {
					delete(h.rooms, room)
				}
			}
			h.mu.Unlock()
			return
		}
		h.handle(w, typ, body)
	}
}

func (h *hub) handle(w *hubWorker, typ byte, body []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch typ {
	case msgReady:
		h.ready++
		if h.ready == len(h.workers) {
			close(h.allReady)
		}
	case msgJoin:
		id, rest, err := splitU32(body)
		room, _, rerr := splitRoom(rest)
		if err != nil || rerr != nil {
			return
		}
		ws := h.rooms[room]
		if ws == nil {
			ws = make(map[*hubWorker]struct{})
			h.rooms[room] = ws
		}
		ws[w] = struct{}{}
		w.queue(encode(msgJoined, u32(id)))
	case msgLeave:
		room, _, err := splitRoom(body)
		if err != nil {
			return
		}
		if ws := h.rooms[room]; ws != nil {
			delete(ws, w)
			if len(ws) == 0 {
				delete(h.rooms, room)
			}
		}
	case msgPublish:
		room, _, err := splitRoom(body)
		if err != nil {
			return
		}
		// Under h.mu: every worker's queue gets the room's messages in
		// the one order the hub handled them.
		msg := encode(msgDeliver, body)
		for to := range h.rooms[room] {
			to.queue(msg)
		}
	case msgStatsReq:
		if len(body) < 4 {
			return
		}
		h.nextQ++
		qid := h.nextQ
		q := &statsQuery{from: w, id: body[:4], replies: make([]*ProcessStats, len(h.workers)), left: len(h.workers)}
		q.timer = time.AfterFunc(groupQueryTimeout, func() { h.expire(qid) })
		h.queries[qid] = q
		for _, to := range h.workers {
			to.queue(encode(msgStatsQuery, u32(qid)))
		}
	case msgStatsReply:
		qid, rest, err := splitU32(body)
		q := h.queries[qid]
		if err != nil || q == nil || q.replies[w.i] != nil {
			return
		}
		ps := &ProcessStats{PID: w.pid}
		if json.Unmarshal(rest, &ps.Stats) != nil {
			return
		}
		q.replies[w.i] = ps
		q.left--
		if q.left == 0 {
			q.timer.Stop()
			delete(h.queries, qid)
			var gs GroupStats
			for _, r := range q.replies {
				gs.Processes = append(gs.Processes, *r)
				gs.add(r.Stats)
			}
			b, _ := json.Marshal(gs)
			q.from.queue(encode(msgStatsSum, q.id, b))
		}
	}
}

// expire answers a /stats request some worker did not answer in time.
func (h *hub) expire(qid uint32) {
	h.mu.Lock()
	defer h.mu.Unlock()
	q := h.queries[qid]
	if q == nil {
		return
	}
	delete(h.queries, qid)
	var missing []int
	for i, r := range q.replies {
		if r == nil {
			missing = append(missing, h.workers[i].pid)
		}
	}
	msg := fmt.Sprintf("no counters from worker pid(s) %v within %v", missing, groupQueryTimeout)
	q.from.queue(encode(msgStatsSum, q.id, []byte(msg)))
}

// add adds st's counters to gs's sums.
func (gs *GroupStats) add(st Stats) {
	gs.ConnectionsTotal += st.ConnectionsTotal
	gs.ConnectionsOpen += st.ConnectionsOpen
	gs.MessagesIn += st.MessagesIn
	gs.MessagesOut += st.MessagesOut
	gs.BytesIn += st.BytesIn
	gs.BytesOut += st.BytesOut
	gs.Dropped += st.Dropped
}
