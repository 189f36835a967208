package launch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/wsbench/wsbench/report"
	"github.com/wsbench/wsbench/targets/catalog"
)

// Scale-out options of TopologySpec (package catalog validates them).
const (
	BusNone      = catalog.BusNone
	BusRedis     = catalog.BusRedis
	ProxyNone    = catalog.ProxyNone
	ProxyHAProxy = catalog.ProxyHAProxy
	MaxProcs     = catalog.MaxProcs
)

// stopTimeout is how long Stop waits for each process before killing it.
const stopTimeout = 10 * time.Second

// Loops and Accels are the values of TopologySpec.Loop and .Accel.
var (
	Loops  = catalog.Loops
	Accels = catalog.Accels
)

// TopologySpec says what a Topology starts: Processes copies of the known
// target Name, optionally a Redis server their broadcast rooms are bridged
// through, optionally haproxy in front of them.
type TopologySpec struct {
	// Topology names the target and how it is scaled out; package catalog
	// validates it.
	catalog.Topology
	// Settings go to every target process. Addr is where clients connect:
	// the proxy's listen address with a proxy, the single target's without
	// one (default 127.0.0.1:0, a free port). Wrap prefixes every process
	// started, the bus and the proxy included (e.g. taskset -c 0).
	Settings Settings
	// StopSignal stops the target processes (default SIGTERM).
	StopSignal os.Signal
}

func (s TopologySpec) processes() int { return max(s.Processes, 1) }

// SpecProblem is one problem with a TopologySpec (see catalog.Topology).
type SpecProblem = catalog.Problem

// Problems lists every problem with s, field by field.
func (s TopologySpec) Problems() []SpecProblem {
	return s.Topology.Problems()
}

// Validate reports every problem with s at once.
func (s TopologySpec) Validate() error {
	var errs []error
	for _, p := range s.Problems() {
		errs = append(errs, fmt.Errorf("%s: %s", p.Field, p.Msg))
	}
	return errors.Join(errs...)
}

// Topology is a target of one or more processes that wsbench starts and
// stops as one: an optional Redis server (the bus), N target processes
// and an optional haproxy in front of them. Start starts them in that
// order and waits for each to be ready; Stop stops them in reverse (the
// targets first, so their 1001 closes still pass the proxy) and also
// cleans up after a failed or cancelled Start. Every process's output is
// kept (Output). Its methods are safe for concurrent use once Start has
// returned.
type Topology struct {
	spec TopologySpec
	dir  string // configuration files and sockets; removed by Stop

	bus       *Process // our redis-server; nil without one or with an external bus
	busURL    string
	targets   []*Process
	names     []string // the targets' names: tornado-1, …
	proxy     *Process
	proxySock string
	url       string

	exited   chan struct{} // closed when a process exits before Stop
	exitOnce sync.Once
	exitMu   sync.Mutex
	exitWhy  string

	stopping atomic.Bool
	stopOnce sync.Once
	stopErr  error

	mu       sync.Mutex
	baseline *snapshot

	// startTarget starts target process i; tests replace it.
	startTarget func(ctx context.Context, i int, s Settings) (*Process, error)
}

// NewTopology checks spec and returns a Topology that Start will start.
func NewTopology(spec TopologySpec) (*Topology, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	if spec.Balance == "" && spec.Proxy != ProxyNone {
		spec.Balance = "roundrobin"
	}
	if spec.StopSignal == nil {
		spec.StopSignal = syscall.SIGTERM
	}
	t := &Topology{spec: spec, exited: make(chan struct{})}
	t.startTarget = func(ctx context.Context, _ int, s Settings) (*Process, error) {
		return StartKnown(ctx, spec.Name, s)
	}
	return t, nil
}

// Start starts the topology and returns once every process is ready. ctx
// bounds the start-up only (DefaultStartTimeout for each step if it has
// no deadline). If anything fails, or ctx ends, every process already
// started is stopped before Start returns the error; Stop is then a
// no-op but safe.
func (t *Topology) Start(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			_ = t.Stop()
		}
	}()
	t.dir, err = os.MkdirTemp("", "wsbench-topology-")
	if err != nil {
		return err
	}
	wrapArgs := t.spec.Settings.Wrap

	// The bus first: the targets subscribe before they announce LISTENING.
	switch {
	case t.spec.Bus == BusRedis:
		t.bus, err = startRedis(ctx, t.dir, wrapArgs)
		if err != nil {
			return fmt.Errorf("bus: %w", err)
		}
		t.watch("redis", t.bus)
		t.busURL = "redis://" + t.bus.Addr()
	case t.spec.Bus != BusNone:
		t.busURL = t.spec.Bus
		u, _ := url.Parse(t.busURL)
		if _, err := redisCommand(ctx, u.Host, "PING"); err != nil {
			return fmt.Errorf("bus %s: %w", t.busURL, err)
		}
	}

	// The targets, all at once: Python start-up is mostly imports, and a
	// busy machine makes it seconds each.
	n := t.spec.processes()
	s := t.spec.Settings
	s.Extra = slices.Clone(s.Extra)
	if t.busURL != "" {
		s.Extra = append(s.Extra, "--bus", t.busURL)
	}
	if t.spec.Loop != "" {
		s.Extra = append(s.Extra, "--loop", t.spec.Loop)
	}
	if t.spec.Accel != "" {
		s.Extra = append(s.Extra, "--accel", t.spec.Accel)
	}
	if t.spec.Proxy != ProxyNone {
		s.Addr = "127.0.0.1:0"
	}
	t.targets = make([]*Process, n)
	t.names = make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		t.names[i] = fmt.Sprintf("%s-%d", t.spec.Name, i+1)
		wg.Go(func() {
			t.targets[i], errs[i] = t.startTarget(ctx, i, s)
			if errs[i] != nil {
				errs[i] = fmt.Errorf("%s: %w", t.names[i], errs[i])
			}
		})
	}
	wg.Wait()
	for i, p := range t.targets {
		if p != nil {
			t.watch(t.names[i], p)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}

	if t.spec.Proxy == ProxyNone {
		t.url = t.targets[0].URL()
		return nil
	}
	addr := t.spec.Settings.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("proxy: %w", err)
	}
	defer ln.Close() // haproxy has its own copy
	servers := make([]haproxyServer, n)
	for i, p := range t.targets {
		servers[i] = haproxyServer{Name: t.names[i], Addr: p.Addr()}
	}
	t.proxy, t.proxySock, err = startHAProxy(ctx, t.dir, ln.(*net.TCPListener), t.spec.Balance, servers, wrapArgs)
	if err != nil {
		return fmt.Errorf("proxy: %w", err)
	}
	t.watch("haproxy", t.proxy)
	t.url = t.proxy.URL()
	return nil
}

// watch notes when p exits before Stop.
func (t *Topology) watch(name string, p *Process) {
	go func() {
		<-p.Done()
		if t.stopping.Load() {
			return
		}
		t.exitOnce.Do(func() {
			t.exitMu.Lock()
			t.exitWhy = fmt.Sprintf("%s (pid %d) exited (%v); its output ends: %s", name, p.Pid(), p.waitErr, lastLines(p.Output(), 5))
			t.exitMu.Unlock()
			close(t.exited)
		})
	}()
}

// URL is the WebSocket base URL clients connect to: the proxy's, or the
// single target's.
func (t *Topology) URL() string { return t.url }

// BusURL is the redis:// URL the targets bridge their rooms through, or "".
func (t *Topology) BusURL() string { return t.busURL }

// Targets returns the target processes, in order.
func (t *Topology) Targets() []*Process { return slices.Clone(t.targets) }

// Done is closed when any process of the topology exits before Stop.
func (t *Topology) Done() <-chan struct{} { return t.exited }

// Exited says which process exited before Stop and how, or "".
func (t *Topology) Exited() string {
	t.exitMu.Lock()
	defer t.exitMu.Unlock()
	return t.exitWhy
}

// single reports whether the topology is one target process and nothing
// else, which reports and logs show as before topologies existed.
func (t *Topology) single() bool {
	return len(t.targets) == 1 && t.bus == nil && t.busURL == "" && t.proxy == nil
}

// Output returns every process's output: for a single process just its
// own, otherwise one section per process.
func (t *Topology) Output() string {
	if t.single() && t.targets[0] != nil {
		return t.targets[0].Output()
	}
	var b strings.Builder
	section := func(name string, p *Process) {
		if p == nil {
			return
		}
		fmt.Fprintf(&b, "==> %s (pid %d, %s) <==\n%s", name, p.Pid(), p.Addr(), p.Output())
		if out := p.Output(); out != "" && !strings.HasSuffix(out, "\n") {
			b.WriteByte('\n')
		}
	}
	section("redis", t.bus)
	for i, p := range t.targets {
		section(t.names[i], p)
	}
	section("haproxy", t.proxy)
	return b.String()
}

// Stop stops every process: the targets with the stop signal (they close
// their clients with 1001), then the proxy (SIGUSR1: haproxy's graceful
// stop), then Redis; each is killed if it does not exit within 10 s. It
// returns every error joined; calling it again returns the same.
func (t *Topology) Stop() error {
	t.stopOnce.Do(func() {
		t.stopping.Store(true)
		var mu sync.Mutex
		var errs []error
		note := func(name string, err error) {
			if err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("%s: %w", name, err))
				mu.Unlock()
			}
		}
		var wg sync.WaitGroup
		for i, p := range t.targets {
			if p != nil {
				wg.Go(func() { note(t.names[i], p.Stop(t.spec.StopSignal, stopTimeout)) })
			}
		}
		wg.Wait()
		if t.proxy != nil {
			note("haproxy", t.proxy.Stop(syscall.SIGUSR1, stopTimeout))
		}
		if t.bus != nil {
			note("redis", t.bus.Stop(syscall.SIGTERM, stopTimeout))
		}
		if t.dir != "" {
			_ = os.RemoveAll(t.dir)
		}
		t.stopErr = errors.Join(errs...)
	})
	return t.stopErr
}

// snapshot is every process's counters at one moment.
type snapshot struct {
	targets []map[string]int64
	bus     map[string]int64
	proxy   map[string]int64
	servers map[string]map[string]string // haproxy "show stat" rows of the servers, by name
	front   map[string]string            // haproxy's frontend row
}

// Baseline records every process's counters as the "before" of Observe.
// Call it when the load starts.
func (t *Topology) Baseline(ctx context.Context) {
	s := t.snapshot(ctx)
	t.mu.Lock()
	t.baseline = s
	t.mu.Unlock()
}

func (t *Topology) snapshot(ctx context.Context) *snapshot {
	s := &snapshot{targets: make([]map[string]int64, len(t.targets))}
	var wg sync.WaitGroup
	for i, p := range t.targets {
		wg.Go(func() { _ = getJSON(ctx, p.Addr(), "/stats", &s.targets[i]) })
	}
	if t.busURL != "" {
		wg.Go(func() {
			u, _ := url.Parse(t.busURL)
			if info, err := redisInfo(ctx, u.Host); err == nil {
				s.bus = redisStats(info)
			}
		})
	}
	if t.proxy != nil {
		wg.Go(func() {
			if info, err := haproxyInfo(ctx, t.proxySock); err == nil {
				s.proxy = pickInts(info, haproxyCounters)
			}
			rows, err := haproxyStat(ctx, t.proxySock)
			if err != nil {
				return
			}
			s.servers = map[string]map[string]string{}
			for _, row := range rows {
				switch {
				case row["svname"] == "FRONTEND":
					s.front = row
				case row["pxname"] == "targets" && row["svname"] != "BACKEND":
					s.servers[row["svname"]] = row
				}
			}
		})
	}
	wg.Wait()
	return s
}

// Observe reads every process's counters now and returns them, with the
// Baseline's, as the report's view of the server side: totals over the
// target processes (plus their memory), the first target's /info, the
// detail per process (per-room counters included) and the proxy's
// distribution of connections.
func (t *Topology) Observe(ctx context.Context) *report.ServerObs {
	t.mu.Lock()
	before := t.baseline
	t.mu.Unlock()
	if before == nil {
		before = &snapshot{targets: make([]map[string]int64, len(t.targets))}
	}
	after := t.snapshot(ctx)
	obs := &report.ServerObs{Before: sumStats(before.targets), After: sumStats(after.targets)}
	if obs.After == nil {
		obs.After = map[string]int64{}
	}
	infos := make([]map[string]string, len(t.targets))
	rooms := make([]map[string]map[string]int64, len(t.targets))
	var wg sync.WaitGroup
	for i, p := range t.targets {
		wg.Go(func() {
			var raw map[string]any
			if getJSON(ctx, p.Addr(), "/info", &raw) == nil {
				infos[i] = stringMap(raw)
			}
			_ = getJSON(ctx, p.Addr(), "/stats/rooms", &rooms[i])
		})
	}
	wg.Wait()
	obs.Info = infos[0]

	var rss, peak int64
	for i, p := range t.targets {
		r, pk, err := p.Memory()
		if err == nil {
			rss, peak = rss+r, peak+pk
		}
		if after.targets[i] == nil {
			after.targets[i] = map[string]int64{}
		}
		after.targets[i]["rss_bytes"], after.targets[i]["peak_rss_bytes"] = r, pk
	}
	if rss > 0 {
		obs.After["rss_bytes"], obs.After["peak_rss_bytes"] = rss, peak
	}
	if t.single() {
		obs.After["pid"] = int64(t.targets[0].Pid())
	} else {
		obs.After["processes"] = int64(len(t.targets))
	}

	if t.bus != nil || t.busURL != "" {
		po := report.ProcessObs{Name: "redis", Role: "bus", Before: before.bus, After: after.bus, Addr: strings.TrimPrefix(t.busURL, "redis://")}
		if t.bus != nil {
			po.PID = t.bus.Pid()
			po.After = withMemory(po.After, t.bus)
		}
		obs.Processes = append(obs.Processes, po)
	}
	for i, p := range t.targets {
		obs.Processes = append(obs.Processes, report.ProcessObs{
			Name: t.names[i], Role: "target", PID: p.Pid(), Addr: p.Addr(),
			Before: before.targets[i], After: after.targets[i], Info: infos[i], Rooms: rooms[i],
		})
	}
	if t.proxy != nil {
		obs.Processes = append(obs.Processes, report.ProcessObs{
			Name: "haproxy", Role: "proxy", PID: t.proxy.Pid(), Addr: t.proxy.Addr(),
			Before: before.proxy, After: withMemory(after.proxy, t.proxy),
		})
		obs.Proxy = t.proxyObs(before, after)
	}
	return obs
}

// proxyObs is haproxy's distribution of the run's connections.
func (t *Topology) proxyObs(before, after *snapshot) *report.ProxyObs {
	po := &report.ProxyObs{Software: "haproxy " + haproxyRelease(), Balance: t.spec.Balance}
	po.Sessions = atoi64(after.front["stot"]) - atoi64(before.front["stot"])
	var total int64
	for i, p := range t.targets {
		a, b := after.servers[t.names[i]], before.servers[t.names[i]]
		s := report.ProxyServerObs{
			Name: t.names[i], Addr: p.Addr(),
			Sessions:      atoi64(a["stot"]) - atoi64(b["stot"]),
			MaxConcurrent: atoi64(a["smax"]),
			ConnectAvgMS:  atoi64(a["ctime"]),
			Errors:        atoi64(a["econ"]) + atoi64(a["eresp"]) - atoi64(b["econ"]) - atoi64(b["eresp"]),
		}
		total += s.Sessions
		po.Servers = append(po.Servers, s)
	}
	for i := range po.Servers {
		if total > 0 {
			po.Servers[i].Share = float64(po.Servers[i].Sessions) / float64(total)
		}
	}
	return po
}

var (
	haproxyReleaseOnce sync.Once
	haproxyReleaseText string
)

// haproxyRelease runs `haproxy -v` once and returns its version.
func haproxyRelease() string {
	haproxyReleaseOnce.Do(func() {
		b, err := exec.Command(HAProxy, "-v").Output()
		if err != nil {
			haproxyReleaseText = "(version unknown)"
			return
		}
		out := string(b)
		// "HAProxy version 2.6.12-1+deb12u4 2026/10/17 - https://haproxy.org/"
		f := strings.Fields(out)
		if len(f) >= 3 && f[1] == "version" {
			haproxyReleaseText = f[2]
		} else {
			haproxyReleaseText = strings.TrimSpace(strings.SplitN(out, "\n", 2)[0])
		}
	})
	return haproxyReleaseText
}

func withMemory(m map[string]int64, p *Process) map[string]int64 {
	rss, peak, err := p.Memory()
	if err != nil {
		return m
	}
	if m == nil {
		m = map[string]int64{}
	}
	m["rss_bytes"], m["peak_rss_bytes"] = rss, peak
	return m
}

// sumStats adds up the processes' counters; nil if none answered.
// connections_open and the like add up too: the topology's open
// connections are the processes' together.
func sumStats(all []map[string]int64) map[string]int64 {
	var out map[string]int64
	for _, m := range all {
		if m == nil {
			continue
		}
		if out == nil {
			out = map[string]int64{}
		}
		for k, v := range m {
			out[k] += v
		}
	}
	return out
}

func stringMap(m map[string]any) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		if s, ok := v.(string); ok {
			out[k] = s
		} else {
			b, _ := json.Marshal(v)
			out[k] = string(b)
		}
	}
	return out
}

// statsClient reads the targets' plain HTTP endpoints. A Python target
// that has just been through a heavy run may be slow to answer.
var statsClient = &http.Client{Timeout: 5 * time.Second}

// getJSON reads http://addr+path into v.
func getJSON(ctx context.Context, addr, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		return err
	}
	resp, err := statsClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", path, resp.StatusCode)
	}
	b, err := readAllLimit(resp.Body, 4<<20)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
