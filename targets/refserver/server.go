package refserver

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gobwas/ws"

	"github.com/wsbench/wsbench/internal/netpoll"
)

// readBufferSize is the per-connection bufio.Reader size. It also bounds the
// length of one HTTP request line or header line.
const readBufferSize = 4096

// maxRequestHead bounds the whole HTTP request head (request line and
// headers); a longer one gets 431.
const maxRequestHead = 16 << 10

// endpoint is a WebSocket path of the contract.
type endpoint uint8

const (
	epEcho endpoint = iota + 1
	epBroadcast
	epPush
)

var errGroupUnavailable = ws.RejectConnectionError(
	ws.RejectionStatus(http.StatusServiceUnavailable),
	ws.RejectionReason("server group unavailable"),
)

var errTooManyConns = ws.RejectConnectionError(
	ws.RejectionStatus(http.StatusServiceUnavailable),
	ws.RejectionReason("too many connections"),
)

// Server is the reference target server. Create it with New; it serves
// until Shutdown. Its methods are safe for concurrent use.
type Server struct {
	cfg   Config
	epoch time.Time // origin of the monotonic clock now() reads

	mu        sync.Mutex
	closing   bool
	addr      string
	listeners map[net.Listener]struct{}
	conns     map[net.Conn]*conn // every accepted connection; nil until admitted
	open      int                // admitted WebSocket connections
	total     int64              // admitted WebSocket connections ever
	closed    Stats              // counters of connections already torn down
	workerOn  bool

	handlers sync.WaitGroup // accepted connections until torn down, and Start's Serve
	worker   sync.WaitGroup // the ServiceTime worker

	// The reactor, created by the first Serve and stopped after Shutdown.
	poller *netpoll.Poller
	wheel  *netpoll.Wheel // heartbeats; nil without PingInterval

	roomsMu sync.Mutex
	rooms   map[string]*room
	peers   peers // the rest of a group; nil on a standalone server

	deliveries atomic.Int64 // broadcast deliveries, for DropEvery
	dropped    atomic.Int64

	jobs chan job // to the ServiceTime worker

	quit    chan struct{} // closed when Shutdown starts
	allDone chan struct{} // closed when every goroutine has ended after Shutdown

	afterJoin func(*conn) // tests: runs between a member's join and its 101
}

// New returns a server configured by cfg (zero fields take their defaults).
// It starts no goroutines until Serve or Start.
func New(cfg Config) *Server {
	s := &Server{
		cfg:       cfg.withDefaults(),
		epoch:     time.Now(),
		listeners: make(map[net.Listener]struct{}),
		conns:     make(map[net.Conn]*conn),
		rooms:     make(map[string]*room),
		quit:      make(chan struct{}),
		allDone:   make(chan struct{}),
	}
	if s.cfg.ServiceTime > 0 {
		s.jobs = make(chan job, 1<<16)
	}
	return s
}

// now returns the monotonic time in nanoseconds since the server was
// created; due times of queued frames use it.
func (s *Server) now() int64 { return int64(time.Since(s.epoch)) }

func (s *Server) logf(format string, args ...any) {
	if f := s.cfg.Logf; f != nil {
		f(format, args...)
	}
}

// Start listens on addr (for example "127.0.0.1:0"), serves in the
// background and returns the address it listens on, which already accepts
// connections. Errors of the background Serve go to Config.Logf.
func (s *Server) Start(addr string) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("refserver: listen: %w", err)
	}
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		ln.Close()
		return "", errors.New("refserver: server is shut down")
	}
	if s.addr == "" {
		s.addr = ln.Addr().String()
	}
	s.handlers.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.handlers.Done()
		err := s.Serve(ln)
		if err != nil {
			s.logf("refserver: serve %s: %v", ln.Addr(), err)
		}
	}()
	return ln.Addr().String(), nil
}

// Addr returns the address of the first listener, or "" before Serve or
// Start.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Serve accepts connections on ln until Shutdown, which closes ln. It
// returns nil after Shutdown and the accept error otherwise.
func (s *Server) Serve(ln net.Listener) error {
	ln = s.tlsListener(ln)
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		ln.Close()
		return nil
	}
	s.listeners[ln] = struct{}{}
	if s.addr == "" {
		s.addr = ln.Addr().String()
	}
	if s.poller == nil {
		p, err := netpoll.New(netpoll.Config{})
		if err != nil {
			s.mu.Unlock()
			ln.Close()
			return fmt.Errorf("refserver: %w", err)
		}
		s.poller = p
		if iv := s.cfg.PingInterval; iv > 0 {
			s.wheel = netpoll.NewWheel(wheelTick(iv, s.cfg.PingTimeout))
		}
	}
	if s.jobs != nil && !s.workerOn {
		s.workerOn = true
		s.worker.Go(s.serviceLoop)
	}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
	}()

	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.isClosing() {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.logf("refserver: accept: %v; retrying in %v", err, backoff)
				select {
				case <-time.After(backoff):
				case <-s.quit:
					return nil
				}
				continue
			}
			return fmt.Errorf("refserver: accept: %w", err)
		}
		backoff = 0
		s.mu.Lock()
		if s.closing {
			s.mu.Unlock()
			nc.Close()
			return nil
		}
		s.conns[nc] = nil
		s.handlers.Add(1)
		s.mu.Unlock()
		go s.handle(nc)
	}
}

func (s *Server) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

// Shutdown stops accepting, sends close 1001 to every WebSocket connection
// and waits until every connection has ended (peers get
// Config.CloseTimeout to answer). If ctx ends first, the remaining
// connections are closed at once and ctx's error is returned once they
// are torn down. Shutdown is idempotent; later calls wait like the first.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	var open []*conn
	if !s.closing {
		s.closing = true
		close(s.quit)
		for ln := range s.listeners {
			ln.Close()
		}
		for nc, c := range s.conns {
			if c == nil || !c.ready {
				// Mid-handshake or an HTTP request: stop reading. A
				// handshake that completes sees s.closing when it marks
				// the connection ready and sends 1001 itself.
				nc.SetReadDeadline(time.Now())
				continue
			}
			open = append(open, c)
		}
		go func() {
			s.handlers.Wait()
			s.worker.Wait()
			// Every connection is torn down: nothing uses the reactor.
			if s.poller != nil {
				s.poller.Close()
			}
			if s.wheel != nil {
				s.wheel.Stop()
			}
			close(s.allDone)
		}()
	}
	s.mu.Unlock()
	for _, c := range open {
		c.sendClose(ws.StatusGoingAway, "server shutting down")
	}

	select {
	case <-s.allDone:
		return nil
	case <-ctx.Done():
	}
	s.mu.Lock()
	for nc, c := range s.conns {
		if c != nil && c.ready {
			c.abortNow()
		} else {
			nc.Close()
		}
	}
	s.mu.Unlock()
	<-s.allDone
	return ctx.Err()
}

// Stats returns the counters. Counts of each connection are exact; the
// snapshot is taken connection by connection, not atomically across them.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	st := s.closed
	st.ConnectionsTotal = s.total
	for _, c := range s.conns {
		if c != nil {
			st.ConnectionsOpen++
			c.addStats(&st)
		}
	}
	s.mu.Unlock()
	st.Dropped = s.dropped.Load()
	return st
}

// handle serves one accepted connection: it reads the HTTP request head,
// answers plain HTTP paths itself and hands WebSocket paths to upgrade.
// An upgraded connection lives on in the reactor and is accounted for by
// its teardown; everything else ends here.
func (s *Server) handle(nc net.Conn) {
	if !s.serveHTTP(nc) {
		nc.Close()
		s.mu.Lock()
		delete(s.conns, nc)
		s.mu.Unlock()
		s.handlers.Done()
	}
}

// serveHTTP reads the request and answers it; it returns true when the
// connection was upgraded and handed to the reactor.
func (s *Server) serveHTTP(nc net.Conn) bool {

	nc.SetDeadline(time.Now().Add(s.cfg.HandshakeTimeout))
	br := bufio.NewReaderSize(nc, readBufferSize)
	head, err := readHead(br)
	if err != nil {
		if errors.Is(err, errHeadTooLarge) {
			writeHTTP(nc, http.StatusRequestHeaderFieldsTooLarge, "request header too large\n")
		}
		return false
	}
	method, target, ok := parseRequestLine(head)
	if !ok {
		writeHTTP(nc, http.StatusBadRequest, "malformed request line\n")
		return false
	}
	u, err := url.ParseRequestURI(target)
	if err != nil {
		writeHTTP(nc, http.StatusBadRequest, "malformed request target\n")
		return false
	}
	var ep endpoint
	switch u.Path {
	case "/healthz", "/stats":
		if method != http.MethodGet {
			writeHTTP(nc, http.StatusMethodNotAllowed, "GET only\n")
			return false
		}
		if u.Path == "/healthz" {
			writeHTTP(nc, http.StatusOK, "ok")
			return false
		}
		var body []byte
		if s.peers != nil {
			st, err := s.peers.stats()
			if err != nil {
				writeHTTP(nc, http.StatusServiceUnavailable, err.Error()+"\n")
				return false
			}
			body, _ = json.Marshal(st)
		} else {
			body, _ = json.Marshal(s.Stats())
		}
		writeHTTPType(nc, http.StatusOK, "application/json", string(body))
		return false
	case "/echo":
		ep = epEcho
	case "/broadcast":
		ep = epBroadcast
	case "/push":
		ep = epPush
	default:
		writeHTTP(nc, http.StatusNotFound, "not found\n")
		return false
	}
	return s.upgrade(nc, br, head, ep, u.Query())
}

// upgrade completes the WebSocket handshake for ep and hands the
// connection to the reactor; it returns false if the handshake failed.
// head is the request head already read from br; bytes after it in br
// (frames a client sent right behind its request) are decoded before the
// connection is armed, so none is lost.
func (s *Server) upgrade(nc net.Conn, br *bufio.Reader, head []byte, ep endpoint, q url.Values) bool {
	var push pushParams
	if ep == epPush {
		var err error
		push, err = parsePush(q, s.cfg.MaxMessageSize)
		if err != nil {
			writeHTTP(nc, http.StatusBadRequest, err.Error()+"\n")
			return false
		}
	}
	c := newConn(s, nc, ep)
	// A TCP connection is served by the reactor; one without a descriptor
	// to poll (TLS from a tls.Listener, say, whose bytes only tls.Conn can
	// read) keeps a reader goroutine.
	if sc, ok := nc.(*net.TCPConn); ok {
		c.rc, _ = sc.SyscallConn()
	}
	c.blocking = c.rc == nil
	if ep == epBroadcast {
		c.roomName = q.Get("room")
		if c.roomName == "" {
			c.roomName = "default"
		}
		// A member joins before its 101 (below), so a message fanned out
		// meanwhile is queued on it: it must wait for the 101, or its
		// frame lands in the middle of the handshake response.
		c.held = true
	}

	var admitted bool
	u := ws.Upgrader{
		ReadBufferSize: readBufferSize,
		Header:         closeOnReject{&admitted},
		OnBeforeUpgrade: func() (ws.HandshakeHeader, error) {
			// Count the connection before the 101 goes out, so a client
			// that has connected finds itself in Stats and MaxConns.
			if !s.admit(c) {
				return nil, errTooManyConns
			}
			admitted = true
			if ep == epBroadcast {
				// Join before the 101 too, so a member receives every
				// message sent after its handshake completed.
				if err := s.join(c); err != nil {
					s.logf("refserver: join %q: %v", c.roomName, err)
					return nil, errGroupUnavailable
				}
				if s.afterJoin != nil {
					s.afterJoin(c)
				}
			}
			return nil, nil
		},
	}
	_, err := u.Upgrade(struct {
		io.Reader
		io.Writer
	}{bytes.NewReader(head), nc})
	if err != nil {
		if admitted {
			if c.room != nil {
				s.leave(c)
			}
			s.unadmit(c)
		}
		s.logf("refserver: %s: handshake: %v", nc.RemoteAddr(), err)
		return false
	}

	// From here on the connection is the reactor's: c's teardown closes it
	// and ends its part of s.handlers.
	if n := br.Buffered(); n > 0 {
		early, _ := br.Peek(n)
		c.feed(early)
	}
	s.mu.Lock()
	c.ready = true
	closing := s.closing
	if !closing {
		nc.SetDeadline(time.Time{})
	}
	s.mu.Unlock()

	if c.blocking {
		c.unhold()
		if ep == epPush {
			c.startPush(push)
		}
		if s.cfg.PingInterval > 0 {
			c.startHeartbeat()
		}
		if closing {
			c.sendClose(ws.StatusGoingAway, "server shutting down")
		}
		c.serveBlocking()
		return true
	}
	d, err := s.poller.Register(c.rc, c)
	if err != nil {
		s.logf("refserver: %s: %v", nc.RemoteAddr(), err)
		c.teardown()
		return true
	}
	c.desc.Store(d)
	c.unhold()
	if ep == epPush {
		c.startPush(push)
	}
	if s.cfg.PingInterval > 0 {
		c.startHeartbeat()
	}
	if closing {
		c.sendClose(ws.StatusGoingAway, "server shutting down")
	}
	if err := d.Resume(); err != nil {
		c.abortNow()
	}
	if c.abort.Load() {
		d.Kick() // an abort that came before the Desc was published
	}
	return true
}

// wheelTick is the heartbeat wheel's resolution: a tenth of the shorter of
// the ping interval and timeout, between 1 ms and 100 ms, so pings and
// timeouts are late by at most that.
func wheelTick(interval, timeout time.Duration) time.Duration {
	return min(max(min(interval, timeout)/10, time.Millisecond), 100*time.Millisecond)
}

// closeOnReject is the Upgrader.Header of one handshake. gobwas/ws writes
// it into every response; it adds "Connection: close" to rejections, which
// lack one, so an HTTP client does not reuse a connection the server is
// closing. *accepted is set once OnBeforeUpgrade admits the upgrade.
type closeOnReject struct{ accepted *bool }

func (h closeOnReject) WriteTo(w io.Writer) (int64, error) {
	if *h.accepted {
		return 0, nil
	}
	n, err := io.WriteString(w, "Connection: close\r\n")
	return int64(n), err
}

// admit registers c as an open WebSocket connection unless MaxConns are
// open already.
func (s *Server) admit(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cfg.MaxConns > 0 && s.open >= s.cfg.MaxConns {
		return false
	}
	s.open++
	s.total++
	s.conns[c.nc] = c
	return true
}

// unadmit undoes admit after the 101 response could not be written.
func (s *Server) unadmit(c *conn) {
	s.mu.Lock()
	s.open--
	s.total--
	s.conns[c.nc] = nil
	s.mu.Unlock()
}

// unregister moves c's counters into the totals and forgets c, in one step
// so Stats never counts c twice or not at all. Nothing may write to c
// afterwards (c is torn down and its writer goroutine, if any, ended).
func (s *Server) unregister(c *conn) {
	s.mu.Lock()
	c.addStats(&s.closed)
	delete(s.conns, c.nc)
	s.open--
	s.mu.Unlock()
	s.handlers.Done()
}

var errHeadTooLarge = errors.New("request head too large")

// readHead reads an HTTP request head up to and including the empty line.
func readHead(br *bufio.Reader) ([]byte, error) {
	var head []byte
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, errHeadTooLarge
		}
		if err != nil {
			return nil, err
		}
		blank := len(line) == 1 || len(line) == 2 && line[0] == '\r'
		if blank && len(head) == 0 {
			continue // RFC 9112 2.2: ignore empty lines before the request line
		}
		head = append(head, line...)
		if len(head) > maxRequestHead {
			return nil, errHeadTooLarge
		}
		if blank {
			return head, nil
		}
	}
}

// parseRequestLine splits the first line of head into method and target.
func parseRequestLine(head []byte) (method, target string, ok bool) {
	line, _, _ := bytes.Cut(head, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	m, rest, ok1 := bytes.Cut(line, []byte(" "))
	t, proto, ok2 := bytes.Cut(rest, []byte(" "))
	if !ok1 || !ok2 || len(m) == 0 || len(t) == 0 || !bytes.HasPrefix(proto, []byte("HTTP/1.")) {
		return "", "", false
	}
	return string(m), string(t), true
}

func writeHTTP(w io.Writer, code int, body string) {
	writeHTTPType(w, code, "text/plain; charset=utf-8", body)
}

// writeHTTPType writes a complete HTTP/1.1 response in one Write; the
// connection is closed after it.
func writeHTTPType(w io.Writer, code int, contentType, body string) {
	fmt.Fprintf(w, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
		code, http.StatusText(code), contentType, len(body), body)
}
