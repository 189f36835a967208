// Command idleconns opens many idle WebSocket connections from one source
// address and holds them, answering the server's pings, until it is
// stopped; scripts/bench-server runs several of them to measure what an
// idle connection costs a server. It is built on internal/netpoll and
// internal/wsframe, so a held connection costs it no goroutine either.
//
//	idleconns -url ws://127.0.0.1:8765/echo -n 15000 -source 127.0.0.2
//
// It prints "READY n" once n connections are up (or "READY n failed=k"
// when some could not connect), then one "LOST n" line whenever held
// connections ended, and exits 0 on SIGTERM or SIGINT after closing them.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gobwas/ws"
	"golang.org/x/sys/unix"

	"github.com/wsbench/wsbench/internal/netpoll"
	"github.com/wsbench/wsbench/internal/wsframe"
)

func main() {
	url := flag.String("url", "ws://127.0.0.1:8765/echo", "WebSocket URL to connect to")
	n := flag.Int("n", 1000, "connections to open")
	source := flag.String("source", "", "local IP address to connect from (127.0.0.2, ...); empty: any")
	parallel := flag.Int("parallel", 32, "handshakes in flight at once")
	timeout := flag.Duration("timeout", 10*time.Second, "timeout of one connect and handshake")
	flag.Parse()
	err := run(*url, *n, *source, *parallel, *timeout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "idleconns:", err)
		os.Exit(1)
	}
}

// holder keeps the connections and counts the ones that ended.
type holder struct {
	p    *netpoll.Poller
	lost atomic.Int64
	mu   sync.Mutex
	all  []*idle
}

// idle is one held connection: it reads only to answer pings and to see
// the end of the stream.
type idle struct {
	h      *holder
	nc     net.Conn
	rc     syscall.RawConn
	d      *netpoll.Desc
	dec    wsframe.Decoder
	readFn func(uintptr) bool
	buf    []byte
	n      int
	err    error
	done   bool
}

func (c *idle) readCB(fd uintptr) bool {
	c.n, c.err = unix.Read(int(fd), c.buf)
	if c.n < 0 {
		c.n = 0
	}
	return true
}

// Ready implements netpoll.Handler.
func (c *idle) Ready() bool {
	if c.done {
		return false
	}
	bp := netpoll.GetBuffer(4096)
	defer netpoll.PutBuffer(bp)
	c.buf = *bp
	for {
		err := c.rc.Read(c.readFn)
		if err == nil {
			err = c.err
		}
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			return true
		}
		if err == nil && c.n > 0 {
			err = c.dec.Feed(c.buf[:c.n], c)
			if err == nil {
				continue
			}
		}
		c.end()
		return false
	}
}

// end forgets a connection that closed or failed.
func (c *idle) end() {
	c.done = true
	c.d.Close()
	c.nc.Close()
	c.dec.Release()
	c.h.lost.Add(1)
}

// Message implements wsframe.Handler; idle connections expect none.
func (c *idle) Message(wsframe.Message) error { return nil }

// Control implements wsframe.Handler: it answers pings and ends on close.
func (c *idle) Control(op ws.OpCode, p []byte) error {
	switch op {
	case ws.OpPing:
		f := ws.MaskFrame(ws.NewPongFrame(append([]byte(nil), p...)))
		// A pong is a few bytes: the socket takes it, or the connection
		// is as good as dead anyway.
		return ws.WriteFrame(c.nc, f)
	case ws.OpClose:
		return errors.New("closed by the server")
	}
	return nil
}

func run(url string, n int, source string, parallel int, timeout time.Duration) error {
	raiseNoFile()
	p, err := netpoll.New(netpoll.Config{})
	if err != nil {
		return err
	}
	defer p.Close()
	h := &holder{p: p}
	dialer := ws.Dialer{Timeout: timeout}
	if source != "" {
		ip := net.ParseIP(source)
		if ip == nil {
			return fmt.Errorf("-source %q is not an IP address", source)
		}
		nd := net.Dialer{Timeout: timeout, LocalAddr: &net.TCPAddr{IP: ip}}
		dialer.NetDial = nd.DialContext
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	var failed, opened atomic.Int64
	var firstErr atomic.Value
	jobs := make(chan struct{})
	var wg sync.WaitGroup
	for range parallel {
		wg.Go(func() {
			for range jobs {
				c, err := h.open(ctx, dialer, url)
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				h.mu.Lock()
				h.all = append(h.all, c)
				h.mu.Unlock()
				opened.Add(1)
			}
		})
	}
feed:
	for range n {
		select {
		case jobs <- struct{}{}:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if f := failed.Load(); f > 0 {
		fmt.Printf("READY %d failed=%d first error: %v\n", opened.Load(), f, firstErr.Load())
	} else {
		fmt.Printf("READY %d\n", opened.Load())
	}

	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	reported := int64(0)
	for {
		select {
		case <-ctx.Done():
			h.mu.Lock()
			for _, c := range h.all {
				c.nc.Close()
			}
			h.mu.Unlock()
			return nil
		case <-tick.C:
			if l := h.lost.Load(); l != reported {
				reported = l
				fmt.Printf("LOST %d\n", l)
			}
		}
	}
}

// open connects, upgrades and registers one connection.
func (h *holder) open(ctx context.Context, d ws.Dialer, url string) (*idle, error) {
	nc, br, _, err := d.Dial(ctx, url)
	if err != nil {
		return nil, err
	}
	if br != nil {
		ws.PutReader(br) // an idle endpoint sends nothing after the 101
	}
	c := &idle{h: h, nc: nc}
	c.rc, err = nc.(syscall.Conn).SyscallConn()
	if err != nil {
		nc.Close()
		return nil, err
	}
	c.readFn = c.readCB
	c.dec = wsframe.Decoder{MaxMessageSize: 1 << 20}
	c.d, err = h.p.Register(c.rc, c)
	if err != nil {
		nc.Close()
		return nil, err
	}
	return c, c.d.Resume()
}

// raiseNoFile raises the descriptor soft limit to the hard limit.
func raiseNoFile() {
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) == nil && rl.Cur < rl.Max {
		rl.Cur = rl.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
	}
}
