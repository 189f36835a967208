package coord

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/wsbench/wsbench/engine"
	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/report"
	"github.com/wsbench/wsbench/scenario"
	"github.com/wsbench/wsbench/targets/refserver"
)

// The test binary doubles as the worker: the coordinator under test
// starts it with WSBENCH_TEST_WORKER set, as wsbench starts `wsbench
// worker`.
func TestMain(m *testing.M) {
	if os.Getenv("WSBENCH_TEST_WORKER") != "" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		if err := Work(ctx, os.Stdin, os.Stdout, func(f string, a ...any) { fmt.Fprintf(os.Stderr, "worker: "+f+"\n", a...) }); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func workerCommand() *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "WSBENCH_TEST_WORKER=1")
	return cmd
}

func server(t *testing.T) string {
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

func stats(t *testing.T, addr string) map[string]int64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]int64
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func echoScenario(t *testing.T, addr string, clients int, d time.Duration) *scenario.Scenario {
	t.Helper()
	sc, err := scenario.Parse("coord.yaml", []byte(fmt.Sprintf(`
name: coordinated
target: ws://%s
interval: 250ms
phases:
  - {duration: 0s, clients: %d}
  - {duration: %s, clients: %d}
flows:
  - name: echo
    steps:
      - connect: {path: /echo}
      - echo: {rate: 20, size: 64}
`, addr, clients, d, clients)))
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// Three workers: the merged report holds every worker's share and agrees
// with the server's own counts, message for message.
func TestThreeWorkersMergeExactly(t *testing.T) {
	addr := server(t)
	sc := echoScenario(t, addr, 9, 2*time.Second)
	before := stats(t, addr)
	rep, err := Run(t.Context(), sc, "ws://"+addr, Options{Workers: 3, Command: workerCommand, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	after := stats(t, addr)
	c := rep.Counters
	t.Logf("end %s, sent %d received %d connects %d; server in %d out %d", rep.EndReason, c.MessagesSent, c.MessagesReceived, c.ConnectsOK,
		after["messages_in"]-before["messages_in"], after["messages_out"]-before["messages_out"])
	if rep.EndReason != report.EndCompleted {
		t.Fatalf("end %s: %s", rep.EndReason, rep.EndDetail)
	}
	if got := after["messages_in"] - before["messages_in"]; got != c.MessagesSent || c.MessagesReceived != c.MessagesSent {
		t.Fatalf("client sent %d received %d, server received %d", c.MessagesSent, c.MessagesReceived, got)
	}
	if c.ConnectsOK != 9 || c.Errors() != 0 {
		t.Fatalf("connects %d, errors %v", c.ConnectsOK, c.ErrorsByCause)
	}
	if len(rep.Workers) != 3 {
		t.Fatalf("%d workers in the report", len(rep.Workers))
	}
	var sum int64
	for _, w := range rep.Workers {
		if w.ConnectsOK != 3 || w.Exit != "exited with status 0" {
			t.Errorf("worker %+v: want 3 connections and a clean exit", w)
		}
		sum += w.MessagesSent
	}
	if sum != c.MessagesSent {
		t.Fatalf("the workers' shares add up to %d sent, the report says %d", sum, c.MessagesSent)
	}
	if rtt := rep.Metrics["rtt"]; rtt == nil || rtt.Count != c.MessagesReceived {
		t.Fatalf("rtt %+v, received %d: a sample was lost in the merge", rtt, c.MessagesReceived)
	}
}

// A worker killed mid-run: the run goes on to its end with the others,
// and the report names the lost worker, its exit, and counts its share
// as failed.
func TestKilledWorkerIsReported(t *testing.T) {
	addr := server(t)
	sc := echoScenario(t, addr, 6, 3*time.Second)
	// Kill worker 2 once the merged intervals show all six connections
	// open: the coordinator has then seen worker 2 hold its two, however
	// slowly a busy machine started the workers.
	var pid atomic.Int64
	kill := &untilTrue{f: func(iv *metrics.Interval) bool {
		if iv.Active < 6 {
			return false
		}
		_ = syscall.Kill(int(pid.Load()), syscall.SIGKILL)
		return true
	}}
	start := time.Now()
	rep, err := Run(t.Context(), sc, "ws://"+addr, Options{Workers: 3, Command: workerCommand, Logf: t.Logf,
		Sinks: []engine.Sink{kill},
		Started: func(worker, p int) {
			if worker == 2 {
				pid.Store(int64(p))
			}
		}})
	if err == nil || rep.EndReason != report.EndFailed {
		t.Fatalf("err %v, end %s: a lost worker must fail the run", err, rep.EndReason)
	}
	if !strings.Contains(rep.EndDetail, "worker 2") || !strings.Contains(rep.EndDetail, "killed") {
		t.Fatalf("end detail %q does not name the killed worker", rep.EndDetail)
	}
	if w := rep.Workers[1]; !strings.Contains(w.Exit, "killed") || w.EndReason != report.EndFailed {
		t.Fatalf("worker 2 reported as %+v", w)
	}
	if rep.Counters.ErrorsByCause["worker_lost"] != 2 {
		t.Fatalf("errors %v: want the 2 connections the lost worker held as worker_lost", rep.Counters.ErrorsByCause)
	}
	for _, i := range []int{0, 2} {
		if w := rep.Workers[i]; w.EndReason != report.EndCompleted || w.ConnectsOK != 2 {
			t.Errorf("worker %d: %+v, want it to run to the end", i+1, w)
		}
	}
	if took := time.Since(start); took < 3*time.Second {
		t.Fatalf("the run ended after %v, before its 3 s", took)
	}
}

// untilTrue is a Sink that gives f each interval until f returns true.
type untilTrue struct {
	done bool
	f    func(*metrics.Interval) bool
}

func (u *untilTrue) Interval(iv *metrics.Interval, _ *metrics.Set) error {
	if !u.done {
		u.done = u.f(iv)
	}
	return nil
}

func (u *untilTrue) Close(*report.Report) {}

// Stopping the coordinator stops every worker at once, and each still
// delivers its partial report.
func TestStopReachesEveryWorker(t *testing.T) {
	addr := server(t)
	sc := echoScenario(t, addr, 4, 30*time.Second)
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(2*time.Second, cancel)
	start := time.Now()
	rep, err := Run(ctx, sc, "ws://"+addr, Options{Workers: 2, Command: workerCommand, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	if rep.EndReason != report.EndInterrupted {
		t.Fatalf("end %s: %s", rep.EndReason, rep.EndDetail)
	}
	for _, w := range rep.Workers {
		if w.EndReason != report.EndInterrupted || w.Exit != "exited with status 0" || w.MessagesSent == 0 {
			t.Errorf("worker %+v: want an interrupted, cleanly exited share that measured something", w)
		}
	}
	if took := time.Since(start); took > 20*time.Second {
		t.Fatalf("stopping took until %v of a 30 s run", took)
	}
}
