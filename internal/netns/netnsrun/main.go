// Command netnsrun runs a distributed wsbench run on this machine with
// real networking: reference servers in one network namespace, the
// coordinator in another, and each worker in its own, all on one bridge
// (package netns), then checks that the merged report's totals equal the
// servers' own counts. scripts/netns-run builds wsbench and runs it; it
// needs root.
//
//	scripts/netns-run -workers 5 -conns 80000 -servers 5
//
// With -mode shards the workers run `wsbench run --shard I/N` without a
// coordinator and the shards are merged with `wsbench merge`; -mode both
// does one run of each. Every run is bounded in time (-ramp + -hold, and
// a timeout past it), and the namespaces are removed at the end, or on
// Ctrl-C.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/wsbench/wsbench/internal/coord"
	"github.com/wsbench/wsbench/internal/netns"
	"github.com/wsbench/wsbench/report"
)

type config struct {
	wsbench   string
	workers   int
	conns     int
	servers   int
	serveArgs string
	ramp      time.Duration
	hold      time.Duration
	rate      float64
	drain     time.Duration
	mode      string
	out       string
	portRange string
}

func main() {
	var c config
	flag.StringVar(&c.wsbench, "wsbench", "", "the wsbench binary (scripts/netns-run builds it)")
	flag.IntVar(&c.workers, "workers", 3, "worker namespaces, one worker each")
	flag.IntVar(&c.conns, "conns", 3000, "connections in total, spread evenly over the workers and the servers")
	flag.IntVar(&c.servers, "servers", 1, "server processes (wsbench serve), on ports 8080, 8081, …")
	flag.StringVar(&c.serveArgs, "serve-args", "", "more arguments for each wsbench serve")
	flag.DurationVar(&c.ramp, "ramp", 10*time.Second, "time to open every connection")
	flag.DurationVar(&c.hold, "hold", 10*time.Second, "time to hold them, echoing")
	flag.Float64Var(&c.rate, "rate", 0.5, "echo messages per second per connection")
	flag.DurationVar(&c.drain, "drain", 5*time.Second, "the scenario's client.drain: time for replies in flight, and for closing, at the end")
	flag.StringVar(&c.mode, "mode", "live", "live (a coordinator), shards (run --shard and merge) or both")
	flag.StringVar(&c.out, "out", "", "keep the scenario, reports and logs in this directory (default: a new temporary one)")
	flag.StringVar(&c.portRange, "port-range", "1024 65000", "net.ipv4.ip_local_port_range in the workers' namespaces, as a pod's sysctl would set it")
	flag.Parse()
	if c.wsbench == "" {
		fmt.Fprintln(os.Stderr, "netnsrun: -wsbench is required (scripts/netns-run gives it)")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, c); err != nil {
		fmt.Fprintf(os.Stderr, "netnsrun: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, c config) error {
	if err := netns.Available(); err != nil {
		return fmt.Errorf("network namespaces cannot be created here (root and iproute2 needed): %w", err)
	}
	if c.out == "" {
		d, err := os.MkdirTemp("", "wsbench-netns-")
		if err != nil {
			return err
		}
		c.out = d
	} else if err := os.MkdirAll(c.out, 0o755); err != nil {
		return err
	}
	n, err := netns.New()
	if err != nil {
		return err
	}
	var procs procSet
	defer func() {
		procs.killAll()
		if err := n.Close(); err != nil {
			fmt.Fprintf(os.Stderr, "netnsrun: %v\n", err)
		}
	}()
	srv, err := n.Add("server")
	if err != nil {
		return err
	}
	co, err := n.Add("coordinator")
	if err != nil {
		return err
	}
	var workers []*netns.Host
	for i := range c.workers {
		h, err := n.Add(fmt.Sprintf("worker%d", i+1))
		if err != nil {
			return err
		}
		if err := n.Sysctl(h, "net.ipv4.ip_local_port_range", c.portRange); err != nil {
			return err
		}
		workers = append(workers, h)
	}
	fmt.Printf("namespaces: server %s, coordinator %s, workers %s; files in %s\n", srv.IP, co.IP, hostIPs(workers), c.out)

	var targets []string
	for i := range c.servers {
		addr := fmt.Sprintf("%s:%d", srv.IP, 8080+i)
		args := append([]string{"serve", "--addr", addr}, strings.Fields(c.serveArgs)...)
		p, err := procs.start(n, srv, c, fmt.Sprintf("server%d", i+1), nil, args...)
		if err != nil {
			return err
		}
		if err := p.waitFor(ctx, "LISTENING", 60*time.Second); err != nil {
			return err
		}
		targets = append(targets, "ws://"+addr)
	}
	sc := filepath.Join(c.out, "scenario.yaml")
	if err := os.WriteFile(sc, []byte(scenarioText(c, targets)), 0o644); err != nil {
		return err
	}
	if err := coord.GenerateCerts(c.out, []string{co.IP}, 1); err != nil {
		return err
	}
	limit := c.ramp + c.hold + 3*time.Minute
	modes := []string{c.mode}
	if c.mode == "both" {
		modes = []string{"live", "shards"}
	}
	failed := false
	for _, mode := range modes {
		before, err := statsSum(n, co, targets)
		if err != nil {
			return err
		}
		started := time.Now()
		var out string
		switch mode {
		case "live":
			out, err = runLive(ctx, n, &procs, c, co, workers, sc, limit)
		case "shards":
			out, err = runShards(ctx, n, &procs, c, workers, sc, limit)
		default:
			return fmt.Errorf("-mode %q: live, shards or both", c.mode)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", mode, err)
		}
		after, err := statsSum(n, co, targets)
		if err != nil {
			return err
		}
		rep, err := report.ReadJSONFile(out)
		if err != nil {
			return err
		}
		if !compare(mode, rep, before, after, time.Since(started)) {
			failed = true
		}
	}
	if failed {
		return errors.New("the merged totals differ from the servers' counts")
	}
	return nil
}

// scenarioText is an echo load of c.conns connections, spread evenly over
// the servers (one flow per server).
func scenarioText(c config, targets []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "name: netns-run\ntarget: %s\ninterval: 1s\nclient: {drain: %s, connect_timeout: 30s}\n", targets[0], c.drain)
	fmt.Fprintf(&b, "phases:\n  - {name: ramp, duration: %s, clients: %d}\n  - {name: hold, duration: %s, clients: %d}\nflows:\n", c.ramp, c.conns, c.hold, c.conns)
	for i, t := range targets {
		fmt.Fprintf(&b, "  - name: echo%d\n    steps:\n      - connect: {url: %q}\n      - echo: {rate: %g, size: 64}\n", i+1, t+"/echo", c.rate)
	}
	return b.String()
}

func runLive(ctx context.Context, n *netns.Net, procs *procSet, c config, co *netns.Host, workers []*netns.Host, sc string, limit time.Duration) (string, error) {
	out := filepath.Join(c.out, "live.json")
	cp, err := procs.start(n, co, c, "coordinator", nil, "coordinate", "--listen", co.IP+":7070", "--workers", fmt.Sprint(len(workers)),
		"--tls-cert", filepath.Join(c.out, coord.CoordinatorCert), "--tls-key", filepath.Join(c.out, coord.CoordinatorKey),
		"--token-file", filepath.Join(c.out, coord.TokenFile), "--join-timeout", "2m", "--start-delay", "3s", "--json", out, sc)
	if err != nil {
		return "", err
	}
	var ws []*proc
	for i, h := range workers {
		p, err := procs.start(n, h, c, fmt.Sprintf("worker%d", i+1), nil, "worker", "--coordinator", co.IP+":7070", "--index", fmt.Sprint(i),
			"--tls-ca", filepath.Join(c.out, coord.CAFile), "--token-file", filepath.Join(c.out, coord.TokenFile), "--report-dir", c.out)
		if err != nil {
			return "", err
		}
		ws = append(ws, p)
	}
	code := cp.wait(ctx, limit)
	for _, w := range ws {
		w.wait(ctx, time.Minute)
	}
	if !measured(code) {
		return out, fmt.Errorf("coordinator exited %d (log: %s)", code, cp.log)
	}
	fmt.Printf("coordinator exited %d\n", code)
	return out, nil
}

// measured: the run went to its end and its report counts everything,
// whether or not it passed (3: a threshold failed; 4: the generator was
// the bottleneck, which makes latencies suspect, not counts).
func measured(code int) bool { return code == 0 || code == 3 || code == 4 }

func runShards(ctx context.Context, n *netns.Net, procs *procSet, c config, workers []*netns.Host, sc string, limit time.Duration) (string, error) {
	at := time.Now().Add(5 * time.Second).UTC().Format(time.RFC3339Nano)
	var ps []*proc
	var outs []string
	for i, h := range workers {
		out := filepath.Join(c.out, fmt.Sprintf("shard-%d.json", i))
		outs = append(outs, out)
		p, err := procs.start(n, h, c, fmt.Sprintf("shard%d", i), nil, "run", "--shard", fmt.Sprintf("%d/%d", i, len(workers)), "--start-at", at, "--json", out, sc)
		if err != nil {
			return "", err
		}
		ps = append(ps, p)
	}
	for i, p := range ps {
		code := p.wait(ctx, limit)
		if !measured(code) {
			return "", fmt.Errorf("shard %d exited %d (log: %s)", i, code, p.log)
		}
		fmt.Printf("shard %d exited %d\n", i, code)
	}
	merged := filepath.Join(c.out, "shards.json")
	cmd := exec.Command(c.wsbench, append([]string{"merge", "-o", merged}, outs...)...)
	b, err := cmd.CombinedOutput()
	if code := cmd.ProcessState.ExitCode(); !measured(code) {
		return "", fmt.Errorf("merge: %v: %s", err, b)
	}
	return merged, nil
}

// compare prints the merged totals beside the servers' counts and
// reports whether they are equal.
func compare(mode string, rep *report.Report, before, after map[string]int64, took time.Duration) bool {
	c := rep.Counters
	fmt.Printf("\n== %s run: end %s, %.1f s of load (%.0f s in all); %d workers, peak %d connections\n", mode, rep.EndReason, rep.DurationS, took.Seconds(), len(rep.Workers), rep.Rates.PeakConnections)
	if rep.EndDetail != "" {
		fmt.Printf("   %s\n", rep.EndDetail)
	}
	ok := rep.EndReason == report.EndCompleted && c.Errors() == 0
	if rep.Generator.Unreliable {
		fmt.Printf("   (the generator was the bottleneck: latencies are suspect, counts are not)\n")
	}
	for _, row := range []struct {
		what   string
		client int64
		key    string
	}{
		{"connections", c.ConnectsOK, "connections_total"},
		{"messages sent / server in", c.MessagesSent, "messages_in"},
		{"messages received / server out", c.MessagesReceived, "messages_out"},
		{"payload bytes sent / server in", c.BytesSent, "bytes_in"},
		{"payload bytes received / server out", c.BytesReceived, "bytes_out"},
	} {
		srv := after[row.key] - before[row.key]
		mark := "equal"
		if srv != row.client {
			mark, ok = "DIFFER", false
		}
		fmt.Printf("   %-36s merged report %10d   servers %10d   %s\n", row.what, row.client, srv, mark)
	}
	if c.Errors() != 0 {
		fmt.Printf("   errors: %v\n", c.ErrorsByCause)
	}
	for _, w := range rep.Workers {
		where := w.Addr
		if where == "" {
			where = "shard on " + w.Host
		}
		fmt.Printf("   worker %d %-18s connects %6d sent %8d received %8d errors %d rss %s clock ±%.0f µs\n", w.Index, where, w.ConnectsOK, w.MessagesSent, w.MessagesReceived, w.Errors, report.FormatBytes(w.MaxRSSBytes), w.ClockBoundUS)
	}
	if m := rep.Metrics["rtt"]; m != nil {
		fmt.Printf("   rtt p50 %s p99 %s max %s (%d samples); generator unreliable: %v\n", report.FormatUS(m.P50US), report.FormatUS(m.P99US), report.FormatUS(m.MaxUS), m.Count, rep.Generator.Unreliable)
	}
	return ok
}

// statsSum adds up the /stats of every server, read from host h.
func statsSum(n *netns.Net, h *netns.Host, targets []string) (map[string]int64, error) {
	sum := map[string]int64{}
	for _, t := range targets {
		m, err := fetchIn(n, h, strings.Replace(t, "ws://", "http://", 1)+"/stats")
		if err != nil {
			return nil, err
		}
		for k, v := range m {
			sum[k] += v
		}
	}
	return sum, nil
}

// fetchIn GETs url from inside host h: the namespaces are not reachable
// from the caller's. It runs this program again in h with
// NETNSRUN_FETCH set (see init).
func fetchIn(n *netns.Net, h *netns.Host, url string) (map[string]int64, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := n.Command(h, self)
	cmd.Env = append(os.Environ(), "NETNSRUN_FETCH="+url)
	b, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("stats %s: %w", url, err)
	}
	var m map[string]int64
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("stats %s: %w", url, err)
	}
	return m, nil
}

func init() {
	u := os.Getenv("NETNSRUN_FETCH")
	if u == "" {
		return
	}
	client := http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(u)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(os.Stdout, resp.Body)
	os.Exit(0)
}

func hostIPs(hs []*netns.Host) string {
	var ips []string
	for _, h := range hs {
		ips = append(ips, h.IP)
	}
	return strings.Join(ips, " ")
}

// proc is a wsbench process in a namespace, its output in a log file.
type proc struct {
	cmd  *exec.Cmd
	log  string
	mu   sync.Mutex
	seen string // output so far, for waitFor
	done chan struct{}
	code int
}

type procSet struct{ ps []*proc }

func (s *procSet) start(n *netns.Net, h *netns.Host, c config, name string, env []string, args ...string) (*proc, error) {
	log := filepath.Join(c.out, name+".log")
	f, err := os.Create(log)
	if err != nil {
		return nil, err
	}
	cmd := n.Command(h, c.wsbench, args...)
	cmd.Env = append(os.Environ(), env...)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	p := &proc{cmd: cmd, log: log, done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, err
	}
	s.ps = append(s.ps, p)
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			fmt.Fprintln(f, sc.Text())
			p.mu.Lock()
			if len(p.seen) < 1<<20 {
				p.seen += sc.Text() + "\n"
			}
			p.mu.Unlock()
		}
	}()
	go func() {
		err := cmd.Wait()
		pw.Close()
		<-scanned
		f.Close()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			p.code = ee.ExitCode()
		} else if err != nil {
			p.code = -1
		}
		close(p.done)
	}()
	return p, nil
}

func (p *proc) waitFor(ctx context.Context, s string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		p.mu.Lock()
		found := strings.Contains(p.seen, s)
		p.mu.Unlock()
		if found {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited before saying %q (log: %s)", p.cmd.Args, s, p.log)
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("no %q from %s in %s (log: %s)", s, p.cmd.Args, timeout, p.log)
}

// wait waits for the process, ending it (SIGTERM, then SIGKILL) when
// timeout or ctx runs out, and returns its exit code.
func (p *proc) wait(ctx context.Context, timeout time.Duration) int {
	select {
	case <-p.done:
		return p.code
	case <-time.After(timeout):
	case <-ctx.Done():
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	return p.code
}

func (s *procSet) killAll() {
	for _, p := range s.ps {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-p.done:
			case <-time.After(10 * time.Second):
				_ = p.cmd.Process.Kill()
				<-p.done
			}
		}
	}
}
