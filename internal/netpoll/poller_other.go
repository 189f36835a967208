//go:build !linux

package netpoll

import "syscall"

// backend is the portable fallback: each Desc gets a goroutine that waits
// for readability in Go's netpoller. It keeps the package's contract (one
// Ready at a time, re-arming, Kick, Close) so the reference server builds
// and works everywhere, but an idle connection costs a goroutine again;
// the lightweight path is Linux's epoll backend.
type backend struct{ done chan struct{} }

type descSys struct {
	armCh chan struct{}
	delCh chan struct{}
	peek  [1]byte
}

func (d *Desc) initSys() {
	d.armCh = make(chan struct{}, 1)
	d.delCh = make(chan struct{})
}

func (p *Poller) openBackend() error {
	p.be.done = make(chan struct{})
	return nil
}

func (p *Poller) closeBackend() error {
	close(p.be.done)
	return nil
}

func (p *Poller) waitLoop() { <-p.be.done }

// ctl is the callback of the connection's RawConn.Control.
func (d *Desc) ctl(uintptr) {
	switch d.op {
	case opAdd:
		go d.watch()
	case opArm:
		select {
		case d.armCh <- struct{}{}:
		default:
		}
	case opDisarm:
		select {
		case <-d.armCh:
		default:
		}
	case opDel:
		close(d.delCh)
	}
}

// watch waits for the Desc to be armed, then for its connection to be
// readable, and fires it, until Close of the Desc, its connection or the
// Poller.
func (d *Desc) watch() {
	ready := func(fd uintptr) bool {
		_, _, err := syscall.Recvfrom(int(fd), d.peek[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return err != syscall.EAGAIN
	}
	for {
		select {
		case <-d.armCh:
		case <-d.delCh:
			return
		case <-d.p.be.done:
			return
		}
		if d.rc.Read(ready) != nil {
			return
		}
		d.p.mu.Lock()
		if d.p.lookup(d.idx, d.gen) == d {
			d.fire()
		}
		d.p.mu.Unlock()
	}
}

// Read is one read(2) of fd into buf, retried when interrupted; n >= 0.
func Read(fd uintptr, buf []byte) (int, error) {
	for {
		n, err := syscall.Read(int(fd), buf)
		if err == syscall.EINTR {
			continue
		}
		return max(n, 0), err
	}
}
