package launch

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/wsbench/wsbench/targets/catalog"
	"github.com/wsbench/wsbench/targets/python"
)

// SystemPython is the interpreter the Debian python3-* framework packages
// install for; the python3 first on PATH may be another one without them.
const SystemPython = "/usr/bin/python3"

// Known are the targets Command can start by name (package catalog).
var Known = catalog.Names()

// IsKnown reports whether name is one of Known.
func IsKnown(name string) bool { return catalog.IsKnown(name) }

// ScaleOut reports whether a known target takes the scale-out flags
// --bus, --loop and --accel (see catalog.ScaleOut).
func ScaleOut(name string) bool { return catalog.ScaleOut(name) }

// Settings are the contract options every target accepts.
type Settings struct {
	Addr           string         // default 127.0.0.1:0
	PingInterval   *time.Duration // nil: the target's default; 0: no pings
	PingTimeout    time.Duration
	MaxMessageSize int64
	Extra          []string // target-specific flags, e.g. --reactor poll
	Wrap           []string // command prefix, e.g. taskset -c 0 to pin the target to a CPU
}

// Command returns the argv that starts the named target with s. For the
// Python targets it writes the embedded program to a temporary directory,
// which cleanup removes. "go" runs this very executable's serve command, so
// it works only from the wsbench binary.
func Command(name string, s Settings) (argv []string, cleanup func(), err error) {
	cleanup = func() {}
	addr := s.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var flags []string
	flags = append(flags, "--addr", addr)
	if s.PingInterval != nil {
		flags = append(flags, "--ping-interval", seconds(max(*s.PingInterval, 0)))
	}
	if s.PingTimeout > 0 {
		flags = append(flags, "--ping-timeout", seconds(s.PingTimeout))
	}
	if s.MaxMessageSize > 0 {
		flags = append(flags, "--max-message-size", strconv.FormatInt(s.MaxMessageSize, 10))
	}
	flags = append(flags, s.Extra...)
	switch name {
	case "go":
		exe, err := os.Executable()
		if err != nil {
			return nil, cleanup, fmt.Errorf("start go target: %w", err)
		}
		return wrap(s.Wrap, append([]string{exe, "serve"}, flags...)), cleanup, nil
	}
	if t, ok := catalog.Lookup(name); ok && t.Language == "Python" {
		src, err := python.Script(name)
		if err != nil {
			return nil, cleanup, err
		}
		dir, err := os.MkdirTemp("", "wsbench-target-")
		if err != nil {
			return nil, cleanup, err
		}
		cleanup = func() { os.RemoveAll(dir) }
		path := filepath.Join(dir, name+"_server.py")
		if err := os.WriteFile(path, src, 0o644); err != nil {
			cleanup()
			return nil, func() {}, err
		}
		// The servers import their shared modules from their own directory.
		for _, mod := range python.Support {
			b, err := python.File(mod)
			if err == nil {
				err = os.WriteFile(filepath.Join(dir, mod), b, 0o644)
			}
			if err != nil {
				cleanup()
				return nil, func() {}, err
			}
		}
		return wrap(s.Wrap, append([]string{SystemPython, path}, flags...)), cleanup, nil
	}
	return nil, cleanup, fmt.Errorf("unknown target %q (known: %v)", name, Known)
}

// StartKnown starts the named target and waits until it is ready.
func StartKnown(ctx context.Context, name string, s Settings) (*Process, error) {
	argv, cleanup, err := Command(name, s)
	if err != nil {
		return nil, err
	}
	p, err := Start(ctx, argv, []string{"PYTHONDONTWRITEBYTECODE=1"})
	if err != nil {
		cleanup()
		return nil, err
	}
	p.cleanup = cleanup
	return p, nil
}

func seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64)
}

func wrap(prefix, argv []string) []string {
	return append(append([]string(nil), prefix...), argv...)
}

// Memory returns the resident set size and its peak (bytes) of a running
// process, from /proc. Wrapping commands such as taskset exec the target,
// so the PID is the target's.
func (p *Process) Memory() (rss, peak int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.Pid()))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		n, _ := strconv.ParseInt(f[0], 10, 64)
		switch k {
		case "VmRSS":
			rss = n * 1024
		case "VmHWM":
			peak = n * 1024
		}
	}
	return rss, peak, nil
}
