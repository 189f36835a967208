package report

import (
	"encoding/json"
	"time"

	"github.com/wsbench/wsbench/metrics"
)

// SchemaVersion identifies the layout of the JSON report. It changes only
// when a field changes meaning or disappears; additions keep it.
// report/schema.json describes it.
const SchemaVersion = "wsbench.report/v1"

// Version is the wsbench version, set at build time with
// -ldflags "-X github.com/wsbench/wsbench/report.Version=…".
var Version = "0.1.0-dev"

// End reasons.
const (
	EndCompleted   = "completed"   // the planned phases ran to their end
	EndInterrupted = "interrupted" // a signal or the caller stopped the run early
	EndFailed      = "failed"      // the run could not go on (target unreachable, generator error)
	EndAborted     = "aborted"     // a threshold with abort_on_fail broke
)

// Report is the result of one run, or of several merged.
type Report struct {
	Schema    string          `json:"schema"`
	EndReason string          `json:"end_reason"`
	EndDetail string          `json:"end_detail,omitempty"` // why the run ended, for people
	StartedAt time.Time       `json:"started_at"`
	DurationS float64         `json:"duration_s"`
	Target    string          `json:"target"`
	Scenario  json.RawMessage `json:"scenario"` // the scenario as run, after flags and defaults

	Metrics  map[string]*Metric `json:"metrics"` // rtt, connect, handshake, ping, push_delay, broadcast_*, and named steps
	Counters metrics.Counters   `json:"counters"`
	// ErrorExamples holds, for each cause in Counters.ErrorsByCause, the
	// message of its first error (with its step), masked like the rest.
	ErrorExamples map[string]string `json:"error_examples,omitempty"`
	Rates         Rates             `json:"rates"`

	Phases    []PhaseResult     `json:"phases,omitempty"`
	Broadcast []BroadcastResult `json:"broadcast,omitempty"` // one per room pattern
	// Ledger is the raw broadcast accounting, carried by the report of one
	// process of a multi-process run so that merging recomputes reach and
	// loss across processes (see MergeLedgers); absent otherwise.
	Ledger *Ledger `json:"broadcast_ledger,omitempty"`
	Series *Series `json:"series,omitempty"`

	Thresholds []ThresholdResult `json:"thresholds,omitempty"`
	Passed     *bool             `json:"passed,omitempty"` // all thresholds held; absent when there were none

	Generator   Generator   `json:"generator"`
	Environment Environment `json:"environment"`

	Capacity   *Capacity `json:"capacity,omitempty"`
	Baseline   *Baseline `json:"baseline,omitempty"`
	MergedFrom []string  `json:"merged_from,omitempty"`
	// Workers is each worker process's share of a run split over several
	// (wsbench run --workers).
	Workers []WorkerResult `json:"workers,omitempty"`
	Server  *ServerObs     `json:"server,omitempty"`
	TLS     *TLSInfo       `json:"tls,omitempty"` // how wss:// connections were secured
	// Shard says which share of a run this report is (wsbench run
	// --shard, or a worker's part of a coordinated run), so that merging
	// the shards can check they are one run's, each once, and all of them.
	Shard *Shard `json:"shard,omitempty"`
	// Clock says how well the clocks of a run's machines agreed, which
	// bounds the one-way latencies measured across them.
	Clock *Clock `json:"clock,omitempty"`
}

// Shard identifies one share of a run split over processes or machines:
// share Index (from 0) of Count, all started at StartAt.
type Shard struct {
	Index   int       `json:"index"`
	Count   int       `json:"count"`
	StartAt time.Time `json:"start_at"`
}

// Clock is the clock agreement of a run's processes. One-way latencies
// (broadcast_delivery, broadcast_complete) subtract a send time read on
// one machine from a receive time read on another, so they carry the
// two clocks' disagreement.
type Clock struct {
	// Method is "measured" (remote workers measured their offset to the
	// coordinator and ran on its clock), "same-host" (one clock) or
	// "unmeasured" (shards that each ran on their host's clock).
	Method string `json:"method"`
	// OffsetUS and BoundUS, in the report of one worker: its clock minus
	// the coordinator's as measured and corrected for, and how far the
	// correction may be off over the run (half the best probe's round
	// trip, widened by the drift seen at the end).
	OffsetUS float64 `json:"offset_us,omitempty"`
	BoundUS  float64 `json:"bound_us,omitempty"`
	// OneWayBoundUS, in a merged report: how far a one-way latency
	// between two of its processes may be off because of their clocks
	// (the two largest worker bounds added). Absent when unmeasured.
	OneWayBoundUS *float64 `json:"one_way_bound_us,omitempty"`
	// Note says what the bound does not cover, for people.
	Note string `json:"note,omitempty"`
}

// Clock methods.
const (
	ClockMeasured   = "measured"
	ClockSameHost   = "same-host"
	ClockUnmeasured = "unmeasured"
)

// Metric summarises one latency histogram, all values in microseconds. HDR
// is the full histogram (HdrHistogram V2 compressed, base64) and is the
// source of truth; the other fields are derived from it.
type Metric struct {
	Count  int64   `json:"count"`
	MinUS  int64   `json:"min_us"`
	MeanUS float64 `json:"mean_us"`
	StdUS  float64 `json:"stddev_us"`
	P50US  int64   `json:"p50_us"`
	P90US  int64   `json:"p90_us"`
	P95US  int64   `json:"p95_us"`
	P99US  int64   `json:"p99_us"`
	P999US int64   `json:"p999_us"`
	MaxUS  int64   `json:"max_us"`
	HDR    string  `json:"hdr"`
}

// Rates compares what the schedule asked for with what happened, per
// second of run time. An achieved rate below the intended one means the
// target or the generator could not keep up; the counters say which
// (sends_dropped, sessions_dropped, generator.unreliable).
type Rates struct {
	SessionsIntendedPerS float64 `json:"sessions_intended_per_s,omitempty"`
	SessionsAchievedPerS float64 `json:"sessions_achieved_per_s,omitempty"`
	SendsIntendedPerS    float64 `json:"sends_intended_per_s"`
	SendsAchievedPerS    float64 `json:"sends_achieved_per_s"`
	ReceivedPerS         float64 `json:"received_per_s"`
	ConnectsPerS         float64 `json:"connects_per_s"`
	PeakConnections      int64   `json:"peak_connections"`
}

// PhaseResult records when each phase of the load profile ran.
type PhaseResult struct {
	Name     string  `json:"name"`
	StartS   float64 `json:"start_s"`
	EndS     float64 `json:"end_s"`
	Model    string  `json:"model"`  // closed or open
	Target   float64 `json:"target"` // connections (closed) or arrivals/s (open) at the phase end
	Achieved float64 `json:"achieved"`
}

// BroadcastResult is the fan-out accounting of one room pattern: every
// published message against every subscriber that was a member for the
// whole of its delivery window.
type BroadcastResult struct {
	Room       string  `json:"room"`
	Rooms      int     `json:"rooms"`     // concrete rooms matched by the pattern
	Published  int64   `json:"published"` // messages publishers sent
	Expected   int64   `json:"expected"`  // deliveries expected (message × eligible member)
	Delivered  int64   `json:"delivered"` // expected deliveries that arrived (first copy)
	Lost       int64   `json:"lost"`      // Expected − Delivered
	Duplicates int64   `json:"duplicates"`
	Reordered  int64   `json:"reordered"`  // arrived after a later message of the same publisher
	Unexpected int64   `json:"unexpected"` // arrived at a member outside its eligible window (not counted in reach)
	Reach      float64 `json:"reach"`      // Delivered / Expected (1 when nothing was expected)
	Loss       float64 `json:"loss"`       // Lost / Expected
	// Intervals is Expected and Lost over the run, by publish time; absent
	// in reports written before it existed.
	Intervals *BroadcastIntervals `json:"intervals,omitempty"`
}

// BroadcastIntervals is one room pattern's delivery accounting over time.
// Expected[i] and Lost[i] count the expected and the lost deliveries
// (message × eligible member, exactly as BroadcastResult counts them) of
// the messages published in interval i: publish time, in seconds since
// the start of the run's series, in [i·IntervalS, (i+1)·IntervalS). A
// delivery belongs to when its message was published, not to when it
// arrived or was found missing, so a loss shows where the message was
// sent, and the columns sum to the result's Expected and Lost.
type BroadcastIntervals struct {
	IntervalS float64 `json:"interval_s"`
	Expected  []int64 `json:"expected"`
	Lost      []int64 `json:"lost"`
}

// Series is the run's time series, column-oriented (one slice per
// quantity, all the same length) because that is compact in JSON and what
// chart libraries consume. T[i] is the end of interval i in seconds since
// the start; every other slice holds that interval's value.
type Series struct {
	IntervalS       float64                   `json:"interval_s"`
	T               []float64                 `json:"t"`
	Active          []int64                   `json:"active"` // open connections at the end of the interval
	Connects        []int64                   `json:"connects"`
	ConnectFailures []int64                   `json:"connect_failures"`
	Disconnects     []int64                   `json:"disconnects"`
	Sent            []int64                   `json:"sent"`
	Received        []int64                   `json:"received"`
	BytesSent       []int64                   `json:"bytes_sent"`
	BytesReceived   []int64                   `json:"bytes_received"`
	Errors          []int64                   `json:"errors"`
	SendsDropped    []int64                   `json:"sends_dropped"`
	SessionsDropped []int64                   `json:"sessions_dropped"`
	CPUPercent      []float64                 `json:"cpu_percent"` // generator process CPU, 100 = one core
	Latency         map[string]*LatencySeries `json:"latency"`
	DisconnectsBy   map[string][]int64        `json:"disconnects_by,omitempty"` // by close code
	ErrorsBy        map[string][]int64        `json:"errors_by,omitempty"`      // by cause
	// Counters holds, by report name, every other counter that was not
	// zero throughout, so thresholds and windows can use any counter.
	Counters map[string][]int64 `json:"counters,omitempty"`
	// Keyed holds the other keyed counters (closes by initiator, errors by
	// step), by family and key.
	Keyed map[string]map[string][]int64 `json:"keyed,omitempty"`
}

// LatencySeries holds per-interval statistics of one latency metric, taken
// from that interval's own histogram (never averaged percentiles). HDR
// keeps each interval's histogram so merged reports recompute them exactly;
// an empty interval has "".
type LatencySeries struct {
	Count []int64  `json:"count"`
	P50   []int64  `json:"p50_us"`
	P90   []int64  `json:"p90_us"`
	P99   []int64  `json:"p99_us"`
	Max   []int64  `json:"max_us"`
	HDR   []string `json:"hdr"`
}

// ThresholdResult is the outcome of one threshold of the scenario.
type ThresholdResult struct {
	Expr        string  `json:"expr"` // as written, e.g. "rtt p99 < 50ms"
	Metric      string  `json:"metric"`
	Stat        string  `json:"stat"`
	Op          string  `json:"op"`
	Limit       float64 `json:"limit"`  // in the statistic's base unit (µs, ratio, count, per second)
	Actual      float64 `json:"actual"` // same unit; NaN is written as null
	Unit        string  `json:"unit"`
	Passed      bool    `json:"passed"`
	Window      string  `json:"window,omitempty"` // rolling window, when the threshold has one
	WorstWindow float64 `json:"worst_window_s,omitempty"`
	Aborted     bool    `json:"aborted,omitempty"` // this threshold stopped the run
	Detail      string  `json:"detail,omitempty"`
}

// Generator describes the load generator's own health during the run. When
// Unreliable is true the generator, not the target, may have limited the
// results; Reasons says why.
type Generator struct {
	CPUPercent     float64  `json:"cpu_percent"`          // mean process CPU, 100 = one core busy
	CPUPeakPercent float64  `json:"cpu_peak_percent"`     // busiest interval
	CPUCapacity    float64  `json:"cpu_capacity_percent"` // 100 × GOMAXPROCS
	UserCPUS       float64  `json:"user_cpu_s"`
	SysCPUS        float64  `json:"sys_cpu_s"`
	ScheduleLag    *Metric  `json:"schedule_lag"` // how late sends and arrivals left versus their schedule
	GCPauses       int64    `json:"gc_pauses"`
	GCPauseTotalMS float64  `json:"gc_pause_total_ms"`
	GCPauseMaxUS   int64    `json:"gc_pause_max_us"`
	MaxRSSBytes    int64    `json:"max_rss_bytes"`
	FDLimit        int64    `json:"fd_limit"`
	FDPeak         int64    `json:"fd_peak"`
	Unreliable     bool     `json:"unreliable"`
	Reasons        []string `json:"reasons,omitempty"` // the details of the findings that made it unreliable
	Notes          []string `json:"notes,omitempty"`   // the details of the other findings
	// Findings are the rules about the generator's health that fired:
	// which, what was measured against what limit, and whether it makes
	// the run's numbers unreliable.
	Findings []Finding `json:"findings,omitempty"`
	// IncludesTarget: the built-in target ran inside the generator's
	// process, so the CPU, memory and GC figures above are the two
	// together; threads are shared, so there is no honest way to split them.
	IncludesTarget bool `json:"includes_target,omitempty"`
}

// Finding is one rule about the generator's health that fired.
type Finding struct {
	Rule    string  `json:"rule"`    // cpu_saturated, schedule_lag, dropped, own_limits, descriptors, gc
	Verdict string  `json:"verdict"` // unreliable or note
	Value   float64 `json:"value"`   // what was measured, in Unit
	Limit   float64 `json:"limit,omitempty"`
	Unit    string  `json:"unit"`
	Detail  string  `json:"detail"` // for people
}

// Verdicts of a Finding.
const (
	VerdictUnreliable = "unreliable" // the generator may have distorted the results
	VerdictNote       = "note"       // worth knowing; the results stand
)

// Environment says where the report was made.
type Environment struct {
	WsbenchVersion string `json:"wsbench_version"`
	GoVersion      string `json:"go_version"`
	OS             string `json:"os"`
	Arch           string `json:"arch"`
	CPUs           int    `json:"cpus"`
	GOMAXPROCS     int    `json:"gomaxprocs"`
	Hostname       string `json:"hostname"`
	// Pacing is how scheduled sends were woken: "timerfd" (tens of
	// microseconds, with how many sends shared each wake-up) or
	// "go-timers" (up to a millisecond late in an idle process).
	Pacing string `json:"pacing,omitempty"`
}

// Capacity is the result of `wsbench capacity`.
type Capacity struct {
	Variable   string         `json:"variable"` // clients, arrival_rate or message_rate
	SLO        []string       `json:"slo"`
	Steps      []CapacityStep `json:"steps"`
	MaxOK      *float64       `json:"max_ok"`      // highest load that met every SLO (null: none did)
	FirstFail  *float64       `json:"first_fail"`  // lowest load that broke one (null: none did)
	Knee       *float64       `json:"knee"`        // load where latency starts to rise steeply
	LowerBound bool           `json:"lower_bound"` // the generator hit its limit first: MaxOK is a lower bound
	Verdict    string         `json:"verdict"`
}

// CapacityStep is one load level of a capacity search.
type CapacityStep struct {
	Load       float64            `json:"load"`
	DurationS  float64            `json:"duration_s"`
	Achieved   float64            `json:"achieved"` // achieved load in the same unit
	Throughput float64            `json:"throughput_per_s"`
	P50US      int64              `json:"p50_us"`
	P99US      int64              `json:"p99_us"`
	ErrorRate  float64            `json:"error_rate"`
	Passed     bool               `json:"passed"`
	Unreliable bool               `json:"unreliable"`
	Failed     []string           `json:"failed,omitempty"` // SLOs broken at this step
	Metrics    map[string]*Metric `json:"metrics,omitempty"`
}

// WorkerResult is one worker process's share of a run.
type WorkerResult struct {
	Index int `json:"index"` // 1-based, as in markers
	PID   int `json:"pid"`
	// Host and Addr: where a remote worker ran (its host name and the
	// address it connected from); absent for local workers.
	Host string `json:"host,omitempty"`
	Addr string `json:"addr,omitempty"`
	// ClockOffsetUS is a remote worker's clock minus the coordinator's,
	// as measured and corrected for; ClockBoundUS how far that may be
	// off over the run.
	ClockOffsetUS    float64  `json:"clock_offset_us,omitempty"`
	ClockBoundUS     float64  `json:"clock_bound_us,omitempty"`
	SourceAddrs      []string `json:"source_addrs,omitempty"`
	Exit             string   `json:"exit"` // how the process ended
	EndReason        string   `json:"end_reason"`
	PeakConnections  int64    `json:"peak_connections"`
	ConnectsOK       int64    `json:"connects_ok"`
	MessagesSent     int64    `json:"messages_sent"`
	MessagesReceived int64    `json:"messages_received"`
	Errors           int64    `json:"errors"`
	Unreliable       bool     `json:"unreliable,omitempty"`
	MaxRSSBytes      int64    `json:"max_rss_bytes"`
}

// Baseline records the report a run was judged against.
type Baseline struct {
	Path      string    `json:"path"`
	StartedAt time.Time `json:"started_at"`
	Tolerance string    `json:"tolerance"`
	Regressed []string  `json:"regressed,omitempty"` // keys of Regressions
	// ReportOnly: the comparison was shown but did not gate the run
	// (--baseline without --fail-on-regression). Absent in reports of
	// versions where every baseline gated.
	ReportOnly bool `json:"report_only,omitempty"`
	// Regressions are the regressed rows of the comparison with both
	// sides' values, the change and the 95% confidence intervals.
	Regressions []CompareRow `json:"regressions,omitempty"`
	// Notes are the comparison's notes: different scenarios, an
	// unreliable generator or an incomplete run on either side.
	Notes []string `json:"notes,omitempty"`
}

// ServerObs is what the target itself reported (GET /stats), when it
// offers that endpoint: a cross-check of the client's own counts. For a
// target of several processes (start_target with processes, bus or
// proxy) Before and After add up every target process's counters, and
// Processes and Proxy give the detail.
type ServerObs struct {
	Before map[string]int64 `json:"before,omitempty"`
	After  map[string]int64 `json:"after,omitempty"`
	// Info is what the target says it runs (GET /info, a flat object of
	// strings): framework and version, event loop, the C accelerations in
	// use, the message bus. Checked inside the target, not assumed.
	Info map[string]string `json:"info,omitempty"`
	// Processes lists every process wsbench started for a named target,
	// in start order: the bus (redis-server), the target processes, the
	// proxy.
	Processes []ProcessObs `json:"processes,omitempty"`
	// Proxy is the load balancer's view of the run, when there was one.
	Proxy *ProxyObs `json:"proxy,omitempty"`
}

// ProcessObs is one process of a target topology.
type ProcessObs struct {
	Name string `json:"name"` // e.g. tornado-1, redis, haproxy
	Role string `json:"role"` // target, bus or proxy
	PID  int    `json:"pid"`
	Addr string `json:"addr"`
	// Before and After are the process's own counters: /stats for a
	// target, INFO for Redis, "show info" for haproxy; After also has
	// rss_bytes and peak_rss_bytes.
	Before map[string]int64  `json:"before,omitempty"`
	After  map[string]int64  `json:"after,omitempty"`
	Info   map[string]string `json:"info,omitempty"`
	// Rooms are a target's per-room counters at the end (GET
	// /stats/rooms): members, members_peak, in (messages its clients
	// published), out (deliveries to its members).
	Rooms map[string]map[string]int64 `json:"rooms,omitempty"`
}

// ProxyObs is what the proxy in front of the target processes saw.
type ProxyObs struct {
	Software string `json:"software"` // e.g. haproxy 2.6.12-1+deb12u4
	Balance  string `json:"balance"`  // roundrobin or leastconn
	// Sessions is how many connections the proxy accepted during the run.
	Sessions int64 `json:"sessions"`
	// Servers has one entry per target process: how the proxy spread
	// the run's connections over them.
	Servers []ProxyServerObs `json:"servers"`
}

// ProxyServerObs is the proxy's view of one target process.
type ProxyServerObs struct {
	Name string `json:"name"` // the process's name in Processes
	Addr string `json:"addr"`
	// Sessions is how many connections the proxy sent to this server
	// during the run; Share is its fraction of all of them.
	Sessions int64   `json:"sessions"`
	Share    float64 `json:"share"`
	// MaxConcurrent is the most connections open to it at once (since the
	// proxy started).
	MaxConcurrent int64 `json:"max_concurrent"`
	// ConnectAvgMS is the proxy's mean time to connect to this server,
	// over its last 1024 connections (haproxy's ctime), in milliseconds.
	ConnectAvgMS int64 `json:"connect_avg_ms"`
	// Errors counts failed connects and responses (econ + eresp).
	Errors int64 `json:"errors"`
}

// RatesOf returns the per-second rates of counters c over durationS
// seconds; PeakConnections is left for the caller, which knows the peak.
// Every rate in a report (a run's, a merge's, a capacity window's) comes
// from here.
func RatesOf(c *metrics.Counters, durationS float64) Rates {
	if durationS <= 0 {
		return Rates{}
	}
	return Rates{
		SessionsIntendedPerS: float64(c.SessionsIntended) / durationS,
		SessionsAchievedPerS: float64(c.SessionsIntended-c.SessionsDropped) / durationS,
		SendsIntendedPerS:    float64(c.SendsIntended) / durationS,
		SendsAchievedPerS:    float64(c.MessagesSent) / durationS,
		ReceivedPerS:         float64(c.MessagesReceived) / durationS,
		ConnectsPerS:         float64(c.ConnectsOK) / durationS,
	}
}
