package coord

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wsbench/wsbench/engine"
	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/report"
	"github.com/wsbench/wsbench/scenario"
)

// Assignment is a worker's part of a run, as the coordinator hands it
// over: one JSON line on the worker's control stream.
type Assignment struct {
	Scenario    json.RawMessage `json:"scenario"`
	Target      string          `json:"target"` // ws:// address of the started target
	Index       int             `json:"index"`  // the share: slots and arrivals k with k mod Count == Index
	Count       int             `json:"count"`
	Origin      time.Time       `json:"origin"` // the common start of the load and of run clocks, on the coordinator's clock
	LagBudget   time.Duration   `json:"lag_budget"`
	SourceAddrs []string        `json:"source_addrs,omitempty"`
	// Reachable: the coordinator checked the target (engine.Options).
	Reachable bool `json:"reachable,omitempty"`
	// Loaded: the scenario's data rows and values to mask, which its JSON
	// does not carry.
	Loaded *scenario.Loaded `json:"loaded,omitempty"`
}

// Control lines the coordinator writes to a worker after the assignment.
const (
	ctlStop = "stop"
	// ctlClock answers a clock probe: "clock T0 T1 T2" (frame.go).
	ctlClock = "clock"
	// ctlCancel ends a join before the run: "cancel REASON".
	ctlCancel = "cancel"
)

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
	// A coordinator that stopped reading is gone; the end of the
	// control stream stops the run, so there is nothing more to do here.
	u.err = err
	return nil
}

func (u *uplink) Close(*report.Report) {}

// frame sends one frame of any type.
func (u *uplink) frame(typ byte, payload []byte) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.err != nil {
		return u.err
	}
	u.err = writeFrame(u.w, typ, payload)
	return u.err
}

func (u *uplink) report(rep *report.Report) error {
	b, err := json.Marshal(rep)
	if err != nil {
		return err
	}
	return u.frame(frameReport, b)
}

// errStreamEnded: the coordinator ended the control stream cleanly.
var errStreamEnded = errors.New("the control stream ended")

// control reads a worker's control stream: the assignment, clock
// replies, stop. Its end means the coordinator is gone.
type control struct {
	assign chan []byte
	clock  chan clockSample // replies, t3 taken as the line arrived
	gone   chan struct{}    // closed when the stream ends
	now    func() int64     // the worker's wall clock, Unix ns

	mu      sync.Mutex
	stop    context.CancelCauseFunc // the running share's; nil before it runs
	stopped error                   // a stop that came before the share ran
	err     error                   // why the stream ended
	cancel  string                  // the coordinator's reason for ending a join
}

func newControl(r io.Reader, now func() int64) *control {
	c := &control{assign: make(chan []byte, 1), clock: make(chan clockSample, 1), gone: make(chan struct{}), now: now}
	go c.read(bufio.NewReaderSize(r, 64<<10))
	return c
}

func (c *control) read(br *bufio.Reader) {
	for {
		l, err := br.ReadString('\n')
		t3 := c.now()
		line := strings.TrimSpace(l)
		switch {
		case line == "":
		case line == ctlStop:
			c.halt(errors.New("stopped by the coordinator"))
		case strings.HasPrefix(line, "{"):
			select {
			case c.assign <- []byte(line):
			default: // one assignment per worker; a second is a bug upstream
			}
		case strings.HasPrefix(line, ctlClock+" "):
			if s, ok := parseClockReply(line, t3); ok {
				select {
				case c.clock <- s:
				default:
				}
			}
		case strings.HasPrefix(line, ctlCancel+" "):
			c.mu.Lock()
			c.cancel = strings.TrimPrefix(line, ctlCancel+" ")
			c.mu.Unlock()
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = errStreamEnded
			}
			c.mu.Lock()
			c.err = err
			c.mu.Unlock()
			c.halt(&engine.FailedError{Err: fmt.Errorf("lost the coordinator: %w", err)})
			close(c.gone)
			return
		}
	}
}

// halt stops the running share with cause, or the share about to run.
func (c *control) halt(cause error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stop != nil {
		c.stop(cause)
	} else if c.stopped == nil {
		c.stopped = cause
	}
}

// running attaches the share's cancel function; a stop that came first
// applies at once.
func (c *control) running(stop context.CancelCauseFunc) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stop = stop
	if c.stopped != nil {
		stop(c.stopped)
	}
}

// lost reports whether the control stream has ended, and why.
func (c *control) lost() (bool, error) {
	select {
	case <-c.gone:
		c.mu.Lock()
		defer c.mu.Unlock()
		return true, c.err
	default:
		return false, nil
	}
}

func parseClockReply(line string, t3 int64) (clockSample, bool) {
	f := strings.Fields(line)
	if len(f) != 4 {
		return clockSample{}, false
	}
	var v [3]int64
	for i := range v {
		n, err := strconv.ParseInt(f[i+1], 10, 64)
		if err != nil {
			return clockSample{}, false
		}
		v[i] = n
	}
	return clockSample{T0: v[0], T1: v[1], T2: v[2], T3: t3}, true
}

// decodeAssignment parses an assignment line and its scenario.
func decodeAssignment(line []byte) (*Assignment, *scenario.Scenario, error) {
	var a Assignment
	if err := json.Unmarshal(line, &a); err != nil {
		return nil, nil, fmt.Errorf("read assignment: %w", err)
	}
	if a.Count < 1 || a.Index < 0 || a.Index >= a.Count {
		return nil, nil, fmt.Errorf("read assignment: share %d of %d", a.Index, a.Count)
	}
	var sc scenario.Scenario
	if err := json.Unmarshal(a.Scenario, &sc); err != nil {
		return nil, nil, fmt.Errorf("read assignment's scenario: %w", err)
	}
	sc.SetLoaded(a.Loaded)
	if len(a.SourceAddrs) > 0 {
		sc.Client.SourceAddrs = a.SourceAddrs
	}
	return &a, &sc, nil
}

// runShare runs a worker's share: intervals go up as they close, the
// control stream can stop it, and the returned report is the share's,
// on the coordinator's clock. offset is this host's clock minus the
// coordinator's (zero on the coordinator's own host): the run clock
// starts at the common origin as this host's clock shows it, so run
// times, and the one-way latencies taken from them, agree across hosts.
func runShare(ctx context.Context, a *Assignment, sc *scenario.Scenario, ctl *control, up *uplink, offset time.Duration, logf func(string, ...any)) (*report.Report, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	ctl.running(cancel)
	origin := a.Origin.Add(offset)
	rep, err := engine.Run(ctx, sc, engine.Options{
		Target:       a.Target,
		Reachable:    a.Reachable,
		Share:        engine.Share{Index: a.Index, Count: a.Count},
		Worker:       a.Index + 1,
		Origin:       origin,
		StartAt:      origin,
		LagBudget:    a.LagBudget,
		ExportLedger: true,
		Sinks:        []engine.Sink{up},
		Logf:         logf,
	})
	// Report times on the coordinator's clock, so the parts' series line
	// up when they are merged, here or by wsbench merge.
	rep.StartedAt = a.Origin.Add(rep.StartedAt.Sub(origin)).UTC()
	rep.Shard = &report.Shard{Index: a.Index, Count: a.Count, StartAt: a.Origin.UTC()}
	return rep, err
}

// Work is a worker process's whole job: it reads its assignment from in,
// runs its share, streams every interval and then its report to out. A
// "stop" line on in ends the run early (as a signal would), and so does
// in reaching its end: the coordinator is gone, so there is no one left
// to report to, and the worker stops at once.
func Work(ctx context.Context, in io.Reader, out io.Writer, logf func(string, ...any)) error {
	ctl := newControl(in, func() int64 { return time.Now().UnixNano() })
	var line []byte
	select {
	case line = <-ctl.assign:
	case <-ctl.gone:
		_, err := ctl.lost()
		return fmt.Errorf("read assignment: %w", err)
	case <-ctx.Done():
		return ctx.Err()
	}
	a, sc, err := decodeAssignment(line)
	if err != nil {
		return err
	}
	up := &uplink{w: out}
	rep, runErr := runShare(ctx, a, sc, ctl, up, 0, logf)
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
	return errors.Is(err, net.ErrClosed) || errors.Is(err, io.ErrClosedPipe) || strings.Contains(err.Error(), "broken pipe")
}
