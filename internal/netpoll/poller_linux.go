//go:build linux

package netpoll

import (
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// backend is the epoll instance. Its descriptor is non-blocking and
// wrapped in an os.File, so the event loop waits for it in Go's own
// netpoller (an epoll instance is readable while it has events) instead of
// holding an OS thread in a blocking epoll_wait, and Close wakes it.
type backend struct {
	f  *os.File
	rc syscall.RawConn
}

// readEvents is the interest of an armed Desc. EPOLLONESHOT disarms it at
// the first event, so one readiness goes to one goroutine; the
// registration is level-triggered, so re-arming with data already waiting
// reports it at once.
const readEvents = unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT

func (p *Poller) openBackend() error {
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return fmt.Errorf("netpoll: epoll_create1: %w", err)
	}
	err = unix.SetNonblock(fd, true)
	if err != nil {
		unix.Close(fd)
		return fmt.Errorf("netpoll: epoll fd: %w", err)
	}
	p.be.f = os.NewFile(uintptr(fd), "netpoll-epoll")
	p.be.rc, err = p.be.f.SyscallConn()
	if err != nil {
		p.be.f.Close()
		return fmt.Errorf("netpoll: epoll fd: %w", err)
	}
	return nil
}

func (p *Poller) closeBackend() error { return p.be.f.Close() }

// ctl runs d.op on the connection's descriptor fd; it is the callback of
// the connection's RawConn.Control.
func (d *Desc) ctl(fd uintptr) {
	d.ctlFd = int(fd)
	d.ctlEv = unix.EpollEvent{Fd: int32(d.idx), Pad: int32(d.gen)}
	switch d.op {
	case opAdd:
		d.ctlOp, d.ctlEv.Events = unix.EPOLL_CTL_ADD, unix.EPOLLONESHOT // paused
	case opArm:
		d.ctlOp, d.ctlEv.Events = unix.EPOLL_CTL_MOD, readEvents
	case opDisarm:
		d.ctlOp, d.ctlEv.Events = unix.EPOLL_CTL_MOD, unix.EPOLLONESHOT
	case opDel:
		d.ctlOp = unix.EPOLL_CTL_DEL
	}
	// Inside the epoll file's Control too, so a Poller.Close cannot
	// release the epoll descriptor number under the call.
	err := d.p.be.rc.Control(d.epctlFn)
	if err != nil {
		d.ctlErr = err
	}
}

// epctl is the callback of the epoll file's RawConn.Control.
func (d *Desc) epctl(epfd uintptr) {
	d.ctlErr = unix.EpollCtl(int(epfd), d.ctlOp, d.ctlFd, &d.ctlEv)
}

// descSys is the per-Desc state of the epoll backend: the arguments of one
// epoll_ctl, under Desc.mu, so no closure is allocated per call.
type descSys struct {
	epctlFn func(uintptr)
	ctlFd   int
	ctlOp   int
	ctlEv   unix.EpollEvent
}

func (d *Desc) initSys() { d.epctlFn = d.epctl }

// waitLoop takes events from the epoll instance and queues their Descs
// until Close.
func (p *Poller) waitLoop() {
	events := make([]unix.EpollEvent, p.cfg.Events)
	var n int
	var werr error
	wait := func(epfd uintptr) bool {
		n, werr = unix.EpollWait(int(epfd), events, 0)
		switch {
		case werr == unix.EINTR:
			n, werr = 0, nil
			return true // try again at once; do not park on a consumed edge
		case werr != nil:
			return true
		}
		return n > 0 // none: park in the netpoller until epfd is readable
	}
	for {
		err := p.be.rc.Read(wait)
		if err == nil {
			err = werr
		}
		if err != nil {
			return // closed
		}
		p.mu.Lock()
		for i := range events[:n] {
			d := p.lookup(uint32(events[i].Fd), uint32(events[i].Pad))
			events[i] = unix.EpollEvent{}
			if d != nil {
				// fire takes d.mu after p.mu; nothing takes them the other
				// way round.
				d.fire()
			}
		}
		p.mu.Unlock()
	}
}

// Read is one read(2) of fd into buf that never parks, for a
// syscall.RawConn.Read callback on a socket the poller reported
// readable: it retries when interrupted and never returns n < 0.
func Read(fd uintptr, buf []byte) (int, error) {
	for {
		n, err := unix.Read(int(fd), buf)
		if err == unix.EINTR {
			continue
		}
		return max(n, 0), err
	}
}
