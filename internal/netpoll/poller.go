package netpoll

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"syscall"
)

// ErrClosed is returned by operations on a closed Poller or Desc.
var ErrClosed = errors.New("netpoll: closed")

// Handler is what a registered connection does when it is ready. See the
// package documentation for the contract.
type Handler interface {
	// Ready is called on a pool goroutine when the connection is readable
	// or was kicked. It returns true to be called again on the next
	// readiness and false to stay paused until Desc.Resume.
	Ready() bool
}

// Config configures a Poller.
type Config struct {
	// Workers is the number of pool goroutines that run handlers; 0 means
	// DefaultWorkers(). Handlers must not block, so a few per CPU suffice.
	Workers int
	// Events is how many events one epoll_wait returns at most; 0 means 256.
	Events int
}

// DefaultWorkers is the pool size when Config.Workers is 0: two per CPU Go
// may use, at least four, so that a handler that stalls on a page fault or
// a mutex does not idle a CPU.
func DefaultWorkers() int { return max(4, 2*runtime.GOMAXPROCS(0)) }

// Poller hands readiness of registered connections to a bounded pool of
// goroutines. Create it with New; it is safe for concurrent use.
type Poller struct {
	cfg Config
	be  backend

	mu         sync.Mutex // guards slots, free and closed
	slots      []*Desc
	free       []uint32
	closed     bool
	genCounter uint32

	// The run queue: Descs whose Ready is due, each at most once (Desc.queued).
	qmu    sync.Mutex
	qcond  sync.Cond
	queue  []*Desc
	qhead  int
	qstop  bool
	pool   sync.WaitGroup
	loop   sync.WaitGroup
	closer sync.Once
}

// New returns a running Poller.
func New(cfg Config) (*Poller, error) {
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultWorkers()
	}
	if cfg.Events <= 0 {
		cfg.Events = 256
	}
	p := &Poller{cfg: cfg}
	p.qcond.L = &p.qmu
	err := p.openBackend()
	if err != nil {
		return nil, err
	}
	for range cfg.Workers {
		p.pool.Go(p.work)
	}
	p.loop.Go(p.waitLoop)
	return p, nil
}

// Close stops the event loop and the pool. It waits for running handlers
// to return; queued ones are not run. Registered connections stay open and
// their Descs inert. Close is idempotent and must not be called from
// inside Ready.
func (p *Poller) Close() error {
	var err error
	p.closer.Do(func() {
		p.mu.Lock()
		p.closed = true
		p.mu.Unlock()
		err = p.closeBackend()
		p.loop.Wait()
		p.qmu.Lock()
		p.qstop = true
		p.qcond.Broadcast()
		p.qmu.Unlock()
		p.pool.Wait()
	})
	return err
}

// Registered returns the number of registered Descs.
func (p *Poller) Registered() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.slots) - len(p.free)
}

// Register adds the connection behind rc (from syscall.Conn.SyscallConn)
// to the poller, paused: store the Desc where the handler (and whatever
// else Kicks it) will find it, then call Resume to arm it. The connection
// must not be registered already.
func (p *Poller) Register(rc syscall.RawConn, h Handler) (*Desc, error) {
	d := &Desc{p: p, h: h, rc: rc}
	d.ctlFn = d.ctl
	d.initSys()
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, ErrClosed
	}
	if n := len(p.free); n > 0 {
		d.idx = p.free[n-1]
		p.free = p.free[:n-1]
	} else {
		d.idx = uint32(len(p.slots))
		p.slots = append(p.slots, nil)
	}
	d.gen = p.nextGen(d.idx)
	p.slots[d.idx] = d
	p.mu.Unlock()

	d.mu.Lock()
	err := d.control(opAdd)
	d.mu.Unlock()
	if err != nil {
		d.closed = true
		p.release(d)
		return nil, fmt.Errorf("netpoll: register: %w", err)
	}
	return d, nil
}

// nextGen returns a generation for a new Desc in slot idx. Called with mu
// held. A global counter is enough: a generation only has to differ from
// those of events still in flight for the slot, and it wraps after 2^32
// registrations.
func (p *Poller) nextGen(uint32) uint32 {
	p.genCounter++
	return p.genCounter
}

// lookup returns the Desc an event with slot idx and generation gen is for,
// or nil if that Desc is gone.
func (p *Poller) lookup(idx, gen uint32) *Desc {
	if int(idx) >= len(p.slots) {
		return nil
	}
	d := p.slots[idx]
	if d == nil || d.gen != gen {
		return nil
	}
	return d
}

// release frees d's slot.
func (p *Poller) release(d *Desc) {
	p.mu.Lock()
	if p.slots[d.idx] == d {
		p.slots[d.idx] = nil
		p.free = append(p.free, d.idx)
	}
	p.mu.Unlock()
}

// enqueue puts d on the run queue. d.queued was set by the caller.
func (p *Poller) enqueue(d *Desc) {
	p.qmu.Lock()
	p.queue = append(p.queue, d)
	p.qmu.Unlock()
	p.qcond.Signal()
}

// dequeue returns the next Desc to run, or nil when the pool stops.
func (p *Poller) dequeue() *Desc {
	p.qmu.Lock()
	defer p.qmu.Unlock()
	for p.qhead == len(p.queue) {
		if p.qstop {
			return nil
		}
		p.qcond.Wait()
	}
	if p.qstop {
		return nil
	}
	d := p.queue[p.qhead]
	p.queue[p.qhead] = nil
	p.qhead++
	if p.qhead == len(p.queue) {
		p.queue, p.qhead = p.queue[:0], 0
	} else if p.qhead > 1024 && p.qhead*2 > len(p.queue) {
		n := copy(p.queue, p.queue[p.qhead:])
		clear(p.queue[n:])
		p.queue, p.qhead = p.queue[:n], 0
	}
	return d
}

// work is a pool goroutine.
func (p *Poller) work() {
	for {
		d := p.dequeue()
		if d == nil {
			return
		}
		d.run()
	}
}

// fire is called by the event loop for a kernel readiness of d.
func (d *Desc) fire() {
	d.mu.Lock()
	d.armed = false // one-shot: the kernel disarmed it
	d.queueLocked()
}

// queueLocked queues d for a pool goroutine, or, if it is queued or
// running already, has it run once more; it unlocks d.mu.
func (d *Desc) queueLocked() {
	if d.closed {
		d.mu.Unlock()
		return
	}
	if d.queued {
		d.again = true
		d.mu.Unlock()
		return
	}
	d.queued = true
	d.mu.Unlock()
	d.p.enqueue(d)
}

// Desc is one registered connection.
type Desc struct {
	p        *Poller
	h        Handler
	rc       syscall.RawConn
	idx, gen uint32
	ctlFn    func(uintptr) // d.ctl, bound once so Control does not allocate

	mu     sync.Mutex
	armed  bool // registered with readiness enabled
	queued bool // on the run queue or running
	again  bool // run once more after the current run
	resume bool // re-arm after the current run whatever Ready returns
	closed bool
	op     ctlOp // argument and result of ctl, under mu
	ctlErr error
	descSys
}

type ctlOp uint8

const (
	opAdd ctlOp = iota + 1
	opArm
	opDisarm
	opDel
)

// control runs op on d's descriptor inside RawConn.Control. Called with
// d.mu held.
func (d *Desc) control(op ctlOp) error {
	d.op = op
	d.ctlErr = nil
	err := d.rc.Control(d.ctlFn)
	if err != nil {
		return err
	}
	return d.ctlErr
}

// run calls Ready, then re-arms, pauses, re-queues or drops d.
func (d *Desc) run() {
	d.mu.Lock()
	if d.closed {
		d.queued = false
		d.mu.Unlock()
		return
	}
	d.mu.Unlock()
	rearm := d.h.Ready()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		d.queued = false
		return
	}
	if d.again {
		d.again = false
		d.p.enqueue(d) // stays queued; runs behind the others
		return
	}
	d.queued = false
	want := rearm || d.resume
	d.resume = false
	switch {
	case want && !d.armed:
		if d.control(opArm) == nil {
			d.armed = true
		}
	case !want && d.armed:
		// Armed by a Kick that found d idle; honour the pause.
		if d.control(opDisarm) == nil {
			d.armed = false
		}
	}
}

// Kick makes Ready run soon on a pool goroutine even if nothing is
// readable, for example to let the handler act on a state another
// goroutine changed. A Kick while Ready runs runs it once more afterwards.
// It does not block.
func (d *Desc) Kick() {
	d.mu.Lock()
	d.queueLocked()
}

// Resume re-arms a Desc paused by Ready returning false. While Ready runs
// it takes effect when Ready returns. It returns ErrClosed after Close.
func (d *Desc) Resume() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return ErrClosed
	}
	if d.queued {
		d.resume = true
		return nil
	}
	if d.armed {
		return nil
	}
	err := d.control(opArm)
	if err != nil {
		return fmt.Errorf("netpoll: resume: %w", err)
	}
	d.armed = true
	return nil
}

// Close deregisters d; see the package documentation. It is idempotent and
// may be called from inside Ready.
func (d *Desc) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	d.armed = false
	// The descriptor may be closed already, which removed it from the epoll
	// set; nothing else can fail here that a caller could act on.
	_ = d.control(opDel)
	d.mu.Unlock()
	d.p.release(d)
	return nil
}
