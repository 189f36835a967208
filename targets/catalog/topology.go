package catalog

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
)

// Scale-out options of a Topology.
const (
	BusNone      = ""        // rooms are local to each target process
	BusRedis     = "redis"   // start a private redis-server and bridge rooms through it
	ProxyNone    = ""        // clients connect to the (single) target process
	ProxyHAProxy = "haproxy" // start haproxy in front of the target processes
	MaxProcs     = 16        // target processes at most
)

// Values of Topology.Balance, .Loop and .Accel.
var (
	Balances = []string{"roundrobin", "leastconn"}
	Loops    = []string{"asyncio", "uvloop"}
	Accels   = []string{"auto", "off"}
)

// ScaleOut reports whether a known target takes the scale-out flags
// --bus, --loop and --accel (targets/CONTRACT.md, "Scaled-out targets"):
// the Python targets do, the Go reference server does not.
func ScaleOut(name string) bool {
	t, ok := Lookup(name)
	return ok && t.Language == "Python"
}

// Topology is how a known target is scaled out (start_target's
// processes, bus, proxy, balance, loop, accel): plain data, validated
// here so the scenario language can point at the field that is wrong
// without depending on the launcher.
type Topology struct {
	Name      string
	Processes int    // target processes; 0 means 1, more than 1 needs Proxy
	Bus       string // BusNone, BusRedis, or redis://HOST:PORT of a running server
	Proxy     string // ProxyNone or ProxyHAProxy
	Balance   string // the proxy's algorithm: roundrobin (default) or leastconn
	Loop      string // --loop of the targets: "" (theirs), asyncio or uvloop
	Accel     string // --accel of the targets: "" (theirs), auto or off
}

// Problem is one problem with a Topology: the field it is about
// (processes, bus, proxy, balance, loop, accel, name) and what is wrong.
type Problem struct{ Field, Msg string }

// Problems lists every problem with s, field by field, for callers that
// point at the field (scenario validation).
func (s Topology) Problems() []Problem {
	var ps []Problem
	add := func(field, format string, args ...any) {
		ps = append(ps, Problem{field, fmt.Sprintf(format, args...)})
	}
	if !IsKnown(s.Name) {
		add("name", "unknown target %q (known: %s)", s.Name, List())
	}
	scale := ScaleOut(s.Name)
	switch {
	case s.Processes < 0 || s.Processes > MaxProcs:
		add("processes", "%d: want 1 to %d", s.Processes, MaxProcs)
	case max(s.Processes, 1) > 1 && s.Proxy == ProxyNone:
		add("processes", "%d processes need a proxy in front of them (proxy: haproxy)", max(s.Processes, 1))
	}
	switch {
	case s.Bus == BusNone, s.Bus == BusRedis:
	case strings.HasPrefix(s.Bus, "redis://"):
		if err := loopbackRedisURL(s.Bus); err != nil {
			add("bus", "%q: %v", s.Bus, err)
		}
	default:
		add("bus", "%q: want redis (wsbench starts a redis-server) or redis://HOST:PORT", s.Bus)
	}
	if s.Bus != BusNone && !scale && IsKnown(s.Name) {
		add("bus", "the %s target has no message bus (the Python targets have)", s.Name)
	}
	if s.Proxy != ProxyNone && s.Proxy != ProxyHAProxy {
		add("proxy", "%q: want haproxy", s.Proxy)
	}
	switch {
	case s.Balance != "" && !slices.Contains(Balances, s.Balance):
		add("balance", "%q: want one of %s", s.Balance, strings.Join(Balances, ", "))
	case s.Balance != "" && s.Proxy == ProxyNone:
		add("balance", "%q is the proxy's algorithm, but there is no proxy (proxy: haproxy)", s.Balance)
	}
	if s.Loop != "" && !slices.Contains(Loops, s.Loop) {
		add("loop", "%q: want one of %s", s.Loop, strings.Join(Loops, ", "))
	} else if s.Loop != "" && !scale && IsKnown(s.Name) {
		add("loop", "applies to the Python targets, not %s", s.Name)
	}
	if s.Accel != "" && !slices.Contains(Accels, s.Accel) {
		add("accel", "%q: want one of %s", s.Accel, strings.Join(Accels, ", "))
	} else if s.Accel != "" && !scale && IsKnown(s.Name) {
		add("accel", "applies to the Python targets, not %s", s.Name)
	}
	return ps
}

// loopbackRedisURL checks that a redis:// URL names a loopback host: the
// bus carries load traffic, which stays on this machine.
func loopbackRedisURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() || u.Port() == "" {
		return errors.New("want a loopback host and a port, e.g. redis://127.0.0.1:6379")
	}
	return nil
}
