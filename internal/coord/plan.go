package coord

import (
	"bufio"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/wsbench/wsbench/scenario"
)

// Limits of this kind of machine that a connection plan must respect.
const (
	// ConnsPerSourcePair is how many connections one source address
	// opens to one destination before connect() slows down sharply (the
	// kernel's port search): measured here at about 14,100.
	ConnsPerSourcePair = 14_000
	// PortsPerSourcePair is the ephemeral ports one source address has
	// for one destination (ip_local_port_range 32768-60999).
	PortsPerSourcePair = 28_232
	// fdReserve descriptors a process keeps for everything but
	// connections (fewer under a low limit: a twentieth of it).
	fdReserve = 100
	// bytesPerConn is a generator connection's memory, to check a plan
	// against the machine's (measured: 19,900 idle connections, 440-455
	// MB).
	bytesPerConn = 24 << 10
	// serverBytesPerConn is the reference server's (readiness-driven:
	// about 3 KiB measured).
	serverBytesPerConn = 4 << 10
	// processBytes is a worker or server process's own footprint.
	processBytes = 30 << 20
	maxWorkers   = 64
)

// Plan is how a run is split over processes, decided before it starts.
type Plan struct {
	Workers         int
	PeakConnections int        // the whole run's, at most
	PerWorker       int        // the busiest worker's
	FDBudget        int        // connections one process may open
	SourceAddrs     [][]string // per worker; nil: the scenario's
	// ServerProcs > 0: target: builtin must run as that many server
	// processes of its own (wsbench serve --procs), because this process
	// cannot hold the server's end of every connection; 0 runs it here.
	ServerProcs int
}

// PlanFor plans sc over asked workers (0: as many as the connection plan
// needs) and checks that the plan fits this machine: descriptors per
// process, source ports per destination, memory. A plan that cannot fit
// is an error that says why, with the numbers, before anything starts.
func PlanFor(sc *scenario.Scenario, asked int) (*Plan, error) {
	if asked < 0 || asked > maxWorkers {
		return nil, fmt.Errorf("--workers %d: want 1 to %d", asked, maxWorkers)
	}
	peak := PeakConnections(sc)
	budget := fdBudget()
	p := &Plan{Workers: asked, PeakConnections: peak, FDBudget: budget}
	builtin := sc.Target == "builtin"
	if p.Workers == 0 {
		p.Workers = 1
		perConn := 1
		if builtin {
			perConn = 2 // the server's end is in this process too
		}
		if peak*perConn > budget {
			p.Workers = (peak + budget - 1) / budget
		}
	}
	if builtin && (p.Workers > 1 && peak > budget || p.Workers == 1 && 2*peak > budget) {
		// The server's ends do not fit beside the generator: the
		// built-in server runs as processes of its own, and the
		// generator's ends are split as if the target were remote.
		p.ServerProcs = (peak + budget - 1) / budget
		if asked == 0 {
			p.Workers = (peak + budget - 1) / budget
		}
	}
	p.PerWorker = (peak + p.Workers - 1) / p.Workers
	if p.PerWorker > budget {
		return nil, fmt.Errorf("the plan needs %d connections over %d worker(s), %d each, but a process may open %d here (descriptor limit %d); use at least --workers %d",
			peak, p.Workers, p.PerWorker, budget, RaiseFDLimit(), (peak+budget-1)/budget)
	}
	if err := p.assignSources(sc); err != nil {
		return nil, err
	}
	if avail := memAvailable(); avail > 0 {
		need := int64(peak) * bytesPerConn
		if builtin {
			need += int64(peak) * serverBytesPerConn
		}
		need += int64(p.Workers+p.ServerProcs) * processBytes
		if need > avail*9/10 {
			return nil, fmt.Errorf("the plan needs about %d MiB for %d connections (%d KiB each), and this machine has %d MiB available",
				need>>20, peak, bytesPerConn>>10, avail>>20)
		}
	}
	return p, nil
}

// PeakConnections is the connections sc's closed model holds at its
// largest phase. Open-model sessions are not counted: how many overlap
// depends on how long the target keeps them, and client.max_sessions is a
// cap, not a plan; past a process's descriptors they fail with cause
// fd_limit, and the report calls the run unreliable for it.
func PeakConnections(sc *scenario.Scenario) int {
	peak := 0
	for _, ph := range sc.Phases {
		if ph.Clients != nil {
			peak = max(peak, *ph.Clients)
		}
	}
	return peak
}

// assignSources gives each worker its own loopback source addresses when
// the run opens more connections to one loopback destination than one
// source address serves well; a scenario's own source_addrs are checked
// against the ports they have instead.
func (p *Plan) assignSources(sc *scenario.Scenario) error {
	if n := len(sc.Client.SourceAddrs); n > 0 {
		if per := (p.PeakConnections + n - 1) / n; per > PortsPerSourcePair {
			return fmt.Errorf("client.source_addrs: %d address(es) for %d connections to one destination, %d each, but an address has %d ports per destination; list at least %d",
				n, p.PeakConnections, per, PortsPerSourcePair, (p.PeakConnections+PortsPerSourcePair-1)/PortsPerSourcePair)
		}
		return nil
	}
	if !loopbackTarget(sc.Target) {
		return nil
	}
	if p.PeakConnections <= ConnsPerSourcePair {
		return nil
	}
	per := (p.PerWorker + ConnsPerSourcePair - 1) / ConnsPerSourcePair
	if 2+p.Workers*per > 254 {
		return fmt.Errorf("%d connections need %d loopback source addresses, more than 127.0.0.2-127.0.0.255", p.PeakConnections, p.Workers*per)
	}
	next := 2
	for range p.Workers {
		var addrs []string
		for range per {
			addrs = append(addrs, "127.0.0."+strconv.Itoa(next))
			next++
		}
		p.SourceAddrs = append(p.SourceAddrs, addrs)
	}
	return nil
}

func loopbackTarget(target string) bool {
	if target == "builtin" {
		return true
	}
	u, err := url.Parse(target)
	if err != nil {
		return false
	}
	ip := net.ParseIP(u.Hostname())
	return (ip != nil && ip.IsLoopback()) || u.Hostname() == "localhost"
}

// RaiseFDLimit raises this process's descriptor soft limit to its hard
// limit and returns the new soft limit.
func RaiseFDLimit() int {
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) != nil {
		return 0
	}
	if rl.Cur < rl.Max {
		rl.Cur = rl.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
		_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl)
	}
	return int(rl.Cur)
}

func fdBudget() int {
	limit := RaiseFDLimit()
	return max(limit-min(fdReserve, limit/20), 1)
}

// memAvailable reads MemAvailable from /proc/meminfo (0 when unknown).
func memAvailable() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "MemAvailable:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}
