package netpoll_test

import (
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"

	"github.com/wsbench/wsbench/internal/netpoll"
)

// lineReader reads whatever its connection has, without blocking, and
// reports each read on a channel.
type lineReader struct {
	rc   syscall.RawConn
	d    *netpoll.Desc
	got  chan string
	buf  *[]byte // pooled, only during Ready
	n    int
	err  error
	read func(uintptr) bool // r.readCB, bound once: no allocation per read
}

func newLineReader(rc syscall.RawConn) *lineReader {
	r := &lineReader{rc: rc, got: make(chan string, 1)}
	r.read = r.readCB
	return r
}

// readCB is the RawConn.Read callback: one read that never parks (EAGAIN
// comes back as an error instead).
func (r *lineReader) readCB(fd uintptr) bool {
	r.n, r.err = syscall.Read(int(fd), *r.buf)
	return true
}

func (r *lineReader) Ready() bool {
	r.buf = netpoll.GetBuffer(4096)
	defer func() { netpoll.PutBuffer(r.buf); r.buf = nil }()
	buf := r.buf
	for {
		if err := r.rc.Read(r.read); err != nil {
			return false
		}
		switch {
		case errors.Is(r.err, syscall.EAGAIN):
			return true // wait for the next readiness
		case r.err != nil || r.n <= 0:
			r.d.Close() // end of stream: deregister, then close
			close(r.got)
			return false
		}
		r.got <- string((*buf)[:r.n])
	}
}

func Example() {
	p, err := netpoll.New(netpoll.Config{Workers: 2})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close()

	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	client, _ := net.Dial("tcp", ln.Addr().String())
	server, _ := ln.Accept()
	defer server.Close()

	rc, _ := server.(syscall.Conn).SyscallConn()
	r := newLineReader(rc)
	r.d, err = p.Register(rc, r) // paused until Resume
	if err != nil {
		fmt.Println(err)
		return
	}
	r.d.Resume() // r.d is published: Ready may run from now on

	client.Write([]byte("hello"))
	fmt.Println(<-r.got)
	client.Close()
	_, open := <-r.got
	fmt.Println("open:", open)
	// Output:
	// hello
	// open: false
}

func ExampleWheel() {
	w := netpoll.NewWheel(10 * time.Millisecond)
	defer w.Stop()
	fired := make(chan struct{})
	t := w.NewTimer(func() { close(fired) })
	t.Schedule(30 * time.Millisecond)
	<-fired
	fmt.Println("fired; stopping it now reports", t.Stop())
	// Output: fired; stopping it now reports false
}
