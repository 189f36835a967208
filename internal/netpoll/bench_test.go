package netpoll

import (
	"errors"
	"net"
	"syscall"
	"testing"
	"time"
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
		if _, err := p.Register(rc, &echoHandler{rc: rc, b: b}); err != nil {
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
