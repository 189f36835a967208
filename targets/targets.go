package targets

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/wsbench/wsbench/engine"
	"github.com/wsbench/wsbench/internal/launch"
	"github.com/wsbench/wsbench/report"
	"github.com/wsbench/wsbench/scenario"
	"github.com/wsbench/wsbench/targets/refserver"
)

// Target is a running target server.
type Target struct {
	url     string
	builtin *refserver.Server
	group   *refserver.Group // target: builtin as processes of its own
	topo    *launch.Topology // a named target: one process or several behind a proxy
	proc    *launch.Process  // a command
	st      *scenario.StartTarget
	tls     *tls.Config // to read a wss:// target's /stats over HTTPS
	logf    func(string, ...any)
}

// Options control how a target starts.
type Options struct {
	// ServerProcs > 0 runs target: builtin as that many `wsbench serve`
	// processes sharing one port instead of in this process: for a
	// connection plan whose server ends do not fit in this process's
	// descriptors (coord.Plan.ServerProcs). It needs this executable to
	// be wsbench.
	ServerProcs int
	// Logf (nil: discard) receives what was started where.
	Logf func(string, ...any)
}

// Start starts the target sc describes and waits until it accepts
// connections: the built-in server for target: builtin, a process for
// start_target, nothing for a ws:// or wss:// URL. logf (nil: discard)
// receives what was started where.
func Start(ctx context.Context, sc *scenario.Scenario, logf func(string, ...any)) (*Target, error) {
	return StartWith(ctx, sc, Options{Logf: logf})
}

// StartWith is Start with options.
func StartWith(ctx context.Context, sc *scenario.Scenario, o Options) (*Target, error) {
	logf := o.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	t := &Target{url: sc.Target, logf: logf}
	var err error
	if t.tls, err = sc.Client.TLS.Config(); err != nil {
		return nil, err
	}
	switch {
	case sc.StartTarget != nil && sc.Target == "" && sc.StartTarget.Name != "":
		topo, err := startTopology(ctx, sc.StartTarget)
		if err != nil {
			return nil, fmt.Errorf("start target: %w", err)
		}
		t.topo, t.st, t.url = topo, sc.StartTarget, topo.URL()
		logf("started target %s on %s", sc.StartTarget.Name, t.url)
	case sc.StartTarget != nil && sc.Target == "":
		p, err := startProcess(ctx, sc.StartTarget)
		if err != nil {
			return nil, fmt.Errorf("start target: %w", err)
		}
		t.proc, t.st, t.url = p, sc.StartTarget, p.URL()
		logf("started target (pid %d) on %s", p.Pid(), p.Addr())
	case sc.Target == "builtin" && o.ServerProcs > 0:
		g, err := startGroup(sc.Builtin, o.ServerProcs, logf)
		if err != nil {
			return nil, fmt.Errorf("start built-in server processes: %w", err)
		}
		t.group, t.url = g, "ws://"+g.Addr()
		logf("built-in reference server as %d processes on %s", o.ServerProcs, g.Addr())
	case sc.Target == "builtin":
		srv, addr, err := startBuiltin(sc.Builtin)
		if err != nil {
			return nil, fmt.Errorf("start built-in server: %w", err)
		}
		t.builtin, t.url = srv, "ws://"+addr
		logf("built-in reference server on %s", addr)
	case strings.HasPrefix(sc.Target, "ws://"), strings.HasPrefix(sc.Target, "wss://"):
	default:
		return nil, fmt.Errorf("target %q: want builtin, a ws:// or wss:// URL, or start_target", sc.Target)
	}
	return t, nil
}

// URL returns the target's base address (ws://host:port).
func (t *Target) URL() string { return t.url }

// InProcess reports whether the target runs inside this process (the
// built-in server), so the generator's CPU and memory include it.
func (t *Target) InProcess() bool { return t.builtin != nil }

// Pid returns the target process's PID, or 0 when wsbench did not start
// a process.
func (t *Target) Pid() int {
	switch {
	case t.proc != nil:
		return t.proc.Pid()
	case t.topo != nil && len(t.topo.Targets()) == 1:
		return t.topo.Targets()[0].Pid()
	}
	return 0
}

// Run runs sc's load against the target (engine.Run with opts, whose
// Target it sets) and completes the report with what the target says of
// itself. If the target process exits during the run, the run ends as
// failed with the end of its output in the report.
func (t *Target) Run(ctx context.Context, sc *scenario.Scenario, opts engine.Options) (*report.Report, error) {
	opts.Target = t.url
	opts.Reachable = t.Preflight(ctx, sc)
	return t.RunWith(ctx, func(ctx context.Context) (*report.Report, error) { return engine.Run(ctx, sc, opts) })
}

// Preflight checks, for a topology, that the target accepts connections,
// and says whether it did. Called before RunWith takes the proxy's
// counters, it keeps the check's connection out of the run's figures;
// the load (engine.Options.Reachable, coord.Options.Reachable) then
// skips its own check. For other targets it checks nothing and returns
// false: the engine's own check is not counted by anyone.
func (t *Target) Preflight(ctx context.Context, sc *scenario.Scenario) bool {
	if t.topo == nil {
		return false
	}
	return engine.Preflight(ctx, t.url, sc.Client.ConnectTimeout.D()) == nil
}

// RunWith is Run for any way of running load against the target (a
// coordinator of worker processes, say): run gets the context that a
// dying target process cancels, and its report is completed as Run's.
func (t *Target) RunWith(ctx context.Context, run func(ctx context.Context) (*report.Report, error)) (*report.Report, error) {
	var before map[string]int64
	if t.topo != nil {
		t.topo.Baseline(ctx) // every process's counters, and the proxy's
	} else {
		before = Stats(t.url, t.tls)
	}
	if t.proc != nil || t.group != nil || t.topo != nil {
		var cancel context.CancelCauseFunc
		ctx, cancel = context.WithCancelCause(ctx)
		defer cancel(nil)
		go func() {
			switch {
			case t.topo != nil:
				select {
				case <-t.topo.Done():
					cancel(&engine.FailedError{Err: fmt.Errorf("during the run %s", t.topo.Exited())})
				case <-ctx.Done():
				}
			case t.proc != nil:
				select {
				case <-t.proc.Done():
					cancel(&engine.FailedError{Err: fmt.Errorf("the target process %d exited during the run; its output ends: %s", t.proc.Pid(), lastLines(t.proc.Output(), 5))})
				case <-ctx.Done():
				}
			default:
				select {
				case <-t.group.Failed():
					cancel(&engine.FailedError{Err: fmt.Errorf("the built-in server's processes failed during the run: %v", t.group.Err())})
				case <-ctx.Done():
				}
			}
		}()
	}
	rep, err := run(ctx)
	rep.Generator.IncludesTarget = t.InProcess()
	var se *engine.StartError
	if errors.As(err, &se) {
		return rep, err
	}
	if before != nil {
		rep.Server = &report.ServerObs{Before: before, After: Stats(t.url, t.tls)}
	}
	if t.topo != nil {
		octx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		rep.Server = t.topo.Observe(octx)
		cancel()
	}
	if t.proc != nil {
		// The target's memory, for comparisons of memory per connection.
		if rss, peak, merr := t.proc.Memory(); merr == nil {
			if rep.Server == nil {
				rep.Server = &report.ServerObs{}
			}
			if rep.Server.After == nil {
				rep.Server.After = map[string]int64{}
			}
			rep.Server.After["rss_bytes"], rep.Server.After["peak_rss_bytes"] = rss, peak
			rep.Server.After["pid"] = int64(t.proc.Pid())
		}
	}
	return rep, err
}

// Stop stops the target (a process with its stop signal, keeping its
// output where the scenario asked) and waits for it.
func (t *Target) Stop() error {
	switch {
	case t.builtin != nil:
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return t.builtin.Shutdown(ctx)
	case t.group != nil:
		t.group.Stop(6 * time.Second)
		return nil
	case t.topo != nil:
		err := t.topo.Stop()
		if t.st.Log != "" {
			if werr := os.WriteFile(t.st.Log, []byte(t.topo.Output()), 0o644); werr != nil {
				err = errors.Join(err, fmt.Errorf("target log: %w", werr))
			}
		}
		return err
	case t.proc != nil:
		sig := syscall.SIGTERM
		if t.st.StopSignal == "INT" {
			sig = syscall.SIGINT
		}
		err := t.proc.Stop(sig, 10*time.Second)
		if t.st.Log != "" {
			if werr := os.WriteFile(t.st.Log, []byte(t.proc.Output()), 0o644); werr != nil {
				err = errors.Join(err, fmt.Errorf("target log: %w", werr))
			}
		}
		return err
	}
	return nil
}

// startGroup starts the built-in server as procs `wsbench serve`
// processes (this executable) sharing one loopback port, with the
// scenario's builtin settings as flags.
func startGroup(b *scenario.Builtin, procs int, logf func(string, ...any)) (*refserver.Group, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	args := []string{exe, "serve"}
	if b != nil {
		secs := func(d scenario.Duration) string { return strconv.FormatFloat(d.D().Seconds(), 'f', -1, 64) }
		if b.PingInterval > 0 {
			args = append(args, "--ping-interval="+secs(b.PingInterval))
		}
		if b.PingTimeout > 0 {
			args = append(args, "--ping-timeout="+secs(b.PingTimeout))
		}
		if b.MaxMessageSize > 0 {
			args = append(args, "--max-message-size="+strconv.FormatInt(int64(b.MaxMessageSize), 10))
		}
		if b.ProcessDelay > 0 {
			args = append(args, "--process-delay="+secs(b.ProcessDelay))
		}
		if b.ServiceTime > 0 {
			args = append(args, "--service-time="+secs(b.ServiceTime))
		}
		if b.MaxConns > 0 {
			args = append(args, "--max-conns="+strconv.Itoa(b.MaxConns))
		}
		if b.DropEvery > 0 {
			args = append(args, "--drop-every="+strconv.Itoa(b.DropEvery))
		}
	}
	return refserver.StartGroup(refserver.GroupOptions{
		Procs:   procs,
		Addr:    "127.0.0.1:0",
		Command: func(addr string) []string { return append(slices.Clone(args), "--addr="+addr, "--group-worker") },
		Stderr:  os.Stderr,
		Logf:    logf,
	})
}

func startBuiltin(b *scenario.Builtin) (*refserver.Server, string, error) {
	cfg := refserver.Config{}
	if b != nil {
		cfg = refserver.Config{
			PingInterval:   b.PingInterval.D(),
			PingTimeout:    b.PingTimeout.D(),
			MaxMessageSize: int64(b.MaxMessageSize),
			ProcessDelay:   b.ProcessDelay.D(),
			ServiceTime:    b.ServiceTime.D(),
			MaxConns:       b.MaxConns,
			DropEvery:      b.DropEvery,
		}
	}
	srv := refserver.New(cfg)
	addr, err := srv.Start("127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	return srv, addr, nil
}

// startTopology starts a named target: one process, or several with the
// scenario's bus and proxy.
func startTopology(ctx context.Context, st *scenario.StartTarget) (*launch.Topology, error) {
	if st.ReadyTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, st.ReadyTimeout.D())
		defer cancel()
	}
	var ping *time.Duration
	if st.PingInterval != nil {
		ping = new(st.PingInterval.D())
	}
	sig := os.Signal(syscall.SIGTERM)
	if st.StopSignal == "INT" {
		sig = syscall.SIGINT
	}
	topo, err := launch.NewTopology(launch.TopologySpec{
		Topology: st.ScaleOut(),
		Settings: launch.Settings{
			Addr:           st.Addr,
			PingInterval:   ping,
			PingTimeout:    st.PingTimeout.D(),
			MaxMessageSize: int64(st.MaxMessageSize),
			Extra:          st.Args,
			Wrap:           st.Wrap,
		},
		StopSignal: sig,
	})
	if err != nil {
		return nil, err
	}
	if err := topo.Start(ctx); err != nil {
		return nil, err
	}
	return topo, nil
}

// startProcess starts the scenario's target command.
func startProcess(ctx context.Context, st *scenario.StartTarget) (*launch.Process, error) {
	if st.ReadyTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, st.ReadyTimeout.D())
		defer cancel()
	}
	addr := st.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	argv := append([]string(nil), st.Wrap...)
	for _, a := range st.Command {
		argv = append(argv, strings.ReplaceAll(a, "{{addr}}", addr))
	}
	return launch.Start(ctx, argv, nil)
}

// Stats reads the contract's GET /stats of the target at base (a ws://
// URL), or returns nil when it has none; a wss:// target is asked over
// HTTPS with tlsConfig.
func Stats(base string, tlsConfig *tls.Config) map[string]int64 {
	u, err := url.Parse(base)
	if err != nil {
		return nil
	}
	scheme := "http"
	if u.Scheme == "wss" {
		scheme = "https"
	}
	client := http.Client{Timeout: time.Second, Transport: &http.Transport{TLSClientConfig: tlsConfig}}
	defer client.CloseIdleConnections()
	resp, err := client.Get(scheme + "://" + u.Host + "/stats")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil
	}
	var m map[string]int64
	if json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&m) != nil {
		return nil
	}
	return m
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
