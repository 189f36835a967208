package main

import (
	"encoding/json"
	"math"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/report"
)

// window is the steady phase of a run: the intervals of its time series
// from the first that starts at or after the phase's start to the end of
// the series. The last interval holds the replies that arrived while the
// run drained, so rates are counts over the window's actual length, from
// its first interval's start to the end of its last, drain included.
type window struct {
	rep   *report.Report
	first int
	start float64
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
	s := rep.Series
	tol := min(s.IntervalS/4, 0.02)
	w = window{rep: rep, first: -1}
	for i := range s.T {
		start := 0.0
		if i > 0 {
			start = s.T[i-1]
		}
		if start >= ph.StartS-tol {
			w.first, w.start = i, start
			break
		}
	}
	if w.first < 0 {
		return window{}, false
	}
	w.dur = s.T[len(s.T)-1] - w.start
	return w, w.dur > 0
}

func (w window) sum(col []int64) int64 {
	var n int64
	for i := w.first; i < len(col); i++ {
		n += col[i]
	}
	return n
}

// rate is a per-second rate of a series column over the window.
func (w window) rate(col []int64) float64 { return float64(w.sum(col)) / w.dur }

// latency merges the window's per-interval histograms of a latency metric.
// Without per-interval histograms it falls back to the whole run's.
func (w window) latency(name string) *report.Metric {
	ls := w.rep.Series.Latency[name]
	if ls == nil {
		return w.rep.Metrics[name]
	}
	var h *hdr.Histogram
	for i := w.first; i < len(ls.HDR); i++ {
		if ls.HDR[i] == "" {
			continue
		}
		x, err := metrics.DecodeHistogram(ls.HDR[i])
		if err != nil {
			return w.rep.Metrics[name]
		}
		if h == nil {
			h = x
		} else {
			h.Merge(x)
		}
	}
	if h == nil {
		return &report.Metric{}
	}
	return report.Summarize(h)
}

// scenarioShape is the part of a report's scenario the tables need.
type scenarioShape struct {
	Phases []struct {
		Clients     *int     `json:"clients"`
		ArrivalRate *float64 `json:"arrival_rate"`
	} `json:"phases"`
	Flows []struct {
		Steps []struct {
			Echo *struct {
				Rate     float64 `json:"rate"`
				Inflight int     `json:"inflight"`
				Size     int     `json:"size"`
			} `json:"echo"`
			Publish *struct {
				Rate float64 `json:"rate"`
			} `json:"publish"`
		} `json:"steps"`
	} `json:"flows"`
}

func shape(rep *report.Report) scenarioShape {
	var s scenarioShape
	if rep != nil {
		_ = json.Unmarshal(rep.Scenario, &s)
	}
	return s
}

// offeredEcho is the steady phase's offered echo load in messages per
// second (connections × per-connection rate), NaN for a closed loop.
func offeredEcho(rep *report.Report) float64 {
	s := shape(rep)
	if len(s.Phases) == 0 || s.Phases[len(s.Phases)-1].Clients == nil {
		return math.NaN()
	}
	clients := float64(*s.Phases[len(s.Phases)-1].Clients)
	for _, f := range s.Flows {
		for _, st := range f.Steps {
			if st.Echo != nil && st.Echo.Rate > 0 {
				return clients * st.Echo.Rate
			}
		}
	}
	return math.NaN()
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
