package reliability

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsbench/wsbench/engine"
	"github.com/wsbench/wsbench/gate"
	"github.com/wsbench/wsbench/internal/faultserver"
	"github.com/wsbench/wsbench/internal/launch"
	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/report"
	"github.com/wsbench/wsbench/scenario"
)

func TestMain(m *testing.M) {
	faultserver.ServeIfChild()
	// The cases are short runs that mostly wait (on schedules, timeouts,
	// a frozen server): run several at once unless told otherwise, so the
	// matrix costs seconds of wall time, not a minute, on two cores.
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		_ = flag.Set("test.parallel", "8")
	}
	os.Exit(m.Run())
}

// kind is a step kind that holds a connection, with the flow that
// exercises it: connect, then the steps.
type kind struct {
	name  string
	quiet bool // sends no data: the server pushes a "tick" every 50 ms for it
	steps func(l load) string
}

// load is how hard a case's flows push.
type load struct {
	rate  int    // echo_open and publish messages per second
	size  int    // echo_open message size
	pause string // the sleep between request, ping and closed-loop bursts
}

var normalLoad = load{rate: 20, size: 64, pause: "50ms"}

var kinds = []kind{
	{name: "echo_open", steps: func(l load) string { return fmt.Sprintf("echo: {rate: %d, size: %d}", l.rate, l.size) }},
	{name: "echo_closed", steps: func(l load) string {
		return fmt.Sprintf("loop: {steps: [{echo: {inflight: 1, count: 5, size: 64}}, {sleep: %s}]}", l.pause)
	}},
	{name: "request", steps: func(l load) string {
		return fmt.Sprintf(`loop: {steps: [{request: {text: "req"}}, {sleep: %s}]}`, l.pause)
	}},
	{name: "publish", steps: func(l load) string { return fmt.Sprintf("publish: {rate: %d, size: 64}", l.rate) }},
	{name: "listen", quiet: true, steps: func(load) string { return "listen: {}" }},
	{name: "expect", quiet: true, steps: func(load) string { return "loop: {steps: [{expect: {contains: tick}}]}" }},
	{name: "ping", quiet: true, steps: func(l load) string {
		return fmt.Sprintf("loop: {steps: [{ping: {}}, {sleep: %s}]}", l.pause)
	}},
	{name: "sleep", quiet: true, steps: func(load) string { return "sleep: 1h" }},
}

func kindNames() []string {
	var out []string
	for _, k := range kinds {
		out = append(out, k.name)
	}
	return out
}

func kindByName(name string) kind {
	for _, k := range kinds {
		if k.name == name {
			return k
		}
	}
	panic("no step kind " + name)
}

// The client settings every case runs with. Timeouts stay long unless a
// case is about them (it sets its own), so that a CI machine too busy to
// run a goroutine for a while does not turn into a spurious timeout.
var baseClient = map[string]string{
	"drain":           "2s",
	"connect_timeout": "5s",
	"reply_timeout":   "5s",
	"write_timeout":   "5s",
	"pong_timeout":    "5s",
	"max_lag":         "5s",
}

// The gate every case is judged by: what a CI user would write to say
// "the server works".
const gateYAML = `
thresholds:
  - errors == 0
  - replies_missing == 0
`

// drain is baseClient's drain; the run may take its duration plus the
// drain plus the engine's 3 s grace for close handshakes. (The drain only
// lasts while replies are outstanding: normally not at all.)
const (
	drain = 2 * time.Second
	grace = drain + 3*time.Second
)

// process is a fault server running as a child process, which a case can
// kill, restart and freeze while the run goes on.
type process struct {
	mu   sync.Mutex
	p    *launch.Process
	addr string
	open int64 // connections the server had open when the case struck
}

// strikeWhenConnected waits until the server holds n connections (every
// slot connected and its flow under way), records that number and runs
// strike. Striking on that event rather than at a fixed time keeps the
// case's counts exact on a machine too busy to keep a schedule.
func (p *process) strikeWhenConnected(ctx context.Context, n int64, strike func(pid int) error) error {
	client := &http.Client{Timeout: time.Second}
	defer client.CloseIdleConnections()
	for {
		st, err := fetchStats(ctx, client, p.addr)
		if err == nil && st["connections_open"] >= n && st["messages_out"] >= 2*n {
			p.mu.Lock()
			p.open = st["connections_open"]
			pid := p.p.Pid()
			p.mu.Unlock()
			return strike(pid)
		}
		if !sleepCtx(ctx, 20*time.Millisecond) {
			return fmt.Errorf("the server never held %d connections (last: %v, %v)", n, st, err)
		}
	}
}

func fetchStats(ctx context.Context, c *http.Client, addr string) (map[string]int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/stats", nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var st map[string]int64
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

func (p *process) current() *launch.Process {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.p
}

// fcase is one case of a fault table: a server behaviour met by one or
// more step kinds, and what wsbench must report for it.
type fcase struct {
	name   string
	server string   // what the server does, for the docs
	query  string   // the fault, as faultserver query parameters
	kinds  []string // the step kinds that meet it, one flow each (nil: all)
	// connectTimeout, when set, is the connect steps' own timeout
	connectTimeout string
	want           want
	run            *runSpec // the run the case is part of
}

// runSpec is one engine.Run: the flows of one case, or of a group of
// cases that every step kind must report alike and whose counts can be
// told apart (their flows are named CASE.KIND), so that the matrix costs
// fewer runs.
type runSpec struct {
	cases   []*fcase
	clients int // default: one per flow
	dur     time.Duration
	client  map[string]string // client settings over baseClient
	// interval, when set, is the scenario's interval (the engine ends a
	// run as failed after three intervals of nothing but failed connects)
	interval string
	load     load
	refused  bool // no server at all: the port is closed

	// proc, when set, runs the server as a child process and is called
	// once the run has started, to kill or freeze it.
	proc func(ctx context.Context, r *runSpec, p *process) error

	// extra YAML flows run beside the cases' own (hostile frames: a
	// healthy echo flow)
	extraFlows string
	flowWeight int

	once   sync.Once
	result *result

	retryOnce sync.Once
	retried   *result
}

// single makes a run of one case.
func single(c *fcase, r *runSpec) *fcase {
	r.cases = []*fcase{c}
	c.run = r
	return c
}

// group makes one run of several cases.
func group(r *runSpec, cases ...*fcase) []*fcase {
	r.cases = cases
	for _, c := range cases {
		c.run = r
	}
	return cases
}

// want is what wsbench must report for a case. The common checks (see
// verify) hold for every case; check adds the case's exact counts.
type want struct {
	exit   int      // the exit code `wsbench run` gives (engine.Run's outcome mapped like cmd/wsbench)
	end    string   // the report's end_reason
	causes []string // every error of the case's flows has one of these causes; none: no errors at all
	// eachKind: every step kind of the case counted at least one error.
	eachKind bool
	// where: the step that counts the errors, for the docs
	where string
	// reports: the rest of what the report shows, for the docs
	reports string
	check   func(r *result, c *fcase) error
}

// result is one run's outcome.
type result struct {
	spec *runSpec
	dur  time.Duration // the run's planned duration
	rep  *report.Report
	err  error
	exit int
	wall time.Duration
	srv  map[string]int64 // the server's counts over the run
	n    metrics.Counters
	open int64 // process cases: connections open when the case struck
}

func (r *result) stat(k string) int64 { return r.srv[k] }

// statPrefix sums the server's counts whose names start with prefix.
func (r *result) statPrefix(prefix string) int64 {
	var n int64
	for k, v := range r.srv {
		if strings.HasPrefix(k, prefix) {
			n += v
		}
	}
	return n
}

func (r *runSpec) duration() time.Duration {
	if r.dur == 0 {
		return 3 * time.Second
	}
	return r.dur
}

func (c *fcase) kindList() []string {
	if c.kinds == nil {
		return kindNames()
	}
	return c.kinds
}

// flow names the flow in which case c meets kind k.
func (c *fcase) flow(k string) string {
	if len(c.run.cases) == 1 {
		return k
	}
	return c.name + "." + k
}

// errors sums the errors counted under the case's flows.
func (c *fcase) errors(n metrics.Counters) int64 {
	var sum int64
	for _, k := range c.kindList() {
		sum += errorsOf(n, c.flow(k)+"/")
	}
	return sum
}

func (r *runSpec) flowCount() int {
	n := 0
	for _, c := range r.cases {
		n += len(c.kindList())
	}
	if r.extraFlows != "" {
		n++
	}
	return n
}

func (r *runSpec) clientCount() int {
	if r.clients > 0 {
		return r.clients
	}
	return r.flowCount()
}

// yaml builds the run's scenario against base (ws://host:port), lasting
// dur.
func (r *runSpec) yaml(base string, dur time.Duration) string {
	l := r.load
	if l.rate == 0 {
		l = normalLoad
	}
	settings := map[string]string{}
	for k, v := range baseClient {
		settings[k] = v
	}
	for k, v := range r.client {
		settings[k] = v
	}
	var client []string
	for k, v := range settings {
		client = append(client, k+": "+v)
	}
	sort.Strings(client)
	var b strings.Builder
	fmt.Fprintf(&b, "name: %s\ntarget: %s\nclient: {%s}\n", r.cases[0].name, base, strings.Join(client, ", "))
	if r.interval != "" {
		fmt.Fprintf(&b, "interval: %s\n", r.interval)
	}
	n := r.clientCount()
	fmt.Fprintf(&b, "phases:\n  - {duration: 0s, clients: %d}\n  - {duration: %s, clients: %d}\n", n, dur, n)
	b.WriteString("flows:\n")
	// The extra flow first: with equal weights, the first session of the
	// first slot is its.
	b.WriteString(r.extraFlows)
	hasPublish := false
	for _, c := range r.cases {
		for _, name := range c.kindList() {
			k := kindByName(name)
			path := "/echo"
			if name == "publish" {
				// A room per session: each publisher is its room's only
				// member, so lost deliveries equal the messages the
				// server dropped.
				path = "/broadcast?room={{session}}"
				hasPublish = true
			}
			q := c.query
			if k.quiet {
				q = strings.TrimPrefix(q+"&push=50ms", "&")
			}
			if q != "" {
				if strings.Contains(path, "?") {
					path += "&" + q
				} else {
					path += "?" + q
				}
			}
			w := r.flowWeight
			if w == 0 {
				w = 1
			}
			connect := fmt.Sprintf("{path: %q}", path)
			if c.connectTimeout != "" {
				connect = fmt.Sprintf("{path: %q, timeout: %s}", path, c.connectTimeout)
			}
			fmt.Fprintf(&b, "  - name: %s\n    weight: %d\n    backoff: {initial: 100ms, max: 400ms}\n    steps:\n      - connect: %s\n      - %s\n",
				c.flow(name), w, connect, k.steps(l))
		}
	}
	b.WriteString(gateYAML)
	if hasPublish {
		b.WriteString("  - loss == 0\n")
	}
	return b.String()
}

// exitCode maps a run's outcome to wsbench run's exit codes, as
// cmd/wsbench's runExitCode does (whose tests pin the mapping through the
// CLI), except that the generator's own health (exit 4) is left out: the
// matrix runs many scenarios in one process at once, and the process's CPU
// and GC are theirs together.
func exitCode(rep *report.Report, err error) int {
	var se *engine.StartError
	switch {
	case errors.As(err, &se):
		return 2
	case err != nil || rep.EndReason == report.EndFailed:
		return 1
	case rep.EndReason == report.EndInterrupted:
		return 5
	case rep.Passed != nil && !*rep.Passed:
		return 3
	}
	return 0
}

// get runs the run once, for whichever of its cases asks first.
func (r *runSpec) get() *result {
	r.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		r.result = r.exec(ctx, r.duration())
	})
	return r.result
}

// exec runs the scenario, lasting dur, to completion.
func (r *runSpec) exec(ctx context.Context, dur time.Duration) *result {
	res := &result{spec: r, dur: dur}
	var base string
	var srv *faultserver.Server
	var proc *process
	switch {
	case r.refused:
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			res.err = err
			return res
		}
		base = "ws://" + ln.Addr().String()
		ln.Close()
	case r.proc != nil:
		p, err := faultserver.StartProcess(ctx, "127.0.0.1:0")
		if err != nil {
			res.err = fmt.Errorf("start the fault server process: %w", err)
			return res
		}
		proc = &process{p: p, addr: p.Addr()}
		defer func() { _ = proc.current().Stop(sigterm, 5*time.Second) }()
		base = p.URL()
	default:
		s, err := faultserver.Start("127.0.0.1:0")
		if err != nil {
			res.err = err
			return res
		}
		srv = s
		defer s.Close()
		base = s.URL()
	}
	sc, err := scenario.Parse(r.cases[0].name+".yaml", []byte(r.yaml(base, dur)))
	if err != nil {
		res.err = fmt.Errorf("scenario:\n%w", err)
		return res
	}
	ts, err := sc.ParsedThresholds()
	if err != nil {
		res.err = err
		return res
	}
	procErr := make(chan error, 1)
	if proc != nil {
		go func() { procErr <- r.proc(ctx, r, proc) }()
	}
	start := time.Now()
	rep, err := engine.Run(ctx, sc, engine.Options{})
	res.wall = time.Since(start)
	if proc != nil {
		if perr := <-procErr; perr != nil {
			res.err = fmt.Errorf("during the run: %w", perr)
			return res
		}
		res.open = proc.open
	}
	res.rep, res.err = rep, err
	if rep != nil {
		rep.Thresholds = gate.Evaluate(ts, rep)
		passed := gate.AllPassed(rep.Thresholds)
		rep.Passed = &passed
		res.n = rep.Counters
	}
	res.exit = exitCode(rep, err)
	switch {
	case srv != nil:
		// Counts that settle after the client is done (a close frame the
		// client sent as it left) are in once the server's connections
		// have ended.
		// (A server that stopped reading never learns the client left.)
		deadline := time.Now().Add(5 * time.Second)
		for srv.Stat("connections_open") > srv.Stat("stop_reading") && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		res.srv = srv.Stats()
	case rep != nil && rep.Server != nil:
		res.srv = map[string]int64{}
		for k, v := range rep.Server.After {
			res.srv[k] = v - rep.Server.Before[k]
		}
	}
	return res
}

// runCases runs each case as a parallel subtest (none measures latency):
// the first case of a group to start runs the group's scenario, the others
// wait for it. Each subtest checks its own case.
//
// A run is fixed in time, so on a machine too busy to run it (its wall
// time more than twice what it should be) a fault may not have come round
// in time for every flow. When such a starved run fails its checks, the
// run is repeated once, twice as long, and that run's verdict stands:
// a wrong count fails both, a slow machine only the first.
func runCases(t *testing.T, cases []*fcase) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := c.run.get()
			if !verify(silent{}, c, r) && r.starved() {
				t.Logf("the machine was too busy for the run (%v of wall time for %v): running it again, twice as long", r.wall.Round(time.Millisecond), r.dur)
				r = c.run.again()
			}
			verify(t, c, r)
		})
	}
}

// starved reports whether the run took more than twice its duration plus
// drain: the machine did not give it the time it asked for.
func (r *result) starved() bool {
	return r.rep != nil && r.wall > 2*(r.dur+drain)
}

// again runs the run once more, twice as long, for whichever of its cases
// asks first.
func (r *runSpec) again() *result {
	r.retryOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		r.retried = r.exec(ctx, 2*r.duration())
	})
	return r.retried
}

// checker is what verify reports to: the subtest, or silent.
type checker interface {
	Helper()
	Logf(format string, args ...any)
	Errorf(format string, args ...any)
}

// silent says nothing: verify's result is all that is wanted.
type silent struct{}

func (silent) Helper()               {}
func (silent) Logf(string, ...any)   {}
func (silent) Errorf(string, ...any) {}

// verify checks what every case must show, then the case's own counts,
// and reports whether all held.
func verify(t checker, c *fcase, r *result) bool {
	t.Helper()
	ok := true
	fail := func(format string, args ...any) {
		t.Helper()
		ok = false
		t.Errorf(format, args...)
	}
	w, spec := c.want, r.spec
	if r.rep == nil {
		fail("no report: %v", r.err)
		return false
	}
	n := r.n
	t.Logf("exit %d end %s (%s) wall %v; sessions %d/%d/%d connects %d/%d; errors %v; this case's by step %v; closes %v %v; sent %d received %d missing %d dropped %d; server %v",
		r.exit, r.rep.EndReason, r.rep.EndDetail, r.wall.Round(time.Millisecond),
		n.SessionsStarted, n.SessionsCompleted, n.SessionsFailed, n.ConnectsOK, n.ConnectsFailed,
		n.ErrorsByCause, c.ownErrors(n), n.ClosesByCode, n.ClosesByInitiator,
		n.MessagesSent, n.MessagesReceived, n.RepliesMissing, n.SendsDropped, r.srv)
	if r.exit != w.exit || r.rep.EndReason != w.end {
		fail("exit %d, end %s (%v); want exit %d, end %s", r.exit, r.rep.EndReason, r.err, w.exit, w.end)
	}
	if !spec.refused {
		// The run ends on time: every session stopped within the drain
		// and the close handshakes' grace after its duration (the engine
		// says so when it had to cut one off), and the whole run within a
		// bound that is generous for a busy CI machine: a correctness
		// bound, not a speed test.
		if strings.Contains(r.rep.EndDetail, "did not stop in time") {
			fail("sessions outlived the grace: %s", r.rep.EndDetail)
		}
		if limit := r.dur + grace + 30*time.Second; r.wall > limit {
			fail("the run took %v, more than its duration, drain and grace (%v)", r.wall, limit)
		}
		// One error per failed session: nothing counted twice, no failed
		// session without its cause.
		if n.Errors() != n.SessionsFailed {
			fail("%d errors for %d failed sessions: each failed session counts one error", n.Errors(), n.SessionsFailed)
		}
		// Every flow runs until the end, so no session completes; only
		// the last session of each slot can have been stopped by the end.
		clients := int64(spec.clientCount())
		if n.SessionsCompleted != 0 || n.SessionsStarted-n.SessionsFailed > clients {
			fail("sessions started %d completed %d failed %d: want none completed, at most %d stopped",
				n.SessionsStarted, n.SessionsCompleted, n.SessionsFailed, clients)
		}
		// The case's flows: each error under one of its causes.
		for key, v := range n.ErrorsByStep {
			if !c.owns(key) {
				continue
			}
			if cause := key[strings.LastIndex(key, ": ")+2:]; !contains(w.causes, cause) {
				fail("%s: %d errors, want only %v", key, v, w.causes)
			}
		}
		if len(w.causes) > 0 && c.errors(n) == 0 {
			fail("no error counted, want %v", w.causes)
		}
		if w.eachKind {
			for _, k := range c.kindList() {
				if errorsOf(n, c.flow(k)+"/") == 0 {
					fail("step kind %s counted no error (the case's errors: %v)", k, c.ownErrors(n))
				}
			}
		}
	}
	if w.check != nil {
		if err := w.check(r, c); err != nil {
			fail("%v", err)
		}
	}
	return ok
}

// ownErrors returns the errors_by_step entries of the case's flows.
func (c *fcase) ownErrors(n metrics.Counters) map[string]int64 {
	out := map[string]int64{}
	for k, v := range n.ErrorsByStep {
		if c.owns(k) {
			out[k] = v
		}
	}
	return out
}

// owns reports whether an errors_by_step key belongs to the case's flows.
func (c *fcase) owns(key string) bool {
	for _, k := range c.kindList() {
		if strings.HasPrefix(key, c.flow(k)+"/") {
			return true
		}
	}
	return false
}

// errorsOf sums the errors counted under steps whose label starts with
// prefix ("flow/").
func errorsOf(n metrics.Counters, prefix string) int64 {
	var sum int64
	for k, v := range n.ErrorsByStep {
		if strings.HasPrefix(k, prefix) {
			sum += v
		}
	}
	return sum
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// exactTraffic: every message the client sent reached the server, and
// everything the server sent reached the client.
func exactTraffic(r *result, _ *fcase) error {
	if r.n.MessagesSent != r.stat("messages_in") || r.n.MessagesReceived != r.stat("messages_out") {
		return fmt.Errorf("client sent %d received %d; server received %d sent %d",
			r.n.MessagesSent, r.n.MessagesReceived, r.stat("messages_in"), r.stat("messages_out"))
	}
	return nil
}

// all combines checks.
func all(checks ...func(r *result, c *fcase) error) func(r *result, c *fcase) error {
	return func(r *result, c *fcase) error {
		var errs []error
		for _, check := range checks {
			if err := check(r, c); err != nil {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	}
}

func lost(rep *report.Report) int64 {
	var n int64
	for _, b := range rep.Broadcast {
		n += b.Lost
	}
	return n
}
