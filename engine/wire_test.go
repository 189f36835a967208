package engine

import (
	"encoding/json"
	"testing"

	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/report"
)

// wireSink sends every interval through the wire form, as a worker
// process would to its coordinator, and keeps what comes out.
type wireSink struct {
	t     *testing.T
	tl    metrics.Timeline
	bytes int
}

func (w *wireSink) Interval(iv *metrics.Interval, _ *metrics.Set) error {
	b, err := iv.MarshalBinary()
	if err != nil {
		w.t.Error(err)
		return nil
	}
	w.bytes += len(b)
	var back metrics.Interval
	if err := back.UnmarshalBinary(b); err != nil {
		w.t.Error(err)
		return nil
	}
	w.tl.Append(&back)
	return nil
}

func (w *wireSink) Close(*report.Report) {}

// The intervals a coordinator would receive make the same report as the
// run's own: the same series, histogram for histogram, and the same
// totals.
func TestIntervalsThroughTheWireMakeTheSameReport(t *testing.T) {
	sc := mustScenario(t, `
name: wire
target: builtin
interval: 250ms
phases:
  - {duration: 500ms, clients: 6}
  - {duration: 1s, clients: 6}
flows:
  - name: echo
    steps:
      - connect: {path: /echo}
      - echo: {rate: 40, size: 64}
`)
	ws := &wireSink{t: t}
	ws.tl.Step = sc.Interval.D()
	rep, err := runOpts(t, t.Context(), sc, Options{Sinks: []Sink{ws}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Counters.MessagesReceived == 0 {
		t.Fatal("nothing measured")
	}
	got, err := report.SeriesOf(&ws.tl)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(got)
	b, _ := json.Marshal(rep.Series)
	if string(a) != string(b) {
		t.Fatalf("series through the wire differs from the run's:\n%s\n%s", a, b)
	}
	total, err := ws.tl.Sum(nil, 0, ws.tl.Len())
	if err != nil {
		t.Fatal(err)
	}
	for name, m := range rep.Metrics {
		h := total.Histogram(name)
		if m.Count == 0 && h == nil {
			continue
		}
		want, err := m.Histogram()
		if err != nil {
			t.Fatal(err)
		}
		if h == nil || !metrics.Equal(h, want) {
			t.Fatalf("%s: the wire intervals' histogram differs from the report's", name)
		}
	}
	c, w := total.Counters, rep.Counters
	c.Normalize()
	if c.MessagesSent != w.MessagesSent || c.MessagesReceived != w.MessagesReceived || c.ConnectsOK != w.ConnectsOK || c.Disconnects != w.Disconnects {
		t.Fatalf("counters through the wire %+v, report %+v", c, w)
	}
	t.Logf("%d intervals, %d bytes on the wire", ws.tl.Len(), ws.bytes)
}
