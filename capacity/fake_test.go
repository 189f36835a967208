package capacity

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/report"
	"github.com/wsbench/wsbench/scenario"
)

// synth builds a step report the way the engine does, through
// report.Series.Append: intervals of 500 ms over warmup and hold, then the
// (here empty) post-stop interval the engine flushes after the drain. each
// fills one interval's Set (inHold tells whether it belongs to the hold)
// and returns the open connections at its end and the CPU use.
func synth(warmup, hold time.Duration, each func(i int, inHold bool, set *metrics.Set) (active int64, cpu float64)) *report.Report {
	const interval = 500 * time.Millisecond
	reg := metrics.NewRegistry()
	total := metrics.NewSet(reg)
	series := report.NewSeries(interval.Seconds())
	n := int((warmup + hold) / interval)
	for i := 0; i <= n; i++ {
		end := time.Duration(i+1) * interval
		if i == n {
			end = warmup + hold + 200*time.Millisecond // the drain
		}
		set := metrics.NewSet(reg)
		var active int64
		var cpu float64
		if i < n {
			active, cpu = each(i, end > warmup, set)
		}
		if err := series.Append(end.Seconds()+0.0003, active, cpu, set); err != nil {
			panic(err)
		}
		total.Merge(set)
	}
	rep := &report.Report{
		Schema:      report.SchemaVersion,
		EndReason:   report.EndCompleted,
		DurationS:   series.T[len(series.T)-1],
		Metrics:     map[string]*report.Metric{},
		Counters:    total.Counters,
		Series:      series,
		Generator:   report.Generator{CPUCapacity: 200},
		Environment: report.Environment{GOMAXPROCS: 2},
	}
	rep.Counters.Normalize()
	for id, h := range total.Hists {
		if h.TotalCount() == 0 || reg.Names()[id] == "schedule_lag" {
			continue
		}
		m, err := report.NewMetric(h)
		if err != nil {
			panic(err)
		}
		rep.Metrics[reg.Names()[id]] = m
	}
	return rep
}

// model is a fake target and generator for Search: at each level it
// answers with latencyUS during the hold (and 10 s during the warmup, which
// must never be judged), achieves achieved(level), and so on. Its run
// method is a RunFunc; calls records the levels it ran.
type model struct {
	variable   string
	warmup     time.Duration
	hold       time.Duration
	latencyUS  func(level float64) int64
	errors     func(level float64) int64   // per hold interval; nil: none
	achieved   func(level float64) float64 // nil: the level
	cpu        func(level float64) float64 // nil: 10%
	unreliable func(level float64) bool
	// runErr, if set, may fail a level: a nil report with it, or a report.
	runErr func(level float64) (*report.Report, error)
	// took, if set, is slept (the run's wall time) before answering.
	took time.Duration
	// onRun, if set, is called with each level before it runs.
	onRun func(level float64)

	mu    sync.Mutex
	calls []float64
}

func (m *model) run(ctx context.Context, sc *scenario.Scenario) (*report.Report, error) {
	level := levelOf(sc, m.variable)
	m.mu.Lock()
	m.calls = append(m.calls, level)
	m.mu.Unlock()
	if m.onRun != nil {
		m.onRun(level)
	}
	if m.took > 0 {
		select {
		case <-time.After(m.took):
		case <-ctx.Done():
		}
	}
	if m.runErr != nil {
		if rep, err := m.runErr(level); err != nil {
			return rep, err
		}
	}
	achieved := level
	if m.achieved != nil {
		achieved = m.achieved(level)
	}
	cpu := 10.0
	if m.cpu != nil {
		cpu = m.cpu(level)
	}
	perInterval := int64(achieved / 2) // 500 ms intervals
	rep := synth(m.warmup, m.hold, func(i int, inHold bool, set *metrics.Set) (int64, float64) {
		lat := int64(10_000_000)
		if inHold {
			lat = m.latencyUS(level)
		}
		c := &set.Counters
		switch m.variable {
		case MessageRate:
			c.MessagesSent, c.MessagesReceived = perInterval, perInterval
			for range perInterval {
				set.Record(metrics.RTT, lat)
			}
		case ArrivalRate:
			c.ConnectsOK = perInterval
			c.SessionsDropped = int64((level - achieved) / 2)
			for range perInterval {
				set.Record(metrics.Connect, lat)
			}
		case Clients:
			c.MessagesSent, c.MessagesReceived = 10, 10
			for range 10 {
				set.Record(metrics.RTT, lat)
			}
		}
		if inHold && m.errors != nil {
			if n := m.errors(level); n > 0 {
				c.ErrorsByCause = map[string]int64{"http_503": n}
				c.ConnectsFailed = n
				c.ConnectsAttempted += n
			}
		}
		return int64(achieved), cpu
	})
	if ctx.Err() != nil {
		rep.EndReason = report.EndInterrupted
	}
	if m.unreliable != nil && m.unreliable(level) {
		rep.Generator.Unreliable = true
		rep.Generator.Reasons = []string{"generator CPU saturated"}
	}
	return rep, nil
}

func (m *model) ran() []float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]float64(nil), m.calls...)
}

// levelOf reads the level a step scenario was set to.
func levelOf(sc *scenario.Scenario, variable string) float64 {
	hold := sc.Phases[len(sc.Phases)-1]
	switch variable {
	case Clients:
		return float64(*hold.Clients)
	case ArrivalRate:
		return *hold.ArrivalRate
	case MessageRate:
		return float64(*hold.Clients) * sc.Flows[0].Steps[1].Echo.Rate
	}
	panic(fmt.Sprintf("variable %q", variable))
}

// below returns a latency model that answers lowUS below limit and highUS
// at or above it.
func below(limit float64, lowUS, highUS int64) func(float64) int64 {
	return func(level float64) int64 {
		if level < limit {
			return lowUS
		}
		return highUS
	}
}
