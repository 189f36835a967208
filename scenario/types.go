package scenario

import "github.com/wsbench/wsbench/targets/catalog"

// Scenario is one load test. The short form (clients, ramp_up, duration,
// message) expands to a single echo flow over two phases; the long form
// lists phases and flows.
type Scenario struct {
	Name        string       `yaml:"name" json:"name"`
	Description string       `yaml:"description,omitempty" json:"description,omitempty"`
	Target      string       `yaml:"target" json:"target"` // "builtin" or a ws:// / wss:// base URL
	Builtin     *Builtin     `yaml:"builtin,omitempty" json:"builtin,omitempty"`
	StartTarget *StartTarget `yaml:"start_target,omitempty" json:"start_target,omitempty"`
	Seed        uint64       `yaml:"seed,omitempty" json:"seed,omitempty"`
	Interval    Duration     `yaml:"interval,omitempty" json:"interval"`
	Client      Client       `yaml:"client,omitempty" json:"client"`

	// Short form.
	Clients  int      `yaml:"clients,omitempty" json:"clients,omitempty"`
	RampUp   Duration `yaml:"ramp_up,omitempty" json:"ramp_up,omitempty"`
	Duration Duration `yaml:"duration,omitempty" json:"duration,omitempty"`
	Message  *Message `yaml:"message,omitempty" json:"message,omitempty"`

	Phases     []Phase         `yaml:"phases,omitempty" json:"phases"`
	Flows      []Flow          `yaml:"flows,omitempty" json:"flows"`
	Thresholds []ThresholdSpec `yaml:"thresholds,omitempty" json:"thresholds,omitempty"`
	Capacity   *Capacity       `yaml:"capacity,omitempty" json:"capacity,omitempty"`

	// Data names data files whose rows feed templates: {{NAME.COLUMN}}.
	Data map[string]*DataSource `yaml:"data,omitempty" json:"data,omitempty"`

	// meta is what Parse learnt besides the values (positions, values
	// from the environment, data rows); see ShareLoaded.
	meta *meta
}

// Builtin configures the reference server started in-process for
// target: builtin.
type Builtin struct {
	PingInterval   Duration `yaml:"ping_interval,omitempty" json:"ping_interval,omitempty"`
	PingTimeout    Duration `yaml:"ping_timeout,omitempty" json:"ping_timeout,omitempty"`
	MaxMessageSize ByteSize `yaml:"max_message_size,omitempty" json:"max_message_size,omitempty"`
	ProcessDelay   Duration `yaml:"process_delay,omitempty" json:"process_delay,omitempty"`
	ServiceTime    Duration `yaml:"service_time,omitempty" json:"service_time,omitempty"`
	MaxConns       int      `yaml:"max_conns,omitempty" json:"max_conns,omitempty"`
	DropEvery      int      `yaml:"drop_every,omitempty" json:"drop_every,omitempty"`
}

// StartTarget starts the target as a child process before the run and
// stops it afterwards: a known target by Name (go, tornado, twisted,
// websockets, aiohttp) or any Command that follows the contract's start-up
// protocol. {{addr}} in the command is replaced by Addr; a target given
// 127.0.0.1:0 announces its port with a line "LISTENING host:port".
//
// A named target may be scaled out (docs/scenarios.md, "Topologies"):
// Processes copies behind a Proxy, with broadcast rooms local to each
// process or bridged through a Bus, on another event Loop, with its C
// accelerations off (Accel).
type StartTarget struct {
	Name    string   `yaml:"name,omitempty" json:"name,omitempty"`
	Command []string `yaml:"command,omitempty" json:"command,omitempty"`
	Args    []string `yaml:"args,omitempty" json:"args,omitempty"` // extra flags for a named target, e.g. [--reactor, poll]
	Wrap    []string `yaml:"wrap,omitempty" json:"wrap,omitempty"` // command prefix, e.g. [taskset, -c, "0"]
	Addr    string   `yaml:"addr,omitempty" json:"addr,omitempty"` // default 127.0.0.1:0
	// PingInterval: left out, the target's default; 0 turns its pings off.
	PingInterval   *Duration `yaml:"ping_interval,omitempty" json:"ping_interval,omitempty"`
	PingTimeout    Duration  `yaml:"ping_timeout,omitempty" json:"ping_timeout,omitempty"`
	MaxMessageSize ByteSize  `yaml:"max_message_size,omitempty" json:"max_message_size,omitempty"`
	StopSignal     string    `yaml:"stop_signal,omitempty" json:"stop_signal,omitempty"` // TERM (default) or INT
	ReadyTimeout   Duration  `yaml:"ready_timeout,omitempty" json:"ready_timeout,omitempty"`
	Log            string    `yaml:"log,omitempty" json:"log,omitempty"` // file for the target's output

	Processes int    `yaml:"processes,omitempty" json:"processes,omitempty"` // target processes (default 1); more need a proxy
	Bus       string `yaml:"bus,omitempty" json:"bus,omitempty"`             // redis (start one) or redis://HOST:PORT; default: rooms local to each process
	Proxy     string `yaml:"proxy,omitempty" json:"proxy,omitempty"`         // haproxy in front of the processes
	Balance   string `yaml:"balance,omitempty" json:"balance,omitempty"`     // the proxy's algorithm: roundrobin (default) or leastconn
	Loop      string `yaml:"loop,omitempty" json:"loop,omitempty"`           // Python targets: asyncio (default) or uvloop
	Accel     string `yaml:"accel,omitempty" json:"accel,omitempty"`         // Python targets: auto (default: their C speedups) or off
}

// Topology reports whether st asks for more than one plain process:
// several processes, a bus, a proxy, or a loop or acceleration setting.
func (st *StartTarget) Topology() bool {
	return st.Processes > 1 || st.Bus != "" || st.Proxy != "" || st.Balance != "" || st.Loop != "" || st.Accel != ""
}

// ScaleOut returns st's scale-out options as the catalog checks them and
// the launcher starts them.
func (st *StartTarget) ScaleOut() catalog.Topology {
	return catalog.Topology{Name: st.Name, Processes: st.Processes, Bus: st.Bus,
		Proxy: st.Proxy, Balance: st.Balance, Loop: st.Loop, Accel: st.Accel}
}

// Client holds connection settings every session uses.
type Client struct {
	ConnectTimeout Duration          `yaml:"connect_timeout,omitempty" json:"connect_timeout"`
	MaxMessageSize ByteSize          `yaml:"max_message_size,omitempty" json:"max_message_size"`
	PingInterval   Duration          `yaml:"ping_interval,omitempty" json:"ping_interval,omitempty"` // client heartbeats; 0 off
	PongTimeout    Duration          `yaml:"pong_timeout,omitempty" json:"pong_timeout,omitempty"`
	Compression    bool              `yaml:"compression,omitempty" json:"compression,omitempty"`
	Headers        map[string]string `yaml:"headers,omitempty" json:"headers,omitempty"`
	MaxLag         Duration          `yaml:"max_lag,omitempty" json:"max_lag"`             // a send later than this behind schedule is dropped
	Drain          Duration          `yaml:"drain,omitempty" json:"drain"`                 // wait for in-flight replies when a session ends
	ReplyTimeout   Duration          `yaml:"reply_timeout,omitempty" json:"reply_timeout"` // default timeout of expect and request
	WriteTimeout   Duration          `yaml:"write_timeout,omitempty" json:"write_timeout"` // a write that cannot complete this long fails the connection
	MaxSessions    int               `yaml:"max_sessions,omitempty" json:"max_sessions"`   // open model: concurrent sessions at most
	SourceAddrs    []string          `yaml:"source_addrs,omitempty" json:"source_addrs,omitempty"`
	TLS            *TLS              `yaml:"tls,omitempty" json:"tls,omitempty"` // wss:// settings
}

// Message is the short form's echo traffic.
type Message struct {
	Size     int     `yaml:"size,omitempty" json:"size"`
	Rate     float64 `yaml:"rate,omitempty" json:"rate"` // per client per second; 0 = closed loop
	Inflight int     `yaml:"inflight,omitempty" json:"inflight,omitempty"`
	Binary   bool    `yaml:"binary,omitempty" json:"binary,omitempty"`
}

// Phase is one stage of the load profile. Exactly one of Clients (closed
// model: concurrent sessions, ramped linearly from the previous closed
// phase's level) and ArrivalRate (open model: new sessions per second,
// ramped linearly from the previous open phase's rate) is set.
type Phase struct {
	Name        string   `yaml:"name,omitempty" json:"name"`
	Duration    Duration `yaml:"duration" json:"duration"`
	Clients     *int     `yaml:"clients,omitempty" json:"clients,omitempty"`
	ArrivalRate *float64 `yaml:"arrival_rate,omitempty" json:"arrival_rate,omitempty"`
}

// Flow is the script one session runs.
type Flow struct {
	Name    string            `yaml:"name" json:"name"`
	Weight  int               `yaml:"weight,omitempty" json:"weight"`
	Vars    map[string]string `yaml:"vars,omitempty" json:"vars,omitempty"`
	OnError string            `yaml:"on_error,omitempty" json:"on_error"` // end (default) or reconnect
	Backoff Backoff           `yaml:"backoff,omitempty" json:"backoff"`
	Steps   []Step            `yaml:"steps" json:"steps"`
}

// Backoff spaces reconnect attempts: Initial, then ×Factor up to Max,
// each with up to Jitter of random extra; at most MaxAttempts in a row.
type Backoff struct {
	Initial     Duration `yaml:"initial,omitempty" json:"initial"`
	Max         Duration `yaml:"max,omitempty" json:"max"`
	Factor      float64  `yaml:"factor,omitempty" json:"factor"`
	Jitter      float64  `yaml:"jitter,omitempty" json:"jitter"`
	MaxAttempts int      `yaml:"max_attempts,omitempty" json:"max_attempts"`
}

// Step is one action of a flow: exactly one of the action fields is set.
// Name labels the step in errors_by_step and, for steps that measure, names
// the latency metric.
type Step struct {
	Name      string         `yaml:"name,omitempty" json:"name,omitempty"`
	Connect   *Connect       `yaml:"connect,omitempty" json:"connect,omitempty"`
	Send      *Send          `yaml:"send,omitempty" json:"send,omitempty"`
	Echo      *Echo          `yaml:"echo,omitempty" json:"echo,omitempty"`
	Expect    *Expect        `yaml:"expect,omitempty" json:"expect,omitempty"`
	Request   *Request       `yaml:"request,omitempty" json:"request,omitempty"`
	Sleep     *Duration      `yaml:"sleep,omitempty" json:"sleep,omitempty"`
	Think     *Think         `yaml:"think,omitempty" json:"think,omitempty"`
	Loop      *Loop          `yaml:"loop,omitempty" json:"loop,omitempty"`
	Ping      *PingStep      `yaml:"ping,omitempty" json:"ping,omitempty"`
	Close     *CloseStep     `yaml:"close,omitempty" json:"close,omitempty"`
	Reconnect *ReconnectStep `yaml:"reconnect,omitempty" json:"reconnect,omitempty"`
	Publish   *Publish       `yaml:"publish,omitempty" json:"publish,omitempty"`
	Listen    *Listen        `yaml:"listen,omitempty" json:"listen,omitempty"`
}

// Connect opens the session's connection. Path is joined to the target;
// URL replaces it. Both are templates.
type Connect struct {
	Path         string            `yaml:"path,omitempty" json:"path,omitempty"`
	URL          string            `yaml:"url,omitempty" json:"url,omitempty"`
	Headers      map[string]string `yaml:"headers,omitempty" json:"headers,omitempty"`
	Subprotocols []string          `yaml:"subprotocols,omitempty" json:"subprotocols,omitempty"`
	Timeout      Duration          `yaml:"timeout,omitempty" json:"timeout,omitempty"`
}

// Payload is what send and request write: a text template, a JSON object
// whose string values are templates, or random data of a size.
type Payload struct {
	Text   string    `yaml:"text,omitempty" json:"text,omitempty"`
	JSON   any       `yaml:"json,omitempty" json:"json,omitempty"`
	Size   *SizeDist `yaml:"size,omitempty" json:"size,omitempty"`
	Binary bool      `yaml:"binary,omitempty" json:"binary,omitempty"`
}

// Send writes one message and does not wait.
type Send struct {
	Payload `yaml:",inline" json:",inline"`
}

// Echo sends marked messages on an absolute schedule (Rate per second) or,
// with Rate 0, as fast as replies come back with Inflight messages
// outstanding, and records each round trip from its intended send time.
// It runs for Duration, or Count messages, or until the session ends.
type Echo struct {
	Rate     float64  `yaml:"rate,omitempty" json:"rate,omitempty"`
	Inflight int      `yaml:"inflight,omitempty" json:"inflight,omitempty"`
	Size     int      `yaml:"size,omitempty" json:"size"`
	Binary   bool     `yaml:"binary,omitempty" json:"binary,omitempty"`
	Duration Duration `yaml:"duration,omitempty" json:"duration,omitempty"`
	Count    int      `yaml:"count,omitempty" json:"count,omitempty"`
	Metric   string   `yaml:"metric,omitempty" json:"metric,omitempty"`
}

// Match selects a message: all given conditions must hold.
type Match struct {
	Contains string         `yaml:"contains,omitempty" json:"contains,omitempty"`
	Regex    string         `yaml:"regex,omitempty" json:"regex,omitempty"`
	JSON     map[string]any `yaml:"json,omitempty" json:"json,omitempty"` // dotted path → expected value
}

// Expect waits for a message that matches and captures values from it.
type Expect struct {
	Match   `yaml:",inline" json:",inline"`
	Timeout Duration          `yaml:"timeout,omitempty" json:"timeout,omitempty"`
	Capture map[string]string `yaml:"capture,omitempty" json:"capture,omitempty"` // variable → dotted JSON path
}

// Request sends a message and waits for its reply, correlated by a marker
// (the reply contains the marker the request carried) or by a JSON field
// (the reply's field equals the request's), recording the latency under
// the step's name.
type Request struct {
	Payload   `yaml:",inline" json:",inline"`
	Correlate string            `yaml:"correlate,omitempty" json:"correlate,omitempty"` // "marker" (default) or "json:FIELD"
	Reply     *Match            `yaml:"reply,omitempty" json:"reply,omitempty"`
	Timeout   Duration          `yaml:"timeout,omitempty" json:"timeout,omitempty"`
	Capture   map[string]string `yaml:"capture,omitempty" json:"capture,omitempty"`
}

// Think pauses for a random time: uniform in [Min, Max], or with Mean and
// Dist exponential, or normal with Mean and StdDev (clamped at 0).
type Think struct {
	Min    Duration `yaml:"min,omitempty" json:"min,omitempty"`
	Max    Duration `yaml:"max,omitempty" json:"max,omitempty"`
	Mean   Duration `yaml:"mean,omitempty" json:"mean,omitempty"`
	StdDev Duration `yaml:"stddev,omitempty" json:"stddev,omitempty"`
	Dist   string   `yaml:"dist,omitempty" json:"dist,omitempty"` // uniform, exponential, normal
}

// SizeDist is a payload size: a fixed number (`size: 128`), or a
// distribution like Think's.
type SizeDist struct {
	Fixed  int     `yaml:"-" json:"fixed,omitempty"`
	Min    int     `yaml:"min,omitempty" json:"min,omitempty"`
	Max    int     `yaml:"max,omitempty" json:"max,omitempty"`
	Mean   float64 `yaml:"mean,omitempty" json:"mean,omitempty"`
	StdDev float64 `yaml:"stddev,omitempty" json:"stddev,omitempty"`
	Dist   string  `yaml:"dist,omitempty" json:"dist,omitempty"`
}

// Loop repeats Steps Count times, or for Duration, or (neither) until the
// session ends.
type Loop struct {
	Count    int      `yaml:"count,omitempty" json:"count,omitempty"`
	Duration Duration `yaml:"duration,omitempty" json:"duration,omitempty"`
	Steps    []Step   `yaml:"steps" json:"steps"`
}

// PingStep sends a ping and records the time to its pong.
type PingStep struct {
	Timeout Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`
}

// CloseStep closes the connection with a close handshake.
type CloseStep struct {
	Code   int    `yaml:"code,omitempty" json:"code,omitempty"`
	Reason string `yaml:"reason,omitempty" json:"reason,omitempty"`
}

// ReconnectStep closes the connection (if open) and connects again to the
// flow's last connect target, backing off on failure per the flow.
type ReconnectStep struct {
	Delay Duration `yaml:"delay,omitempty" json:"delay,omitempty"`
}

// Publish sends marked messages into a broadcast room on an absolute
// schedule; every member's delivery is accounted (reach, loss, order).
type Publish struct {
	Rate     float64  `yaml:"rate" json:"rate"`
	Size     int      `yaml:"size,omitempty" json:"size"`
	Binary   bool     `yaml:"binary,omitempty" json:"binary,omitempty"`
	Duration Duration `yaml:"duration,omitempty" json:"duration,omitempty"`
	Count    int      `yaml:"count,omitempty" json:"count,omitempty"`
}

// Listen keeps the connection open for Duration (or until the session
// ends), recording broadcast deliveries and server pushes as they arrive.
type Listen struct {
	Duration Duration `yaml:"duration,omitempty" json:"duration,omitempty"`
}

// ThresholdSpec is a threshold as written: an expression like
// "rtt p99 < 50ms", with options.
type ThresholdSpec struct {
	Expr        string   `yaml:"expr" json:"expr"`
	AbortOnFail bool     `yaml:"abort_on_fail,omitempty" json:"abort_on_fail,omitempty"`
	Delay       Duration `yaml:"delay,omitempty" json:"delay,omitempty"`
	Window      Duration `yaml:"window,omitempty" json:"window,omitempty"`
}

// Capacity configures `wsbench capacity`: which load variable to step, from
// Start by Step (or ×Factor) up to Max, each level held for StepDuration
// after Warmup, until an SLO breaks or Budget runs out.
type Capacity struct {
	Variable     string   `yaml:"variable" json:"variable"` // clients, arrival_rate, message_rate
	Start        float64  `yaml:"start" json:"start"`
	Step         float64  `yaml:"step,omitempty" json:"step,omitempty"`
	Factor       float64  `yaml:"factor,omitempty" json:"factor,omitempty"`
	Max          float64  `yaml:"max" json:"max"`
	StepDuration Duration `yaml:"step_duration,omitempty" json:"step_duration"`
	Warmup       Duration `yaml:"warmup,omitempty" json:"warmup"`
	Refine       int      `yaml:"refine,omitempty" json:"refine,omitempty"` // bisection steps between last pass and first fail
	Budget       Duration `yaml:"budget,omitempty" json:"budget"`
	SLO          []string `yaml:"slo,omitempty" json:"slo,omitempty"`
}
