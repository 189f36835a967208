package report

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/wsbench/wsbench/metrics"
)

// Fixtures for the HTML report tests. Every value is fixed or comes from a
// seeded generator, so a fixture renders to the same bytes on every run.

// hostile is a string that would break out of an HTML text node, an
// attribute or a <script> element if the report did not escape it.
const hostile = `</script><script>alert("x")</script><b onmouseover='y'>&amp;`

var fixtureStart = time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)

// logNormalUS draws a latency in µs around median with the given spread.
func logNormalUS(rng *rand.Rand, median, sigma float64) int64 {
	return int64(math.Max(1, median*math.Exp(sigma*rng.NormFloat64())))
}

func fixtureEnvironment() Environment {
	return Environment{WsbenchVersion: "0.1.0-test", GoVersion: "go1.26.0", OS: "linux", Arch: "amd64", CPUs: 8, GOMAXPROCS: 8, Hostname: "bench-1"}
}

// htmlFixture is a one-minute run with everything a report can hold: five
// latency metrics with real histograms (rtt with its service view,
// rtt_service, which the stall pulls apart from rtt), a 60-interval
// series with a latency spike, thresholds (one passes, one fails),
// broadcast, close codes, errors by cause and step, phases, a capacity
// search, a gating baseline that found a regression, the generator's
// findings, two worker processes, and a target of two processes behind
// haproxy with Redis as the bus (per-process counters, rooms, the proxy's
// spread). It is built once per test binary and shared:
// callers must not modify it (copy the Report to change a field).
func htmlFixture(tb testing.TB) *Report {
	tb.Helper()
	r, err := sharedHTMLFixture()
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

var sharedHTMLFixture = sync.OnceValues(buildHTMLFixture)

// htmlBaselineFixture is the run htmlFixture is compared with: the same
// scenario a day earlier, faster and without the stall. Shared like
// htmlFixture.
func htmlBaselineFixture(tb testing.TB) *Report {
	tb.Helper()
	r, err := sharedHTMLBaselineFixture()
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

var sharedHTMLBaselineFixture = sync.OnceValues(func() (*Report, error) {
	return buildRunFixture(runFixture{seed: 5, rttMedianUS: 1700, stall: false, started: fixtureStart.Add(-24 * time.Hour)})
})

// plainHTMLFixture is htmlFixture as a plain run: no broadcast, capacity
// search or baseline.
func plainHTMLFixture(tb testing.TB) *Report {
	r := *htmlFixture(tb)
	r.Broadcast, r.Capacity, r.Baseline = nil, nil, nil
	return &r
}

// reportOnlyHTMLFixture is the plain run judged against the baseline
// without gating (--baseline without --fail-on-regression).
func reportOnlyHTMLFixture(tb testing.TB) *Report {
	r := plainHTMLFixture(tb)
	b := *htmlFixture(tb).Baseline
	b.ReportOnly = true
	r.Baseline = &b
	return r
}

// broadcastHTMLFixture is the plain run with its broadcast accounting.
func broadcastHTMLFixture(tb testing.TB) *Report {
	r := *htmlFixture(tb)
	r.Capacity, r.Baseline = nil, nil
	return &r
}

// bigHTMLFixture is shared like htmlFixture.
func bigHTMLFixture(tb testing.TB) *Report {
	tb.Helper()
	r, err := sharedBigHTMLFixture()
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

var sharedBigHTMLFixture = sync.OnceValues(buildBigHTMLFixture)

func buildHTMLFixture() (*Report, error) {
	return buildRunFixture(runFixture{seed: 1, rttMedianUS: 2000, stall: true, started: fixtureStart})
}

// runFixture varies the one-minute run of buildRunFixture.
type runFixture struct {
	seed        uint64
	rttMedianUS float64
	stall       bool // the target stalls for four seconds half way
	started     time.Time
}

// buildRunFixture builds the one-minute run of htmlFixture: 60 intervals
// of one second and the drain, 20 ms of late replies after the load
// stopped.
func buildRunFixture(f runFixture) (*Report, error) {
	rng := rand.New(rand.NewPCG(f.seed, f.seed+1))
	// The service view draws from a generator of its own, so the other
	// metrics' samples do not depend on it.
	late := rand.New(rand.NewPCG(f.seed+100, f.seed+101))
	reg := metrics.NewRegistry()
	login := reg.Add("chat/login")
	service := reg.Add("rtt" + metrics.ServiceSuffix)
	total := metrics.NewSet(reg)
	series := NewSeries(1)
	var peak int64
	for i := range 60 {
		iv := metrics.NewSet(reg)
		c := &iv.Counters
		rampUp := i < 10
		active := int64(200)
		switch {
		case rampUp:
			active = int64(20 * (i + 1))
		case i >= 57:
			active = int64(200 - 60*(i-56))
		}
		peak = max(peak, active)
		if rampUp {
			c.ConnectsAttempted, c.ConnectsOK = 21, 20
			c.ConnectsFailed = 1
			c.SessionsStarted = 20
			for range 20 {
				iv.Record(metrics.Connect, logNormalUS(rng, 900, 0.3))
				iv.Record(metrics.Handshake, logNormalUS(rng, 1500, 0.4))
				iv.Record(login, logNormalUS(rng, 4000, 0.5))
			}
			c.ErrorsByCause = map[string]int64{"connect: connection refused": 1}
			c.ErrorsByStep = map[string]int64{"chat/connect: connect: connection refused": 1}
		}
		if i >= 57 {
			c.Disconnects = 60
			c.SessionsCompleted = 60
			c.ClosesByCode = map[string]int64{"1000": 55, "1001": 5}
			c.ClosesByInitiator = map[string]int64{"client": 55, "server": 5}
		}
		if i == 31 {
			c.Disconnects = 3
			c.ClosesByCode = map[string]int64{"1006": 3}
			c.ClosesByInitiator = map[string]int64{"none": 3}
			c.ErrorsByCause = map[string]int64{"read: unexpected EOF": 3, hostile: 1}
			c.ErrorsByStep = map[string]int64{"chat/echo: read: unexpected EOF": 3, "chat/echo: " + hostile: 1}
			c.SessionsFailed = 3
		}
		msgs := 10 * active
		c.SendsIntended = msgs + 2
		c.SendsDropped = 2
		c.MessagesSent = msgs
		c.MessagesReceived = msgs + msgs/2
		c.BytesSent, c.WireBytesSent = 64*msgs, 70*msgs
		c.BytesReceived, c.WireBytesReceived = 64*(msgs+msgs/2), 68*(msgs+msgs/2)
		c.PingsSent, c.PongsReceived = active/10, active/10
		median := f.rttMedianUS
		if f.stall && i >= 30 && i < 34 {
			median = 15000 // the target stalls for a few seconds
		}
		stalled := f.stall && i >= 30 && i < 34
		for range msgs {
			rtt := logNormalUS(rng, median, 0.35)
			iv.Record(metrics.RTT, rtt)
			iv.Record(metrics.ScheduleLag, logNormalUS(rng, 60, 0.8))
			// rtt_service is timed from the actual write: the generator's
			// lateness less. In the stall, writes wait for the server
			// that stopped reading, so most of rtt is that wait.
			lateness := min(logNormalUS(late, 60, 0.8), rtt/2)
			if stalled {
				lateness = int64(float64(rtt) * (0.6 + 0.35*late.Float64()))
			}
			iv.Record(service, rtt-lateness)
		}
		for range msgs / 2 {
			iv.Record(metrics.BroadcastDelivery, logNormalUS(rng, 3000, 0.4))
		}
		for range active / 10 {
			iv.Record(metrics.Ping, logNormalUS(rng, 1200, 0.3))
		}
		cpu := 35 + 10*math.Sin(float64(i)/6) + 5*rng.Float64()
		if err := series.Append(float64(i+1), active, cpu, iv); err != nil {
			return nil, err
		}
		total.Merge(iv)
	}
	// The drain: 20 ms after the load stopped, late replies arrive and
	// the last connections close. Per second, its 150 replies would be a
	// rate of 7 500/s against the run's 2 000.
	{
		iv := metrics.NewSet(reg)
		c := &iv.Counters
		c.MessagesReceived = 150
		c.BytesReceived, c.WireBytesReceived = 64*150, 68*150
		c.Disconnects, c.SessionsCompleted = 20, 20
		c.ClosesByCode = map[string]int64{"1000": 20}
		c.ClosesByInitiator = map[string]int64{"client": 20}
		for range 150 {
			rtt := logNormalUS(rng, 3*f.rttMedianUS, 0.3)
			iv.Record(metrics.RTT, rtt)
			iv.Record(service, rtt-min(logNormalUS(late, 60, 0.8), rtt/2))
		}
		if err := series.Append(60.02, 0, 80, iv); err != nil {
			return nil, err
		}
		total.Merge(iv)
	}
	// An empty interval's histogram is "" in the series; keep that case
	// visible in the fixture by checking it is there.
	if series.Latency["connect"].HDR[59] != "" {
		return nil, errors.New("fixture: expected an empty interval for connect")
	}
	// Broadcast over time, by publish time: the lobby loses ten
	// deliveries in the stall, the alerts room sixty in a burst later.
	lobby := NewBroadcastIntervals(1, 61)
	alerts := NewBroadcastIntervals(1, 61)
	for i := range 60 {
		lobby.Expected[i] = 950
		alerts.Expected[i] = 100
	}
	lobby.Lost[30], lobby.Lost[31] = 4, 6
	alerts.Lost[45], alerts.Lost[46], alerts.Lost[47] = 10, 35, 15

	r := &Report{
		Schema:    SchemaVersion,
		EndReason: EndCompleted,
		StartedAt: f.started,
		DurationS: 60.02,
		Target:    "ws://127.0.0.1:8765/echo?room=lobby&x=<1>",
		Scenario:  json.RawMessage(`{"target":"ws://127.0.0.1:8765/echo","phases":[{"name":"ramp","duration":"10s","clients":200},{"name":"steady","duration":"50s","clients":200}],"note":"` + "</script>" + `"}`),
		Metrics:   map[string]*Metric{},
		Counters:  total.Counters,
		ErrorExamples: map[string]string{
			"connect: connection refused": "chat/connect#1: dial ws://127.0.0.1:8765/echo: connect: connection refused",
			"read: unexpected EOF":        "chat/echo#2: connection closed without a close frame (1006): unexpected EOF",
			hostile:                       "chat/echo#2: " + hostile,
		},
		Series: series,
		Phases: []PhaseResult{
			{Name: "ramp", StartS: 0, EndS: 10, Model: "closed", Target: 200, Achieved: 110},
			{Name: "steady", StartS: 10, EndS: 60, Model: "closed", Target: 200, Achieved: 196.5},
		},
		Broadcast: []BroadcastResult{
			{Room: "lobby-*", Rooms: 4, Published: 1500, Expected: 57000, Delivered: 56990, Lost: 10, Duplicates: 2, Reordered: 1, Unexpected: 0, Reach: 56990.0 / 57000, Loss: 10.0 / 57000, Intervals: lobby},
			{Room: "alerts", Rooms: 1, Published: 600, Expected: 6000, Delivered: 5940, Lost: 60, Unexpected: 3, Reach: 0.99, Loss: 0.01, Intervals: alerts},
		},
		Thresholds: []ThresholdResult{
			{Expr: "rtt p99 < 50ms", Metric: "rtt", Stat: "p99", Op: "<", Limit: 50000, Unit: "us", Passed: true},
			{Expr: "errors rate < 0.01%", Metric: "errors", Stat: "rate", Op: "<", Limit: 0.0001, Unit: "ratio", Passed: false, Detail: "over the whole run"},
			{Expr: "push_delay p99 < 10ms", Metric: "push_delay", Stat: "p99", Op: "<", Limit: 10000, Actual: math.NaN(), Unit: "us", Passed: true, Detail: "no samples"},
		},
		Passed: new(false),
		Generator: Generator{
			CPUPercent: 38.5, CPUPeakPercent: 49.9, CPUCapacity: 800, UserCPUS: 18.2, SysCPUS: 4.9,
			GCPauses: 42, GCPauseTotalMS: 3.1, GCPauseMaxUS: 310, MaxRSSBytes: 96 << 20, FDLimit: 1024, FDPeak: 212,
			Unreliable: true,
			Reasons:    []string{"sends left late (schedule lag p99 1.2ms) while the generator CPU peaked at 50%"},
			Notes: []string{
				"120 sends/sessions dropped (behind schedule or at max_sessions) while the generator CPU peaked at 50%",
				"GC paused the generator for 840 ms (1.4% of the run); any effect on sends is in the schedule lag",
			},
			Findings: []Finding{
				{Rule: "schedule_lag", Verdict: VerdictUnreliable, Value: 1200, Limit: 1000, Unit: "us",
					Detail: "sends left late (schedule lag p99 1.2ms) while the generator CPU peaked at 50%"},
				{Rule: "dropped", Verdict: VerdictNote, Value: 120, Unit: "count",
					Detail: "120 sends/sessions dropped (behind schedule or at max_sessions) while the generator CPU peaked at 50%"},
				{Rule: "gc", Verdict: VerdictNote, Value: 1.4, Limit: 1, Unit: "%",
					Detail: "GC paused the generator for 840 ms (1.4% of the run); any effect on sends is in the schedule lag"},
			},
			IncludesTarget: true,
		},
		Environment: fixtureEnvironment(),
		Capacity: &Capacity{
			Variable: "clients",
			SLO:      []string{"rtt p99 < 50ms", "errors rate < 0.1%"},
			Steps: []CapacityStep{
				{Load: 100, DurationS: 30, Achieved: 100, Throughput: 1000, P50US: 1900, P99US: 4200, Passed: true},
				{Load: 400, DurationS: 30, Achieved: 398, Throughput: 3980, P50US: 2600, P99US: 9800, Passed: true},
				{Load: 200, DurationS: 30, Achieved: 200, Throughput: 2000, P50US: 2100, P99US: 5100, Passed: true},
				{Load: 800, DurationS: 30, Achieved: 700, Throughput: 6500, P50US: 21000, P99US: 180000, ErrorRate: 0.004, Failed: []string{"rtt p99 < 50ms"}, Unreliable: true},
			},
			MaxOK:     new(400.0),
			FirstFail: new(800.0),
			Knee:      new(400.0),
			Verdict:   "the target holds 400 clients within the SLO; at 800 rtt p99 breaks",
		},
		Baseline: &Baseline{
			Path:      "baselines/main.json",
			StartedAt: fixtureStart.Add(-24 * time.Hour),
			Tolerance: "10%",
			Regressed: []string{"rtt.p99"},
			// New and its band are this run's, set below.
			Regressions: []CompareRow{{Key: "rtt.p99", Metric: "rtt", Stat: "p99", Unit: "us", LowerIsBetter: true,
				Base: 2900, BaseLow: 2800, BaseHigh: 3000, Tolerance: 0.1, Gated: true, Status: StatusRegressed}},
			Notes: []string{"the new run's generator was unreliable: its numbers may describe the generator rather than the target"},
		},
		Server: fixtureTopology(),
	}
	for id, h := range total.Hists {
		name := reg.Names()[id]
		m, err := NewMetric(h)
		if err != nil {
			return nil, err
		}
		if id == int(metrics.ScheduleLag) {
			r.Generator.ScheduleLag = m
			continue
		}
		if h.TotalCount() > 0 || id <= int(metrics.Handshake) {
			r.Metrics[name] = m
		}
	}
	r.Counters.Normalize()
	secs := r.DurationS
	c := &r.Counters
	r.Rates = Rates{
		SendsIntendedPerS: float64(c.SendsIntended) / secs,
		SendsAchievedPerS: float64(c.MessagesSent) / secs,
		ReceivedPerS:      float64(c.MessagesReceived) / secs,
		ConnectsPerS:      float64(c.ConnectsOK) / secs,
		PeakConnections:   peak,
	}
	r.Thresholds[0].Actual = float64(r.Metrics["rtt"].P99US)
	r.Thresholds[1].Actual = float64(c.Errors()) / float64(c.MessagesSent)
	reg0 := &r.Baseline.Regressions[0]
	reg0.New = float64(r.Metrics["rtt"].P99US)
	reg0.NewLow, reg0.NewHigh = 0.97*reg0.New, 1.03*reg0.New
	reg0.Delta = reg0.New - reg0.Base
	reg0.Relative = reg0.Delta / reg0.Base
	// Two worker processes shared the run; the second's generator was
	// the unreliable one.
	for i, addrs := range [][]string{{"127.0.0.2"}, {"127.0.0.3", "127.0.0.4"}} {
		half := func(n int64) int64 {
			if i == 0 {
				return n / 2
			}
			return n - n/2
		}
		r.Workers = append(r.Workers, WorkerResult{
			Index: i + 1, PID: 41001 + i, SourceAddrs: addrs, Exit: workerOK, EndReason: EndCompleted,
			PeakConnections: half(peak), ConnectsOK: half(c.ConnectsOK), MessagesSent: half(c.MessagesSent),
			MessagesReceived: half(c.MessagesReceived), Errors: half(c.Errors()), Unreliable: i == 1, MaxRSSBytes: int64(48+3*i) << 20,
		})
	}
	return r, nil
}

// fixtureTopology is a target of two Tornado processes behind haproxy,
// with Redis as their bus: what the target says it runs (one value is
// hostile: a target's /info is the target's to write), each process's
// counters and rooms, and the proxy's spread of the connections.
func fixtureTopology() *ServerObs {
	target := func(conns, in, out, rss int64) (before, after map[string]int64) {
		before = map[string]int64{"connections_total": 5, "connections_open": 0, "messages_in": 0, "messages_out": 0, "bytes_in": 0}
		after = map[string]int64{"connections_total": 5 + conns, "connections_open": 0, "messages_in": in, "messages_out": out, "bytes_in": 64 * in,
			"rss_bytes": rss, "peak_rss_bytes": rss + 3<<20}
		return before, after
	}
	rooms1 := map[string]map[string]int64{
		"lobby-1": {"members": 0, "members_peak": 50, "in": 375, "out": 14250},
		"lobby-2": {"members": 0, "members_peak": 48, "in": 375, "out": 14240},
		"alerts":  {"members": 0, "members_peak": 5, "in": 300, "out": 3000},
	}
	rooms2 := map[string]map[string]int64{
		"lobby-3": {"members": 0, "members_peak": 50, "in": 375, "out": 14250},
		"lobby-4": {"members": 0, "members_peak": 49, "in": 375, "out": 14250},
		"alerts":  {"members": 0, "members_peak": 5, "in": 300, "out": 2940},
		hostile:   {"members": 1, "members_peak": 1, "in": 0, "out": 0},
	}
	b1, a1 := target(101, 53760, 80640, 38<<20)
	b2, a2 := target(100, 53760, 80640, 37<<20)
	info := map[string]string{
		"framework": "tornado", "framework_version": "6.2", "python": "3.11.2", "pid": "4242",
		"loop":                  "asyncio.unix_events._UnixSelectorEventLoop",
		"bus":                   "redis 127.0.0.1:6390 (pub/sub)",
		"accel_requested":       hostile,
		"accel.websocket_mask":  "C (tornado.speedups.websocket_mask)",
		"accel.utf8_validation": "Python (built in)",
	}
	return &ServerObs{
		Before: map[string]int64{"connections_total": 10, "messages_in": 0},
		After:  map[string]int64{"connections_total": 211, "messages_in": 107520, "errors": 3, "processes": 2, "rss_bytes": 75 << 20},
		Info:   info,
		Processes: []ProcessObs{
			{Name: "redis", Role: "bus", PID: 4240, Addr: "127.0.0.1:6390",
				Before: map[string]int64{"total_commands_processed": 12, "connected_clients": 2, "used_memory": 1 << 20},
				After:  map[string]int64{"total_commands_processed": 4212, "connected_clients": 2, "used_memory": 1<<20 + 200<<10, "rss_bytes": 9 << 20, "peak_rss_bytes": 10 << 20}},
			{Name: "tornado-1", Role: "target", PID: 4242, Addr: "127.0.0.1:9001", Before: b1, After: a1, Info: info, Rooms: rooms1},
			{Name: "tornado-2", Role: "target", PID: 4243, Addr: "127.0.0.1:9002", Before: b2, After: a2, Rooms: rooms2},
			{Name: "haproxy", Role: "proxy", PID: 4244, Addr: "127.0.0.1:8765",
				Before: map[string]int64{"CumConns": 2, "CurrConns": 0},
				After:  map[string]int64{"CumConns": 203, "CurrConns": 0, "rss_bytes": 12 << 20, "peak_rss_bytes": 14 << 20}},
		},
		Proxy: &ProxyObs{Software: "haproxy 2.6.12-1+deb12u4", Balance: "roundrobin", Sessions: 201, Servers: []ProxyServerObs{
			{Name: "tornado-1", Addr: "127.0.0.1:9001", Sessions: 101, Share: 101.0 / 201, MaxConcurrent: 100, ConnectAvgMS: 0},
			{Name: "tornado-2", Addr: "127.0.0.1:9002", Sessions: 100, Share: 100.0 / 201, MaxConcurrent: 100, ConnectAvgMS: 1, Errors: 1},
		}},
	}
}

// buildBigHTMLFixture is a two-hour run at one-second intervals: 7200
// intervals, six latency metrics with a histogram per interval, as a long
// soak test writes it. The interval histograms are drawn from a small pool
// so the fixture builds quickly; their HDR strings are real.
func buildBigHTMLFixture() (*Report, error) {
	const n = 7200
	rng := rand.New(rand.NewPCG(3, 4))
	type poolEntry struct {
		h   *metrics.Histogram
		m   *Metric
		enc string
	}
	names := []string{"rtt", "connect", "handshake", "ping", "broadcast_delivery", "schedule_lag"}
	medians := []float64{2500, 800, 1500, 1100, 3200, 80}
	pools := make([][]poolEntry, len(names))
	for j, med := range medians {
		for k := range 24 {
			h := metrics.NewHistogram()
			scale := 1 + float64(k)/8
			for range 300 {
				metrics.RecordUS(h, logNormalUS(rng, med*scale, 0.4))
			}
			m, err := NewMetric(h)
			if err != nil {
				return nil, err
			}
			pools[j] = append(pools[j], poolEntry{h, m, m.HDR})
		}
	}
	s := NewSeries(1)
	uses := make([][]int64, len(names))
	for j := range uses {
		uses[j] = make([]int64, 24)
		s.Latency[names[j]] = &LatencySeries{}
	}
	var c metrics.Counters
	var peak int64
	walk := make([]int, len(names))
	s.DisconnectsBy = map[string][]int64{"1000": nil, "1006": nil}
	s.ErrorsBy = map[string][]int64{"read: unexpected EOF": nil, "write: broken pipe": nil}
	for i := range n {
		active := int64(5000 + 500*math.Sin(float64(i)/600) + 50*rng.Float64())
		peak = max(peak, active)
		sent := 10 * active
		errs := int64(0)
		if rng.IntN(100) == 0 {
			errs = int64(rng.IntN(5) + 1)
		}
		conn := int64(rng.IntN(20))
		s.T = append(s.T, float64(i+1))
		s.Active = append(s.Active, active)
		s.Connects = append(s.Connects, conn)
		s.ConnectFailures = append(s.ConnectFailures, errs/2)
		s.Disconnects = append(s.Disconnects, conn)
		s.Sent = append(s.Sent, sent)
		s.Received = append(s.Received, sent)
		s.BytesSent = append(s.BytesSent, 128*sent)
		s.BytesReceived = append(s.BytesReceived, 128*sent)
		s.Errors = append(s.Errors, errs)
		s.SendsDropped = append(s.SendsDropped, 0)
		s.SessionsDropped = append(s.SessionsDropped, 0)
		s.CPUPercent = append(s.CPUPercent, 120+30*rng.Float64())
		s.DisconnectsBy["1000"] = append(s.DisconnectsBy["1000"], conn-errs/2)
		s.DisconnectsBy["1006"] = append(s.DisconnectsBy["1006"], errs/2)
		s.ErrorsBy["read: unexpected EOF"] = append(s.ErrorsBy["read: unexpected EOF"], errs-errs/2)
		s.ErrorsBy["write: broken pipe"] = append(s.ErrorsBy["write: broken pipe"], errs/2)
		for j, name := range names {
			ls := s.Latency[name]
			if name == "connect" || name == "handshake" {
				if conn == 0 {
					ls.Count = append(ls.Count, 0)
					ls.P50, ls.P90, ls.P99, ls.Max = append(ls.P50, 0), append(ls.P90, 0), append(ls.P99, 0), append(ls.Max, 0)
					ls.HDR = append(ls.HDR, "")
					continue
				}
			}
			// Latency drifts slowly through the pool, as a real target's
			// does, with a rare bad second.
			k := walk[j] + rng.IntN(3) - 1
			k = max(0, min(20, k))
			walk[j] = k
			if rng.IntN(500) == 0 {
				k = 21 + rng.IntN(3)
			}
			if i > 3600 && i < 3630 {
				k = 23 // a slow half minute in the middle
			}
			e := pools[j][k]
			uses[j][k]++
			ls.Count = append(ls.Count, e.m.Count)
			ls.P50, ls.P90, ls.P99, ls.Max = append(ls.P50, e.m.P50US), append(ls.P90, e.m.P90US), append(ls.P99, e.m.P99US), append(ls.Max, e.m.MaxUS)
			ls.HDR = append(ls.HDR, e.enc)
		}
		c.ConnectsAttempted += conn + errs/2
		c.ConnectsOK += conn
		c.ConnectsFailed += errs / 2
		c.Disconnects += conn
		c.MessagesSent += sent
		c.MessagesReceived += sent
		c.BytesSent += 128 * sent
		c.BytesReceived += 128 * sent
	}
	c.ErrorsByCause = map[string]int64{"read: unexpected EOF": sum(s.ErrorsBy["read: unexpected EOF"]), "write: broken pipe": sum(s.ErrorsBy["write: broken pipe"])}
	c.ClosesByCode = map[string]int64{"1000": sum(s.DisconnectsBy["1000"]), "1006": sum(s.DisconnectsBy["1006"])}
	c.Normalize()
	r := &Report{
		Schema:      SchemaVersion,
		EndReason:   EndCompleted,
		StartedAt:   fixtureStart,
		DurationS:   n,
		Target:      "ws://127.0.0.1:8765/echo",
		Metrics:     map[string]*Metric{},
		Counters:    c,
		Series:      s,
		Rates:       Rates{SendsAchievedPerS: float64(c.MessagesSent) / n, ReceivedPerS: float64(c.MessagesReceived) / n, PeakConnections: peak},
		Environment: fixtureEnvironment(),
		Generator:   Generator{CPUPercent: 135, CPUPeakPercent: 150, CPUCapacity: 800},
	}
	for j, name := range names {
		// The run's histogram is the sum of its intervals': add each pool
		// histogram as often as the series used it.
		tot := metrics.NewHistogram()
		for k, times := range uses[j] {
			if times == 0 {
				continue
			}
			var err error
			pools[j][k].h.ForEachBucket(func(v, n int64) bool {
				err = tot.RecordValues(v, n*times)
				return err == nil
			})
			if err != nil {
				return nil, err
			}
		}
		m, err := NewMetric(tot)
		if err != nil {
			return nil, err
		}
		if name == "schedule_lag" {
			r.Generator.ScheduleLag = m
		} else {
			r.Metrics[name] = m
		}
	}
	return r, nil
}

// failedHTMLFixture is a run that never connected: the target refused
// every connection for three intervals and the run ended as failed.
func failedHTMLFixture() *Report {
	empty := func() *Metric {
		m, err := NewMetric(metrics.NewHistogram())
		if err != nil {
			panic(err)
		}
		return m
	}
	s := NewSeries(1)
	reg := metrics.NewRegistry()
	for i := range 3 {
		iv := metrics.NewSet(reg)
		iv.Counters.ConnectsAttempted, iv.Counters.ConnectsFailed = 50, 50
		iv.Counters.ErrorsByCause = map[string]int64{"connect: connection refused": 50}
		if err := s.Append(float64(i+1), 0, 2, iv); err != nil {
			panic(err)
		}
	}
	c := metrics.Counters{ConnectsAttempted: 150, ConnectsFailed: 150, ErrorsByCause: map[string]int64{"connect: connection refused": 150}}
	c.Normalize()
	return &Report{
		Schema:      SchemaVersion,
		EndReason:   EndFailed,
		EndDetail:   "target unreachable: every connection failed for 3 intervals (connect: connection refused)",
		StartedAt:   fixtureStart,
		DurationS:   3.01,
		Target:      "ws://127.0.0.1:1/echo",
		Metrics:     map[string]*Metric{"rtt": empty(), "connect": empty(), "handshake": empty()},
		Counters:    c,
		Series:      s,
		Thresholds:  []ThresholdResult{{Expr: "rtt p99 < 50ms", Metric: "rtt", Stat: "p99", Op: "<", Limit: 50000, Actual: math.NaN(), Unit: "us", Passed: false, Detail: "no samples"}},
		Passed:      new(false),
		Generator:   Generator{CPUCapacity: 200, ScheduleLag: empty()},
		Environment: fixtureEnvironment(),
	}
}

// emptyHTMLFixture has nothing but the required fields: no metrics, no
// series, no thresholds.
func emptyHTMLFixture() *Report {
	return &Report{Schema: SchemaVersion, EndReason: EndInterrupted}
}
