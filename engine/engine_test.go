package engine

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/wsbench/wsbench/report"
	"github.com/wsbench/wsbench/scenario"
	"github.com/wsbench/wsbench/targets/refserver"
)

func mustScenario(t *testing.T, y string) *scenario.Scenario {
	t.Helper()
	sc, err := scenario.Parse(t.Name()+".yaml", []byte(y))
	if err != nil {
		t.Fatalf("scenario:\n%v", err)
	}
	return sc
}

func run(t *testing.T, sc *scenario.Scenario) *report.Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rep, err := runOpts(t, ctx, sc, Options{Logf: t.Logf})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return rep
}

// runOpts runs sc with opts; a scenario whose target is builtin runs
// against a reference server started for it (package targets does that
// for wsbench itself, but it imports this package).
func runOpts(t *testing.T, ctx context.Context, sc *scenario.Scenario, opts Options) (*report.Report, error) {
	t.Helper()
	if sc.Target == "builtin" {
		cfg := refserver.Config{}
		if b := sc.Builtin; b != nil {
			cfg = refserver.Config{PingInterval: b.PingInterval.D(), PingTimeout: b.PingTimeout.D(), MaxMessageSize: int64(b.MaxMessageSize),
				ProcessDelay: b.ProcessDelay.D(), ServiceTime: b.ServiceTime.D(), MaxConns: b.MaxConns, DropEvery: b.DropEvery}
		}
		srv := refserver.New(cfg)
		addr, err := srv.Start("127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(ctx)
		})
		opts.Target = "ws://" + addr
		before := httpStats(t, addr)
		rep, err := Run(ctx, sc, opts)
		rep.Server = &report.ServerObs{Before: before, After: httpStats(t, addr)}
		return rep, err
	}
	return Run(ctx, sc, opts)
}

// httpStats reads the contract's GET /stats.
func httpStats(t *testing.T, addr string) map[string]int64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/stats")
	if err != nil {
		t.Fatalf("stats: %v", err)
	}
	defer resp.Body.Close()
	var m map[string]int64
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatalf("stats: %v", err)
	}
	return m
}

func TestEchoNothingLost(t *testing.T) {
	sc := mustScenario(t, `
name: echo
target: builtin
clients: 20
ramp_up: 200ms
duration: 2s
message: {size: 100, rate: 50}
`)
	rep := run(t, sc)
	c := rep.Counters
	t.Logf("sent %d received %d rtt p50 %dus p99 %dus", c.MessagesSent, c.MessagesReceived, rep.Metrics["rtt"].P50US, rep.Metrics["rtt"].P99US)
	if c.MessagesSent == 0 || c.MessagesSent != c.MessagesReceived {
		t.Fatalf("sent %d, received %d", c.MessagesSent, c.MessagesReceived)
	}
	if got := rep.Metrics["rtt"].Count; got != c.MessagesReceived {
		t.Fatalf("rtt samples %d, received %d", got, c.MessagesReceived)
	}
	if c.Errors() != 0 || c.RepliesMissing != 0 || c.SendsDropped != 0 {
		t.Fatalf("errors %v missing %d dropped %d", c.ErrorsByCause, c.RepliesMissing, c.SendsDropped)
	}
	if c.ConnectsOK != 20 {
		t.Fatalf("connects ok %d, want 20", c.ConnectsOK)
	}
	if rep.Server == nil || rep.Server.After["messages_in"]-rep.Server.Before["messages_in"] != c.MessagesSent {
		t.Fatalf("server stats %+v, client sent %d", rep.Server, c.MessagesSent)
	}
	if rep.EndReason != report.EndCompleted {
		t.Fatalf("end reason %s", rep.EndReason)
	}
	// Scheduled sends slept on the pacer's timerfd, and the report says how
	// many shared a wake-up.
	if runtime.GOOS == "linux" && !strings.HasPrefix(rep.Environment.Pacing, "timerfd, ") {
		t.Fatalf("pacing %q, want the timerfd with its waits per wake-up", rep.Environment.Pacing)
	}
}

func TestBroadcastReachExact(t *testing.T) {
	sc := mustScenario(t, `
name: fanout
target: builtin
phases:
  - {duration: 0s, clients: 6}
  - {duration: 3s, clients: 6}
flows:
  - name: publisher
    weight: 1
    steps:
      - connect: {path: "/broadcast?room=r1"}
      - publish: {rate: 20, size: 80, duration: 2s}
      - listen: {}
  - name: subscriber
    weight: 5
    steps:
      - connect: {path: "/broadcast?room=r1"}
      - listen: {}
`)
	rep := run(t, sc)
	if len(rep.Broadcast) != 1 {
		t.Fatalf("broadcast results: %+v", rep.Broadcast)
	}
	b := rep.Broadcast[0]
	t.Logf("%+v", b)
	if b.Published == 0 || b.Reach != 1 || b.Lost != 0 || b.Duplicates != 0 || b.Reordered != 0 {
		t.Fatalf("healthy server: %+v", b)
	}
	if b.Expected < b.Published*5 {
		t.Fatalf("expected %d deliveries for %d messages to 6 members", b.Expected, b.Published)
	}
	if rep.Metrics["broadcast_delivery"] == nil || rep.Metrics["broadcast_complete"] == nil {
		t.Fatalf("missing broadcast metrics: %v", MetricNames(rep))
	}
}

func TestBroadcastLossEqualsServerDrops(t *testing.T) {
	sc := mustScenario(t, `
name: lossy
target: builtin
builtin: {drop_every: 7}
phases:
  - {duration: 0s, clients: 4}
  - {duration: 3s, clients: 4}
flows:
  - name: member
    steps:
      - connect: {path: "/broadcast?room=lossy"}
      - sleep: 200ms
      - publish: {rate: 10, size: 64, duration: 2s}
      - listen: {}
`)
	rep, err := runOpts(t, t.Context(), sc, Options{ExportLedger: true})
	if err != nil {
		t.Fatal(err)
	}
	b := rep.Broadcast[0]
	dropped := rep.Server.After["dropped"] - rep.Server.Before["dropped"]
	t.Logf("%+v server dropped %d", b, dropped)
	// A member that joined late on a busy machine was not expected to get
	// the first messages: the server's drops to it are no loss.
	if dropped == 0 || b.Lost > dropped || (allJoinedInTime(rep.Ledger) && b.Lost != dropped) {
		t.Fatalf("lost %d, server dropped %d (%+v)", b.Lost, dropped, b)
	}
	// Over time, by publish time: the intervals cover the run and add up
	// to the totals, and nothing is lost where nothing was published.
	iv := b.Intervals
	if iv == nil || iv.IntervalS != rep.Series.IntervalS {
		t.Fatalf("broadcast intervals %+v, want the series interval %gs", iv, rep.Series.IntervalS)
	}
	if span := float64(iv.Len()) * iv.IntervalS; span < rep.DurationS || span > rep.DurationS+iv.IntervalS+1 {
		t.Errorf("%d intervals of %gs for a run of %gs", iv.Len(), iv.IntervalS, rep.DurationS)
	}
	var exp, lost int64
	for i := range iv.Expected {
		exp += iv.Expected[i]
		lost += iv.Lost[i]
		if iv.Lost[i] > iv.Expected[i] {
			t.Errorf("interval %d: %d lost of %d expected", i, iv.Lost[i], iv.Expected[i])
		}
	}
	if exp != b.Expected || lost != b.Lost {
		t.Errorf("intervals sum to %d expected, %d lost; totals %d, %d", exp, lost, b.Expected, b.Lost)
	}
}

func TestPushGapsAndDelay(t *testing.T) {
	sc := mustScenario(t, `
name: push
target: builtin
phases:
  - {duration: 2s, clients: 3}
flows:
  - name: ticker
    steps:
      - connect: {path: "/push?rate=50&size=120"}
      - listen: {}
`)
	rep := run(t, sc)
	c := rep.Counters
	if c.PushReceived < 3*50 || c.PushGaps != 0 || c.PushOutOfOrder != 0 {
		t.Fatalf("push received %d gaps %d ooo %d", c.PushReceived, c.PushGaps, c.PushOutOfOrder)
	}
	if m := rep.Metrics["push_delay"]; m == nil || m.Count != c.PushReceived {
		t.Fatalf("push_delay %+v, received %d", m, c.PushReceived)
	}
}

func TestProcessDelayShiftsRTT(t *testing.T) {
	const delay = 20 * time.Millisecond
	sc := mustScenario(t, `
name: delayed
target: builtin
builtin: {process_delay: 20ms}
clients: 5
duration: 2s
message: {size: 64, rate: 20}
`)
	rep := run(t, sc)
	m := rep.Metrics["rtt"]
	t.Logf("rtt min %dus p50 %dus p99 %dus", m.MinUS, m.P50US, m.P99US)
	if time.Duration(m.MinUS)*time.Microsecond < delay {
		t.Fatalf("min rtt %dus below the server's %v delay", m.MinUS, delay)
	}
	if time.Duration(m.P50US)*time.Microsecond > delay+500*time.Millisecond {
		t.Fatalf("p50 %dus far above the delay", m.P50US)
	}
}

func TestUnreachableTargetCannotStart(t *testing.T) {
	ln := freeClosedPort(t)
	sc := mustScenario(t, `
name: nowhere
target: ws://`+ln+`
clients: 2
duration: 1s
`)
	rep, err := runOpts(t, context.Background(), sc, Options{})
	var se *StartError
	if !errors.As(err, &se) {
		t.Fatalf("error %v, want StartError", err)
	}
	if rep == nil || rep.EndReason != report.EndFailed || rep.Counters.ErrorsByCause["refused"] != 1 {
		t.Fatalf("report %+v", rep)
	}
}

func TestTargetDiesMidRun(t *testing.T) {
	srv := refserver.New(refserver.Config{})
	addr, err := srv.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sc := mustScenario(t, `
name: dies
target: ws://`+addr+`
clients: 3
duration: 30s
message: {size: 64, rate: 20}
`)
	go func() {
		time.Sleep(time.Second)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}()
	start := time.Now()
	rep, err := runOpts(t, context.Background(), sc, Options{})
	var fe *FailedError
	if !errors.As(err, &fe) || rep.EndReason != report.EndFailed {
		t.Fatalf("err %v end %s", err, rep.EndReason)
	}
	if time.Since(start) > 15*time.Second {
		t.Fatalf("a dead target kept the run going for %v", time.Since(start))
	}
	c := rep.Counters
	if c.ClosesByCode["1001"] != 3 || c.ErrorsByCause["refused"] == 0 || c.MessagesReceived == 0 {
		t.Fatalf("closes %v errors %v received %d", c.ClosesByCode, c.ErrorsByCause, c.MessagesReceived)
	}
}

func TestInterruptWritesPartialReport(t *testing.T) {
	sc := mustScenario(t, `
name: interrupted
target: builtin
clients: 4
duration: 30s
message: {size: 64, rate: 20}
`)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(1500*time.Millisecond, cancel)
	rep, err := runOpts(t, ctx, sc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := rep.Counters
	if rep.EndReason != report.EndInterrupted || rep.DurationS > 10 {
		t.Fatalf("end %s after %.1fs", rep.EndReason, rep.DurationS)
	}
	if c.MessagesSent == 0 || c.MessagesReceived+c.RepliesMissing != c.MessagesSent {
		t.Fatalf("sent %d received %d missing %d", c.MessagesSent, c.MessagesReceived, c.RepliesMissing)
	}
	if c.ClosesByInitiator["client"] != 4 {
		t.Fatalf("closes %v", c.ClosesByInitiator)
	}
}

func TestOpenModelOverloadCountsDrops(t *testing.T) {
	// Every session holds its connection for the rest of the phase, so
	// after max_sessions arrivals every further arrival must be dropped,
	// never queued.
	sc := mustScenario(t, `
name: overload
target: builtin
client: {max_sessions: 10}
phases:
  - {duration: 0s, arrival_rate: 20}
  - {duration: 2s, arrival_rate: 20}
flows:
  - name: hold
    steps:
      - connect: {path: /echo}
      - sleep: 10s
`)
	rep := run(t, sc)
	c := rep.Counters
	t.Logf("intended %d started %d dropped %d", c.SessionsIntended, c.SessionsStarted, c.SessionsDropped)
	if c.SessionsIntended != 40 || c.SessionsStarted != 10 || c.SessionsDropped != 30 {
		t.Fatalf("intended %d started %d dropped %d", c.SessionsIntended, c.SessionsStarted, c.SessionsDropped)
	}
	if rep.Rates.SessionsAchievedPerS >= rep.Rates.SessionsIntendedPerS {
		t.Fatalf("rates %+v", rep.Rates)
	}
}

// MetricNames lists a report's metrics, for failure messages.
func MetricNames(r *report.Report) []string { return report.SortedKeys(r.Metrics) }

func freeClosedPort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// A timed step lasts its duration even when its last send is due earlier,
// and sessions cut short by the end of the run are not "completed".
func TestTimedStepsLastTheirDuration(t *testing.T) {
	sc := mustScenario(t, `
name: slow
target: builtin
phases:
  - {duration: 0s, clients: 1}
  - {duration: 3s, clients: 1}
flows:
  - name: f
    steps:
      - connect: {path: /echo}
      - echo: {rate: 0.5, duration: 2s}
      - close: {}
`)
	rep := run(t, sc)
	c := rep.Counters
	// One session of 2 s completes; a second starts and is stopped at 3 s.
	if c.SessionsStarted != 2 || c.SessionsCompleted != 1 || c.SessionsFailed != 0 || c.MessagesSent != 2 {
		t.Fatalf("started %d completed %d failed %d sent %d", c.SessionsStarted, c.SessionsCompleted, c.SessionsFailed, c.MessagesSent)
	}
}

func TestClientHeartbeats(t *testing.T) {
	sc := mustScenario(t, `
name: heartbeats
target: builtin
builtin: {ping_interval: 200ms, ping_timeout: 1s}
client: {ping_interval: 100ms, pong_timeout: 1s}
phases:
  - {duration: 0s, clients: 3}
  - {duration: 1500ms, clients: 3}
flows:
  - name: idle
    steps:
      - connect: {path: /echo}
      - listen: {}
`)
	rep := run(t, sc)
	c := rep.Counters
	t.Logf("pings %d pongs %d missed %d server pings %d", c.PingsSent, c.PongsReceived, c.PongsMissed, c.ServerPings)
	if c.PingsSent < 3*10 || c.PongsReceived+1*3 < c.PingsSent || c.PongsMissed != 0 {
		t.Fatalf("pings %d pongs %d missed %d", c.PingsSent, c.PongsReceived, c.PongsMissed)
	}
	if m := rep.Metrics["ping"]; m == nil || m.Count != c.PongsReceived {
		t.Fatalf("ping metric %+v, pongs %d", m, c.PongsReceived)
	}
	// The server pinged every 200 ms and the client answered: no 1011.
	if c.ServerPings < 3*5 || c.ClosesByCode["1011"] != 0 {
		t.Fatalf("server pings %d, closes %v", c.ServerPings, c.ClosesByCode)
	}
}

func TestFlowFaultsCountedByCauseAndStep(t *testing.T) {
	sc := mustScenario(t, `
name: faults
target: builtin
builtin: {max_message_size: 100}
phases:
  - {duration: 0s, clients: 2}
  - {duration: 2s, clients: 2}
flows:
  - name: waiter
    weight: 1
    on_error: reconnect
    backoff: {initial: 50ms, max: 100ms, max_attempts: 100}
    steps:
      - connect: {path: /echo}
      - send: {text: "hello {{session}}"}
      - name: want_bye
        expect: {contains: "bye", timeout: 200ms}
  - name: oversize
    weight: 1
    steps:
      - connect: {path: /echo}
      - name: too_big
        send: {size: 500}
      - name: after
        expect: {contains: "x", timeout: 1s}
`)
	rep := run(t, sc)
	c := rep.Counters
	t.Logf("errors %v by step %v sessions %d/%d/%d", c.ErrorsByCause, c.ErrorsByStep, c.SessionsStarted, c.SessionsCompleted, c.SessionsFailed)
	if c.ErrorsByStep["waiter/want_bye: expect_timeout"] < 3 {
		t.Fatalf("expect timeouts by step: %v", c.ErrorsByStep)
	}
	// on_error: reconnect retries within the session: one waiter session,
	// many connects.
	if c.ConnectsOK < 4 {
		t.Fatalf("connects %d: the waiter did not reconnect", c.ConnectsOK)
	}
	// The server closes an oversize message with 1009; the next step sees it.
	if c.ErrorsByStep["oversize/after: server_close_1009"] == 0 || c.ClosesByCode["1009"] == 0 {
		t.Fatalf("errors by step %v closes %v", c.ErrorsByStep, c.ClosesByCode)
	}
}

func TestClosedLoopEcho(t *testing.T) {
	sc := mustScenario(t, `
name: closed
target: builtin
phases:
  - {duration: 0s, clients: 3}
  - {duration: 1s, clients: 3}
flows:
  - name: f
    steps:
      - connect: {path: /echo}
      - echo: {inflight: 8, size: 100, count: 2000}
      - echo: {inflight: 2, size: 100}
`)
	rep := run(t, sc)
	c := rep.Counters
	if c.MessagesSent == 0 || c.MessagesSent != c.MessagesReceived || c.RepliesMissing != 0 || c.SendsIntended != 0 {
		t.Fatalf("sent %d received %d missing %d intended %d", c.MessagesSent, c.MessagesReceived, c.RepliesMissing, c.SendsIntended)
	}
	if c.BytesSent != 100*c.MessagesSent {
		t.Fatalf("payload bytes %d for %d messages of 100 bytes", c.BytesSent, c.MessagesSent)
	}
}
