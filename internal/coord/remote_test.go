package coord

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsbench/wsbench/engine"
	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/report"
	"github.com/wsbench/wsbench/scenario"
)

// remoteRun is a coordinator listening on loopback with TLS, and what a
// worker needs to join it.
type remoteRun struct {
	addr  string
	token string
	dir   string // certificates
	nw    Network
}

func newRemote(t *testing.T) *remoteRun {
	t.Helper()
	dir := t.TempDir()
	if err := GenerateCerts(dir, []string{"127.0.0.1", "localhost"}, 1); err != nil {
		t.Fatal(err)
	}
	tok, err := ReadToken(filepath.Join(dir, TokenFile), "")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ServerTLS(filepath.Join(dir, CoordinatorCert), filepath.Join(dir, CoordinatorKey), "")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return &remoteRun{addr: ln.Addr().String(), token: tok, dir: dir, nw: Network{Listener: ln, Token: tok, TLS: cfg, JoinTimeout: time.Minute}}
}

func (r *remoteRun) joinOptions(t *testing.T, index int) JoinOptions {
	t.Helper()
	cfg, err := ClientTLS(filepath.Join(r.dir, CAFile), "", "", "")
	if err != nil {
		t.Fatal(err)
	}
	return JoinOptions{Coordinator: r.addr, Token: r.token, TLS: cfg, Index: index, Retry: 10 * time.Second, ReportDir: t.TempDir(),
		Logf: func(f string, a ...any) { t.Logf("worker: "+f, a...) }}
}

// joinAll starts one worker goroutine per options and returns a function
// that waits for them and returns their results and errors.
func joinAll(ctx context.Context, opts ...JoinOptions) func() ([]JoinResult, []error) {
	res := make([]JoinResult, len(opts))
	errs := make([]error, len(opts))
	var wg sync.WaitGroup
	for i, o := range opts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res[i], errs[i] = Join(ctx, o)
		}()
	}
	return func() ([]JoinResult, []error) { wg.Wait(); return res, errs }
}

// Three workers join over HTTP/2 with TLS, one asking for its share as an
// Indexed Job's pod would: the merged report holds every share, agrees
// with the server's counts, and says where each worker ran and how well
// its clock agreed.
func TestRemoteWorkersMergeExactly(t *testing.T) {
	t.Parallel()
	addr := server(t)
	sc := echoScenario(t, addr, 9, 2*time.Second)
	r := newRemote(t)
	before := stats(t, addr)
	wait := joinAll(t.Context(), r.joinOptions(t, -1), r.joinOptions(t, 2), r.joinOptions(t, -1))
	rep, err := Coordinate(t.Context(), sc, "ws://"+addr, r.nw, Options{Workers: 3, Logf: t.Logf, StartDelay: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	res, errs := wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("worker %d: %v", i, err)
		}
	}
	if res[1].Index != 2 {
		t.Errorf("the worker that asked for share 2 ran share %d", res[1].Index)
	}
	after := stats(t, addr)
	c := rep.Counters
	if rep.EndReason != report.EndCompleted {
		t.Fatalf("end %s: %s", rep.EndReason, rep.EndDetail)
	}
	if got := after["messages_in"] - before["messages_in"]; got != c.MessagesSent || c.MessagesReceived != c.MessagesSent || c.MessagesSent == 0 {
		t.Fatalf("client sent %d received %d, server received %d", c.MessagesSent, c.MessagesReceived, got)
	}
	if c.ConnectsOK != 9 || c.Errors() != 0 {
		t.Fatalf("connects %d, errors %v", c.ConnectsOK, c.ErrorsByCause)
	}
	for _, w := range rep.Workers {
		if w.ConnectsOK != 3 || w.Exit != "finished" || !strings.HasPrefix(w.Addr, "127.0.0.1:") || w.Host == "" || w.PID != os.Getpid() {
			t.Errorf("worker %+v: want 3 connections, a clean finish, its address, host and pid", w)
		}
		// One host, one clock: the measured offset is within its bound
		// of zero, and the bound is a loopback round trip's.
		if math.Abs(w.ClockOffsetUS) > w.ClockBoundUS || w.ClockBoundUS <= 0 || w.ClockBoundUS > 1e6 {
			t.Errorf("worker %d: clock offset %.1f µs ± %.1f µs on one host", w.Index, w.ClockOffsetUS, w.ClockBoundUS)
		}
	}
	if rep.Clock == nil || rep.Clock.Method != report.ClockMeasured || rep.Clock.OneWayBoundUS == nil || *rep.Clock.OneWayBoundUS <= 0 {
		t.Fatalf("clock %+v: want the measured one-way bound", rep.Clock)
	}
	if rtt := rep.Metrics["rtt"]; rtt == nil || rtt.Count != c.MessagesReceived {
		t.Fatalf("rtt %+v, received %d: a sample was lost in the merge", rtt, c.MessagesReceived)
	}
}

// A coordinator admits only workers with the token, over HTTP/2, to free
// shares; each refusal is final and says why.
func TestRemoteRefusals(t *testing.T) {
	t.Parallel()
	addr := server(t)
	sc := echoScenario(t, addr, 2, time.Second)
	r := newRemote(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan struct{})
	var rep *report.Report
	var err error
	go func() {
		defer close(done)
		rep, err = Coordinate(ctx, sc, "ws://"+addr, r.nw, Options{Workers: 2, Logf: t.Logf})
	}()
	// A worker that holds share 0 until the coordinator gives up.
	holder := joinAll(t.Context(), r.joinOptions(t, 0))

	for _, tc := range []struct {
		name string
		edit func(*JoinOptions)
		want string
	}{
		{"wrong token", func(o *JoinOptions) { o.Token = strings.Repeat("x", 32) }, "wrong or missing token"},
		{"share taken", func(o *JoinOptions) { o.Index = 0 }, "share 0 already has a worker"},
		{"no such share", func(o *JoinOptions) { o.Index = 5 }, "share 5 asked for, but the run has 2"},
		{"unknown CA", func(o *JoinOptions) { o.TLS.RootCAs = nil }, "certificate"},
	} {
		o := r.joinOptions(t, 1)
		tc.edit(&o)
		if tc.name == "share taken" {
			// Wait until the holder has share 0.
			deadline := time.Now().Add(30 * time.Second)
			for {
				_, err := Join(t.Context(), o)
				if err != nil && strings.Contains(err.Error(), tc.want) || time.Now().After(deadline) {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
		_, jerr := Join(t.Context(), o)
		if !errors.Is(jerr, ErrJoin) || !strings.Contains(jerr.Error(), tc.want) {
			t.Errorf("%s: %v, want a join error saying %q", tc.name, jerr, tc.want)
		}
	}
	cancel()
	<-done
	var se *engine.StartError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "1 of 2 workers") && !strings.Contains(err.Error(), "0 of 2 workers") {
		t.Fatalf("coordinator: %v (report %v), want a run that could not start", err, rep.EndDetail)
	}
	_, errs := holder()
	if !errors.Is(errs[0], ErrJoin) || !strings.Contains(errs[0].Error(), "gave up") {
		t.Fatalf("the joined worker: %v, want it told that the coordinator gave up", errs[0])
	}
}

// proxy forwards TCP connections to target until cut, which breaks every
// connection at once, as a coordinator's machine vanishing would.
type proxy struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, u)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(u, c); u.Close() }()
			go func() { _, _ = io.Copy(c, u); c.Close() }()
		}
	}()
	t.Cleanup(p.cut)
	return p
}

func (p *proxy) cut() {
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // a reset, not a goodbye
		}
		c.Close()
	}
}

// sinkFunc calls f for every merged interval.
type sinkFunc func(iv *metrics.Interval)

func (f sinkFunc) Interval(iv *metrics.Interval, _ *metrics.Set) error { f(iv); return nil }
func (f sinkFunc) Close(*report.Report)                                {}

// When the coordinator's end of the network vanishes mid-run, the worker
// stops at once and keeps its partial report in a file that wsbench
// merge can read; the coordinator reports the worker as disconnected and
// its share as failed.
func TestLostCoordinatorWorkerKeepsReport(t *testing.T) {
	t.Parallel()
	addr := server(t)
	sc := echoScenario(t, addr, 4, 4*time.Second)
	r := newRemote(t)
	p := newProxy(t, r.addr)
	far := r.joinOptions(t, 1)
	far.Coordinator = p.ln.Addr().String()
	far.TLS.ServerName = "127.0.0.1"
	wait := joinAll(t.Context(), r.joinOptions(t, 0), far)
	var once sync.Once
	start := time.Now()
	rep, err := Coordinate(t.Context(), sc, "ws://"+addr, r.nw, Options{Workers: 2, Logf: t.Logf,
		Sinks: []engine.Sink{sinkFunc(func(iv *metrics.Interval) {
			if iv.Active == 4 { // both shares are connected: cut the far one off
				once.Do(p.cut)
			}
		})}})
	res, errs := wait()
	if errs[0] != nil {
		t.Errorf("the near worker: %v", errs[0])
	}
	if errs[1] == nil || res[1].Kept == "" || !strings.Contains(errs[1].Error(), res[1].Kept) {
		t.Fatalf("the far worker: %v (kept %q), want it to say where it kept its report", errs[1], res[1].Kept)
	}
	kept, rerr := report.ReadJSONFile(res[1].Kept)
	if rerr != nil {
		t.Fatal(rerr)
	}
	if kept.EndReason != report.EndFailed || !strings.Contains(kept.EndDetail, "lost the coordinator") || kept.Shard == nil || kept.Shard.Index != 1 || kept.Shard.Count != 2 || kept.Counters.MessagesSent == 0 {
		t.Fatalf("kept report: end %s (%s), shard %+v, sent %d", kept.EndReason, kept.EndDetail, kept.Shard, kept.Counters.MessagesSent)
	}
	t.Logf("the run took %v, the far worker's share %.1f s", time.Since(start), kept.DurationS)
	if kept.DurationS > 3 {
		t.Fatalf("the far worker's share ran for %.1f s of 4: it did not stop when the coordinator vanished", kept.DurationS)
	}
	if err == nil || rep.EndReason != report.EndFailed || !strings.Contains(rep.EndDetail, "worker 2") || !strings.Contains(rep.Workers[1].Exit, "disconnected") {
		t.Fatalf("coordinator: %v, end %s (%s), worker 2 %+v", err, rep.EndReason, rep.EndDetail, rep.Workers[1])
	}
}

// A worker whose clock is ten minutes off measures that offset within
// the bound it states, and runs on the coordinator's clock: no broadcast
// latency between it and the other worker is shifted by the offset.
func TestSkewedWorkerClockIsCorrected(t *testing.T) {
	t.Parallel()
	addr := server(t)
	sc, err := scenario.Parse("bcast.yaml", []byte(fmt.Sprintf(`
name: skew
target: ws://%s
interval: 250ms
phases:
  - {duration: 0s, clients: 6}
  - {duration: 2s, clients: 6}
flows:
  - name: member
    weight: 2
    steps:
      - connect: {path: "/broadcast?room=r"}
      - listen: {}
  - name: writer
    weight: 1
    steps:
      - connect: {path: "/broadcast?room=r"}
      - publish: {rate: 20, size: 64}
`, addr)))
	if err != nil {
		t.Fatal(err)
	}
	// Far beyond any latency a starved machine produces in a 2 s run, so
	// a delivery shifted by it cannot pass for a slow one.
	const skew = 10 * time.Minute
	r := newRemote(t)
	off := r.joinOptions(t, 1)
	off.Clock = func() int64 { return time.Now().Add(skew).UnixNano() }
	wait := joinAll(t.Context(), r.joinOptions(t, 0), off)
	rep, err := Coordinate(t.Context(), sc, "ws://"+addr, r.nw, Options{Workers: 2, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	if _, errs := wait(); errs[0] != nil || errs[1] != nil {
		t.Fatalf("workers: %v", errs)
	}
	w := rep.Workers[1]
	if got := w.ClockOffsetUS - us(skew); math.Abs(got) > w.ClockBoundUS {
		t.Fatalf("measured offset %.0f µs ± %.0f µs, injected %v", w.ClockOffsetUS, w.ClockBoundUS, skew)
	}
	d := rep.Metrics["broadcast_delivery"]
	if d == nil || d.Count == 0 {
		t.Fatal("no broadcast deliveries")
	}
	// Uncorrected, the deliveries from the other worker's publisher to
	// this one's members (a good quarter of them) would be ten minutes
	// late, and the other way clamped at zero.
	if limit := us(skew / 2); float64(d.MaxUS) > limit || d.P90US == 0 {
		t.Fatalf("broadcast_delivery p90 %d µs, max %d µs: the skew was not corrected", d.P90US, d.MaxUS)
	}
	t.Logf("broadcast_delivery p50 %d µs p90 %d µs max %d µs; offset %.0f µs ± %.0f µs", d.P50US, d.P90US, d.MaxUS, w.ClockOffsetUS, w.ClockBoundUS)
}

// The estimate keeps the probe with the smallest round trip, and its
// bound holds for any split of the round trip between the two ways.
func TestClockEstimate(t *testing.T) {
	t.Parallel()
	const d = int64(5_000_000) // the worker is 5 ms ahead
	sample := func(t0, up, hold, down int64) clockSample {
		t1 := t0 - d + up
		t2 := t1 + hold
		return clockSample{T0: t0, T1: t1, T2: t2, T3: t2 + d + down}
	}
	for _, tc := range []struct {
		name    string
		samples []clockSample
	}{
		{"symmetric", []clockSample{sample(1e9, 100, 10, 100)}},
		{"all up", []clockSample{sample(1e9, 800, 10, 0)}},
		{"all down", []clockSample{sample(1e9, 0, 10, 800)}},
		{"best of three", []clockSample{sample(1e9, 9000, 10, 100), sample(2e9, 300, 5, 200), sample(3e9, 100, 10, 7000)}},
		{"a stepped clock is ignored", []clockSample{{T0: 10, T1: 0, T2: 0, T3: 5}, sample(1e9, 50, 1, 60)}},
	} {
		e, err := bestEstimate(tc.samples)
		if err != nil {
			t.Fatal(tc.name, err)
		}
		if diff := int64(e.Offset) - d; diff < -int64(e.Bound) || diff > int64(e.Bound) {
			t.Errorf("%s: offset %v ± %v, true %v", tc.name, e.Offset, e.Bound, time.Duration(d))
		}
		if tc.name == "best of three" && e.RTT != 500 {
			t.Errorf("best of three: kept rtt %v, want the 500 ns one", e.RTT)
		}
	}
	if _, err := bestEstimate([]clockSample{{T0: 10, T3: 5}}); err == nil {
		t.Error("no usable probe gave an estimate")
	}
	if b := runBound(ClockEstimate{Offset: 100, Bound: 10}, &ClockEstimate{Offset: 160, Bound: 20}); b != 80 {
		t.Errorf("run bound %v, want drift 60 + end bound 20", b)
	}
}
