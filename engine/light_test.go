package engine

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsbench/wsbench/internal/faultserver"
	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/report"
	"github.com/wsbench/wsbench/scenario"
	"github.com/wsbench/wsbench/targets/refserver"
)

// TestEngineStepTableComplete fails when a step kind has no engine
// entry: a new kind is one file in package scenario and one here.
func TestEngineStepTableComplete(t *testing.T) {
	parks := map[scenario.StepKind]bool{scenario.KindSleep: true, scenario.KindThink: true, scenario.KindListen: true,
		scenario.KindClose: true, scenario.KindLoop: true}
	for _, k := range scenario.Kinds() {
		impl := implOf(k)
		if impl == nil || impl.run == nil {
			t.Errorf("step kind %v has no engine entry: define it in engine/step_%v.go with defineStep", k, k)
			continue
		}
		if impl.parks != parks[k] {
			t.Errorf("step kind %v: parks %v, want %v", k, impl.parks, parks[k])
		}
	}
}

// watch runs sc against its target in the background with the runner
// handed to the test (and sinks added to the run's), and returns the
// runner and a function that stops the run (as Ctrl-C would) and returns
// its report.
func watch(t *testing.T, sc *scenario.Scenario, target string, readers readerMode, sinks ...Sink) (*runner, func() *report.Report) {
	t.Helper()
	got := make(chan *runner, 1)
	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), runnerHook{}, func(r *runner) {
		r.readers = readers
		got <- r
	}))
	done := make(chan *report.Report, 1)
	go func() {
		rep, err := Run(ctx, sc, Options{Target: target, Logf: t.Logf, Sinks: sinks})
		if err != nil {
			t.Errorf("run: %v", err)
		}
		done <- rep
	}()
	var r *runner
	select {
	case r = <-got:
	case rep := <-done:
		cancel()
		t.Fatalf("the run ended before its load started: %s %s", rep.EndReason, rep.EndDetail)
	}
	return r, func() *report.Report {
		cancel()
		select {
		case rep := <-done:
			return rep
		case <-time.After(time.Minute):
			t.Fatal("the run did not stop")
			return nil
		}
	}
}

// parkedSessions counts the live sessions that are parked.
func (r *runner) parkedSessions() (parked, live int) {
	r.live.each(func(s *session) {
		live++
		if s.parked.Load() {
			parked++
		}
	})
	return parked, live
}

// waitFor polls cond every 10 ms until it holds or a generous deadline
// passes (a busy CI machine may take its time; the test asserts a state,
// not how fast it is reached).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func startRefserver(t *testing.T) string {
	t.Helper()
	srv := refserver.New(refserver.Config{})
	addr, err := srv.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return addr
}

// TestParkedSessionsHoldNoGoroutine opens N connections whose sessions
// wait in each kind of parking wait (listen, sleep, think, a slot's
// backoff after a failure) and checks that, once every session is
// parked, the process holds far fewer goroutines than connections: a
// parked session and a light connection cost none. Then it stops the run
// and checks that every parked session closed its connection and counts
// as stopped.
func TestParkedSessionsHoldNoGoroutine(t *testing.T) {
	const n = 300
	addr := startRefserver(t)
	for _, tc := range []struct {
		kind, steps string
		conns       int // connections open while parked
		backoff     bool
	}{
		{kind: "listen", steps: "- connect: {path: /echo}\n      - listen: {duration: 1h}", conns: n},
		{kind: "sleep", steps: "- connect: {path: /echo}\n      - sleep: 1h", conns: n},
		{kind: "think", steps: "- connect: {path: /echo}\n      - think: {min: 1h, max: 2h}", conns: n},
		// A looping flow parks between its sends.
		{kind: "loop", steps: "- connect: {path: /echo}\n      - loop: {steps: [{send: {text: hello}}, {sleep: 1h}]}", conns: n},
		// Every connect is refused (no such path): the slots back off.
		{kind: "backoff", steps: "- connect: {path: /no-such-path}", backoff: true},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			sc := mustScenario(t, fmt.Sprintf(`
name: parked
target: ws://%s
client: {ping_interval: 30s}
phases:
  - {duration: 0s, clients: %d}
  - {duration: 1h, clients: %d}
flows:
  - name: f
    backoff: {initial: 1h, max: 1h}
    steps:
      %s
`, addr, n, n, tc.steps))
			runtime.GC()
			before := runtime.NumGoroutine()
			r, stop := watch(t, sc, "", readAuto)
			waitFor(t, "every session parked", func() bool {
				parked, live := r.parkedSessions()
				return parked == n && live == n && r.active.Load() == int64(tc.conns)
			})
			// What is left of the sessions' goroutines exits right after
			// they park: wait for it, within a bound far below one per
			// connection (the run's own goroutines: drivers, sinks, the
			// reactor's and the resume pool's workers, the wheel).
			bound := before + 40
			waitFor(t, fmt.Sprintf("at most %d goroutines (before the run: %d)", bound, before), func() bool {
				return runtime.NumGoroutine() <= bound
			})
			rep := stop()
			c := rep.Counters
			if rep.EndReason != report.EndInterrupted {
				t.Errorf("end reason %s", rep.EndReason)
			}
			if tc.backoff {
				// Each slot's session failed once and the slots were
				// stopped while backing off: no other session started.
				if c.SessionsStarted != n || c.SessionsFailed != n || c.Errors() != n {
					t.Errorf("sessions %d/%d/%d errors %v", c.SessionsStarted, c.SessionsCompleted, c.SessionsFailed, c.ErrorsByCause)
				}
				return
			}
			// Stopped, not failed or completed; each connection closed by
			// the client with a handshake.
			if c.SessionsStarted != n || c.SessionsCompleted != 0 || c.SessionsFailed != 0 || c.Errors() != 0 {
				t.Errorf("sessions %d/%d/%d errors %v", c.SessionsStarted, c.SessionsCompleted, c.SessionsFailed, c.ErrorsByCause)
			}
			if c.ClosesByCode["1000"] != n || c.ClosesByInitiator["client"] != n {
				t.Errorf("closes %v by %v, want %d client closes with 1000", c.ClosesByCode, c.ClosesByInitiator, n)
			}
			if got := r.active.Load(); got != 0 {
				t.Errorf("%d connections still open", got)
			}
		})
	}
}

// TestParkedStepsFailWithTheirConnection checks that a connection that
// ends while its session waits (parked in listen, sleep or think; between
// an open-loop echo's sends) fails the waiting step with the connection's
// cause, counted once.
func TestParkedStepsFailWithTheirConnection(t *testing.T) {
	t.Parallel()
	srv, err := faultserver.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	const n = 4
	for _, fault := range []struct{ query, cause string }{
		{"fault=reset&after_ms=200", "reset"},
		{"fault=close&code=4000&after_ms=200", "server_close_4000"},
		{"fault=eof&after_ms=200", "closed"},
	} {
		var flows strings.Builder
		for _, k := range []struct{ kind, step string }{
			{"listen", "listen: {}"},
			{"sleep", "sleep: 1h"},
			{"think", "think: {min: 1h, max: 2h}"},
			{"echo", "echo: {rate: 0.001}"},
		} {
			fmt.Fprintf(&flows, `
  - name: %s
    backoff: {initial: 1h, max: 1h}
    steps:
      - connect: {path: "/echo?%s"}
      - %s
`, k.kind, fault.query, k.step)
		}
		t.Run(fault.cause, func(t *testing.T) {
			t.Parallel()
			sc := mustScenario(t, fmt.Sprintf(`
name: dies-parked
target: ws://%s
phases:
  - {duration: 0s, clients: %d}
  - {duration: 2s, clients: %d}
flows:%s`, srv.Addr(), 4*n, 4*n, flows.String()))
			rep := run(t, sc)
			c := rep.Counters
			for _, kind := range []string{"listen", "sleep", "think", "echo"} {
				key := fmt.Sprintf("%s/%s#2: %s", kind, kind, fault.cause)
				if c.ErrorsByStep[key] != n {
					t.Errorf("errors by step %v, want %d × %q", c.ErrorsByStep, n, key)
				}
			}
			// The cause's first message is kept, with the step it failed.
			if msg := rep.ErrorExamples[fault.cause]; !strings.Contains(msg, "#2: ") || len(rep.ErrorExamples) != 1 {
				t.Errorf("error examples %q, want one for %s", rep.ErrorExamples, fault.cause)
			}
			if c.Errors() != 4*n || c.SessionsFailed != 4*n {
				t.Errorf("errors %v, sessions failed %d", c.ErrorsByCause, c.SessionsFailed)
			}
		})
	}
}

// TestHeartbeatOnTheWheelMissesAPong: a server that stops answering
// fails each listening connection once, with pong_timeout, after the
// heartbeats (on the runner's wheel, not a goroutine per connection)
// go unanswered.
func TestHeartbeatOnTheWheelMissesAPong(t *testing.T) {
	t.Parallel()
	srv, err := faultserver.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	const n = 5
	sc := mustScenario(t, fmt.Sprintf(`
name: heartbeat
target: ws://%s
client: {ping_interval: 100ms, pong_timeout: 400ms}
phases:
  - {duration: 0s, clients: %d}
  - {duration: 3s, clients: %d}
flows:
  - name: f
    backoff: {initial: 1h, max: 1h}
    steps:
      - connect: {path: "/echo?fault=stop_reading&after_ms=300"}
      - listen: {}
`, srv.Addr(), n, n))
	rep := run(t, sc)
	c := rep.Counters
	if c.ErrorsByStep["f/listen#2: pong_timeout"] != n || c.Errors() != n {
		t.Errorf("errors %v by step %v, want %d pong timeouts at the listen", c.ErrorsByCause, c.ErrorsByStep, n)
	}
	if c.PongsMissed != n || c.ClosesByCode["1011"] != n {
		t.Errorf("pongs missed %d, closes %v: want %d missed and closed with 1011", c.PongsMissed, c.ClosesByCode, n)
	}
	// Every ping the server answered before it stopped is counted, and
	// timed.
	if m := rep.Metrics["ping"]; c.PongsReceived > 0 && (m == nil || m.Count != c.PongsReceived) {
		t.Errorf("ping metric %+v for %d pongs", m, c.PongsReceived)
	}
}

// completedSink counts the sessions completed so far.
type completedSink struct{ n atomic.Int64 }

func (c *completedSink) Interval(_ *metrics.Interval, total *metrics.Set) error {
	c.n.Store(total.Counters.SessionsCompleted)
	return nil
}

func (c *completedSink) Close(*report.Report) {}

// TestParkedStepsResume runs each parking step kind to its end, in a loop,
// so that every session parks and is resumed many times, and checks that
// the flows complete with every message accounted for, read through the
// reactor and through reader goroutines alike.
func TestParkedStepsResume(t *testing.T) {
	t.Parallel()
	addr := startRefserver(t)
	for _, readers := range []readerMode{readPoll, readGoroutine} {
		t.Run(fmt.Sprintf("readers=%d", readers), func(t *testing.T) {
			t.Parallel()
			const n, count = 10, 3
			sc := mustScenario(t, fmt.Sprintf(`
name: resume
target: ws://%s
interval: 100ms
client: {ping_interval: 50ms}
phases:
  - {duration: 0s, clients: %d}
  - {duration: 20s, clients: %d}
flows:
  - name: f
    steps:
      - connect: {path: /echo}
      - loop:
          count: %d
          steps:
            - send: {text: "x{{session}}"}
            - expect: {contains: "x"}
            - sleep: 20ms
            - think: {min: 10ms, max: 30ms}
            - listen: {duration: 20ms}
            - loop: {duration: 30ms, steps: [{sleep: 7ms}]}
      - close: {}
`, addr, n, n, count))
			completed := &completedSink{}
			_, stop := watch(t, sc, "", readers, completed)
			// Stop once every client has completed a session (the slots
			// start new ones meanwhile).
			waitFor(t, "a session completed by every client", func() bool { return completed.n.Load() >= n })
			rep := stop()
			c := rep.Counters
			if c.SessionsCompleted < n || c.SessionsFailed != 0 || c.Errors() != 0 {
				t.Fatalf("sessions %d/%d/%d errors %v", c.SessionsStarted, c.SessionsCompleted, c.SessionsFailed, c.ErrorsByCause)
			}
			if c.MessagesSent != c.MessagesReceived || c.MessagesSent < n*count {
				t.Errorf("sent %d received %d", c.MessagesSent, c.MessagesReceived)
			}
			if c.ClosesByCode["1000"] != c.ConnectsOK {
				t.Errorf("closes %v for %d connects", c.ClosesByCode, c.ConnectsOK)
			}
		})
	}
}
