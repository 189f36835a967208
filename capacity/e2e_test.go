package capacity

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wsbench/wsbench/engine"
	"github.com/wsbench/wsbench/report"
	"github.com/wsbench/wsbench/scenario"
	"github.com/wsbench/wsbench/targets"
)

// These tests search the built-in reference server for limits it has by
// construction. They take real time (about 15 s each), so -short skips
// them.

// engineRun runs steps with engine.Run, as the capacity command does.
// engineRun starts sc's target (the built-in server) once for the whole
// search, as wsbench capacity does, and runs each step against it.
func engineRun(t *testing.T, sc *scenario.Scenario) RunFunc {
	target, err := targets.Start(context.Background(), sc, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = target.Stop() })
	return func(ctx context.Context, sc *scenario.Scenario) (*report.Report, error) {
		return target.Run(ctx, sc, engine.Options{})
	}
}

// loadAverage says how busy the machine was, for failures of these
// timing-based tests.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return fmt.Sprintf("%s on %d CPUs", strings.Join(strings.Fields(string(b))[:3], " "), runtime.NumCPU())
}

func mustParse(t *testing.T, y string) *scenario.Scenario {
	t.Helper()
	sc, err := scenario.Parse(t.Name()+".yaml", []byte(y))
	if err != nil {
		t.Fatalf("scenario:\n%v", err)
	}
	return sc
}

func logSteps(t *testing.T, c *report.Capacity) {
	t.Helper()
	for _, st := range c.Steps {
		t.Logf("load %6g achieved %7.1f recv/s %7.1f p50 %8s p99 %8s err %.4f passed %-5v unreliable %-5v %v",
			st.Load, st.Achieved, st.Throughput, report.FormatUS(st.P50US), report.FormatUS(st.P99US), st.ErrorRate, st.Passed, st.Unreliable, st.Failed)
	}
	t.Logf("verdict: %s", c.Verdict)
}

func fmtPtr(p *float64) any {
	if p == nil {
		return "null"
	}
	return *p
}

// BenchmarkCapacitySearchServiceTime searches the message rate of a
// server that serves every echo through one worker at 2 ms a message: its
// capacity is exactly 500 messages/s, and past it the queue (and so the
// round trip) grows without bound. Whether the search lands at 400-500
// depends on how fast the machine runs the server and the generator, so
// it is a benchmark (scripts/bench capacity), not a test; the search's
// logic is tested deterministically in search_test.go and end to end on
// a connection cap below.
//
//	go test -run '^$' -bench CapacitySearch -benchtime 1x ./capacity/
func BenchmarkCapacitySearchServiceTime(b *testing.B) {
	sc, err := scenario.Parse("serial-echo.yaml", []byte(`
name: serial-echo
target: builtin
builtin: {service_time: 2ms}
interval: 500ms
clients: 4
duration: 1s
message: {size: 64, rate: 10}
client: {drain: 300ms}
`))
	if err != nil {
		b.Fatal(err)
	}
	target, err := targets.Start(context.Background(), sc, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = target.Stop() }()
	run := func(ctx context.Context, sc *scenario.Scenario) (*report.Report, error) {
		return target.Run(ctx, sc, engine.Options{})
	}
	cfg := Config{
		Variable: MessageRate, Start: 100, Step: 100, Max: 1000,
		Warmup: time.Second, StepDuration: 2 * time.Second,
		Refine: 1, Budget: time.Minute,
		SLO: []string{"rtt p99 < 50ms"},
	}
	for b.Loop() {
		c, _, err := Search(context.Background(), sc, cfg, run)
		if err != nil {
			b.Fatal(err)
		}
		if c.MaxOK != nil {
			b.ReportMetric(*c.MaxOK, "max_ok_msgs/s")
		}
		if c.FirstFail != nil {
			b.ReportMetric(*c.FirstFail, "first_fail_msgs/s")
		}
		b.Logf("capacity 500 msgs/s by construction; %s (load average %s)", c.Verdict, loadAverage())
	}
}

// The server answers upgrades beyond 30 open connections with HTTP 503,
// so 40 clients see failed connects during the hold while 30 see none.
func TestSearchClientsFindsConnectionCap(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a real capacity search")
	}
	sc := mustParse(t, `
name: capped
target: builtin
builtin: {max_conns: 30}
interval: 500ms
clients: 1
duration: 1s
message: {size: 32, rate: 2}
client: {drain: 200ms}
`)
	cfg := Config{
		Variable: Clients, Start: 10, Step: 10, Max: 60,
		Warmup: 500 * time.Millisecond, StepDuration: 1500 * time.Millisecond,
		Budget: time.Minute,
		SLO:    []string{"connects_failed == 0"},
		Logf:   t.Logf,
	}
	began := time.Now()
	c, reps, err := Search(context.Background(), sc, cfg, engineRun(t, sc))
	if err != nil {
		t.Fatal(err)
	}
	logSteps(t, c)
	t.Logf("max_ok %v first_fail %v in %s", fmtPtr(c.MaxOK), fmtPtr(c.FirstFail), time.Since(began).Round(100*time.Millisecond))
	if c.MaxOK == nil || *c.MaxOK != 30 || c.FirstFail == nil || *c.FirstFail != 40 || c.LowerBound {
		t.Fatalf("max_ok %v first_fail %v lower bound %v, want 30, 40, false (load average %s)", fmtPtr(c.MaxOK), fmtPtr(c.FirstFail), c.LowerBound, loadAverage())
	}
	loads := make([]float64, len(c.Steps))
	for i, st := range c.Steps {
		loads[i] = st.Load
	}
	if !slices.Equal(loads, []float64{10, 20, 30, 40}) {
		t.Errorf("steps %v, want 10 20 30 40", loads)
	}
	if a := c.Steps[3].Achieved; a < 29 || a > 30 {
		t.Errorf("40 clients held %g connections, want 30", a)
	}
	if len(reps) != 4 {
		t.Errorf("%d reports", len(reps))
	}
}
