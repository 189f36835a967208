package main

import (
	"encoding/json"
	"math"

	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/report"
	"github.com/wsbench/wsbench/scenario"
)

// window is the steady phase of a run: the intervals of its time series
// from the first that starts at or after the phase's start to the end of
// the series. The last interval holds the replies that arrived while the
// run drained, so rates are counts over the window's actual length, from
// its first interval's start to the end of its last, drain included.
type window struct {
	rep   *report.Report
	tl    *metrics.Timeline
	first int
	dur   float64
}

// steady returns the window of the phase named "steady" (else the last
// phase), or ok false when the report has no usable series.
func steady(rep *report.Report) (w window, ok bool) {
	if rep == nil || rep.Series == nil || rep.Series.Len() == 0 || len(rep.Phases) == 0 {
		return window{}, false
	}
	ph := rep.Phases[len(rep.Phases)-1]
	for _, p := range rep.Phases {
		if p.Name == "steady" {
			ph = p
		}
	}
	tl, err := rep.Series.Timeline()
	if err != nil {
		return window{}, false
	}
	tol := min(tl.Step.Seconds()/4, 0.02)
	w = window{rep: rep, tl: tl, first: -1}
	for i, iv := range tl.Intervals {
		if iv.Start.Seconds() >= ph.StartS-tol {
			w.first = i
			break
		}
	}
	if w.first < 0 {
		return window{}, false
	}
	w.dur = (tl.Intervals[tl.Len()-1].End - tl.Intervals[w.first].Start).Seconds()
	return w, w.dur > 0
}

// rate is the per-second rate of a counter over the window.
func (w window) rate(counter string) float64 {
	k, ok := metrics.LookupCounter(counter)
	if !ok {
		return math.NaN()
	}
	var n int64
	for _, iv := range w.tl.Intervals[w.first:] {
		n += k.Get(&iv.Set.Counters)
	}
	return float64(n) / w.dur
}

// latency merges the window's per-interval histograms of a latency metric.
// Without per-interval histograms it falls back to the whole run's.
func (w window) latency(name string) *report.Metric {
	if w.rep.Series.Latency[name] == nil {
		return w.rep.Metrics[name]
	}
	sum, err := w.tl.Sum([]string{name}, w.first, w.tl.Len())
	if err != nil {
		return w.rep.Metrics[name]
	}
	return report.Summarize(sum.Hists[0])
}

// shape is the scenario a report ran (what the tables need of it: its
// phases and its steps, read through the step table).
func shape(rep *report.Report) *scenario.Scenario {
	var s scenario.Scenario
	if rep != nil {
		_ = json.Unmarshal(rep.Scenario, &s)
	}
	return &s
}

// offeredEcho is the steady phase's offered echo load in messages per
// second (connections × per-connection rate), NaN for a closed loop.
func offeredEcho(rep *report.Report) float64 {
	s := shape(rep)
	if len(s.Phases) == 0 || s.Phases[len(s.Phases)-1].Clients == nil {
		return math.NaN()
	}
	clients := float64(*s.Phases[len(s.Phases)-1].Clients)
	rate := math.NaN()
	for _, f := range s.Flows {
		scenario.WalkSteps(f.Steps, func(st *scenario.Step) bool {
			if r := st.Rate(); st.Kind() == scenario.KindEcho && r != nil && *r > 0 {
				rate = clients * *r
				return false
			}
			return true
		})
		if !math.IsNaN(rate) {
			break
		}
	}
	return rate
}

// offeredArrivals is the steady phase's arrival rate (open model).
func offeredArrivals(rep *report.Report) float64 {
	s := shape(rep)
	if len(s.Phases) == 0 || s.Phases[len(s.Phases)-1].ArrivalRate == nil {
		return math.NaN()
	}
	return *s.Phases[len(s.Phases)-1].ArrivalRate
}

// steadyClients is the steady phase's connection count (closed model).
func steadyClients(rep *report.Report) int {
	s := shape(rep)
	if len(s.Phases) == 0 || s.Phases[len(s.Phases)-1].Clients == nil {
		return 0
	}
	return *s.Phases[len(s.Phases)-1].Clients
}
