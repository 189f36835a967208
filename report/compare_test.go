package report

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/wsbench/wsbench/metrics"
)

// gateStart is when fixture runs start.
var gateStart = time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)

// gateRegistry returns the metric registry of the fixtures: the built-in
// metrics and a named step metric, "login".
func gateRegistry() *metrics.Registry {
	reg := metrics.NewRegistry()
	reg.Add("login")
	return reg
}

// gatePart is what one generator recorded: one Set per interval, plus
// what the engine tracks beside the sets.
type gatePart struct {
	host      string
	start     time.Time
	intervalS float64
	sets      []*metrics.Set
	active    []int64
	cpu       []float64
	broadcast []BroadcastResult
	gen       Generator
}

// gateFixture builds the report a run that recorded p would have written,
// the way the engine assembles one: per-interval sets appended to the
// series, totals merged from them, rates over the duration.
func gateFixture(tb testing.TB, p gatePart) *Report {
	tb.Helper()
	if p.intervalS == 0 {
		p.intervalS = 1
	}
	if p.start.IsZero() {
		p.start = gateStart
	}
	reg := gateRegistry()
	s := NewSeries(p.intervalS)
	total := metrics.NewSet(reg)
	var peak int64
	for i, set := range p.sets {
		if err := s.Append(float64(i+1)*p.intervalS, p.active[i], p.cpu[i], set); err != nil {
			tb.Fatal(err)
		}
		total.Merge(set)
		peak = max(peak, p.active[i])
	}
	r := &Report{
		Schema:      SchemaVersion,
		EndReason:   EndCompleted,
		StartedAt:   p.start,
		DurationS:   float64(len(p.sets)) * p.intervalS,
		Target:      "ws://127.0.0.1:8080/echo",
		Scenario:    json.RawMessage(`{"name":"chat-smoke"}`),
		Metrics:     map[string]*Metric{},
		Counters:    total.Counters,
		Broadcast:   p.broadcast,
		Series:      s,
		Generator:   p.gen,
		Environment: Environment{WsbenchVersion: "0.1.0-test", GoVersion: "go1.26", OS: "linux", Arch: "amd64", CPUs: 8, GOMAXPROCS: 8, Hostname: p.host},
	}
	r.Counters.Normalize()
	for id, h := range total.Hists {
		if h.TotalCount() == 0 {
			continue
		}
		m, err := NewMetric(h)
		if err != nil {
			tb.Fatal(err)
		}
		if id == int(metrics.ScheduleLag) {
			r.Generator.ScheduleLag = m
			continue
		}
		r.Metrics[reg.Names()[id]] = m
	}
	c, secs := &r.Counters, r.DurationS
	r.Rates = Rates{
		SessionsIntendedPerS: float64(c.SessionsIntended) / secs,
		SessionsAchievedPerS: float64(c.SessionsIntended-c.SessionsDropped) / secs,
		SendsIntendedPerS:    float64(c.SendsIntended) / secs,
		SendsAchievedPerS:    float64(c.MessagesSent) / secs,
		ReceivedPerS:         float64(c.MessagesReceived) / secs,
		ConnectsPerS:         float64(c.ConnectsOK) / secs,
		PeakConnections:      peak,
	}
	return r
}

// gateLoad generates a load of the given number of intervals and splits
// every sample, count and connection among parts generators. It returns
// the parts and the whole, as one generator would have recorded it.
func gateLoad(seed uint64, intervals, parts int) (split []gatePart, whole gatePart) {
	rng := rand.New(rand.NewPCG(seed, 7))
	reg := gateRegistry()
	login, _ := reg.Lookup("login")
	newPart := func(host string) gatePart {
		p := gatePart{host: host}
		for range intervals {
			p.sets = append(p.sets, metrics.NewSet(reg))
		}
		p.active = make([]int64, intervals)
		p.cpu = make([]float64, intervals)
		return p
	}
	whole = newPart("whole")
	for k := range parts {
		split = append(split, newPart(string(rune('a'+k))))
	}
	for i := range intervals {
		for n := range 600 {
			k := n % parts
			rtt := int64(2000 + rng.ExpFloat64()*3000 + float64(i)*50)
			for _, s := range []*metrics.Set{split[k].sets[i], whole.sets[i]} {
				s.Record(metrics.RTT, rtt)
				s.Counters.MessagesSent++
				s.Counters.MessagesReceived++
				s.Counters.BytesSent += 64
				s.Counters.BytesReceived += 64
			}
			if n%10 == 0 {
				c, lag := int64(500+rng.IntN(4000)), int64(rng.IntN(200))
				for _, s := range []*metrics.Set{split[k].sets[i], whole.sets[i]} {
					s.Record(metrics.Connect, c)
					s.Record(login, c*3)
					s.Record(metrics.ScheduleLag, lag)
					s.Counters.ConnectsAttempted++
					s.Counters.ConnectsOK++
				}
			}
			if n%97 == 0 {
				for _, s := range []*metrics.Set{split[k].sets[i], whole.sets[i]} {
					s.Counters.ErrorsByCause = map[string]int64{"timeout": s.Counters.ErrorsByCause["timeout"] + 1}
					s.Counters.ErrorsByStep = map[string]int64{"chat/login: timeout": s.Counters.ErrorsByStep["chat/login: timeout"] + 1}
					s.Counters.SendsDropped++
				}
			}
		}
		for k := range parts {
			a := int64(10*(i+1) + k)
			split[k].active[i] = a
			whole.active[i] += a
			split[k].cpu[i] = 20 + float64(k)
			whole.cpu[i] += 20 + float64(k)
		}
	}
	for k := range parts {
		split[k].broadcast = []BroadcastResult{{Room: "lobby", Rooms: 2, Published: 10, Expected: 100, Delivered: 98 - int64(k), Lost: 2 + int64(k)}}
		split[k].gen = Generator{CPUPercent: 20 + float64(k), CPUPeakPercent: 30, CPUCapacity: 800, UserCPUS: 1, GCPauses: 3, FDLimit: 1024, FDPeak: 40}
	}
	whole.broadcast = []BroadcastResult{{Room: "lobby", Rooms: 2}}
	for k := range parts {
		b := &whole.broadcast[0]
		b.Published += 10
		b.Expected += 100
		b.Delivered += 98 - int64(k)
		b.Lost += 2 + int64(k)
	}
	b := &whole.broadcast[0]
	b.Reach, b.Loss = float64(b.Delivered)/float64(b.Expected), float64(b.Lost)/float64(b.Expected)
	for k := range split {
		bk := &split[k].broadcast[0]
		bk.Reach, bk.Loss = float64(bk.Delivered)/float64(bk.Expected), float64(bk.Lost)/float64(bk.Expected)
	}
	return split, whole
}

// gateShifted builds a one-generator report whose rtt samples are n draws
// uniformly within ±20% of meanUS (deterministic for a seed).
func gateShifted(tb testing.TB, seed uint64, n int, meanUS float64) *Report {
	return gateSpread(tb, seed, n, meanUS, 0.2)
}

// gateSpread is gateShifted with samples within ±spread of meanUS.
func gateSpread(tb testing.TB, seed uint64, n int, meanUS, spread float64) *Report {
	rng := rand.New(rand.NewPCG(seed, 11))
	reg := gateRegistry()
	const intervals = 5
	p := gatePart{host: "gen", active: make([]int64, intervals), cpu: make([]float64, intervals)}
	for i := range intervals {
		s := metrics.NewSet(reg)
		for range n / intervals {
			s.Record(metrics.RTT, int64(meanUS*(1-spread+2*spread*rng.Float64())))
			s.Counters.MessagesSent++
			s.Counters.MessagesReceived++
		}
		s.Counters.ConnectsAttempted, s.Counters.ConnectsOK = 10, 10
		for range 10 {
			s.Record(metrics.Connect, int64(1000+rng.IntN(100)))
		}
		p.sets = append(p.sets, s)
		p.active[i] = 10
	}
	return gateFixture(tb, p)
}

func rowByKey(t *testing.T, c *Comparison, key string) CompareRow {
	t.Helper()
	for _, r := range c.Rows {
		if r.Key == key {
			return r
		}
	}
	t.Fatalf("no row %q in %v", key, c.Rows)
	return CompareRow{}
}

func TestCompareWithItselfIsUnchanged(t *testing.T) {
	_, whole := gateLoad(1, 10, 1)
	r := gateFixture(t, whole)
	c := Compare([]*Report{r}, []*Report{r}, CompareOptions{})
	if len(c.Rows) == 0 {
		t.Fatal("no rows")
	}
	keys := map[string]bool{}
	for _, row := range c.Rows {
		keys[row.Key] = true
		if row.Status != StatusUnchanged {
			t.Errorf("%s: status %q, want unchanged (base %v new %v)", row.Key, row.Status, row.Base, row.New)
		}
		if row.Delta != 0 || row.Relative != 0 {
			t.Errorf("%s: delta %v relative %v", row.Key, row.Delta, row.Relative)
		}
	}
	for _, k := range []string{"rtt.p50", "rtt.p90", "rtt.p99", "rtt.p99.9", "rtt.max", "rtt.mean", "connect.p99", "login.p99",
		"messages_received.rate", "errors.rate", "connects_failed.count", "dropped.count"} {
		if !keys[k] {
			t.Errorf("missing row %s", k)
		}
	}
	if len(c.Regressions()) != 0 {
		t.Errorf("regressions comparing a report with itself: %v", c.RegressedKeys())
	}
}

func TestCompareStatuses(t *testing.T) {
	base := gateShifted(t, 1, 20000, 10000)
	tests := []struct {
		name string
		cur  *Report
		opts CompareOptions
		key  string
		want string
	}{
		{"30% slower is a regression", gateShifted(t, 2, 20000, 13000), CompareOptions{}, "rtt.p50", StatusRegressed},
		{"30% faster is an improvement", gateShifted(t, 3, 20000, 7000), CompareOptions{}, "rtt.p50", StatusImproved},
		{"2% slower is within tolerance", gateShifted(t, 4, 20000, 10200), CompareOptions{}, "rtt.p50", StatusWithinNoise},
		{"per-metric tolerance", gateShifted(t, 5, 20000, 13000), CompareOptions{PerMetric: map[string]float64{"rtt.p50": 0.5}}, "rtt.p50", StatusWithinNoise},
		{"metric-wide tolerance", gateShifted(t, 6, 20000, 13000), CompareOptions{PerMetric: map[string]float64{"rtt": 0.5}}, "rtt.p90", StatusWithinNoise},
		// 2000 samples hold 2 above their p99.9, fewer than 5: it cannot be told apart.
		{"an unresolvable percentile is noise", gateShifted(t, 7, 2000, 13000), CompareOptions{}, "rtt.p99.9", StatusWithinNoise},
		{"throughput is higher-better", gateShifted(t, 8, 10000, 10000), CompareOptions{}, "messages_received.rate", StatusRegressed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Compare([]*Report{base}, []*Report{tt.cur}, tt.opts)
			row := rowByKey(t, c, tt.key)
			if row.Status != tt.want {
				t.Errorf("%s: %q, want %q (base %v [%v,%v], new %v [%v,%v], rel %.3f)", tt.key, row.Status, tt.want,
					row.Base, row.BaseLow, row.BaseHigh, row.New, row.NewLow, row.NewHigh, row.Relative)
			}
		})
	}
}

func TestCompareSmallSampleShiftIsNoiseButToleranceExceeded(t *testing.T) {
	// Both sides have 20 widely spread samples: a 15% shift of the median
	// exceeds the 10% tolerance, but the order-statistic intervals overlap.
	base := gateSpread(t, 21, 20, 10000, 0.9)
	cur := gateSpread(t, 22, 20, 11500, 0.9)
	row := rowByKey(t, Compare([]*Report{base}, []*Report{cur}, CompareOptions{}), "rtt.p50")
	if math.Abs(row.Relative) <= DefaultTolerance {
		// The fixture is seeded, so this is a broken fixture, not bad luck.
		t.Fatalf("fixture median moved only %.3f, not beyond the tolerance", row.Relative)
	}
	if row.Status != StatusWithinNoise {
		t.Errorf("status %q, want within noise: [%v,%v] vs [%v,%v]", row.Status, row.BaseLow, row.BaseHigh, row.NewLow, row.NewHigh)
	}
	if !(row.BaseLow <= row.Base && row.Base <= row.BaseHigh) {
		t.Errorf("base %v outside its interval [%v,%v]", row.Base, row.BaseLow, row.BaseHigh)
	}
}

func TestCompareMedianOfRuns(t *testing.T) {
	a, b, c := gateShifted(t, 31, 5000, 10000), gateShifted(t, 32, 5000, 20000), gateShifted(t, 33, 5000, 11000)
	cmp := Compare([]*Report{a, b, c}, []*Report{a}, CompareOptions{})
	row := rowByKey(t, cmp, "rtt.p50")
	if want := float64(c.Metrics["rtt"].P50US); row.Base != want {
		t.Errorf("base p50 %v, want the median run's %v", row.Base, want)
	}
	// The interval of a side with several runs spans all of them.
	if row.BaseHigh < float64(b.Metrics["rtt"].P50US) {
		t.Errorf("base interval [%v,%v] does not span the slowest run's p50 %d", row.BaseLow, row.BaseHigh, b.Metrics["rtt"].P50US)
	}
	even := Compare([]*Report{a, c}, []*Report{a}, CompareOptions{})
	if got, want := rowByKey(t, even, "rtt.p50").Base, float64(a.Metrics["rtt"].P50US+c.Metrics["rtt"].P50US)/2; got != want {
		t.Errorf("median of two: %v, want %v", got, want)
	}
}

func TestCompareMaxIsNotGatedUnlessNamed(t *testing.T) {
	base := gateShifted(t, 41, 20000, 10000)
	cur := gateShifted(t, 42, 20000, 20000)
	c := Compare([]*Report{base}, []*Report{cur}, CompareOptions{})
	if r := rowByKey(t, c, "rtt.max"); r.Regression() || r.Status != StatusRegressed {
		t.Errorf("max: status %q gated %v, want regressed, not gated", r.Status, r.Gated)
	}
	c = Compare([]*Report{base}, []*Report{cur}, CompareOptions{PerMetric: map[string]float64{"rtt.max": 0.2}})
	if r := rowByKey(t, c, "rtt.max"); !r.Regression() {
		t.Errorf("named max: status %q gated %v, want a gated regression", r.Status, r.Gated)
	}
}

func TestCompareErrorsFromZero(t *testing.T) {
	base := gateShifted(t, 51, 20000, 10000)
	cur := gateShifted(t, 51, 20000, 10000)
	cur.Counters.ErrorsByCause = map[string]int64{"timeout": 200}
	row := rowByKey(t, Compare([]*Report{base}, []*Report{cur}, CompareOptions{}), "errors.rate")
	if row.Status != StatusRegressed || !math.IsInf(row.Relative, 1) {
		t.Errorf("errors from 0 to 200: %q rel %v, want regressed +Inf", row.Status, row.Relative)
	}
	cur.Counters.ErrorsByCause = map[string]int64{"timeout": 1}
	row = rowByKey(t, Compare([]*Report{base}, []*Report{cur}, CompareOptions{}), "errors.rate")
	if row.Status != StatusWithinNoise {
		t.Errorf("errors from 0 to 1 in 20000: %q, want within noise", row.Status)
	}
}

func TestPercentileIntervalContainsEstimate(t *testing.T) {
	r := gateShifted(t, 61, 10000, 10000)
	h, err := r.Metrics["rtt"].Histogram()
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []float64{50, 90, 99, 99.9} {
		lo, hi := comparePercentileInterval(h, q)
		v := float64(h.ValueAtPercentile(q))
		if !(lo <= v && v <= hi) || lo == hi && q < 99.9 {
			t.Errorf("p%v = %v, interval [%v, %v]", q, v, lo, hi)
		}
	}
}

func TestCompareRenderings(t *testing.T) {
	base := gateShifted(t, 71, 20000, 10000)
	cur := gateShifted(t, 72, 20000, 13000)
	c := Compare([]*Report{base}, []*Report{cur}, CompareOptions{})
	var text, md, js bytes.Buffer
	if err := c.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if err := c.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	if err := c.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"rtt p99", "REGRESSED", "tolerance 10%"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, text.String())
		}
	}
	if !strings.Contains(md.String(), "| rtt p99 |") || !strings.Contains(md.String(), "**regressed**") {
		t.Errorf("markdown:\n%s", md.String())
	}
	var back struct {
		Rows []map[string]any `json:"rows"`
	}
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatalf("JSON does not parse: %v\n%s", err, js.String())
	}
	if len(back.Rows) != len(c.Rows) {
		t.Errorf("JSON has %d rows, want %d", len(back.Rows), len(c.Rows))
	}
}

func TestCompareJSONWritesNaNAsNull(t *testing.T) {
	base := gateShifted(t, 81, 1000, 10000)
	cur := gateShifted(t, 82, 1000, 10000)
	cur.Metrics["only_new"] = cur.Metrics["rtt"]
	c := Compare([]*Report{base}, []*Report{cur}, CompareOptions{})
	if r := rowByKey(t, c, "only_new.p99"); r.Status != StatusNA {
		t.Errorf("metric missing from base: %q, want n/a", r.Status)
	}
	var buf bytes.Buffer
	if err := c.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `"base": null`) {
		t.Errorf("NaN not written as null")
	}
}

func TestParseTolerance(t *testing.T) {
	tests := []struct {
		in   string
		want float64
		ok   bool
	}{
		{"10%", 0.10, true},
		{"0.1", 0.1, true},
		{" 2.5% ", 0.025, true},
		{"0", 0, true},
		{"10", 0, false},
		{"-5%", 0, false},
		{"ten", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseTolerance(tt.in)
		if (err == nil) != tt.ok || (tt.ok && math.Abs(got-tt.want) > 1e-12) {
			t.Errorf("ParseTolerance(%q) = %v, %v; want %v ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
	k, v, err := ParseMetricTolerance("rtt.p99=15%")
	if err != nil || k != "rtt.p99" || math.Abs(v-0.15) > 1e-12 {
		t.Errorf("ParseMetricTolerance: %q %v %v", k, v, err)
	}
	if _, _, err := ParseMetricTolerance("rtt.p99"); err == nil {
		t.Error("ParseMetricTolerance without = succeeded")
	}
}
