package engine

import (
	"testing"
	"time"

	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/report"
)

// startSink records what a Starter sink is told, in order.
type startSink struct {
	starts    []time.Time
	intervals int // Interval calls before the first Start
	early     int
}

func (s *startSink) Start(at time.Time) { s.starts = append(s.starts, at) }
func (s *startSink) Interval(*metrics.Interval, *metrics.Set) error {
	if len(s.starts) == 0 {
		s.early++
	}
	s.intervals++
	return nil
}
func (s *startSink) Close(*report.Report) {}

// A Starter sink learns, once and before the first interval, the instant
// interval times count from: the report's start.
func TestStarterToldTheRunsStart(t *testing.T) {
	t.Parallel()
	sc := mustScenario(t, `
name: starter
target: builtin
interval: 250ms
clients: 2
duration: 600ms
message: {size: 16, rate: 10}
`)
	s := &startSink{}
	rep, err := runOpts(t, t.Context(), sc, Options{Sinks: []Sink{s}})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.starts) != 1 || s.early != 0 || s.intervals == 0 {
		t.Fatalf("Start called %d times, %d of %d intervals before it", len(s.starts), s.early, s.intervals)
	}
	if !s.starts[0].Equal(rep.StartedAt) {
		t.Errorf("Start(%v), the report started at %v", s.starts[0], rep.StartedAt)
	}
}
