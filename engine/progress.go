package engine

import (
	"fmt"
	"io"
	"time"

	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/report"
)

// progress prints one status line per interval: redrawn in place on a
// terminal, plain lines otherwise (every interval for short runs, every
// ten seconds for long ones so CI logs stay readable). It is a Sink. The
// last interval, the drain after the planned end, is not shown: the line
// before it already showed the end.
type progress struct {
	w     io.Writer
	tty   bool
	total time.Duration
	last  time.Duration // when a line was last printed
}

func (p *progress) Interval(iv *metrics.Interval, total *metrics.Set) error {
	if iv.End > p.total+p.total/100+10*time.Millisecond && iv.Duration() < time.Second/2 {
		return nil // the drain
	}
	p.update(iv.End, iv.Duration(), iv.Active, iv.Set, total)
	return nil
}

func (p *progress) Close(*report.Report) {
	if p.w != nil && p.tty {
		fmt.Fprintln(p.w)
	}
}

func (p *progress) update(elapsed, span time.Duration, active int64, iv, total *metrics.Set) {
	secs := span.Seconds()
	if p.w == nil || secs <= 0 {
		return
	}
	if !p.tty && p.total > time.Minute && elapsed-p.last < 10*time.Second && elapsed < p.total {
		return
	}
	p.last = elapsed
	c := &iv.Counters
	// By name: a coordinator's merged interval need not list the metrics
	// in the engine's order.
	rtt := iv.Histogram("rtt")
	p99 := "-"
	if rtt != nil && rtt.TotalCount() > 0 {
		p99 = fmtUS(rtt.ValueAtPercentile(99))
	}
	tc := &total.Counters
	line := fmt.Sprintf("[%5.0fs/%.0fs] conns %d | sent %.0f/s recv %.0f/s | rtt p99 %s | errors %d | dropped %d",
		elapsed.Seconds(), p.total.Seconds(), active, float64(c.MessagesSent)/secs, float64(c.MessagesReceived)/secs,
		p99, tc.Errors(), tc.SendsDropped+tc.SessionsDropped)
	if p.tty {
		fmt.Fprintf(p.w, "\r\x1b[K%s", line)
	} else {
		fmt.Fprintln(p.w, line)
	}
}

func fmtUS(us int64) string {
	switch {
	case us < 1000:
		return fmt.Sprintf("%dµs", us)
	case us < 1_000_000:
		return fmt.Sprintf("%.2fms", float64(us)/1000)
	}
	return fmt.Sprintf("%.2fs", float64(us)/1e6)
}

// NewProgress returns the progress line as a Sink, for a caller that
// feeds it intervals of its own (a coordinator, merged from its workers').
// total is the run's planned length.
func NewProgress(w io.Writer, tty bool, total time.Duration) Sink {
	return &progress{w: w, tty: tty, total: total}
}
