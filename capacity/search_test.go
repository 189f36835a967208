package capacity

import (
	"bytes"
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/wsbench/wsbench/engine"
	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/report"
)

const echoScenario = `
name: fake
target: builtin
clients: 10
duration: 2s
message: {size: 64, rate: 1}
`

func fakeConfig(variable string, start, step, maxLevel float64, slo ...string) Config {
	return Config{
		Variable: variable, Start: start, Step: step, Max: maxLevel,
		Warmup: time.Second, StepDuration: 2 * time.Second, SLO: slo,
	}
}

func newModel(variable string, latency func(float64) int64) *model {
	return &model{variable: variable, warmup: time.Second, hold: 2 * time.Second, latencyUS: latency}
}

func search(t *testing.T, cfg Config, m *model) *report.Capacity {
	t.Helper()
	sc := mustParse(t, echoScenario)
	c, reps, err := Search(context.Background(), sc, cfg, m.run)
	if err != nil {
		t.Fatal(err)
	}
	if len(reps) != len(c.Steps) {
		t.Fatalf("%d reports for %d steps", len(reps), len(c.Steps))
	}
	for i, st := range c.Steps {
		if reps[i].Passed == nil || *reps[i].Passed != st.Passed || len(reps[i].Thresholds) != len(cfg.SLO) {
			t.Errorf("step %d: report passed %v thresholds %d, step passed %v", i, reps[i].Passed, len(reps[i].Thresholds), st.Passed)
		}
	}
	return c
}

func loads(c *report.Capacity) []float64 {
	var out []float64
	for _, st := range c.Steps {
		out = append(out, st.Load)
	}
	return out
}

func eq(p *float64, want float64) bool { return p != nil && *p == want }

func TestSearchRampThenBisect(t *testing.T) {
	cfg := fakeConfig(MessageRate, 100, 100, 1000, "rtt p99 < 50ms")
	cfg.Refine = 3
	var seen []float64
	cfg.OnStep = func(st report.CapacityStep) { seen = append(seen, st.Load) }
	m := newModel(MessageRate, below(537, 5_000, 400_000))
	c := search(t, cfg, m)

	want := []float64{100, 200, 300, 400, 500, 600, 550, 525, 537.5}
	if got := loads(c); !slices.Equal(got, want) {
		t.Fatalf("steps %v, want %v", got, want)
	}
	if !slices.Equal(seen, want) {
		t.Errorf("OnStep saw %v", seen)
	}
	if !eq(c.MaxOK, 525) || !eq(c.FirstFail, 537.5) || c.LowerBound {
		t.Errorf("max_ok %v first_fail %v lower %v", fmtPtr(c.MaxOK), fmtPtr(c.FirstFail), c.LowerBound)
	}
	if !eq(c.Knee, 525) {
		t.Errorf("knee %v, want 525", fmtPtr(c.Knee))
	}
	for _, s := range []string{"highest load that met the SLO: 525 msgs/s", "first that broke it: 537.5 msgs/s", "rtt p99 < 50ms: was 400", "knee"} {
		if !strings.Contains(c.Verdict, s) {
			t.Errorf("verdict lacks %q: %s", s, c.Verdict)
		}
	}
	st := c.Steps[3] // 400 msgs/s
	// Judged on the hold only: the warmup's 10 s round trips are not in it.
	if !st.Passed || st.P99US > 5_100 || st.P50US < 4_900 || math.Abs(st.Achieved-400) > 0.1 || st.Throughput != st.Achieved || math.Abs(st.DurationS-2) > 0.001 {
		t.Errorf("step 400: %+v", st)
	}
	if m := st.Metrics["rtt"]; m == nil || m.HDR != "" || m.Count != 800 {
		t.Errorf("step 400 rtt summary %+v", m)
	}
	if f := c.Steps[5]; f.Passed || !slices.Equal(f.Failed, []string{"rtt p99 < 50ms"}) {
		t.Errorf("step 600: passed %v failed %v", f.Passed, f.Failed)
	}
}

func TestSearchClientsBisectToAdjacent(t *testing.T) {
	cfg := fakeConfig(Clients, 10, 10, 100, "errors == 0")
	cfg.Refine = 5
	m := newModel(Clients, func(float64) int64 { return 1000 })
	m.errors = func(level float64) int64 {
		if level > 33 {
			return 1
		}
		return 0
	}
	c := search(t, cfg, m)
	want := []float64{10, 20, 30, 40, 35, 32, 33, 34}
	if got := loads(c); !slices.Equal(got, want) {
		t.Fatalf("steps %v, want %v", got, want)
	}
	if !eq(c.MaxOK, 33) || !eq(c.FirstFail, 34) {
		t.Errorf("max_ok %v first_fail %v", fmtPtr(c.MaxOK), fmtPtr(c.FirstFail))
	}
	// One error in each of the hold's four intervals.
	if !strings.Contains(c.Verdict, "no level between 33 and 34") || !strings.Contains(c.Verdict, "errors == 0: was 4") {
		t.Errorf("verdict: %s", c.Verdict)
	}
	if c.Knee != nil {
		t.Errorf("flat latency has a knee at %v", *c.Knee)
	}
	if er := c.Steps[3].ErrorRate; math.Abs(er-4.0/(40+4)) > 1e-9 {
		t.Errorf("error rate %g, want 4 errors / (40 sent + 4 connects)", er)
	}
}

func TestSearchFirstStepFails(t *testing.T) {
	cfg := fakeConfig(MessageRate, 100, 100, 1000, "rtt p99 < 50ms")
	cfg.Refine = 2
	c := search(t, cfg, newModel(MessageRate, func(float64) int64 { return 90_000 }))
	if got := loads(c); !slices.Equal(got, []float64{100}) {
		t.Fatalf("steps %v", got)
	}
	if c.MaxOK != nil || !eq(c.FirstFail, 100) {
		t.Errorf("max_ok %v first_fail %v", fmtPtr(c.MaxOK), fmtPtr(c.FirstFail))
	}
	if !strings.Contains(c.Verdict, "first step, 100 msgs/s, already broke the SLO (rtt p99 < 50ms: was 90") {
		t.Errorf("verdict: %s", c.Verdict)
	}
}

func TestSearchNeverFails(t *testing.T) {
	cfg := fakeConfig(ArrivalRate, 10, 0, 100, "connect p99 < 50ms")
	cfg.Factor, cfg.Refine = 2, 2
	c := search(t, cfg, newModel(ArrivalRate, func(float64) int64 { return 2_000 }))
	if got := loads(c); !slices.Equal(got, []float64{10, 20, 40, 80, 100}) {
		t.Fatalf("steps %v", got)
	}
	if !eq(c.MaxOK, 100) || c.FirstFail != nil {
		t.Errorf("max_ok %v first_fail %v", fmtPtr(c.MaxOK), fmtPtr(c.FirstFail))
	}
	if !strings.Contains(c.Verdict, "every step up to 100 arrivals/s met the SLO") || !strings.Contains(c.Verdict, "raise max") {
		t.Errorf("verdict: %s", c.Verdict)
	}
	if a := c.Steps[2].Achieved; a != 40 {
		t.Errorf("arrivals achieved %g, want 40", a)
	}
}

func TestSearchGeneratorBottleneck(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(m *model)
	}{
		{"unreliable", func(m *model) { m.unreliable = func(l float64) bool { return l >= 300 } }},
		{"starved", func(m *model) {
			m.achieved = func(l float64) float64 { return min(l, 250) }
			m.cpu = func(l float64) float64 { return min(l/1.5, 190) }
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := fakeConfig(MessageRate, 100, 100, 1000, "rtt p99 < 50ms")
			cfg.Refine = 2
			m := newModel(MessageRate, func(float64) int64 { return 3_000 })
			tc.set(m)
			c := search(t, cfg, m)
			if got := loads(c); !slices.Equal(got, []float64{100, 200, 300}) {
				t.Fatalf("steps %v", got)
			}
			if !c.LowerBound || !eq(c.MaxOK, 200) || c.FirstFail != nil || !c.Steps[2].Unreliable {
				t.Errorf("lower %v max_ok %v first_fail %v", c.LowerBound, fmtPtr(c.MaxOK), fmtPtr(c.FirstFail))
			}
			if !strings.Contains(c.Verdict, "at least 200 msgs/s (a lower bound)") || !strings.Contains(c.Verdict, "bottleneck at 300") {
				t.Errorf("verdict: %s", c.Verdict)
			}
		})
	}
}

// A target that accepts fewer clients than asked, with an idle generator,
// is the target's limit, judged by the SLO, not a lower bound.
func TestSearchShortfallWithIdleGeneratorIsNotABottleneck(t *testing.T) {
	cfg := fakeConfig(Clients, 10, 10, 40, "rtt p99 < 50ms")
	m := newModel(Clients, func(float64) int64 { return 1_000 })
	m.achieved = func(l float64) float64 { return min(l, 25) }
	c := search(t, cfg, m)
	if c.LowerBound || !eq(c.MaxOK, 40) || c.Steps[3].Achieved != 25 || c.Steps[3].Unreliable {
		t.Errorf("lower %v max_ok %v steps %+v", c.LowerBound, fmtPtr(c.MaxOK), c.Steps)
	}
}

func TestSearchBottleneckAtFirstStep(t *testing.T) {
	cfg := fakeConfig(MessageRate, 100, 100, 1000, "rtt p99 < 50ms")
	m := newModel(MessageRate, func(float64) int64 { return 3_000 })
	m.unreliable = func(float64) bool { return true }
	c := search(t, cfg, m)
	if !c.LowerBound || c.MaxOK != nil || len(c.Steps) != 1 || !strings.Contains(c.Verdict, "nothing is known about the target") {
		t.Errorf("lower %v max_ok %v verdict %s", c.LowerBound, fmtPtr(c.MaxOK), c.Verdict)
	}
}

func TestSearchBottleneckDuringRefinementKeepsBracket(t *testing.T) {
	cfg := fakeConfig(MessageRate, 100, 100, 1000, "rtt p99 < 50ms")
	cfg.Refine = 3
	m := newModel(MessageRate, below(337, 5_000, 400_000))
	m.unreliable = func(l float64) bool { return l == 350 }
	c := search(t, cfg, m)
	if got := loads(c); !slices.Equal(got, []float64{100, 200, 300, 400, 350}) {
		t.Fatalf("steps %v", got)
	}
	if c.LowerBound || !eq(c.MaxOK, 300) || !eq(c.FirstFail, 400) || !strings.Contains(c.Verdict, "refinement ended early: the generator was the bottleneck at 350") {
		t.Errorf("lower %v max_ok %v first_fail %v verdict %s", c.LowerBound, fmtPtr(c.MaxOK), fmtPtr(c.FirstFail), c.Verdict)
	}
}

// The budget arithmetic, on a fake clock: steps cost warmup 1 s + hold
// 2 s + 1 s of estimated overhead = 4 s, and each actually takes 3.5 s.
// A 10 s budget starts step 1 at 0 s and step 2 at 3.5 s (7.5 s ≤ 10 s),
// but not step 3 at 7 s (11 s > 10 s).
func TestSearchStopsAtBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := fakeConfig(MessageRate, 100, 100, 1000, "rtt p99 < 50ms")
		cfg.Budget, cfg.Overhead = 10*time.Second, time.Second
		m := newModel(MessageRate, func(float64) int64 { return 3_000 })
		m.took = 3500 * time.Millisecond
		began := time.Now()
		c := search(t, cfg, m)
		if got := loads(c); !slices.Equal(got, []float64{100, 200}) {
			t.Fatalf("steps %v", got)
		}
		if took := time.Since(began); took != 7*time.Second {
			t.Errorf("search took %s", took)
		}
		if !eq(c.MaxOK, 200) || c.FirstFail != nil {
			t.Errorf("max_ok %v first_fail %v", fmtPtr(c.MaxOK), fmtPtr(c.FirstFail))
		}
		for _, s := range []string{"every step run, up to 200 msgs/s, met the SLO", "the 10s budget had no room for another step after 7s", "levels 300 … 1000 not tried"} {
			if !strings.Contains(c.Verdict, s) {
				t.Errorf("verdict lacks %q: %s", s, c.Verdict)
			}
		}
	})
}

// A step that overruns its estimate raises the estimate for the next ones.
func TestSearchLearnsOverhead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := fakeConfig(MessageRate, 100, 100, 1000, "rtt p99 < 50ms")
		// First estimate 4 s a step; the steps take 8 s. Steps start at 0
		// and 8 s (8 + 8 learned = 16 ≤ 20), not at 16 s.
		cfg.Budget, cfg.Overhead = 20*time.Second, time.Second
		m := newModel(MessageRate, func(float64) int64 { return 3_000 })
		m.took = 8 * time.Second
		c := search(t, cfg, m)
		if got := loads(c); !slices.Equal(got, []float64{100, 200}) {
			t.Fatalf("steps %v, want 2", got)
		}
	})
}

// A step far beyond its estimate is cut off one step's cost after the
// budget, so the search always ends.
func TestSearchHardStopsRunawayStep(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := fakeConfig(MessageRate, 100, 100, 1000, "rtt p99 < 50ms")
		cfg.Budget, cfg.Overhead = 10*time.Second, time.Second
		m := newModel(MessageRate, func(float64) int64 { return 3_000 })
		m.took = time.Hour
		began := time.Now()
		c, _, err := Search(context.Background(), mustParse(t, echoScenario), cfg, m.run)
		if err != nil {
			t.Fatal(err)
		}
		if took := time.Since(began); took != 14*time.Second {
			t.Errorf("search took %s, want budget + one step's cost", took)
		}
		if len(c.Steps) != 0 || !strings.Contains(c.Verdict, "budget") {
			t.Errorf("steps %v verdict %s", loads(c), c.Verdict)
		}
	})
}

func TestSearchInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	m := newModel(MessageRate, func(float64) int64 { return 3_000 })
	m.onRun = func(level float64) {
		if level == 300 {
			cancel()
		}
	}
	cfg := fakeConfig(MessageRate, 100, 100, 1000, "rtt p99 < 50ms")
	c, reps, err := Search(ctx, mustParse(t, echoScenario), cfg, m.run)
	if !errors.Is(err, ErrInterrupted) || !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v", err)
	}
	if got := loads(c); !slices.Equal(got, []float64{100, 200}) || len(reps) != 2 {
		t.Fatalf("steps %v, %d reports", got, len(reps))
	}
	if !strings.Contains(c.Verdict, "interrupted after 2 step(s)") {
		t.Errorf("verdict: %s", c.Verdict)
	}
	if r := Result(c, reps); r == nil || r.Capacity != c {
		t.Errorf("no result from an interrupted search")
	}
}

func TestSearchRunErrors(t *testing.T) {
	cfg := fakeConfig(MessageRate, 100, 100, 1000, "rtt p99 < 50ms")
	t.Run("first step cannot start", func(t *testing.T) {
		m := newModel(MessageRate, func(float64) int64 { return 3_000 })
		m.runErr = func(float64) (*report.Report, error) {
			return &report.Report{EndReason: report.EndFailed}, &engine.StartError{Err: errors.New("connection refused")}
		}
		c, reps, err := Search(context.Background(), mustParse(t, echoScenario), cfg, m.run)
		if err == nil || !strings.Contains(err.Error(), "connection refused") || c != nil || reps != nil {
			t.Errorf("err %v, capacity %v", err, c)
		}
	})
	t.Run("later step cannot start", func(t *testing.T) {
		m := newModel(MessageRate, func(float64) int64 { return 3_000 })
		m.runErr = func(l float64) (*report.Report, error) {
			if l < 300 {
				return nil, nil
			}
			return nil, errors.New("connection refused")
		}
		c := search(t, cfg, m)
		if got := loads(c); !slices.Equal(got, []float64{100, 200}) || !strings.Contains(c.Verdict, "could not start (message_rate 300: connection refused)") {
			t.Errorf("steps %v verdict %s", got, c.Verdict)
		}
	})
	t.Run("target dies during a step", func(t *testing.T) {
		m := newModel(MessageRate, func(float64) int64 { return 3_000 })
		m.runErr = func(l float64) (*report.Report, error) {
			if l < 300 {
				return nil, nil
			}
			rep := synth(time.Second, 2*time.Second, func(int, bool, *metrics.Set) (int64, float64) { return 0, 1 })
			rep.EndReason, rep.EndDetail = report.EndFailed, "target unreachable"
			return rep, &engine.FailedError{Err: errors.New("target unreachable")}
		}
		c := search(t, cfg, m)
		if !eq(c.FirstFail, 300) || !eq(c.MaxOK, 200) || !strings.Contains(c.Verdict, "run failed: target unreachable") {
			t.Errorf("max_ok %v first_fail %v verdict %s", fmtPtr(c.MaxOK), fmtPtr(c.FirstFail), c.Verdict)
		}
	})
}

func TestSearchRejectsBadInput(t *testing.T) {
	sc := mustParse(t, echoScenario)
	m := newModel(MessageRate, func(float64) int64 { return 3_000 })
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"bad SLO", fakeConfig(MessageRate, 100, 100, 200, "rtt p99 <"), `SLO "rtt p99 <"`},
		{"unknown metric", fakeConfig(MessageRate, 100, 100, 200, "rttt p99 < 5ms"), "unknown metric"},
		{"no SLO", fakeConfig(MessageRate, 100, 100, 200), "no SLO"},
		{"bad config", fakeConfig("users", 100, 100, 200, "rtt p99 < 5ms"), "variable"},
		{"budget below one step", func() Config {
			c := fakeConfig(MessageRate, 100, 100, 200, "rtt p99 < 5ms")
			c.Budget, c.Overhead = 3500*time.Millisecond, time.Second
			return c
		}(), "shorter than one step (about 4s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Search(context.Background(), sc, tc.cfg, m.run)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %v, want %q", err, tc.want)
			}
		})
	}
	if len(m.ran()) != 0 {
		t.Errorf("ran %v on bad input", m.ran())
	}
}

func TestResultAndTable(t *testing.T) {
	cfg := fakeConfig(MessageRate, 100, 100, 1000, "rtt p99 < 50ms")
	cfg.Refine = 1
	m := newModel(MessageRate, below(337, 5_000, 400_000))
	sc := mustParse(t, echoScenario)
	c, reps, err := Search(context.Background(), sc, cfg, m.run)
	if err != nil {
		t.Fatal(err)
	}
	r := Result(c, reps)
	if r == nil || r.Capacity != c || r.Passed == nil || !*r.Passed || r.Series != reps[2].Series {
		t.Fatalf("result is not the 300 step's report")
	}
	var b bytes.Buffer
	if err := WriteTable(&b, c, "rtt"); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	t.Log("\n" + out)
	for _, s := range []string{"msgs/s", "rtt p99", "pass", "FAIL", "rtt p99 < 50ms", c.Verdict} {
		if !strings.Contains(out, s) {
			t.Errorf("table lacks %q", s)
		}
	}
	if lines := strings.Count(out, "\n"); lines != 1+len(c.Steps)+2 {
		t.Errorf("%d lines", lines)
	}
}

func TestResultWithoutSteps(t *testing.T) {
	if r := Result(&report.Capacity{}, nil); r != nil {
		t.Errorf("result %v", r)
	}
}
