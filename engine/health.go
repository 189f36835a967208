package engine

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"runtime/debug"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/report"
)

// health samples the generator process: CPU per interval, descriptors in
// use, and at the end GC pauses and peak memory.
type health struct {
	lastCPU  time.Duration
	lastWall time.Time
	startCPU time.Duration
	start    time.Time
	peakCPU  float64
	fdBase   int64 // descriptors open when the run started
	fdPeak   int64
	fdLimit  int64
	startGC  int64 // GCs before the run: stats are per process, runs may share one
}

func cpuTime() (user, sys time.Duration) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0, 0
	}
	return time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())
}

func newHealth() *health {
	u, s := cpuTime()
	h := &health{lastCPU: u + s, startCPU: u + s, lastWall: time.Now(), start: time.Now()}
	var gc debug.GCStats
	debug.ReadGCStats(&gc)
	h.startGC = gc.NumGC
	h.fdBase = openFDs()
	h.fdPeak = h.fdBase
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) == nil {
		h.fdLimit = int64(rl.Cur)
	}
	return h
}

// The kernel adds a running thread's CPU time to the process total only at
// scheduler ticks and context switches, so each reading can lag by about a
// tick per busy thread. Over a one-second interval that is noise; over the
// few milliseconds of the final drain it showed 210% on a 2-CPU machine.
// Windows shorter than minPeakWindow stay in the series (capped at what the
// machine can deliver) but do not set the peak, which judges the generator.
const minPeakWindow = 200 * time.Millisecond

// sample returns the CPU use since the previous sample, 100 = one core,
// and notes the descriptors in use (counted, and at least the ones open at
// the start plus one per open connection).
func (h *health) sample(conns int64) float64 {
	u, s := cpuTime()
	now := time.Now()
	cpu := h.observe(u+s-h.lastCPU, now.Sub(h.lastWall), runtime.NumCPU())
	h.lastCPU, h.lastWall = u+s, now
	h.fdPeak = max(h.fdPeak, h.fdBase+conns, openFDs())
	return cpu
}

// observe turns one window's CPU time into a percentage and updates the peak.
func (h *health) observe(used, wall time.Duration, cpus int) float64 {
	if wall <= 0 {
		return 0
	}
	cpu := min(100*float64(used)/float64(wall), float64(100*cpus))
	if wall >= minPeakWindow {
		h.peakCPU = max(h.peakCPU, cpu)
	}
	return cpu
}

// openFDs counts the process's open descriptors by reading the raw
// directory entries of /proc/self/fd into a reused buffer: no name is
// allocated, so counting 20,000 descriptors every interval leaves no
// garbage (Readdirnames would leave half a megabyte each time).
func openFDs() int64 {
	fd, err := syscall.Open("/proc/self/fd", syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return 0
	}
	defer syscall.Close(fd)
	fdBuf.Lock()
	defer fdBuf.Unlock()
	var n int64
	for {
		got, err := syscall.ReadDirent(fd, fdBuf.b[:])
		if err != nil || got <= 0 {
			break
		}
		for off := 0; off+19 <= got; {
			// struct linux_dirent64: ino u64, off s64, reclen u16, type
			// u8, name; "." and ".." are not descriptors.
			reclen := int(binary.NativeEndian.Uint16(fdBuf.b[off+16:]))
			if reclen == 0 {
				break
			}
			if name := fdBuf.b[off+19]; name != '.' {
				n++
			}
			off += reclen
		}
	}
	return n - 1 // the descriptor reading the directory
}

var fdBuf struct {
	sync.Mutex
	b [32 << 10]byte
}

// The rules that judge the generator. The verdict "unreliable" (exit 4)
// says the generator itself may have distorted what the run measured, so
// it must not fire on noise (a CPU mean that hovers around a line) nor
// blame the generator for a target that pushed back.
const (
	// An interval is saturated at cpuSaturated of the capacity; the run
	// is unreliable when saturatedShare of its load intervals were, and
	// close to saturation (a note) when its median interval was at
	// cpuClose. The band between the two is where a CPU that hovers
	// around a line lands: a note every time, not a verdict that flips
	// with the noise.
	cpuSaturated   = 0.95
	cpuClose       = 0.85
	saturatedShare = 0.5
	// busyPeak: some interval used this share of the capacity, so late or
	// dropped sends may be the generator's doing (an idle generator's late
	// sends are the target's: writes that block because it stopped
	// reading).
	busyPeak = 0.75
	// lagShare of the tightest latency threshold is the schedule lag p99
	// a run may have; without latency thresholds, defaultLagBudget.
	lagShare         = 0.10
	defaultLagBudget = 20 * time.Millisecond
	minLagBudget     = time.Millisecond
	fdNearLimit      = 0.90
	gcShare          = 0.02 // GC pauses above this share of the run are noted
)

// finish fills the generator section from the samples, the run's totals
// and cpu, the CPU use of each interval under load (the drain excluded).
func (h *health) finish(total *metrics.Set, lag *report.Metric, peakConns int64, cpu []float64, lagBudget time.Duration) report.Generator {
	h.fdPeak = max(h.fdPeak, h.fdBase+peakConns, openFDs())
	u, s := cpuTime()
	wall := time.Since(h.start)
	procs := runtime.GOMAXPROCS(0)
	g := report.Generator{
		CPUCapacity:    float64(100 * procs),
		UserCPUS:       u.Seconds(),
		SysCPUS:        s.Seconds(),
		ScheduleLag:    lag,
		FDLimit:        h.fdLimit,
		FDPeak:         h.fdPeak,
		CPUPeakPercent: h.peakCPU,
	}
	if wall > 0 {
		g.CPUPercent = 100 * float64(u+s-h.startCPU) / float64(wall)
	}
	// GC statistics are per process, and a process may run several runs
	// (tests, capacity steps): count only the pauses that ended after this
	// run started. The runtime keeps the last 256 pauses, which covers any
	// run that is not GC-bound.
	var gc debug.GCStats
	debug.ReadGCStats(&gc)
	g.GCPauses = gc.NumGC - h.startGC
	var paused, longest time.Duration
	for i, end := range gc.PauseEnd {
		if end.Before(h.start) {
			break // newest first
		}
		paused += gc.Pause[i]
		longest = max(longest, gc.Pause[i])
	}
	g.GCPauseTotalMS = float64(paused) / 1e6
	g.GCPauseMaxUS = longest.Microseconds()
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		g.MaxRSSBytes = ru.Maxrss * 1024
	}

	g.Findings = judgeGenerator(healthInputs{
		capacity:  g.CPUCapacity,
		cpu:       cpu,
		lag:       lag,
		lagBudget: lagBudget,
		dropped:   total.Counters.SendsDropped + total.Counters.SessionsDropped,
		fdPeak:    h.fdPeak,
		fdLimit:   h.fdLimit,
		errors:    total.Counters.ErrorsByCause,
		gcPauseMS: g.GCPauseTotalMS,
		wall:      wall,
	})
	for _, f := range g.Findings {
		if f.Verdict == report.VerdictUnreliable {
			g.Reasons = append(g.Reasons, f.Detail)
		} else {
			g.Notes = append(g.Notes, f.Detail)
		}
	}
	g.Unreliable = len(g.Reasons) > 0
	return g
}

// healthInputs is what judgeGenerator decides from.
type healthInputs struct {
	capacity  float64   // percent, 100 = one core
	cpu       []float64 // per load interval (the drain excluded), percent
	lag       *report.Metric
	lagBudget time.Duration // the schedule lag p99 the user's thresholds tolerate; 0: default
	dropped   int64         // sends and sessions dropped
	fdPeak    int64
	fdLimit   int64
	errors    map[string]int64
	gcPauseMS float64
	wall      time.Duration
}

// saturation returns the share of intervals the CPU was saturated in,
// the median interval's use and the busiest interval's (percent).
func saturation(cpu []float64, capacity float64) (share, median, peak float64) {
	if len(cpu) == 0 || capacity <= 0 {
		return 0, 0, 0
	}
	n := 0
	for _, c := range cpu {
		peak = max(peak, c)
		if c >= cpuSaturated*capacity {
			n++
		}
	}
	sorted := slices.Clone(cpu)
	slices.Sort(sorted)
	return float64(n) / float64(len(cpu)), sorted[len(sorted)/2], peak
}

// judgeGenerator applies the rules and returns what fired: findings with
// verdict unreliable make the run's numbers untrustworthy, notes are for
// the reader. Each says its rule, what was measured and the limit.
func judgeGenerator(in healthInputs) []report.Finding {
	var out []report.Finding
	share, median, peak := saturation(in.cpu, in.capacity)
	busy := in.capacity > 0 && peak >= busyPeak*in.capacity
	switch {
	case share >= saturatedShare:
		out = append(out, report.Finding{Rule: "cpu_saturated", Verdict: report.VerdictUnreliable, Value: 100 * share, Limit: 100 * saturatedShare, Unit: "%",
			Detail: fmt.Sprintf("generator CPU saturated (at %.0f%% or more of its %.0f%%) in %.0f%% of the intervals",
				100*cpuSaturated, in.capacity, 100*share)})
	case in.capacity > 0 && median >= cpuClose*in.capacity:
		out = append(out, report.Finding{Rule: "cpu_close", Verdict: report.VerdictNote, Value: median, Limit: cpuSaturated * in.capacity, Unit: "%",
			Detail: fmt.Sprintf("generator CPU close to saturation: median interval %.0f%% of %.0f%%", median, in.capacity)})
	}
	budget := in.lagBudget
	if budget <= 0 {
		budget = defaultLagBudget
	}
	budget = max(budget, minLagBudget)
	if in.lag != nil && in.lag.Count > 0 {
		lag := time.Duration(in.lag.P99US) * time.Microsecond
		switch {
		case lag > budget && busy:
			out = append(out, report.Finding{Rule: "schedule_lag", Verdict: report.VerdictUnreliable, Value: float64(in.lag.P99US), Limit: float64(budget.Microseconds()), Unit: "us",
				Detail: fmt.Sprintf("sends left late: schedule lag p99 %s, over the %s the thresholds tolerate, while the generator CPU peaked at %.0f%%", lag, budget, peak)})
		case lag > budget:
			out = append(out, report.Finding{Rule: "schedule_lag", Verdict: report.VerdictNote, Value: float64(in.lag.P99US), Limit: float64(budget.Microseconds()), Unit: "us",
				Detail: fmt.Sprintf("sends left late (schedule lag p99 %s) while the generator was not busy (CPU peak %.0f%%): writes waited for the target", lag, peak)})
		}
	}
	if in.dropped > 0 {
		f := report.Finding{Rule: "dropped", Verdict: report.VerdictNote, Value: float64(in.dropped), Unit: "count",
			Detail: fmt.Sprintf("%d sends/sessions dropped (behind schedule or at max_sessions) while the generator CPU peaked at %.0f%%", in.dropped, peak)}
		if busy {
			f.Verdict = report.VerdictUnreliable
		}
		out = append(out, f)
	}
	own := int64(0)
	for _, cause := range []string{"fd_limit", "ports_exhausted"} {
		own += in.errors[cause]
	}
	switch {
	case own > 0:
		out = append(out, report.Finding{Rule: "own_limits", Verdict: report.VerdictUnreliable, Value: float64(own), Unit: "count",
			Detail: fmt.Sprintf("%d connections failed on the generator's own limits (descriptors or local ports; peak %d of %d descriptors)", own, in.fdPeak, in.fdLimit)})
	case in.fdLimit > 0 && float64(in.fdPeak) >= fdNearLimit*float64(in.fdLimit):
		out = append(out, report.Finding{Rule: "descriptors", Verdict: report.VerdictNote, Value: float64(in.fdPeak), Limit: float64(in.fdLimit), Unit: "count",
			Detail: fmt.Sprintf("file descriptors near the limit: peak %d of %d, no connection failed for it", in.fdPeak, in.fdLimit)})
	}
	if ms := in.wall.Milliseconds(); ms > 0 && in.gcPauseMS > gcShare*float64(ms) {
		out = append(out, report.Finding{Rule: "gc", Verdict: report.VerdictNote, Value: 100 * in.gcPauseMS / float64(ms), Limit: 100 * gcShare, Unit: "%",
			Detail: fmt.Sprintf("GC paused the generator for %.0f ms (%.1f%% of the run); any effect on sends is in the schedule lag", in.gcPauseMS, 100*in.gcPauseMS/float64(ms))})
	}
	return out
}
