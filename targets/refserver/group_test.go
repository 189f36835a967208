//go:build linux

package refserver

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// workerArg as the first argument makes the test binary a group worker
// listening on the second (see TestMain), so group tests run real worker
// processes without building wsbench.
const workerArg = "refserver-test-group-worker"

// workerCommand is GroupOptions.Command for test workers.
func workerCommand(addr string) []string {
	exe, err := os.Executable()
	if err != nil {
		panic(err)
	}
	return []string{exe, workerArg, addr}
}

// coordEnv makes the test binary a group coordinator that prints its
// workers' PIDs and waits to be killed (TestGroupDiesWithCoordinator).
const coordEnv = "REFSERVER_TEST_GROUP_COORDINATOR"

func TestMain(m *testing.M) {
	if os.Getenv(coordEnv) != "" {
		os.Unsetenv(coordEnv)
		g, err := StartGroup(GroupOptions{
			Procs:        2,
			Addr:         "127.0.0.1:0",
			Command:      workerCommand,
			Stderr:       os.Stderr,
			ReadyTimeout: 30 * time.Second,
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, "test coordinator:", err)
			os.Exit(1)
		}
		code, body := 0, ""
		if resp, err := http.Get("http://" + g.Addr() + "/stats"); err == nil {
			code = resp.StatusCode
			var gs GroupStats
			json.NewDecoder(resp.Body).Decode(&gs)
			resp.Body.Close()
			for _, p := range gs.Processes {
				body += fmt.Sprintf(" %d", p.PID)
			}
		}
		fmt.Printf("PIDS %d%s\n", code, body)
		select {} // until killed
	}
	if len(os.Args) == 3 && os.Args[1] == workerArg {
		addr := os.Args[2]
		ctx, stop := signalCtx()
		defer stop()
		err := RunWorker(ctx, Config{MaxMessageSize: testMaxSize}, addr, LinkFD, 5*time.Second)
		if err != nil {
			fmt.Fprintln(os.Stderr, "test worker:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// signalCtx is cancelled by SIGTERM, the way wsbench serve's is.
func signalCtx() (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM)
	go func() {
		select {
		case <-sigs:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// startGroup starts a group of procs test workers and stops it at the end
// of the test.
func startGroup(t *testing.T, procs int) *Group {
	t.Helper()
	g, err := StartGroup(GroupOptions{
		Procs:        procs,
		Addr:         "127.0.0.1:0",
		Command:      workerCommand,
		Stderr:       os.Stderr,
		ReadyTimeout: 30 * time.Second,
		Logf:         t.Logf,
	})
	if err != nil {
		t.Fatalf(
			"StartGroup: %v",
			err)
	}
	t.Cleanup(func() { g.Stop(10 * time.Second) })
	return g
}

// groupStats fetches /stats from a group.
func groupStats(t *testing.T, addr string) GroupStats {
	t.Helper()
	code, body := httpGet(t, addr, "/stats")
	if code != http.StatusOK {
		t.Fatalf(
			"/stats: %d %s",
			code, body)
	}
	var gs GroupStats
	dec := json.NewDecoder(strings.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&gs); err != nil {
		t.Fatalf(
			"/stats %q: %v",
			body, err)
	}
	return gs
}

// TestGroup runs three worker processes on one port: connections spread
// over them, a broadcast room spans them with one order for every member,
// and /stats sums every process exactly.
func TestGroup(t *testing.T) {
	t.Parallel()
	const (
		procs   = 3
		members = 12
		senders = 3
		perSend = 50
	)
	g := startGroup(t, procs)
	addr := g.Addr()

	room := make([]*client, members)
	for i := range room {
		room[i] = dial(t, addr, "/broadcast?room=g")
	}
	gs := groupStats(t, addr)
	var pids []int
	serving := 0
	for _, p := range gs.Processes {
		pids = append(pids, p.PID)
		if p.ConnectionsOpen > 0 {
			serving++
		}
	}
	if len(gs.Processes) != procs || gs.ConnectionsOpen != members {
		t.Fatalf(
			"/stats: %d processes, %d open; want %d and %d",
			len(gs.Processes), gs.ConnectionsOpen, procs, members)
	}
	if serving < 2 {
		// SO_REUSEPORT hashes each connection's addresses; 12 landing on
		// one of three listeners would be a 1-in-59,000 chance.
		t.Fatalf(
			"connections on %d process(es), want them spread: %+v",
			serving, gs.Processes)
	}

	got := make([][]string, members)
	var wg sync.WaitGroup
	for i, c := range room {
		wg.Go(func() {
			for range senders * perSend {
				p, _, err := c.recv()
				if err != nil {
					t.Errorf(
						"member %d: %v",
						i, err)
					return
				}
				got[i] = append(got[i], string(p))
			}
		})
	}
	for s := range senders {
		wg.Go(func() {
			for seq := range perSend {
				room[s*members/senders].send(t, ws.OpText, fmt.Appendf(nil, "%d:%d", s, seq))
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	for i := 1; i < members; i++ {
		if !slices.Equal(got[i], got[0]) {
			t.Fatalf("member %d saw a different order than member 0", i)
		}
	}
	next := make([]int, senders)
	for _, m := range got[0] {
		var s, seq int
		fmt.Sscanf(m, "%d:%d", &s, &seq)
		if seq != next[s] {
			t.Fatalf(
				"sender %d: got seq %d, want %d",
				s, seq, next[s])
		}
		next[s]++
	}

	gs = groupStats(t, addr)
	wantIn, wantOut := int64(senders*perSend), int64(members*senders*perSend)
	if gs.MessagesIn != wantIn || gs.MessagesOut != wantOut || gs.ConnectionsTotal != members {
		t.Errorf(
			"/stats sums in/out/total = %d/%d/%d, want %d/%d/%d",
			gs.MessagesIn, gs.MessagesOut, gs.ConnectionsTotal, wantIn, wantOut, members)
	}
	var sum GroupStats
	for i, p := range gs.Processes {
		if p.PID != pids[i] {
			t.Errorf(
				"process %d: pid %d, was %d",
				i, p.PID, pids[i])
		}
		sum.add(p.Stats)
	}
	if sum.Stats != gs.Stats {
		t.Errorf(
			"per-process counters add up to %+v, the sum says %+v",
			sum.Stats, gs.Stats)
	}
}

// TestGroupWorkerDeath kills a worker: the group reports it, and Stop
// still ends the others.
func TestGroupWorkerDeath(t *testing.T) {
	t.Parallel()
	g := startGroup(t, 2)
	gs := groupStats(t, g.Addr())
	victim := gs.Processes[1].PID
	if err := syscall.Kill(victim, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-g.Failed():
	case <-time.After(10 * time.Second):
		t.Fatal("the group did not report its dead worker")
	}
	if err := g.Err(); err == nil || !strings.Contains(err.Error(), fmt.Sprint(victim)) {
		t.Errorf(
			"Err = %v, want it to name pid %d",
			err, victim)
	}
	survivor := gs.Processes[0].PID
	g.Stop(10 * time.Second)
	if err := syscall.Kill(survivor, 0); err == nil {
		t.Errorf("worker %d still runs after Stop", survivor)
	}
}

// TestGroupPortTaken refuses a port another listener holds, even one that
// set SO_REUSEPORT and so would let the group's workers join it.
func TestGroupPortTaken(t *testing.T) {
	t.Parallel()
	ln, err := ListenReusePort("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, err = StartGroup(GroupOptions{
		Procs:   1,
		Addr:    ln.Addr().String(),
		Command: func(string) []string { t.Fatal("a worker was started"); return nil },
	})
	if err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Errorf(
			"StartGroup on a taken port = %v, want address already in use",
			err)
	}
}

// TestGroupDiesWithCoordinator kills a coordinator process with SIGKILL
// (no chance to stop anything): its workers must exit on their own, by
// the parent-death signal or by seeing their link close, whichever comes
// first.
func TestGroupDiesWithCoordinator(t *testing.T) {
	t.Parallel()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), coordEnv+"=1")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	line, err := bufio.NewReader(out).ReadString('\n')
	f := strings.Fields(line)
	if err != nil || len(f) != 4 || f[0] != "PIDS" || f[1] != "200" {
		t.Fatalf(
			"coordinator said %q (%v), want PIDS 200 and two worker PIDs",
			line, err)
	}
	var workers []int
	for _, s := range f[2:] {
		pid, _ := strconv.Atoi(s)
		workers = append(workers, pid)
	}
	cmd.Process.Kill()
	cmd.Wait()
	for _, pid := range workers {
		waitFor(t, fmt.Sprintf("worker %d to exit", pid), func() bool { return !alive(pid) })
	}
}

// alive reports whether pid runs (a zombie no parent reaped yet does not).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// pid (comm) state ...: the state follows the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}
