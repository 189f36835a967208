package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/spf13/pflag"

	"github.com/wsbench/wsbench/targets/refserver"
)

func init() {
	register(&command{
		name:    "serve",
		summary: "run the reference WebSocket target server",
		usage:   []string{"wsbench serve [flags]"},
		about: []string{
			"Runs the reference WebSocket target (targets/CONTRACT.md): /healthz, /stats,",
			"/echo, /broadcast?room=R, /push?rate=N&size=B&count=C. Prints",
			"'LISTENING HOST:PORT' once it accepts connections. Durations are Go",
			"durations (500ms) or decimal seconds (0.5). With --tls-cert and --tls-key",
			"it serves wss:// and https:// instead.",
			"",
			"With --procs N, N processes share the port (SO_REUSEPORT); each raises its",
			"descriptor limit to the hard limit and takes at most --max-conns",
			"connections; /stats answers the sum with each process's counters, and",
			"broadcast rooms span the processes (targets/CONTRACT.md).",
		},
		flags: func() *pflag.FlagSet { fs, _ := serveFlags(&refserver.Config{}); return fs },
		run:   runServe,
	})
}

// serveShutdownTimeout bounds the graceful shutdown after a signal.
const serveShutdownTimeout = 5 * time.Second

// runServe runs the Go reference target (targets/refserver) until ctx is
// cancelled, then shuts it down gracefully with close 1001.
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var cfg refserver.Config
	fs, f := serveFlags(&cfg)
	if code, done := parseFlags("serve", fs, args, stdout, stderr); done {
		return code
	}
	if fs.NArg() > 0 {
		return usageError("serve", stderr, "unexpected arguments: %q", fs.Args())
	}
	err := validateServe(cfg)
	if err == nil {
		cfg.TLS, err = serveTLS(*f.tlsCert, *f.tlsKey, *f.tlsCAs)
	}
	if err != nil {
		return usageError("serve", stderr, "%v", err)
	}
	if *f.verbose {
		cfg.Logf = func(format string, args ...any) { fmt.Fprintf(stderr, format+"\n", args...) }
	}

	if *f.procs > 1 && !*f.groupWorker {
		return serveGroup(ctx, fs, *f.procs, *f.addr, stdout, stderr)
	}
	fitDescriptorLimit(&cfg, stderr)
	if *f.groupWorker {
		err := refserver.RunWorker(ctx, cfg, *f.addr, refserver.LinkFD, serveShutdownTimeout)
		if err != nil {
			fmt.Fprintf(stderr, "wsbench serve: worker %d: %v\n", os.Getpid(), err)
			return exitFailed
		}
		return exitOK
	}

	srv := refserver.New(cfg)
	hostport, err := srv.Start(*f.addr)
	if err != nil {
		fmt.Fprintf(stderr, "wsbench serve: %v\n", err)
		return exitCannotStart
	}
	fmt.Fprintf(stdout, "LISTENING %s\n", hostport)

	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), serveShutdownTimeout)
	defer cancel()
	err = srv.Shutdown(sctx)
	if err != nil {
		fmt.Fprintf(stderr, "wsbench serve: shutdown: %v (connections closed)\n", err)
	}
	return exitOK
}

// serveOptions are serve's flags that are not the server's Config.
type serveOptions struct {
	addr                    *string
	verbose                 *bool
	tlsCert, tlsKey, tlsCAs *string
	procs                   *int
	groupWorker             *bool
}

// serveFlags returns serve's flag set writing into cfg (given its
// defaults here) and its other options.
func serveFlags(cfg *refserver.Config) (fs *pflag.FlagSet, o serveOptions) {
	fs = newFlagSet("serve")
	*cfg = refserver.Config{
		PingInterval:   20 * time.Second,
		PingTimeout:    20 * time.Second,
		MaxMessageSize: refserver.DefaultMaxMessageSize,
	}
	o.addr = fs.String("addr", "127.0.0.1:8765", "listen address `HOST:PORT`; port 0 picks a free port")
	fs.Var(seconds{&cfg.PingInterval}, "ping-interval", "ping every client this often; 0 disables")
	fs.Var(seconds{&cfg.PingTimeout}, "ping-timeout", "close with 1011 when no pong arrives this long after a ping")
	fs.Int64Var(&cfg.MaxMessageSize, "max-message-size", cfg.MaxMessageSize, "close with 1009 on a data message larger than this many `bytes`")
	fs.Var(seconds{&cfg.ProcessDelay}, "process-delay", "add this delay to every echo and broadcast reply (latency, not throughput)")
	fs.Var(seconds{&cfg.ServiceTime}, "service-time", "serve all echo and broadcast messages one at a time, this long each (capacity 1/service-time msgs/s); 0 disables")
	fs.IntVar(&cfg.MaxConns, "max-conns", 0, "answer upgrades beyond this many open connections (per process) with HTTP 503; 0 means as many as the descriptor limit allows")
	fs.IntVar(&cfg.DropEvery, "drop-every", 0, "fault injection: silently skip every `N`th broadcast delivery; 0 disables")
	o.tlsCert = fs.String("tls-cert", "", "serve wss:// and https:// with this PEM certificate `FILE` (chain allowed); needs --tls-key")
	o.tlsKey = fs.String("tls-key", "", "PEM private key `FILE` of --tls-cert")
	o.tlsCAs = fs.String("tls-client-ca", "", "require client certificates issued by the CAs in this PEM `FILE`")
	o.verbose = fs.BoolP("verbose", "v", false, "log rejected handshakes, protocol errors and heartbeat timeouts to stderr")
	o.procs = fs.Int("procs", 1, "run `N` server processes sharing the port with SO_REUSEPORT (Linux); /stats sums them and broadcast rooms span them")
	o.groupWorker = fs.Bool("group-worker", false, "run as a worker of a --procs group (internal)")
	_ = fs.MarkHidden("group-worker")
	return fs, o
}

// serveTLS returns the TLS configuration the --tls-* flags ask for, or nil
// when they are not set.
func serveTLS(cert, key, clientCA string) (*tls.Config, error) {
	switch {
	case cert == "" && key == "" && clientCA == "":
		return nil, nil
	case cert == "" || key == "":
		return nil, errors.New("--tls-cert and --tls-key go together")
	}
	return refserver.LoadTLS(cert, key, clientCA)
}

// validateServe reports every invalid setting at once.
func validateServe(cfg refserver.Config) error {
	var errs []error
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"--ping-interval", cfg.PingInterval},
		{"--ping-timeout", cfg.PingTimeout},
		{"--process-delay", cfg.ProcessDelay},
		{"--service-time", cfg.ServiceTime},
	} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%s must not be negative", d.name))
		}
	}
	if cfg.PingInterval > 0 && cfg.PingTimeout == 0 {
		errs = append(errs, errors.New("--ping-timeout must be positive when pings are enabled"))
	}
	if cfg.MaxMessageSize <= 0 {
		errs = append(errs, errors.New("--max-message-size must be positive"))
	}
	if cfg.MaxConns < 0 {
		errs = append(errs, errors.New("--max-conns must not be negative"))
	}
	if cfg.DropEvery < 0 {
		errs = append(errs, errors.New("--drop-every must not be negative"))
	}
	return errors.Join(errs...)
}

// seconds is a pflag.Value for a duration given as a Go duration ("500ms")
// or as bare decimal seconds ("0.5"), the form the Python targets take.
type seconds struct{ d *time.Duration }

func (s seconds) String() string {
	if s.d == nil || *s.d == 0 {
		return "0" // pflag omits the default for "0"
	}
	return s.d.String()
}

func (s seconds) Type() string { return "duration" }

func (s seconds) Set(v string) error {
	d, err := time.ParseDuration(v)
	if err == nil {
		*s.d = d
		return nil
	}
	f, ferr := strconv.ParseFloat(v, 64)
	if ferr != nil || math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > math.MaxInt64/1e9 {
		return fmt.Errorf("%q is neither a Go duration (500ms) nor decimal seconds (0.5)", v)
	}
	*s.d = time.Duration(f * float64(time.Second))
	return nil
}

// descriptorReserve is what a server process keeps of its descriptor
// limit for its listener, the reactor, HTTP requests and the 503 answers
// beyond --max-conns.
const descriptorReserve = 64

// fitDescriptorLimit raises the descriptor limit to the hard limit and
// keeps MaxConns under it, so a full server answers 503 instead of failing
// to accept.
func fitDescriptorLimit(cfg *refserver.Config, stderr io.Writer) {
	limit, err := refserver.RaiseDescriptorLimit()
	if err != nil {
		fmt.Fprintf(stderr, "wsbench serve: %v\n", err)
		return
	}
	room := int(min(limit, math.MaxInt32)) - descriptorReserve
	if room <= 0 {
		return
	}
	if cfg.MaxConns > room {
		fmt.Fprintf(stderr, "wsbench serve: --max-conns %d is above what the descriptor limit (%d) allows; using %d\n", cfg.MaxConns, limit, room)
	}
	if cfg.MaxConns == 0 || cfg.MaxConns > room {
		cfg.MaxConns = room
	}
}

// serveGroup runs a --procs group: this process coordinates, workers
// (this binary again, with the flags the user set) serve.
func serveGroup(ctx context.Context, fs *pflag.FlagSet, procs int, addr string, stdout, stderr io.Writer) int {
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "wsbench serve: %v\n", err)
		return exitCannotStart
	}
	args := []string{exe, "serve"}
	fs.Visit(func(f *pflag.Flag) {
		if f.Name != "procs" && f.Name != "addr" {
			args = append(args, "--"+f.Name+"="+f.Value.String())
		}
	})
	g, err := refserver.StartGroup(refserver.GroupOptions{
		Procs:   procs,
		Addr:    addr,
		Command: func(addr string) []string { return append(slices.Clone(args), "--addr="+addr, "--group-worker") },
		Stderr:  stderr,
		Logf:    func(format string, a ...any) { fmt.Fprintf(stderr, "wsbench serve: "+format+"\n", a...) },
	})
	if err != nil {
		fmt.Fprintf(stderr, "wsbench serve: %v\n", err)
		return exitCannotStart
	}
	fmt.Fprintf(stdout, "LISTENING %s\n", g.Addr())
	code := exitOK
	select {
	case <-ctx.Done():
	case <-g.Failed():
		fmt.Fprintf(stderr, "wsbench serve: %v; stopping the group\n", g.Err())
		code = exitFailed
	}
	g.Stop(serveShutdownTimeout + time.Second)
	return code
}
