package coord

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/wsbench/wsbench/engine"
	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/report"
	"github.com/wsbench/wsbench/scenario"
)

// Assignment is a worker's part of a run, as the coordinator hands it
// over: one JSON line on the worker's standard input.
type Assignment struct {
	Scenario    json.RawMessage `json:"scenario"`
	Target      string          `json:"target"` // ws:// address of the started target
	Index       int             `json:"index"`  // the share: slots and arrivals k with k mod Count == Index
	Count       int             `json:"count"`
	Origin      time.Time       `json:"origin"` // the common start of the load and of run clocks
	LagBudget   time.Duration   `json:"lag_budget"`
	SourceAddrs []string        `json:"source_addrs,omitempty"`
}

// Control lines the coordinator writes to a worker after the assignment.
const ctlStop = "stop"

// uplink streams a worker's intervals to its coordinator.
type uplink struct {
	mu  sync.Mutex
	w   io.Writer
	buf []byte
	err error
}

func (u *uplink) Interval(iv *metrics.Interval, _ *metrics.Set) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.err != nil {
		return nil
	}
	var err error
	if u.buf, err = iv.AppendBinary(u.buf[:0]); err == nil {
		err = writeFrame(u.w, frameInterval, u.buf)
	}
	// A coordinator that stopped reading is gone; the worker's stdin
	// closing stops the run, so there is nothing more to do here.
	u.err = err
	return nil
}

func (u *uplink) Close(*report.Report) {}

func (u *uplink) report(rep *report.Report) error {
	b, err := json.Marshal(rep)
	if err != nil {
		return err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	return writeFrame(u.w, frameReport, b)
}

// Work is a worker process's whole job: it reads its assignment from in,
// runs its share, streams every interval and then its report to out. A
// "stop" line on in ends the run early (as a signal would), and so does
// in reaching its end: the coordinator is gone, so there is no one left
// to report to, and the worker stops at once.
func Work(ctx context.Context, in io.Reader, out io.Writer, logf func(string, ...any)) error {
	br := bufio.NewReaderSize(in, 64<<10)
	line, err := br.ReadBytes('\n')
	if err != nil {
		return fmt.Errorf("read assignment: %w", err)
	}
	var a Assignment
	if err := json.Unmarshal(line, &a); err != nil {
		return fmt.Errorf("read assignment: %w", err)
	}
	var sc scenario.Scenario
	if err := json.Unmarshal(a.Scenario, &sc); err != nil {
		return fmt.Errorf("read assignment's scenario: %w", err)
	}
	if len(a.SourceAddrs) > 0 {
		sc.Client.SourceAddrs = a.SourceAddrs
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		for {
			l, err := br.ReadString('\n')
			if strings.TrimSpace(l) == ctlStop {
				cancel(errors.New("stopped by the coordinator"))
				continue
			}
			if err != nil {
				cancel(errors.New("the coordinator is gone"))
				return
			}
		}
	}()
	up := &uplink{w: out}
	rep, runErr := engine.Run(ctx, &sc, engine.Options{
		Target:       a.Target,
		Share:        engine.Share{Index: a.Index, Count: a.Count},
		Worker:       a.Index + 1,
		Origin:       a.Origin,
		StartAt:      a.Origin,
		LagBudget:    a.LagBudget,
		ExportLedger: true,
		Sinks:        []engine.Sink{up},
		Logf:         logf,
	})
	if err := up.report(rep); err != nil && !isClosedPipe(err) {
		return fmt.Errorf("send report: %w", err)
	}
	var se *engine.StartError
	if errors.As(runErr, &se) {
		return runErr
	}
	return nil
}

func isClosedPipe(err error) bool {
	return errors.Is(err, net.ErrClosed) || strings.Contains(err.Error(), "broken pipe")
}
