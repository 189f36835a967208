package coord

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/wsbench/wsbench/engine"
	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/report"
	"github.com/wsbench/wsbench/scenario"
)

// Options control a coordinated run.
type Options struct {
	// Workers is the number of worker processes (at least 1).
	Workers int
	// Command returns the command that starts a worker; nil runs this
	// executable's `worker` command.
	Command func() *exec.Cmd
	// SourceAddrs[i] are worker i's source addresses (nil: the
	// scenario's).
	SourceAddrs [][]string
	// Sinks receive the merged intervals and the merged report.
	Sinks []engine.Sink
	// Progress, ProgressTTY: the progress line of the merged run.
	Progress    io.Writer
	ProgressTTY bool
	LagBudget   time.Duration
	// Reachable says the caller checked that the target accepts
	// connections, so the workers do not (engine.Options.Reachable): a
	// proxy in front of the target counts every connection.
	Reachable bool
	// StartDelay is how long after the workers are started the load
	// starts, for all of them at once; 0 means a second.
	StartDelay time.Duration
	// Started, if set, is told each worker's process ID as it starts.
	Started func(worker, pid int)
	Logf    func(format string, args ...any)
}

// worker is the coordinator's view of one worker.
type worker struct {
	index int
	link  link // its process's pipes or its network stream
	addrs []string
	ivs   []*metrics.Interval
	rep   *report.Report
	err   error // why its stream ended early
	exit  string
	done  bool
}

func (w *worker) send(line string) { w.link.send(line) }

// link is the coordinator's end of one worker's streams: the pipes of a
// child process (procLink) or a network peer's stream (peerLink, in
// remote.go). The protocol is the same over either: control lines down
// (the assignment, clock replies, stop), frames up (read).
type link interface {
	// send writes one control line; on a closed or broken link it does
	// nothing (the reader sees the stream end).
	send(line string)
	// close ends the control stream; a worker that reads its end stops.
	close()
	// wait returns how the worker ended, once its stream has ended
	// (streamErr: why, if not cleanly): "exited with status 0",
	// "disconnected: …".
	wait(streamErr error) string
	// who names the worker's process in messages: "pid 123".
	who() string
	// kill ends the worker at once (a run that could not start).
	kill()
	// describe fills in where the worker ran.
	describe(r *report.WorkerResult)
}

// procLink is a local worker process: control lines go to its standard
// input, frames come from its standard output.
type procLink struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	mu     sync.Mutex // stdin writes
	closed bool
}

func (p *procLink) send(line string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closed {
		_, _ = io.WriteString(p.stdin, line+"\n")
	}
}

func (p *procLink) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closed {
		p.closed = true
		_ = p.stdin.Close()
	}
}

func (p *procLink) wait(error) string               { return waitExit(p.cmd) }
func (p *procLink) who() string                     { return fmt.Sprintf("pid %d", p.cmd.Process.Pid) }
func (p *procLink) kill()                           { _ = p.cmd.Process.Kill(); _ = p.cmd.Wait() }
func (p *procLink) describe(r *report.WorkerResult) { r.PID = p.cmd.Process.Pid }

type event struct {
	w     *worker
	iv    *metrics.Interval
	rep   *report.Report
	hello *hello // a remote worker joined (remote.go)
	err   error  // the stream ended (nil: after the report)
	end   bool
}

// Run runs sc against target (a ws:// address) with opts.Workers worker
// processes and returns the merged report. Like engine.Run, the report is
// never nil, and a cancelled ctx ends the run early with a partial one.
func Run(ctx context.Context, sc *scenario.Scenario, target string, opts Options) (*report.Report, error) {
	logf := opts.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	n := max(opts.Workers, 1)
	raw, err := json.Marshal(sc)
	if err != nil {
		return nil, fmt.Errorf("coordinator: %w", err)
	}
	delay := opts.StartDelay
	if delay <= 0 {
		delay = time.Second
	}
	origin := time.Now().Add(delay)
	events := make(chan event, 64*n)
	workers := make([]*worker, n)
	var readers sync.WaitGroup
	for i := range workers {
		w := &worker{index: i}
		if i < len(opts.SourceAddrs) {
			w.addrs = opts.SourceAddrs[i]
		}
		workers[i] = w
		stdout, err := start(w, opts.Command)
		if err != nil {
			for _, started := range workers[:i] {
				started.link.kill()
			}
			return engine.NotStarted(sc, err), &engine.StartError{Err: err}
		}
		a := Assignment{Scenario: raw, Target: target, Index: i, Count: n, Origin: origin, LagBudget: opts.LagBudget, SourceAddrs: w.addrs, Reachable: opts.Reachable, Loaded: sc.Loaded()}
		line, _ := json.Marshal(a)
		w.send(string(line))
		pid := w.link.(*procLink).cmd.Process.Pid
		logf("worker %d: pid %d, share %d of %d%s", i+1, pid, i+1, n, addrNote(w.addrs))
		if opts.Started != nil {
			opts.Started(i+1, pid)
		}
		readers.Add(1)
		go func() {
			defer readers.Done()
			read(w, stdout, events)
		}()
	}
	return drive(ctx, sc, target, workers, events, &readers, origin, opts)
}

// drive runs a coordinated run once every worker has its assignment:
// it merges their intervals live into the sinks, stops them all on a
// signal or a sink's error, and merges their reports when every stream
// has ended. Local and remote workers share it.
func drive(ctx context.Context, sc *scenario.Scenario, target string, workers []*worker, events chan event, readers *sync.WaitGroup, origin time.Time, opts Options) (*report.Report, error) {
	logf := opts.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	n := len(workers)
	total := sc.TotalDuration()
	sinks := slices.Clone(opts.Sinks)
	if opts.Progress != nil {
		sinks = append([]engine.Sink{engine.NewProgress(opts.Progress, opts.ProgressTTY, total)}, sinks...)
	}
	m := &merger{step: sc.Interval.D(), names: nil, sinks: sinks, logf: logf}
	stopped := ""
	stop := func(why string) {
		if stopped != "" {
			return
		}
		stopped = why
		for _, w := range workers {
			w.send(ctlStop)
		}
	}
	live := n
	ctxDone := ctx.Done()
	for live > 0 {
		select {
		case <-ctxDone:
			ctxDone = nil
			stop(report.EndInterrupted)
		case ev := <-events:
			w := ev.w
			switch {
			case ev.iv != nil:
				w.ivs = append(w.ivs, ev.iv)
				if err := m.add(w.index, ev.iv, workers); err != nil {
					stop(report.EndAborted)
					m.abortDetail = err.Error()
				}
			case ev.rep != nil:
				w.rep = ev.rep
			case ev.end:
				w.done, w.err = true, ev.err
				live--
				w.link.close()
				w.exit = w.link.wait(ev.err)
				if w.rep == nil {
					logf("worker %d (%s) stopped without its report: %s (%v)", w.index+1, w.link.who(), w.exit, w.err)
				}
				if err := m.flushReady(workers); err != nil {
					stop(report.EndAborted)
					m.abortDetail = err.Error()
				}
			}
		}
	}
	readers.Wait()
	if err := m.flushAll(workers); err != nil && m.abortDetail == "" {
		m.abortDetail = err.Error()
	}

	// The final report: the workers' reports merged exactly (histograms,
	// counters, series by wall clock, broadcast by message).
	var reps []*report.Report
	var lost []string
	for _, w := range workers {
		if w.rep == nil {
			w.rep = partialReport(sc, target, w, origin)
			lost = append(lost, fmt.Sprintf("worker %d (%s) %s", w.index+1, w.link.who(), w.exit))
		}
		reps = append(reps, w.rep)
	}
	merged, err := report.Merge(reps...)
	if err != nil {
		rep := engine.NotStarted(sc, fmt.Errorf("merge the workers' reports: %w", err))
		return rep, &engine.FailedError{Err: err}
	}
	merged.Scenario = reps[0].Scenario
	merged.Workers = workerResults(workers)
	merged.Clock = clockSummary(merged.Workers)
	merged.Ledger = nil // merged already; a coordinated report is not a part of a larger run
	switch {
	case len(lost) > 0:
		merged.EndReason = report.EndFailed
		merged.EndDetail = strings.TrimSpace(strings.Join(lost, "; ") + " during the run; its share counted as failed. " + merged.EndDetail)
	case stopped == report.EndAborted:
		merged.EndReason, merged.EndDetail = report.EndAborted, m.abortDetail
	case stopped == report.EndInterrupted:
		merged.EndReason, merged.EndDetail = report.EndInterrupted, "stopped by signal before the planned end"
	}
	for _, s := range sinks {
		s.Close(merged)
	}
	if merged.EndReason == report.EndFailed {
		return merged, &engine.FailedError{Err: errors.New(merged.EndDetail)}
	}
	return merged, nil
}

func addrNote(addrs []string) string {
	if len(addrs) == 0 {
		return ""
	}
	return ", from " + strings.Join(addrs, " ")
}

// start starts a worker process with pipes on its standard input and
// output (returned, for read); its standard error goes to ours.
func start(w *worker, command func() *exec.Cmd) (io.ReadCloser, error) {
	var cmd *exec.Cmd
	if command != nil {
		cmd = command()
	} else {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("start worker: %w", err)
		}
		cmd = exec.Command(exe, "worker")
	}
	// A worker must not outlive its coordinator, whatever kills it.
	cmd.SysProcAttr = dieWithParent()
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("start worker: %w", err)
	}
	r, wr, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("start worker: %w", err)
	}
	cmd.Stdout = wr
	if err := cmd.Start(); err != nil {
		r.Close()
		wr.Close()
		return nil, fmt.Errorf("start worker: %w", err)
	}
	wr.Close() // the child holds its end
	w.link = &procLink{cmd: cmd, stdin: stdin}
	return r, nil
}

// read turns a worker's stream into events, ending with one end event.
func read(w *worker, r io.ReadCloser, events chan<- event) {
	defer r.Close()
	br := bufio.NewReaderSize(r, 256<<10)
	var err error
	for {
		var typ byte
		var payload []byte
		typ, payload, err = readFrame(br)
		if err != nil {
			break
		}
		switch typ {
		case frameInterval:
			iv := new(metrics.Interval)
			if err = iv.UnmarshalBinary(payload); err != nil {
				break
			}
			events <- event{w: w, iv: iv}
		case frameReport:
			rep := new(report.Report)
			if err = json.Unmarshal(payload, rep); err != nil {
				break
			}
			events <- event{w: w, rep: rep}
		case frameClock, frameHello, frameDrift:
			err = readRemote(w, typ, payload, events)
		default:
			err = fmt.Errorf("unknown frame %q", typ)
		}
		if err != nil {
			break
		}
	}
	if errors.Is(err, io.EOF) {
		err = nil
	}
	events <- event{w: w, end: true, err: err}
}

func waitExit(cmd *exec.Cmd) string {
	err := cmd.Wait()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return "exited with status 0"
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return "was killed by signal " + ws.Signal().String()
		}
		return fmt.Sprintf("exited with status %d", ee.ExitCode())
	}
	return err.Error()
}

// merger merges the workers' intervals live, slot by slot: the interval
// of every worker that starts in the same step of the common schedule.
type merger struct {
	step        time.Duration
	names       []string
	sinks       []engine.Sink
	logf        func(string, ...any)
	next        int // the next slot to emit
	total       *metrics.Set
	abortDetail string
}

func (m *merger) slot(iv *metrics.Interval) int {
	return int(math.Floor(float64(iv.Start+m.step/4) / float64(m.step)))
}

func (m *merger) add(_ int, _ *metrics.Interval, workers []*worker) error {
	return m.flushReady(workers)
}

// flushReady emits every slot that every live worker has delivered an
// interval past (or up to, if it has finished).
func (m *merger) flushReady(workers []*worker) error {
	for {
		ready, live := true, 0
		for _, w := range workers {
			if w.done {
				continue
			}
			live++
			if len(w.ivs) == 0 || m.slot(w.ivs[len(w.ivs)-1]) <= m.next {
				ready = false
				break
			}
		}
		if !ready || live == 0 {
			return nil // flushAll emits the rest when all are done
		}
		if err := m.emit(workers, m.next); err != nil {
			return err
		}
		m.next++
	}
}

// flushAll emits what is left once every worker has finished.
func (m *merger) flushAll(workers []*worker) error {
	last := -1
	for _, w := range workers {
		for _, iv := range w.ivs {
			last = max(last, m.slot(iv))
		}
	}
	var firstErr error
	for ; m.next <= last; m.next++ {
		if err := m.emit(workers, m.next); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}

// emit merges the intervals of slot k from every worker and hands the
// result to the sinks.
func (m *merger) emit(workers []*worker, k int) error {
	var merged *metrics.Interval
	for _, w := range workers {
		for _, iv := range w.ivs {
			if m.slot(iv) != k {
				continue
			}
			if merged == nil {
				merged = &metrics.Interval{Start: iv.Start, End: iv.End, Set: metrics.NewSetNames(nil)}
			}
			merged.Start, merged.End = min(merged.Start, iv.Start), max(merged.End, iv.End)
			if err := merged.Set.Merge(iv.Set); err != nil {
				return err
			}
			merged.Active += iv.Active
			merged.CPUPercent += iv.CPUPercent
		}
	}
	if merged == nil {
		return nil
	}
	if m.total == nil {
		m.total = metrics.NewSetNames(nil)
	}
	if err := m.total.Merge(merged.Set); err != nil {
		return err
	}
	var first error
	for _, s := range m.sinks {
		if err := s.Interval(merged, m.total); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// partialReport is the report of a worker that stopped without sending
// its own: what its intervals measured, and its share counted as failed
// (every connection it held is an error of cause worker_lost).
func partialReport(sc *scenario.Scenario, target string, w *worker, origin time.Time) *report.Report {
	rep := engine.NotStarted(sc, fmt.Errorf("worker %d %s", w.index+1, w.exit))
	rep.StartedAt = origin.UTC()
	rep.Target = target
	tl := &metrics.Timeline{Step: sc.Interval.D(), Intervals: w.ivs}
	sum, err := tl.Sum(nil, 0, tl.Len())
	if err != nil {
		return rep
	}
	if tl.Len() > 0 {
		last := tl.Intervals[tl.Len()-1]
		rep.DurationS = last.End.Seconds()
		sum.Counters.SessionsFailed += last.Active
		f, _ := metrics.LookupFamily("errors_by_cause")
		f.Add(&sum.Counters, "worker_lost", last.Active)
	}
	rep.Counters = sum.Counters
	rep.Counters.Normalize()
	for id, h := range sum.Hists {
		if h.TotalCount() == 0 {
			continue
		}
		if mt, err := report.NewMetric(h); err == nil {
			rep.Metrics[sum.Names()[id]] = mt
		}
	}
	rep.Rates = report.RatesOf(&rep.Counters, rep.DurationS)
	if s, err := report.SeriesOf(tl); err == nil {
		rep.Series = s
	}
	return rep
}

// workerResults lists each worker's share of the merged run.
func workerResults(workers []*worker) []report.WorkerResult {
	var out []report.WorkerResult
	for _, w := range workers {
		c := &w.rep.Counters
		r := report.WorkerResult{
			Index:            w.index + 1,
			SourceAddrs:      w.addrs,
			Exit:             w.exit,
			EndReason:        w.rep.EndReason,
			PeakConnections:  w.rep.Rates.PeakConnections,
			ConnectsOK:       c.ConnectsOK,
			MessagesSent:     c.MessagesSent,
			MessagesReceived: c.MessagesReceived,
			Errors:           c.Errors(),
			Unreliable:       w.rep.Generator.Unreliable,
			MaxRSSBytes:      w.rep.Generator.MaxRSSBytes,
		}
		w.link.describe(&r)
		out = append(out, r)
	}
	return out
}
