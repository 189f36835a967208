package engine

import (
	"fmt"
	"io"
	"time"

	"github.com/wsbench/wsbench/metrics"
)

// progress prints one status line per interval: redrawn in place on a
// terminal, plain lines otherwise (every interval for short runs, every
// ten seconds for long ones so CI logs stay readable).
type progress struct {
	w     io.Writer
	tty   bool
	total time.Duration
	last  time.Duration // when a line was last printed
	prev  time.Duration // end of the previous interval
}

func (p *progress) update(elapsed time.Duration, active int64, iv, total *metrics.Set) {
	secs := (elapsed - p.prev).Seconds()
	p.prev = elapsed
	if p.w == nil || secs <= 0 {
		return
	}
	if !p.tty && p.total > time.Minute && elapsed-p.last < 10*time.Second && elapsed < p.total {
		return
	}
	p.last = elapsed
	c := &iv.Counters
	rtt := iv.Hists[metrics.RTT]
	p99 := "-"
	if rtt.TotalCount() > 0 {
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

func (p *progress) done() {
	if p.w != nil && p.tty {
		fmt.Fprintln(p.w)
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
