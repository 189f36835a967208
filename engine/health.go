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
	fdPeak   int64
	fdLimit  int64
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
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) == nil {
		h.fdLimit = int64(rl.Cur)
	}
	return h
}

// sample returns the CPU use since the previous sample, 100 = one core.
func (h *health) sample() float64 {
	u, s := cpuTime()
	now := time.Now()
	cpu := 0.0
	if wall := now.Sub(h.lastWall); wall > 0 {
		cpu = 100 * float64(u+s-h.lastCPU) / float64(wall)
	}
	h.lastCPU, h.lastWall = u+s, now
	h.peakCPU = max(h.peakCPU, cpu)
	if n := openFDs(); n > h.fdPeak {
		h.fdPeak = n
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
)

// finish fills the generator section of the report from the samples and
// the run's totals.
func (h *health) finish(total *metrics.Set, lag *report.Metric) report.Generator {
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
	gc := debug.GCStats{PauseQuantiles: make([]time.Duration, 5)}
	debug.ReadGCStats(&gc)
	g.GCPauses = gc.NumGC
	g.GCPauseTotalMS = float64(gc.PauseTotal) / 1e6
	g.GCPauseMaxUS = gc.PauseQuantiles[4].Microseconds()
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		g.MaxRSSBytes = ru.Maxrss * 1024
	}

	c := &total.Counters
	capacity := g.CPUCapacity
	if g.CPUPercent >= cpuSaturated*capacity {
		g.Reasons = append(g.Reasons, fmt.Sprintf("generator CPU saturated: mean %.0f%% of %.0f%% available", g.CPUPercent, capacity))
	}
	if lag != nil && lag.Count > 0 && time.Duration(lag.P99US)*time.Microsecond > lagP99Late && h.peakCPU >= cpuBusy*capacity {
		g.Reasons = append(g.Reasons, fmt.Sprintf("sends left late (schedule lag p99 %s) while the generator CPU peaked at %.0f%%",
			time.Duration(lag.P99US)*time.Microsecond, h.peakCPU))
	}
	if dropped := c.SendsDropped + c.SessionsDropped; dropped > 0 && h.peakCPU >= cpuBusy*capacity {
		g.Reasons = append(g.Reasons, fmt.Sprintf("%d sends/sessions dropped while the generator CPU peaked at %.0f%%", dropped, h.peakCPU))
	}
	if h.fdLimit > 0 && float64(h.fdPeak) >= fdNearLimit*float64(h.fdLimit) {
		g.Reasons = append(g.Reasons, fmt.Sprintf("file descriptors near the limit: peak %d of %d", h.fdPeak, h.fdLimit))
	}
	for _, cause := range []string{"fd_limit", "ports_exhausted"} {
		if n := c.ErrorsByCause[cause]; n > 0 {
			g.Reasons = append(g.Reasons, fmt.Sprintf("%d connections failed on the generator's own limits (%s)", n, cause))
		}
	}
	if wall > 0 && g.GCPauseTotalMS > 0.02*float64(wall.Milliseconds()) {
		g.Reasons = append(g.Reasons, fmt.Sprintf("GC paused the generator for %.0f ms (%.1f%% of the run)", g.GCPauseTotalMS, 100*g.GCPauseTotalMS/float64(wall.Milliseconds())))
	}
	g.Unreliable = len(g.Reasons) > 0
	return g
}
