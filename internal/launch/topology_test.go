package launch

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/wsbench/wsbench/targets/catalog"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// requireProgram skips the test when a program is not installed, or fails
// it under scripts/test (WSBENCH_TEST_REQUIRE_ALL), which installs it.
func requireProgram(t *testing.T, name string, args ...string) {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil && len(args) > 0 {
		var out []byte
		out, err = exec.Command(path, args...).CombinedOutput()
		if err != nil {
			err = errors.New(strings.TrimSpace(string(out)))
		}
	}
	if err == nil {
		return
	}
	if os.Getenv("WSBENCH_TEST_REQUIRE_ALL") != "" {
		t.Fatalf("%s missing: %v", name, err)
	}
	t.Skipf("%s missing (scripts/install-python-targets installs it): %v", name, err)
}

func TestTopologySpecProblems(t *testing.T) {
	for _, tt := range []struct {
		name string
		spec TopologySpec
		want []string // "field: part of the message"; nil: valid
	}{
		{"one process", TopologySpec{Topology: catalog.Topology{Name: "tornado"}}, nil},
		{"scaled out", TopologySpec{Topology: catalog.Topology{Name: "aiohttp", Processes: 3, Bus: "redis", Proxy: "haproxy", Balance: "leastconn", Loop: "uvloop", Accel: "off"}}, nil},
		{"external bus", TopologySpec{Topology: catalog.Topology{Name: "websockets", Bus: "redis://127.0.0.1:6379"}}, nil},
		{"go behind a proxy", TopologySpec{Topology: catalog.Topology{Name: "go", Processes: 2, Proxy: "haproxy"}}, nil},
		{"processes without a proxy", TopologySpec{Topology: catalog.Topology{Name: "tornado", Processes: 2}}, []string{"processes: need a proxy"}},
		{"too many processes", TopologySpec{Topology: catalog.Topology{Name: "tornado", Processes: 17, Proxy: "haproxy"}}, []string{"processes: want 1 to 16"}},
		{"bus elsewhere", TopologySpec{Topology: catalog.Topology{Name: "tornado", Bus: "redis://10.1.2.3:6379"}}, []string{"bus: want a loopback host"}},
		{"bus without port", TopologySpec{Topology: catalog.Topology{Name: "tornado", Bus: "redis://127.0.0.1"}}, []string{"bus: want a loopback host and a port"}},
		{"unknown bus", TopologySpec{Topology: catalog.Topology{Name: "tornado", Bus: "nats"}}, []string{"bus: \"nats\": want redis"}},
		{"go has no bus, loop or accel", TopologySpec{Topology: catalog.Topology{Name: "go", Bus: "redis", Loop: "uvloop", Accel: "off"}},
			[]string{"bus: the go target has no message bus", "loop: applies to the Python targets", "accel: applies to the Python targets"}},
		{"balance without a proxy", TopologySpec{Topology: catalog.Topology{Name: "tornado", Balance: "leastconn"}}, []string{"balance: \"leastconn\" is the proxy's algorithm"}},
		{"bad values", TopologySpec{Topology: catalog.Topology{Name: "tornado", Proxy: "nginx", Balance: "random", Loop: "trio", Accel: "max"}},
			[]string{"proxy: \"nginx\"", "balance: \"random\"", "loop: \"trio\"", "accel: \"max\""}},
		{"unknown target", TopologySpec{Topology: catalog.Topology{Name: "node"}}, []string{"name: unknown target"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, p := range tt.spec.Problems() {
				got = append(got, p.Field+": "+p.Msg)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("problems %q, want %d like %q", got, len(tt.want), tt.want)
			}
			for i, w := range tt.want {
				field, part, _ := strings.Cut(w, ": ")
				if !strings.HasPrefix(got[i], field+": ") || !strings.Contains(got[i], part) {
					t.Errorf("problem %d = %q, want %q", i, got[i], w)
				}
			}
			if _, err := NewTopology(tt.spec); (err == nil) != (tt.want == nil) {
				t.Errorf("NewTopology error %v, want one: %v", err, tt.want != nil)
			}
		})
	}
}

// The generated haproxy configuration is pinned by a golden file
// (go test ./internal/launch -run HAProxyConfig -update rewrites it).
func TestHAProxyConfig(t *testing.T) {
	got, err := haproxyConfig("/run/wsbench/haproxy.sock", "leastconn", []haproxyServer{
		{"tornado-1", "127.0.0.1:40001"}, {"tornado-2", "127.0.0.1:40002"},
	})
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "haproxy.golden.cfg")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("haproxy config differs from %s (-update rewrites it):\n%s", golden, got)
	}
	// haproxy itself must accept it: -c checks without starting.
	requireProgram(t, HAProxy, "-v")
	dir := t.TempDir()
	cfg, _ := haproxyConfig(filepath.Join(dir, "s.sock"), "roundrobin", []haproxyServer{{"go-1", "127.0.0.1:1"}})
	path := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	check := exec.Command(HAProxy, "-c", "-f", path)
	check.ExtraFiles = []*os.File{f} // fd@3
	if out, err := check.CombinedOutput(); err != nil {
		t.Fatalf("haproxy -c: %v\n%s", err, out)
	}
}

// requireTornado skips the test when Debian's Tornado is missing, or fails
// it under scripts/test.
func requireTornado(t *testing.T) {
	t.Helper()
	requireProgram(t, SystemPython, "-c", "import tornado.websocket, redis.asyncio")
}

// dialRoom opens a WebSocket to room through url and returns its reader.
func dialRoom(t *testing.T, url, room string) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, br, _, err := ws.Dial(t.Context(), url+"/broadcast?room="+room)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if br == nil {
		br = bufio.NewReader(conn)
	}
	return conn, br
}

// Two Tornado processes behind haproxy with their rooms on a private
// Redis: every member gets a message whichever process it landed on,
// haproxy spreads the connections, and each process's counters and
// output come back; Stop ends every process.
func TestTopologyRedisHAProxy(t *testing.T) {
	t.Parallel()
	requireTornado(t)
	requireProgram(t, RedisServer, "--version")
	requireProgram(t, HAProxy, "-v")
	topo, err := NewTopology(TopologySpec{Topology: catalog.Topology{Name: "tornado", Processes: 2, Bus: BusRedis, Proxy: ProxyHAProxy, Loop: "uvloop"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	if err := topo.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer topo.Stop()
	topo.Baseline(ctx)

	const members = 4
	conns := make([]net.Conn, members)
	readers := make([]*bufio.Reader, members)
	for i := range members {
		conns[i], readers[i] = dialRoom(t, topo.URL(), "lobby")
	}
	// Joining is complete once each process counts its members.
	waitFor(t, func() bool {
		var n int64
		for _, p := range topo.Targets() {
			var rooms map[string]map[string]int64
			if getJSON(ctx, p.Addr(), "/stats/rooms", &rooms) == nil {
				n += rooms["lobby"]["members"]
			}
		}
		return n == members
	})
	if err := wsutil.WriteClientText(conns[0], []byte("hello")); err != nil {
		t.Fatal(err)
	}
	for i := range members {
		_ = conns[i].SetReadDeadline(time.Now().Add(10 * time.Second))
		msg, err := wsutil.ReadServerText(struct {
			io.Reader
			io.Writer
		}{readers[i], conns[i]})
		if err != nil || string(msg) != "hello" {
			t.Fatalf("member %d: %q, %v", i, msg, err)
		}
	}

	obs := topo.Observe(ctx)
	if obs.Proxy == nil || obs.Proxy.Sessions != members || len(obs.Proxy.Servers) != 2 {
		t.Fatalf("proxy %+v, want %d sessions over 2 servers", obs.Proxy, members)
	}
	for _, s := range obs.Proxy.Servers {
		if s.Sessions != members/2 || s.Share != 0.5 {
			t.Errorf("round robin gave %s %d sessions (%.2f)", s.Name, s.Sessions, s.Share)
		}
	}
	var roles []string
	var in, out int64
	for _, p := range obs.Processes {
		roles = append(roles, p.Name+"/"+p.Role)
		if p.Role == "target" {
			in += p.Rooms["lobby"]["in"]
			out += p.Rooms["lobby"]["out"]
			if p.Info["loop"] != "uvloop.Loop" || !strings.HasPrefix(p.Info["bus"], "redis pub/sub at "+topo.BusURL()) {
				t.Errorf("%s info %v: want uvloop and the bus", p.Name, p.Info)
			}
		}
	}
	if got := strings.Join(roles, " "); got != "redis/bus tornado-1/target tornado-2/target haproxy/proxy" {
		t.Errorf("processes %s", got)
	}
	if in != 1 || out != members || obs.After["bus_published"] != 1 || obs.After["bus_received"] != 2 {
		t.Errorf("rooms in %d out %d, totals %v: want 1 published, %d delivered, 2 received from the bus", in, out, obs.After, members)
	}

	procs := append(topo.Targets(), topo.bus, topo.proxy)
	if err := topo.Stop(); err != nil {
		t.Errorf("Stop: %v", err)
	}
	for _, p := range procs {
		select {
		case <-p.Done():
		default:
			t.Errorf("pid %d still running after Stop", p.Pid())
		}
	}
	if _, err := os.Stat(topo.dir); !os.IsNotExist(err) {
		t.Errorf("%s left behind: %v", topo.dir, err)
	}
	out2 := topo.Output()
	for _, want := range []string{"==> redis (pid", "==> tornado-1", "==> tornado-2", "==> haproxy", "LISTENING"} {
		if !strings.Contains(out2, want) {
			t.Errorf("output lacks %q:\n%s", want, out2)
		}
	}
	select {
	case <-topo.Done():
		t.Errorf("Done closed by Stop: %s", topo.Exited())
	default:
	}
}

// A target that cannot start fails Start with its output, and whatever
// had started (Redis, the other target) is stopped before Start returns.
func TestTopologyStartFailureStopsTheRest(t *testing.T) {
	t.Parallel()
	requireProgram(t, RedisServer, "--version")
	topo, err := NewTopology(TopologySpec{Topology: catalog.Topology{Name: "tornado", Processes: 2, Bus: BusRedis, Proxy: ProxyHAProxy}})
	if err != nil {
		t.Fatal(err)
	}
	topo.startTarget = func(ctx context.Context, i int, s Settings) (*Process, error) {
		if !strings.Contains(strings.Join(s.Extra, " "), "--bus redis://127.0.0.1:") {
			t.Errorf("target %d flags %q: no --bus", i, s.Extra)
		}
		mode := "serve"
		if i == 1 {
			mode = "die"
		}
		return startHelper(ctx, mode)
	}
	err = topo.Start(t.Context())
	if err == nil || !strings.Contains(err.Error(), "tornado-2") || !strings.Contains(err.Error(), "boom: cannot start") {
		t.Fatalf("Start error %v, want tornado-2's failure with its output", err)
	}
	for _, p := range []*Process{topo.bus, topo.targets[0]} {
		select {
		case <-p.Done():
		default:
			t.Errorf("pid %d still running after the failed Start", p.Pid())
		}
	}
	if topo.proxy != nil {
		t.Error("the proxy started although a target failed")
	}
	if err := topo.Stop(); err != nil && !strings.Contains(err.Error(), "exit status") {
		t.Errorf("Stop after a failed Start: %v", err)
	}
}

// Cancelling the context (Ctrl-C during start-up) ends Start and stops
// what had started.
func TestTopologyStartCancelled(t *testing.T) {
	t.Parallel()
	requireProgram(t, RedisServer, "--version")
	topo, err := NewTopology(TopologySpec{Topology: catalog.Topology{Name: "tornado", Bus: BusRedis}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	topo.startTarget = func(ctx context.Context, _ int, _ Settings) (*Process, error) {
		cancel() // the signal arrives while the target starts
		return startHelper(ctx, "silent")
	}
	if err := topo.Start(ctx); err == nil || !errors.Is(err, context.Canceled) && !strings.Contains(err.Error(), "context canceled") {
		t.Fatalf("Start error %v, want cancelled", err)
	}
	select {
	case <-topo.bus.Done():
	default:
		t.Errorf("redis (pid %d) still running after the cancelled Start", topo.bus.Pid())
	}
}

// A process of the topology that dies during the run closes Done and
// says who it was.
func TestTopologyProcessExits(t *testing.T) {
	t.Parallel()
	requireProgram(t, RedisServer, "--version")
	topo, err := NewTopology(TopologySpec{Topology: catalog.Topology{Name: "tornado", Bus: BusRedis}})
	if err != nil {
		t.Fatal(err)
	}
	topo.startTarget = func(ctx context.Context, _ int, _ Settings) (*Process, error) {
		return startHelper(ctx, "serve")
	}
	if err := topo.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer topo.Stop()
	if err := topo.bus.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-topo.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("Done not closed after redis was killed")
	}
	if why := topo.Exited(); !strings.HasPrefix(why, "redis (pid ") || !strings.Contains(why, "killed") {
		t.Errorf("Exited() = %q", why)
	}
}

// waitFor polls cond with a generous deadline.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 30 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
