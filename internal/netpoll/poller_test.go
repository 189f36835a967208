package netpoll

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// tcpPair returns the two ends of a loopback TCP connection.
func tcpPair(t testing.TB, ln net.Listener) (client, server *net.TCPConn) {
	t.Helper()
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := ln.Accept()
		ch <- res{c, err}
	}()
	c, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatalf(
			"dial: %v",
			err)
	}
	r := <-ch
	if r.err != nil {
		t.Fatalf(
			"accept: %v",
			r.err)
	}
	t.Cleanup(func() { c.Close(); r.c.Close() })
	return c.(*net.TCPConn), r.c.(*net.TCPConn)
}

func listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

func newPoller(t testing.TB, cfg Config) *Poller {
	t.Helper()
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// reader is a Handler that reads everything available without blocking
// and records it; it checks that its calls never overlap.
type reader struct {
	t       testing.TB
	rc      syscall.RawConn
	buf     [4096]byte
	running atomic.Int32
	calls   atomic.Int64
	pause   atomic.Bool // Ready returns false
	onEnter func()

	mu   sync.Mutex
	got  []byte
	eof  bool
	errs []error
}

func (r *reader) Ready() bool {
	if n := r.running.Add(1); n != 1 {
		r.t.Errorf("Ready entered with %d calls running", n)
	}
	defer r.running.Add(-1)
	r.calls.Add(1)
	if r.onEnter != nil {
		r.onEnter()
	}
	for {
		n, err := readNonblock(r.rc, r.buf[:])
		if errors.Is(err, syscall.EAGAIN) {
			break
		}
		r.mu.Lock()
		if n > 0 {
			r.got = append(r.got, r.buf[:n]...)
		}
		if n == 0 && err == nil {
			r.eof = true
		}
		if err != nil {
			r.errs = append(r.errs, err)
		}
		r.mu.Unlock()
		if n == 0 || err != nil {
			return false
		}
	}
	return !r.pause.Load()
}

func (r *reader) data() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return string(r.got)
}

// readNonblock reads once from the connection behind rc without parking.
func readNonblock(rc syscall.RawConn, p []byte) (int, error) {
	var n int
	var err error
	cerr := rc.Read(func(fd uintptr) bool {
		n, err = syscall.Read(int(fd), p)
		return true
	})
	if cerr != nil {
		return 0, cerr
	}
	if n < 0 {
		n = 0
	}
	return n, err
}

func register(t testing.TB, p *Poller, conn *net.TCPConn) (*Desc, *reader) {
	t.Helper()
	return registerWith(t, p, conn, nil)
}

// registerWith registers conn with a reader that calls onEnter (if not
// nil) at the start of every Ready.
func registerWith(t testing.TB, p *Poller, conn *net.TCPConn, onEnter func()) (*Desc, *reader) {
	t.Helper()
	rc, err := conn.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	r := &reader{t: t, rc: rc, onEnter: onEnter}
	d, err := p.Register(rc, r)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Resume(); err != nil {
		t.Fatal(err)
	}
	return d, r
}

// waitFor polls cond every 5ms for up to 10 seconds.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf(
				"timed out waiting for %s",
				what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestReadableDispatchAndRearm(t *testing.T) {
	t.Parallel()
	p := newPoller(t, Config{Workers: 2})
	ln := listen(t)
	client, server := tcpPair(t, ln)
	_, r := register(t, p, server)
	want := ""
	for i := range 20 {
		msg := fmt.Sprintf("message %d;", i)
		want += msg
		if _, err := client.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		// Each write is read before the next: the Desc was re-armed.
		waitFor(t, "message "+fmt.Sprint(i), func() bool { return r.data() == want })
	}
	client.Close()
	waitFor(t, "end of stream", func() bool { r.mu.Lock(); defer r.mu.Unlock(); return r.eof })
}

func TestOneReadyAtATime(t *testing.T) {
	t.Parallel()
	const (
		conns  = 8
		writes = 200
	)
	p := newPoller(t, Config{Workers: 4})
	ln := listen(t)
	type pair struct {
		client *net.TCPConn
		d      *Desc
		r      *reader
	}
	pairs := make([]pair, conns)
	for i := range pairs {
		c, s := tcpPair(t, ln)
		d, r := register(t, p, s)
		pairs[i] = pair{c, d, r}
	}
	// Writers and kickers race with the pool; reader.Ready fails the test
	// if two calls for one Desc overlap.
	var wg sync.WaitGroup
	for _, pr := range pairs {
		wg.Go(func() {
			for range writes {
				if _, err := pr.client.Write([]byte("x")); err != nil {
					t.Error(err)
					return
				}
			}
		})
		wg.Go(func() {
			for range writes {
				pr.d.Kick()
			}
		})
	}
	wg.Wait()
	for i, pr := range pairs {
		waitFor(t, fmt.Sprintf("conn %d data", i), func() bool { return len(pr.r.data()) == writes })
	}
}

func TestPauseAndResume(t *testing.T) {
	t.Parallel()
	p := newPoller(t, Config{Workers: 2})
	ln := listen(t)
	client, server := tcpPair(t, ln)
	d, r := register(t, p, server)
	r.pause.Store(true)
	client.Write([]byte("first"))
	waitFor(t, "first read", func() bool { return r.data() == "first" })
	calls := r.calls.Load()

	// Paused: new data is not read. A sentinel connection written after it
	// shows the poller has moved past the data.
	client.Write([]byte("second"))
	sc, ss := tcpPair(t, ln)
	_, sr := register(t, p, ss)
	sc.Write([]byte("sentinel"))
	waitFor(t, "sentinel read", func() bool { return sr.data() == "sentinel" })
	if got := r.calls.Load(); got != calls {
		t.Errorf(
			"paused Desc got %d more Ready calls",
			got-calls)
	}

	r.pause.Store(false)
	if err := d.Resume(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "second read after Resume", func() bool { return r.data() == "firstsecond" })
}

func TestKickRunsReady(t *testing.T) {
	t.Parallel()
	p := newPoller(t, Config{Workers: 1})
	ln := listen(t)
	_, server := tcpPair(t, ln)
	d, r := register(t, p, server)
	d.Kick()
	waitFor(t, "kicked Ready", func() bool { return r.calls.Load() == 1 })
	// Kicking a paused Desc runs Ready once and leaves it paused.
	r.pause.Store(true)
	d.Kick()
	waitFor(t, "second kicked Ready", func() bool { return r.calls.Load() == 2 })
	if r.data() != "" {
		t.Errorf(
			"read %q from a silent peer",
			r.data())
	}
}

// TestCloseWithEventInFlight closes Descs while their peers write and
// kicks are queued, then reuses the descriptor numbers with new
// connections: a closed Desc's Ready starts at most once more (a run
// already dequeued), and the new connections get their own data only.
func TestCloseWithEventInFlight(t *testing.T) {
	t.Parallel()
	const rounds = 50
	p := newPoller(t, Config{Workers: 3})
	ln := listen(t)
	for i := range rounds {
		client, server := tcpPair(t, ln)
		var closed atomic.Bool
		var late atomic.Int32
		d, r := registerWith(t, p, server, func() {
			if closed.Load() && late.Add(1) > 1 {
				t.Errorf("round %d: Ready started twice after Close returned", i)
			}
		})
		client.Write([]byte("pending"))
		if i%2 == 0 {
			d.Kick()
		}
		d.Close()
		closed.Store(true)
		server.Close()

		// The next connection likely gets the same descriptor number.
		c2, s2 := tcpPair(t, ln)
		d2, r2 := register(t, p, s2)
		msg := fmt.Sprintf("new %d", i)
		c2.Write([]byte(msg))
		waitFor(t, "new connection's data", func() bool { return r2.data() == msg })
		if got := r.data(); got != "" && got != "pending" {
			t.Errorf(
				"round %d: closed connection read %q",
				i, got)
		}
		d2.Close()
		c2.Close()
		s2.Close()
	}
	if n := p.Registered(); n != 0 {
		t.Errorf(
			"%d Descs registered after closing all",
			n)
	}
}

func TestCloseInsideReady(t *testing.T) {
	t.Parallel()
	p := newPoller(t, Config{Workers: 2})
	ln := listen(t)
	client, server := tcpPair(t, ln)
	rc, err := server.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	h := &closer{rc: rc}
	d, err := p.Register(rc, h)
	if err != nil {
		t.Fatal(err)
	}
	h.d.Store(d)
	if err := d.Resume(); err != nil {
		t.Fatal(err)
	}
	client.Write([]byte("bye"))
	waitFor(t, "the Desc to close itself", func() bool { return p.Registered() == 0 })
	if err := d.Resume(); !errors.Is(err, ErrClosed) {
		t.Errorf(
			"Resume after Close = %v, want ErrClosed",
			err)
	}
	if n := h.calls.Load(); n != 1 {
		t.Errorf(
			"Ready ran %d times, want 1",
			n)
	}
}

type closer struct {
	rc    syscall.RawConn
	d     atomic.Pointer[Desc] // set between Register and Resume
	calls atomic.Int32
}

func (c *closer) Ready() bool {
	d := c.d.Load()
	c.calls.Add(1)
	d.Close()
	return true // ignored: closed
}

func TestPollerClose(t *testing.T) {
	t.Parallel()
	p, err := New(Config{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	ln := listen(t)
	_, server := tcpPair(t, ln)
	register(t, p, server)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Errorf(
			"second Close: %v",
			err)
	}
	rc, _ := server.SyscallConn()
	if _, err := p.Register(rc, &reader{t: t, rc: rc}); !errors.Is(err, ErrClosed) {
		t.Errorf(
			"Register after Close = %v, want ErrClosed",
			err)
	}
}

func TestRegisterClosedConn(t *testing.T) {
	t.Parallel()
	p := newPoller(t, Config{Workers: 1})
	ln := listen(t)
	_, server := tcpPair(t, ln)
	rc, _ := server.SyscallConn()
	server.Close()
	if _, err := p.Register(rc, &reader{t: t, rc: rc}); err == nil {
		t.Fatal("Register of a closed connection succeeded")
	}
	if n := p.Registered(); n != 0 {
		t.Errorf(
			"%d registered after a failed Register",
			n)
	}
}
