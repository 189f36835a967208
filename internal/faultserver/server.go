package faultserver

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
)

// maxClientMessage bounds what the server buffers of one client message.
const maxClientMessage = 16 << 20

// Server is a running fault server.
type Server struct {
	ln   net.Listener
	http *http.Server

	mu    sync.Mutex
	conns map[net.Conn]struct{} // hijacked connections, closed by Close
	rooms map[string]map[*conn]struct{}
	stats map[string]int64
	wg    sync.WaitGroup

	messagesIn  atomic.Int64
	messagesOut atomic.Int64
	bytesIn     atomic.Int64
	bytesOut    atomic.Int64
	closed      chan struct{}
}

// Start listens on addr ("127.0.0.1:0" for a free port) and serves until
// Close.
func Start(addr string) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("faultserver: %w", err)
	}
	s := &Server{
		ln:     ln,
		conns:  map[net.Conn]struct{}{},
		rooms:  map[string]map[*conn]struct{}{},
		stats:  map[string]int64{},
		closed: make(chan struct{}),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(s.Stats())
	})
	mux.HandleFunc("/", s.upgrade)
	s.http = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.http.Serve(ln) }()
	return s, nil
}

// Addr returns the host:port the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// URL returns the server's WebSocket base URL.
func (s *Server) URL() string { return "ws://" + s.Addr() }

// Close stops the server and drops every connection without a close
// handshake. It waits for the connection goroutines to end.
func (s *Server) Close() {
	s.mu.Lock()
	select {
	case <-s.closed:
		s.mu.Unlock()
		return
	default:
	}
	close(s.closed)
	for c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	_ = s.http.Close()
	s.wg.Wait()
}

// Stats returns the server's counters: the contract's connections_total,
// connections_open, messages_in, messages_out, bytes_in, bytes_out, and
// one counter per fault committed (close_sent_NNNN, eof, reset,
// stop_reading, frame_NAME, dropped, handshake_*) and per close code the
// clients sent (client_close_NNNN), also by the fault it followed
// (FAULT_then_client_close_NNNN, FAULT as in close_1011, eof, frame_rsv1).
func (s *Server) Stats() map[string]int64 {
	s.mu.Lock()
	out := make(map[string]int64, len(s.stats)+4)
	for k, v := range s.stats {
		out[k] = v
	}
	out["connections_total"] += 0
	out["connections_open"] += 0
	s.mu.Unlock()
	out["messages_in"] = s.messagesIn.Load()
	out["messages_out"] = s.messagesOut.Load()
	out["bytes_in"] = s.bytesIn.Load()
	out["bytes_out"] = s.bytesOut.Load()
	return out
}

// Stat returns one counter of Stats.
func (s *Server) Stat(name string) int64 {
	if name == "messages_in" || name == "messages_out" || name == "bytes_in" || name == "bytes_out" {
		return s.Stats()[name]
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats[name]
}

// StatNames lists the counters of Stats that are not zero, sorted, for
// failure messages.
func (s *Server) StatNames() []string {
	var out []string
	for k, v := range s.Stats() {
		if v != 0 {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func (s *Server) count(name string, n int64) {
	s.mu.Lock()
	s.stats[name] += n
	s.mu.Unlock()
}

// hijack takes the connection away from net/http and registers it, so
// Close can end it. It returns false when the server is closing.
func (s *Server) hijack(w http.ResponseWriter) (net.Conn, *bufio.ReadWriter, bool) {
	nc, rw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return nil, nil, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.closed:
		_ = nc.Close()
		return nil, nil, false
	default:
	}
	s.conns[nc] = struct{}{}
	return nc, rw, true
}

func (s *Server) forget(nc net.Conn) {
	s.mu.Lock()
	delete(s.conns, nc)
	s.mu.Unlock()
}

// options is a connection's fault plan, from its URL query.
type options struct {
	fault string
	code  int
	after int64
	delay time.Duration // after_ms: commit the fault this long after the upgrade
	frame Hostile
	name  string
	drop  int64
	push  time.Duration
	room  string
}

func parseOptions(r *http.Request) (options, error) {
	q := r.URL.Query()
	o := options{fault: q.Get("fault"), code: 1000}
	var err error
	num := func(key string) int64 {
		v := q.Get(key)
		if v == "" || err != nil {
			return 0
		}
		n, e := strconv.ParseInt(v, 10, 64)
		if e != nil || n < 0 {
			err = fmt.Errorf("%s=%q: want a non-negative integer", key, v)
		}
		return n
	}
	if q.Has("code") {
		o.code = int(num("code"))
	}
	o.after = num("after")
	o.delay = time.Duration(num("after_ms")) * time.Millisecond
	o.drop = num("drop")
	if v := q.Get("push"); v != "" {
		if o.push, err = time.ParseDuration(v); err != nil || o.push <= 0 {
			return o, fmt.Errorf("push=%q: want a positive duration", v)
		}
	}
	switch o.fault {
	case "", "close", "eof", "reset", "stop_reading":
	case "frame":
		o.name = q.Get("frame")
		var ok bool
		if o.frame, ok = Frames[o.name]; !ok {
			return o, fmt.Errorf("frame=%q: unknown (have %v)", o.name, FrameNames())
		}
	default:
		return o, fmt.Errorf("fault=%q: unknown", o.fault)
	}
	if r.URL.Path == "/broadcast" {
		o.room = q.Get("room")
		if o.room == "" {
			o.room = "default"
		}
	}
	return o, err
}

func (s *Server) upgrade(w http.ResponseWriter, r *http.Request) {
	o, err := parseOptions(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	q := r.URL.Query()
	switch q.Get("handshake") {
	case "":
	case "status":
		code, _ := strconv.Atoi(q.Get("status"))
		if code < 200 || code > 599 {
			code = http.StatusServiceUnavailable
		}
		s.count("handshake_status_"+strconv.Itoa(code), 1)
		http.Error(w, "refused on purpose", code)
		return
	case "silent":
		nc, _, ok := s.hijack(w)
		if !ok {
			return
		}
		s.count("handshake_silent", 1)
		// Hold the connection unanswered until the client or Close ends it.
		_, _ = io.Copy(io.Discard, nc)
		s.forget(nc)
		_ = nc.Close()
		return
	case "bad_accept":
		nc, rw, ok := s.hijack(w)
		if !ok {
			return
		}
		s.count("handshake_bad_accept", 1)
		_, _ = rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Accept: bm90IHRoZSByaWdodCBrZXk=\r\n\r\n")
		_ = rw.Flush()
		_, _ = io.Copy(io.Discard, nc)
		s.forget(nc)
		_ = nc.Close()
		return
	default:
		http.Error(w, "unknown handshake", http.StatusBadRequest)
		return
	}
	nc, rw, _, err := ws.UpgradeHTTP(r, w)
	if err != nil {
		return
	}
	s.mu.Lock()
	select {
	case <-s.closed:
		s.mu.Unlock()
		_ = nc.Close()
		return
	default:
	}
	s.conns[nc] = struct{}{}
	s.stats["connections_total"]++
	s.stats["connections_open"]++
	s.wg.Add(1)
	s.mu.Unlock()
	c := &conn{s: s, nc: nc, br: rw.Reader, o: o, quit: make(chan struct{})}
	defer s.wg.Done()
	c.serve()
}

// conn is one upgraded connection.
type conn struct {
	s  *Server
	nc net.Conn
	br *bufio.Reader
	o  options

	wmu     sync.Mutex
	sent    int64 // data messages sent, under wmu
	faulted bool  // the fault has happened, under wmu
	closing bool  // a close frame went out, under wmu
	dead    bool  // the socket is closed, or must not be written, under wmu

	received  int64 // data messages read (reader goroutine only)
	quit      chan struct{}
	closeOnce sync.Once
}

func (c *conn) serve() {
	s := c.s
	if c.o.room != "" {
		s.mu.Lock()
		if s.rooms[c.o.room] == nil {
			s.rooms[c.o.room] = map[*conn]struct{}{}
		}
		s.rooms[c.o.room][c] = struct{}{}
		s.mu.Unlock()
	}
	defer func() {
		c.shutdown()
		s.mu.Lock()
		if c.o.room != "" {
			delete(s.rooms[c.o.room], c)
		}
		delete(s.conns, c.nc)
		s.stats["connections_open"]--
		s.mu.Unlock()
	}()
	if c.o.push > 0 {
		go c.pusher()
	}
	if c.o.delay > 0 && c.o.fault != "" {
		t := time.AfterFunc(c.o.delay, func() {
			c.wmu.Lock()
			defer c.wmu.Unlock()
			if !c.closing && !c.dead && !c.faulted {
				c.faulted = true
				c.commitLocked()
			}
		})
		defer t.Stop()
	}
	c.read()
}

// shutdown closes the socket once and stops the pusher.
func (c *conn) shutdown() {
	c.closeOnce.Do(func() {
		close(c.quit)
		c.wmu.Lock()
		c.dead = true
		c.wmu.Unlock()
		_ = c.nc.Close()
	})
}

func (c *conn) pusher() {
	t := time.NewTicker(c.o.push)
	defer t.Stop()
	for {
		select {
		case <-c.quit:
			return
		case <-t.C:
		}
		c.wmu.Lock()
		c.sendLocked(ws.OpText, []byte("tick"))
		c.wmu.Unlock()
	}
}

// read is the connection's reader: it counts and answers client frames
// until the client closes, the socket fails, or a fault stops it.
func (c *conn) read() {
	var msg []byte
	var msgOp ws.OpCode
	hdr := make([]byte, ws.MaxHeaderSize)
	for {
		if c.stopped() {
			select {
			case <-c.quit:
			case <-c.s.closed:
			}
			return
		}
		h, err := ws.ReadHeaderBuffer(c.br, hdr)
		if err != nil {
			return
		}
		if h.Length > maxClientMessage || int64(len(msg))+h.Length > maxClientMessage {
			return
		}
		p := make([]byte, h.Length)
		if _, err := io.ReadFull(c.br, p); err != nil {
			return
		}
		if h.Masked {
			ws.Cipher(p, h.Mask, 0)
		}
		switch h.OpCode {
		case ws.OpClose:
			code := 1005
			if len(p) >= 2 {
				code = int(binary.BigEndian.Uint16(p))
			}
			c.s.count("client_close_"+strconv.Itoa(code), 1)
			c.wmu.Lock()
			faulted := c.faulted
			if !c.closing && !c.dead {
				c.closing = true
				_ = c.writeLocked(ws.OpClose, true, p[:min(len(p), 2)])
			}
			c.wmu.Unlock()
			if faulted {
				// Which fault the client answered (or, for an EOF, was
				// already closing when it came).
				c.s.count(c.faultName()+"_then_client_close_"+strconv.Itoa(code), 1)
			}
			return
		case ws.OpPing:
			c.wmu.Lock()
			if !c.closing && !c.dead {
				_ = c.writeLocked(ws.OpPong, true, p)
			}
			c.wmu.Unlock()
			continue
		case ws.OpPong:
			continue
		case ws.OpText, ws.OpBinary:
			msgOp = h.OpCode
			msg = append(msg[:0], p...)
		case ws.OpContinuation:
			msg = append(msg, p...)
		}
		if !h.Fin {
			continue
		}
		c.received++
		c.s.messagesIn.Add(1)
		c.s.bytesIn.Add(int64(len(msg)))
		if c.o.drop > 0 && c.received%c.o.drop == 0 {
			c.s.count("dropped", 1)
			continue
		}
		if c.o.room != "" {
			c.s.broadcast(c.o.room, msgOp, msg)
		} else {
			c.wmu.Lock()
			c.sendLocked(msgOp, msg)
			c.wmu.Unlock()
		}
	}
}

// stopped reports whether a stop_reading fault has happened.
func (c *conn) stopped() bool {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.faulted && c.o.fault == "stop_reading"
}

func (s *Server) broadcast(room string, op ws.OpCode, p []byte) {
	s.mu.Lock()
	members := make([]*conn, 0, len(s.rooms[room]))
	for m := range s.rooms[room] {
		members = append(members, m)
	}
	s.mu.Unlock()
	for _, m := range members {
		m.wmu.Lock()
		m.sendLocked(op, p)
		m.wmu.Unlock()
	}
}

// sendLocked sends one data message and counts it, unless the connection
// is closing or its fault is due: the fault replaces the server's
// (after+1)th data message, and nothing is sent after it.
func (c *conn) sendLocked(op ws.OpCode, p []byte) {
	if c.closing || c.dead || c.faulted {
		return
	}
	if c.o.fault != "" && c.sent >= c.o.after {
		c.faulted = true
		c.commitLocked()
		return
	}
	if err := c.writeLocked(op, true, p); err != nil {
		return
	}
	c.sent++
	c.s.messagesOut.Add(1)
	c.s.bytesOut.Add(int64(len(p)))
}

// faultName names the connection's fault in the stats: close_NNNN, eof,
// reset, stop_reading, frame_NAME.
func (c *conn) faultName() string {
	switch c.o.fault {
	case "close":
		return "close_" + strconv.Itoa(c.o.code)
	case "frame":
		return "frame_" + c.o.name
	}
	return c.o.fault
}

// commitLocked commits the connection's fault.
func (c *conn) commitLocked() {
	switch c.o.fault {
	case "close":
		c.closing = true
		c.s.count("close_sent_"+strconv.Itoa(c.o.code), 1)
		_ = c.writeLocked(ws.OpClose, true, binary.BigEndian.AppendUint16(nil, uint16(c.o.code)))
		// The reader goes on until the client's answering close frame.
	case "eof":
		c.s.count("eof", 1)
		c.dead = true
		// Half-close: a full close with unread data in the receive buffer
		// would send RST, and this case is the clean end of stream. The
		// reader reads on (counting) until the client closes its side.
		if tc, ok := c.nc.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
	case "reset":
		c.s.count("reset", 1)
		c.dead = true
		if tc, ok := c.nc.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
		_ = c.nc.Close()
	case "stop_reading":
		// The reader parks at its next read; nothing is written from now.
		c.s.count("stop_reading", 1)
		c.dead = true
	case "frame":
		c.s.count("frame_"+c.o.name, 1)
		h := c.o.frame
		if err := c.rawLocked(h.Head); err != nil {
			return
		}
		if h.Stream != nil {
			c.dead = true // nothing else may interleave with the stream
			go c.stream(h)
		}
	}
}

// stream writes a streaming hostile frame's body until the client goes
// away or the limit is reached. It writes without the lock: the
// connection is dead to every other writer.
func (c *conn) stream(h Hostile) {
	var n int64
	for n < h.Limit {
		select {
		case <-c.quit:
			return
		default:
		}
		_ = c.nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
		w, err := c.nc.Write(h.Stream)
		n += int64(w)
		c.s.bytesOut.Add(int64(w))
		if err != nil {
			return
		}
	}
}

func (c *conn) rawLocked(b []byte) error {
	_ = c.nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, err := c.nc.Write(b)
	return err
}

// writeLocked writes one unmasked frame.
func (c *conn) writeLocked(op ws.OpCode, fin bool, p []byte) error {
	h := ws.Header{Fin: fin, OpCode: op, Length: int64(len(p))}
	buf := make([]byte, 0, ws.MaxHeaderSize+len(p))
	w := bytesWriter{&buf}
	if err := ws.WriteHeader(w, h); err != nil {
		return err
	}
	buf = append(buf, p...)
	return c.rawLocked(buf)
}

type bytesWriter struct{ b *[]byte }

func (w bytesWriter) Write(p []byte) (int, error) {
	*w.b = append(*w.b, p...)
	return len(p), nil
}

// QueryURL joins base, path and the query parameters kv (key, value, …).
func QueryURL(path string, kv ...string) string {
	q := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	if len(q) == 0 {
		return path
	}
	return path + "?" + q.Encode()
}
