package netpoll

import (
	"errors"
	"net"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// BenchmarkWheelScheduleStop measures scheduling and cancelling a timer
// among many others (the per-message cost of a heartbeat reset).
func BenchmarkWheelScheduleStop(b *testing.B) {
	w := NewWheel(10 * time.Millisecond)
	defer w.Stop()
	others := make([]*Timer, 100000)
	for i := range others {
		others[i] = w.NewTimer(func() {})
		others[i].Schedule(time.Hour + time.Duration(i)*time.Millisecond)
	}
	t := w.NewTimer(func() {})
	for b.Loop() {
		t.Schedule(time.Minute)
		t.Stop()
	}
}

// echoHandler answers every byte it reads with one byte, without blocking.
type echoHandler struct {
	rc  syscall.RawConn
	buf [64]byte
	b   testing.TB
}

func (h *echoHandler) Ready() bool {
	for {
		n, err := readNonblock(h.rc, h.buf[:])
		if errors.Is(err, syscall.EAGAIN) {
			return true
		}
		if n <= 0 || err != nil {
			return false
		}
		var werr error
		h.rc.Write(func(fd uintptr) bool {
			_, werr = syscall.Write(int(fd), h.buf[:n])
			return true
		})
		if werr != nil {
			h.b.Error(werr)
			return false
		}
	}
}

// BenchmarkPollerRoundTrip measures one byte's round trip through the
// reactor (epoll readiness, pool hand-off, read, write) on loopback, with
// 1,000 idle registered connections beside the active one.
func BenchmarkPollerRoundTrip(b *testing.B) {
	p := newPoller(b, Config{})
	ln := listen(b)
	register := func(conn *net.TCPConn) {
		rc, err := conn.SyscallConn()
		if err != nil {
			b.Fatal(err)
		}
		d, err := p.Register(rc, &echoHandler{rc: rc, b: b})
		if err == nil {
			err = d.Resume()
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	for range 1000 {
		_, s := tcpPair(b, ln)
		register(s)
	}
	client, server := tcpPair(b, ln)
	register(server)
	var buf [1]byte
	for b.Loop() {
		if _, err := client.Write(buf[:]); err != nil {
			b.Fatal(err)
		}
		if _, err := client.Read(buf[:]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWrite compares the two ways a handler can write a small frame:
// net.Conn.Write (which parks the goroutine in Go's netpoller when the
// socket is full) and one non-blocking writev through RawConn.Write with
// a callback bound once (which never parks, so a handler can hand the
// rest to another goroutine instead of blocking a pool goroutine). The
// peer drains in the background.
func BenchmarkWrite(b *testing.B) {
	frame := make([]byte, 64)
	setup := func(b *testing.B) *net.TCPConn {
		ln := listen(b)
		client, server := tcpPair(b, ln)
		go func() {
			buf := make([]byte, 64<<10)
			for {
				if _, err := client.Read(buf); err != nil {
					return
				}
			}
		}()
		return server
	}
	b.Run("net.Conn.Write", func(b *testing.B) {
		conn := setup(b)
		for b.Loop() {
			if _, err := conn.Write(frame); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("RawConn.Write+writev", func(b *testing.B) {
		conn := setup(b)
		rc, err := conn.SyscallConn()
		if err != nil {
			b.Fatal(err)
		}
		iov := [][]byte{frame}
		var werr error
		fn := func(fd uintptr) bool {
			_, werr = unix.Writev(int(fd), iov)
			return true
		}
		for b.Loop() {
			if err := rc.Write(fn); err != nil {
				b.Fatal(err)
			}
			if werr != nil && werr != unix.EAGAIN {
				b.Fatal(werr)
			}
		}
	})
}
