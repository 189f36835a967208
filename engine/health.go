package engine

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
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
// and notes the descriptors in use: the ones open at the start plus one
// per open connection. Reading /proc/self/fd instead would list every
// descriptor each interval, which at 20,000 connections is a
// millisecond of work and half a megabyte of garbage per interval.
func (h *health) sample(conns int64) float64 {
	u, s := cpuTime()
	now := time.Now()
	cpu := h.observe(u+s-h.lastCPU, now.Sub(h.lastWall), runtime.NumCPU())
	h.lastCPU, h.lastWall = u+s, now
	h.fdPeak = max(h.fdPeak, h.fdBase+conns)
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

func openFDs() int64 {
	f, err := os.Open("/proc/self/fd")
	if err != nil {
		return 0
	}
	defer f.Close()
	names, _ := f.Readdirnames(-1)
	return int64(len(names))
}

// Thresholds for calling the generator the bottleneck.
const (
	cpuSaturated = 0.90 // mean CPU at this fraction of GOMAXPROCS cores
	cpuBusy      = 0.75 // peak CPU at which late sends are blamed on the generator
	lagP99Late   = 20 * time.Millisecond
	fdNearLimit  = 0.90
	gcShare      = 0.02 // GC pauses above this share of the run
)

// finish fills the generator section of the report from the samples and
// the run's totals.
func (h *health) finish(total *metrics.Set, lag *report.Metric, peakConns int64) report.Generator {
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

	g.Reasons = judgeGenerator(healthInputs{
		cpuMean:   g.CPUPercent,
		cpuPeak:   h.peakCPU,
		capacity:  g.CPUCapacity,
		lag:       lag,
		dropped:   total.Counters.SendsDropped + total.Counters.SessionsDropped,
		fdPeak:    h.fdPeak,
		fdLimit:   h.fdLimit,
		errors:    total.Counters.ErrorsByCause,
		gcPauseMS: g.GCPauseTotalMS,
		wall:      wall,
	})
	g.Unreliable = len(g.Reasons) > 0
	return g
}

// healthInputs is what judgeGenerator decides from.
type healthInputs struct {
	cpuMean, cpuPeak, capacity float64 // percent, 100 = one core
	lag                        *report.Metric
	dropped                    int64
	fdPeak, fdLimit            int64
	errors                     map[string]int64
	gcPauseMS                  float64
	wall                       time.Duration
}

// judgeGenerator returns the reasons to distrust a run's numbers because
// the generator, not the target, may have limited them. Late sends alone
// are not such a reason: a target that stops reading makes writes block
// and sends late while the generator idles. They count when the
// generator's CPU was busy too.
func judgeGenerator(in healthInputs) []string {
	var reasons []string
	if in.capacity > 0 && in.cpuMean >= cpuSaturated*in.capacity {
		reasons = append(reasons, fmt.Sprintf("generator CPU saturated: mean %.0f%% of %.0f%% available", in.cpuMean, in.capacity))
	}
	busy := in.capacity > 0 && in.cpuPeak >= cpuBusy*in.capacity
	if in.lag != nil && in.lag.Count > 0 && time.Duration(in.lag.P99US)*time.Microsecond > lagP99Late && busy {
		reasons = append(reasons, fmt.Sprintf("sends left late (schedule lag p99 %s) while the generator CPU peaked at %.0f%%",
			time.Duration(in.lag.P99US)*time.Microsecond, in.cpuPeak))
	}
	if in.dropped > 0 && busy {
		reasons = append(reasons, fmt.Sprintf("%d sends/sessions dropped while the generator CPU peaked at %.0f%%", in.dropped, in.cpuPeak))
	}
	if in.fdLimit > 0 && float64(in.fdPeak) >= fdNearLimit*float64(in.fdLimit) {
		reasons = append(reasons, fmt.Sprintf("file descriptors near the limit: peak %d of %d", in.fdPeak, in.fdLimit))
	}
	for _, cause := range []string{"fd_limit", "ports_exhausted"} {
		if n := in.errors[cause]; n > 0 {
			reasons = append(reasons, fmt.Sprintf("%d connections failed on the generator's own limits (%s)", n, cause))
		}
	}
	if ms := in.wall.Milliseconds(); ms > 0 && in.gcPauseMS > gcShare*float64(ms) {
		reasons = append(reasons, fmt.Sprintf("GC paused the generator for %.0f ms (%.1f%% of the run)", in.gcPauseMS, 100*in.gcPauseMS/float64(ms)))
	}
	return reasons
}
