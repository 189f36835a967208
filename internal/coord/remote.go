package coord

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wsbench/wsbench/engine"
	"github.com/wsbench/wsbench/report"
	"github.com/wsbench/wsbench/scenario"
)

// The network protocol: a remote worker joins with one HTTP/2 request,
// POST /v1/join, whose body streams the worker's frames up (frame.go:
// clock probes, hello, intervals, the report) and whose response streams
// the coordinator's control lines down (clock replies, the assignment,
// stop), each flushed as written. It is the protocol of a local worker's
// pipes, carried by one full-duplex HTTP/2 stream, so drive serves both.
// HTTP/2 pings on both sides notice a peer that vanished without closing
// (a machine gone, a partition) within pingEvery+pingTimeout.
const (
	// ProtocolVersion is the join protocol's version; a coordinator
	// refuses workers of another.
	ProtocolVersion = 1
	joinPath        = "/v1/join"
	hdrProtocol     = "Wsbench-Protocol"
	hdrIndex        = "Wsbench-Index" // the share a worker asks for (request) or got (response)
	// A generator ramping up thousands of connections on a busy machine
	// can leave its reader unscheduled for seconds (schedule lags of 3 s
	// were seen at 80,000 connections on two shared cores), and a run
	// lost to a late pong is far worse than a vanished peer noticed
	// 20 s late: a peer that dies outright resets its connections at
	// once anyway.
	pingEvery   = 5 * time.Second
	pingTimeout = 15 * time.Second
)

// Network is how a coordinator meets remote workers.
type Network struct {
	// Listener is where workers connect; the caller listens (and so
	// knows and can print the address it got).
	Listener net.Listener
	// Token is the shared secret every worker must present. Required.
	Token string
	// TLS holds the coordinator's certificate, and client CAs when
	// workers must present certificates too (mutual TLS). Nil means plain
	// HTTP/2 (h2c), for networks private to the run only.
	TLS *tls.Config
	// JoinTimeout is how long to wait for every worker (0: 5 minutes).
	JoinTimeout time.Duration
	// Joined, if set, is told of each worker that joined (by share index,
	// from 0) once its clock is measured.
	Joined func(index int, w report.WorkerResult)
}

// hello is a remote worker's introduction, sent once its clock is
// measured.
type hello struct {
	Protocol int           `json:"protocol"`
	Version  string        `json:"version"` // wsbench version
	Host     string        `json:"host"`
	PID      int           `json:"pid"`
	Clock    ClockEstimate `json:"clock"`
}

// peerLink is a remote worker's stream: control lines go down the
// response of its join request, frames come up its body. The handler
// goroutine owns the response and writes what send queues, so nothing
// that the coordinator does waits on the network.
type peerLink struct {
	addr  string // where it connected from
	lines chan string

	mu     sync.Mutex
	closed bool
	hello  *hello
	end    *ClockEstimate
}

func newPeerLink(addr string) *peerLink {
	return &peerLink{addr: addr, lines: make(chan string, 64)}
}

func (p *peerLink) send(line string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	select {
	case p.lines <- line:
	default: // a peer that reads nothing is gone; its reader will say so
	}
}

func (p *peerLink) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closed {
		p.closed = true
		close(p.lines)
	}
}

func (p *peerLink) wait(streamErr error) string {
	if streamErr != nil {
		return "disconnected: " + streamErr.Error()
	}
	return "finished"
}

func (p *peerLink) who() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.hello == nil {
		return p.addr
	}
	return fmt.Sprintf("%s, host %s, pid %d", p.addr, p.hello.Host, p.hello.PID)
}

func (p *peerLink) kill() { p.close() }

func (p *peerLink) describe(r *report.WorkerResult) {
	p.mu.Lock()
	defer p.mu.Unlock()
	r.Addr = p.addr
	if p.hello != nil {
		r.Host, r.PID = p.hello.Host, p.hello.PID
		r.ClockOffsetUS = us(p.hello.Clock.Offset)
		r.ClockBoundUS = us(runBound(p.hello.Clock, p.end))
	}
}

func (p *peerLink) setHello(h *hello) {
	p.mu.Lock()
	p.hello = h
	p.mu.Unlock()
}

func (p *peerLink) setEnd(e *ClockEstimate) {
	p.mu.Lock()
	p.end = e
	p.mu.Unlock()
}

func us(d time.Duration) float64 { return float64(d) / 1e3 }

// clockSummary states the clock agreement of a merged run from its
// workers' bounds: nil when no worker was remote (one host, one clock).
func clockSummary(ws []report.WorkerResult) *report.Clock {
	var first, second float64
	remote := false
	for _, w := range ws {
		if w.Addr == "" {
			continue
		}
		remote = true
		switch b := w.ClockBoundUS; {
		case b > first:
			first, second = b, first
		case b > second:
			second = b
		}
	}
	if !remote {
		return nil
	}
	bound := first + second
	return &report.Clock{
		Method:        report.ClockMeasured,
		OneWayBoundUS: &bound,
		Note:          "workers ran on the coordinator's clock, each corrected by its measured offset; push_delay compares the target's own clock with it, which is not measured",
	}
}

// coordinator is the state of a remote run while workers join.
type coordinator struct {
	n      int
	token  [sha256.Size]byte
	events chan event
	logf   func(string, ...any)

	mu      sync.Mutex
	slots   []*worker // by share index; nil while free
	started bool
	readers sync.WaitGroup
}

// Coordinate runs sc against target (a ws:// address every worker can
// reach) with opts.Workers remote workers that join over nw, and returns
// the merged report, as Run does for local workers: it waits for every
// worker to join and measure its clock, hands each its share and the
// common start, merges their intervals live into opts' sinks and their
// reports at the end. A worker that disconnects is reported and its share
// counted as failed; a cancelled ctx stops every worker.
func Coordinate(ctx context.Context, sc *scenario.Scenario, target string, nw Network, opts Options) (*report.Report, error) {
	logf := opts.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	opts.Logf = logf
	n := max(opts.Workers, 1)
	notStarted := func(err error) (*report.Report, error) {
		return engine.NotStarted(sc, err), &engine.StartError{Err: err}
	}
	if nw.Token == "" {
		return notStarted(errors.New("coordinator: a token is required"))
	}
	raw, err := json.Marshal(sc)
	if err != nil {
		return notStarted(fmt.Errorf("coordinator: %w", err))
	}
	c := &coordinator{n: n, token: sha256.Sum256([]byte(nw.Token)), events: make(chan event, 64*n+16), logf: logf, slots: make([]*worker, n)}
	srv := newServer(c, nw.TLS, logf)
	served := make(chan error, 1)
	go func() {
		if nw.TLS != nil {
			served <- srv.ServeTLS(nw.Listener, "", "")
		} else {
			served <- srv.Serve(nw.Listener)
		}
	}()
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if srv.Shutdown(sctx) != nil {
			_ = srv.Close()
		}
	}()

	workers, err := c.waitForWorkers(ctx, nw, served)
	if err != nil {
		return notStarted(err)
	}
	delay := opts.StartDelay
	if delay <= 0 {
		delay = 2 * time.Second
	}
	origin := time.Now().Add(delay)
	for _, w := range workers {
		a := Assignment{Scenario: raw, Target: target, Index: w.index, Count: n, Origin: origin, LagBudget: opts.LagBudget, SourceAddrs: w.addrs, Reachable: opts.Reachable, Loaded: sc.Loaded()}
		line, _ := json.Marshal(a)
		w.send(string(line))
		logf("worker %d (%s): share %d of %d", w.index+1, w.link.who(), w.index+1, n)
	}
	logf("%d workers joined; the load starts at %s", n, origin.UTC().Format(time.RFC3339Nano))
	return drive(ctx, sc, target, workers, c.events, &c.readers, origin, opts)
}

// waitForWorkers waits until every share has a worker whose clock is
// measured; a worker that leaves before the start frees its share for
// another. On a timeout, a cancelled ctx or a server that failed, the
// workers that did join are told and sent away.
func (c *coordinator) waitForWorkers(ctx context.Context, nw Network, served <-chan error) ([]*worker, error) {
	timeout := nw.JoinTimeout
	if timeout <= 0 {
		timeout = 5 * time.Minute
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	ready := map[*worker]bool{}
	giveUp := func(err error) ([]*worker, error) {
		c.mu.Lock()
		c.started = true // refuse latecomers
		slots := c.slots
		c.mu.Unlock()
		for _, w := range slots {
			if w != nil {
				w.send(ctlCancel + " " + err.Error())
				w.link.close()
			}
		}
		return nil, err
	}
	for len(ready) < c.n {
		select {
		case ev := <-c.events:
			w := ev.w
			switch {
			case ev.hello != nil:
				ready[w] = true
				if nw.Joined != nil {
					var r report.WorkerResult
					w.link.describe(&r)
					nw.Joined(w.index, r)
				}
				c.logf("worker %d joined (%s): %s; %d of %d", w.index+1, w.link.who(), ev.hello.Clock, len(ready), c.n)
				if ev.hello.Version != report.Version {
					c.logf("worker %d runs wsbench %s, this coordinator %s: the same protocol, but the scenario may not mean the same to both", w.index+1, ev.hello.Version, report.Version)
				}
			case ev.end:
				delete(ready, w)
				w.link.close()
				c.mu.Lock()
				if c.slots[w.index] == w {
					c.slots[w.index] = nil
				}
				c.mu.Unlock()
				c.logf("worker %d (%s) left before the start: %v", w.index+1, w.link.who(), ev.err)
			}
		case <-deadline.C:
			return giveUp(fmt.Errorf("%d of %d workers joined in %s", len(ready), c.n, timeout))
		case <-ctx.Done():
			return giveUp(fmt.Errorf("stopped while %d of %d workers had joined", len(ready), c.n))
		case err := <-served:
			return giveUp(fmt.Errorf("coordinator: serve: %w", err))
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.started = true
	return append([]*worker(nil), c.slots...), nil
}

func newServer(c *coordinator, cfg *tls.Config, logf func(string, ...any)) *http.Server {
	mux := http.NewServeMux()
	mux.HandleFunc(joinPath, c.join)
	p := new(http.Protocols)
	if cfg != nil {
		p.SetHTTP2(true)
		cfg = cfg.Clone()
	} else {
		p.SetUnencryptedHTTP2(true)
	}
	return &http.Server{
		Handler:           mux,
		TLSConfig:         cfg,
		Protocols:         p,
		HTTP2:             &http.HTTP2Config{SendPingTimeout: pingEvery, PingTimeout: pingTimeout},
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(logWriter(logf), "", 0),
	}
}

// logWriter turns the HTTP server's log lines (TLS handshakes that
// failed, say) into coordinator diagnostics.
type logWriter func(string, ...any)

func (l logWriter) Write(p []byte) (int, error) {
	l("%s", strings.TrimSpace(string(p)))
	return len(p), nil
}

// authorized compares the request's bearer token with the run's in
// constant time (of their digests, so not even the length leaks).
func (c *coordinator) authorized(r *http.Request) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return false
	}
	got := sha256.Sum256([]byte(tok))
	return subtle.ConstantTimeCompare(got[:], c.token[:]) == 1
}

// take gives a joining worker its share: the one it asked for (an
// Indexed Job's completion index), or the first free one.
func (c *coordinator) take(asked int, w *worker) (int, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.started:
		return http.StatusConflict, "the run has started (or was abandoned); a worker can join only before the start"
	case asked >= c.n:
		return http.StatusBadRequest, fmt.Sprintf("share %d asked for, but the run has %d (0 to %d)", asked, c.n, c.n-1)
	case asked >= 0 && c.slots[asked] != nil:
		return http.StatusConflict, fmt.Sprintf("share %d already has a worker (%s)", asked, c.slots[asked].link.who())
	case asked >= 0:
		w.index = asked
	default:
		w.index = -1
		for i, s := range c.slots {
			if s == nil {
				w.index = i
				break
			}
		}
		if w.index < 0 {
			return http.StatusConflict, fmt.Sprintf("all %d shares have workers", c.n)
		}
	}
	c.slots[w.index] = w
	c.readers.Add(1)
	return http.StatusOK, ""
}

// join serves one worker's join request for the whole run.
func (c *coordinator) join(rw http.ResponseWriter, r *http.Request) {
	refuse := func(code int, why string) {
		c.logf("refused a worker from %s: %s", r.RemoteAddr, why)
		http.Error(rw, why, code)
	}
	switch {
	case r.Method != http.MethodPost:
		refuse(http.StatusMethodNotAllowed, "POST only")
		return
	case r.ProtoMajor != 2:
		refuse(http.StatusHTTPVersionNotSupported, "HTTP/2 only")
		return
	case !c.authorized(r):
		refuse(http.StatusUnauthorized, "wrong or missing token")
		return
	case r.Header.Get(hdrProtocol) != strconv.Itoa(ProtocolVersion):
		refuse(http.StatusBadRequest, fmt.Sprintf("join protocol %q, this coordinator speaks %d: run the same wsbench version on both sides", r.Header.Get(hdrProtocol), ProtocolVersion))
		return
	}
	asked := -1
	if s := r.Header.Get(hdrIndex); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			refuse(http.StatusBadRequest, fmt.Sprintf("share %q asked for: want a number from 0", s))
			return
		}
		asked = n
	}
	pl := newPeerLink(r.RemoteAddr)
	w := &worker{link: pl}
	if code, why := c.take(asked, w); code != http.StatusOK {
		refuse(code, why)
		return
	}
	flusher, _ := rw.(http.Flusher)
	rw.Header().Set(hdrIndex, strconv.Itoa(w.index))
	rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
	rw.WriteHeader(http.StatusOK)
	if flusher != nil {
		flusher.Flush()
	}
	go func() {
		defer c.readers.Done()
		read(w, r.Body, c.events)
	}()
	// Everything written to rw is written here, until the coordinator
	// closes the link; a write that fails means the worker is gone, which
	// its reader reports.
	failed := false
	for line := range pl.lines {
		if failed {
			continue
		}
		if _, err := io.WriteString(rw, line+"\n"); err != nil {
			failed = true
			continue
		}
		if flusher != nil {
			flusher.Flush()
		}
	}
}

// readRemote handles the frames only remote workers send: a clock probe
// is answered at once (from the reader, so the reply does not wait for
// the coordinator's loop), a hello and the end-of-run clock estimate are
// recorded on the worker's link.
func readRemote(w *worker, typ byte, payload []byte, events chan<- event) error {
	t1 := time.Now().UnixNano()
	pl, ok := w.link.(*peerLink)
	if !ok {
		return fmt.Errorf("frame %q from a local worker", typ)
	}
	switch typ {
	case frameClock:
		t0, n := binary.Varint(payload)
		if n <= 0 || n != len(payload) {
			return errors.New("malformed clock probe")
		}
		pl.send(clockReply(t0, t1))
	case frameHello:
		h := new(hello)
		if err := json.Unmarshal(payload, h); err != nil {
			return fmt.Errorf("hello: %w", err)
		}
		if h.Clock.Bound < 0 || h.Clock.Samples < 1 {
			return fmt.Errorf("hello: clock estimate %+v", h.Clock)
		}
		pl.setHello(h)
		events <- event{w: w, hello: h}
	case frameDrift:
		e := new(ClockEstimate)
		if err := json.Unmarshal(payload, e); err != nil {
			return fmt.Errorf("clock estimate: %w", err)
		}
		pl.setEnd(e)
	}
	return nil
}
