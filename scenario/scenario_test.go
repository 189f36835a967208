package scenario

import (
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func mustParse(t *testing.T, src string) *Scenario {
	t.Helper()
	sc, err := Parse(t.Name()+".yaml", []byte(src))
	if err != nil {
		t.Fatalf("Parse:\n%v", err)
	}
	return sc
}

func TestDefaults(t *testing.T) {
	sc := mustParse(t, "target: builtin\nclients: 3\nduration: 10s\n")
	c := sc.Client
	checks := []struct {
		name      string
		got, want any
	}{
		{"name", sc.Name, "unnamed"},
		{"interval", sc.Interval.D(), DefaultInterval},
		{"connect_timeout", c.ConnectTimeout.D(), DefaultConnectTimeout},
		{"max_message_size", c.MaxMessageSize, ByteSize(DefaultMaxMessageSize)},
		{"pong_timeout", c.PongTimeout.D(), DefaultPongTimeout},
		{"ping_interval", c.PingInterval.D(), time.Duration(0)},
		{"max_lag", c.MaxLag.D(), DefaultMaxLag},
		{"drain", c.Drain.D(), DefaultDrain},
		{"reply_timeout", c.ReplyTimeout.D(), DefaultReplyTimeout},
		{"write_timeout", c.WriteTimeout.D(), DefaultWriteTimeout},
		{"max_sessions", c.MaxSessions, DefaultMaxSessions},
		{"seed", sc.Seed, uint64(0)},
		{"flow name", sc.Flows[0].Name, "echo"},
		{"flow weight", sc.Flows[0].Weight, 1},
		{"flow on_error", sc.Flows[0].OnError, "end"},
		{"backoff", sc.Flows[0].Backoff, Backoff{
			Initial: Duration(100 * time.Millisecond), Max: Duration(5 * time.Second), Factor: 2, MaxAttempts: 10,
		}},
		{"message", *sc.Message, Message{Size: DefaultMessageSize, Rate: 1}},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestShortForm(t *testing.T) {
	n := func(i int) *int { return &i }
	echoFlow := func(e Echo) []Flow {
		return []Flow{{
			Name: "echo", Weight: 1, OnError: "end",
			Backoff: Backoff{Initial: Duration(100 * time.Millisecond), Max: Duration(5 * time.Second), Factor: 2, MaxAttempts: 10},
			Steps:   []Step{{Connect: &Connect{Path: "/echo"}}, {Echo: &e}},
		}}
	}
	tests := []struct {
		name   string
		src    string
		phases []Phase
		flows  []Flow
	}{
		{
			name: "ramp and steady",
			src:  "clients: 50\nramp_up: 2s\nduration: 10s\nmessage: {size: 128, rate: 10}\n",
			phases: []Phase{
				{Name: "ramp-up", Duration: Duration(2 * time.Second), Clients: n(50)},
				{Name: "steady", Duration: Duration(8 * time.Second), Clients: n(50)},
			},
			flows: echoFlow(Echo{Rate: 10, Size: 128, Metric: "rtt"}),
		},
		{
			name: "no ramp starts everyone at once",
			src:  "clients: 5\nduration: 3\n",
			phases: []Phase{
				{Name: "start", Duration: 0, Clients: n(5)},
				{Name: "steady", Duration: Duration(3 * time.Second), Clients: n(5)},
			},
			flows: echoFlow(Echo{Rate: 1, Size: DefaultMessageSize, Metric: "rtt"}),
		},
		{
			name: "closed loop message",
			src:  "clients: 2\nduration: 1s\nmessage: {rate: 0, inflight: 4, binary: true}\n",
			phases: []Phase{
				{Name: "start", Duration: 0, Clients: n(2)},
				{Name: "steady", Duration: Duration(time.Second), Clients: n(2)},
			},
			flows: echoFlow(Echo{Inflight: 4, Size: DefaultMessageSize, Binary: true, Metric: "rtt"}),
		},
		{
			name: "rate zero without inflight is one in flight",
			src:  "clients: 1\nduration: 1s\nmessage: {size: 10, rate: 0}\n",
			phases: []Phase{
				{Name: "start", Duration: 0, Clients: n(1)},
				{Name: "steady", Duration: Duration(time.Second), Clients: n(1)},
			},
			flows: echoFlow(Echo{Inflight: 1, Size: 10, Metric: "rtt"}),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc := mustParse(t, "target: builtin\n"+tt.src)
			if !reflect.DeepEqual(sc.Phases, tt.phases) {
				t.Errorf("phases:\n got %s\nwant %s", js(sc.Phases), js(tt.phases))
			}
			if !reflect.DeepEqual(sc.Flows, tt.flows) {
				t.Errorf("flows:\n got %s\nwant %s", js(sc.Flows), js(tt.flows))
			}
		})
	}
}

func TestLongFormKeepsPhasesAndFlows(t *testing.T) {
	sc := mustParse(t, `
target: builtin
clients: 99        # ignored: phases are given
phases:
  - {duration: 1s, clients: 5}
  - {name: open, duration: 2s, arrival_rate: 3.5}
flows:
  - name: f
    steps: [{connect: {path: /echo}}, {listen: {}}]
`)
	if len(sc.Phases) != 2 || sc.Phases[0].Name != "phase-1" || sc.Phases[1].Name != "open" {
		t.Errorf("phases %s", js(sc.Phases))
	}
	if sc.TotalDuration() != 3*time.Second {
		t.Errorf("total %v", sc.TotalDuration())
	}
	if sc.Message != nil {
		t.Errorf("long form got a message %+v", sc.Message)
	}
	if len(sc.Flows) != 1 || sc.Flows[0].Name != "f" {
		t.Errorf("flows %s", js(sc.Flows))
	}
}

func TestStepDefaults(t *testing.T) {
	sc := mustParse(t, `
target: builtin
clients: 1
duration: 1s
capacity: {variable: clients, start: 1, max: 10}
flows:
  - name: f
    steps:
      - connect: {path: /echo}
      - echo: {rate: 5}
      - name: fast
        echo: {inflight: 2}
      - publish: {rate: 1}
      - request: {text: hi}
      - loop:
          steps:
            - close: {}
            - reconnect: {}
            - echo: {}
`)
	st := sc.Flows[0].Steps
	if e := st[1].Echo; e.Size != DefaultMessageSize || e.Inflight != 0 || e.Metric != "rtt" {
		t.Errorf("open echo %+v", e)
	}
	if e := st[2].Echo; e.Metric != "fast" || e.Inflight != 2 {
		t.Errorf("named echo %+v", e)
	}
	if p := st[3].Publish; p.Size != DefaultMessageSize {
		t.Errorf("publish %+v", p)
	}
	if r := st[4].Request; r.Correlate != "marker" {
		t.Errorf("request %+v", r)
	}
	loop := st[5].Loop.Steps
	if loop[0].Close.Code != 1000 {
		t.Errorf("close in loop %+v", loop[0].Close)
	}
	if e := loop[2].Echo; e.Inflight != 1 || e.Size != DefaultMessageSize {
		t.Errorf("echo in loop %+v", e)
	}
	cp := sc.Capacity
	if cp.StepDuration.D() != 10*time.Second || cp.Warmup.D() != 2*time.Second || cp.Budget.D() != 10*time.Minute || cp.Factor != 2 || cp.Refine != 2 {
		t.Errorf("capacity %+v", cp)
	}
	want := []string{"rtt", "connect", "handshake", "ping", "push_delay", "broadcast_delivery", "broadcast_complete", "schedule_lag", "tls_handshake", "rtt_service", "fast", "request"}
	if got := sc.MetricNames(); !slices.Equal(got, want) {
		t.Errorf("MetricNames %v, want %v", got, want)
	}
}

// A bare action key is YAML null; for the actions whose settings are all
// optional it means "the defaults", the same as {} (and the schema agrees).
func TestBareActions(t *testing.T) {
	const src = `
target: builtin
clients: 1
duration: 1s
flows:
  - name: f
    steps:
      - connect: {path: /echo}
      - ping:
      - listen:
      - close:
      - reconnect:
      - name: last
        close:
`
	sc := mustParse(t, src)
	st := sc.Flows[0].Steps
	for i, want := range []string{"connect", "ping", "listen", "close", "reconnect", "close"} {
		if got, n := st[i].Kind(), len(st[i].Actions()); got.String() != want || n != 1 {
			t.Errorf("step %d: kind %q (%d actions), want %q", i, got, n, want)
		}
	}
	if st[1].Ping == nil || st[2].Listen == nil || st[3].Close.Code != 1000 || st[5].Close.Code != 1000 {
		t.Errorf("defaults not filled in: ping %+v, listen %+v, close %+v", st[1].Ping, st[2].Listen, st[3].Close)
	}
	if err := CheckSchema([]byte(src)); err != nil {
		t.Errorf("schema rejects bare actions: %v", err)
	}
	// A bare action that needs settings still has none.
	_, err := Parse("bare.yaml", []byte("target: builtin\nclients: 1\nduration: 1s\nflows:\n  - name: f\n    steps:\n      - send:\n"))
	if err == nil || !strings.Contains(err.Error(), "no action") {
		t.Errorf("bare send: got %v, want a no-action error", err)
	}
}

func TestCompleteIsIdempotent(t *testing.T) {
	for _, f := range append(glob(t, "../scenarios/*.yaml"), glob(t, "testdata/good/*.yaml")...) {
		sc, err := Load(f)
		if err != nil {
			t.Fatal(err)
		}
		once := js(sc)
		sc.Complete()
		if twice := js(sc); twice != once {
			t.Errorf("%s: Complete changed a completed scenario:\n%s\n%s", f, once, twice)
		}
	}
}

func TestDecodeDoesNotComplete(t *testing.T) {
	sc, err := Decode("d.yaml", []byte("target: builtin\nclients: 2\nduration: 1s\n"))
	if err != nil {
		t.Fatal(err)
	}
	if sc.Name != "" || len(sc.Phases) != 0 || len(sc.Flows) != 0 || sc.Client.ConnectTimeout != 0 {
		t.Errorf("Decode filled defaults: %s", js(sc))
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load("testdata/does-not-exist.yaml")
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("got %v, want an error wrapping os.ErrNotExist", err)
	}
}

func TestAnchorsAndValueForms(t *testing.T) {
	sc := mustParse(t, `
target: builtin
phases: [{duration: 1.5, clients: 1}]
client: {max_message_size: 64KiB, drain: 250ms}
flows:
  - name: a
    vars: {n: 5}
    steps: &s
      - connect: {path: "/echo?n={{n}}"}
      - send: {size: 128}
      - send: {size: {min: 1, max: 9}}
      - sleep: 0.5
  - name: b
    vars: {n: 6}
    steps: *s
thresholds:
  - rtt p99 < 10ms
  - {expr: errors == 0, abort_on_fail: true}
`)
	if sc.Phases[0].Duration.D() != 1500*time.Millisecond {
		t.Errorf("bare number duration: %v", sc.Phases[0].Duration.D())
	}
	if sc.Client.MaxMessageSize != 64<<10 || sc.Client.Drain.D() != 250*time.Millisecond {
		t.Errorf("client %+v", sc.Client)
	}
	b := sc.Flows[1]
	if len(b.Steps) != 4 || b.Vars["n"] != "6" {
		t.Errorf("alias flow %s", js(b))
	}
	if got := *b.Steps[1].Send.Size; got != (SizeDist{Fixed: 128}) {
		t.Errorf("fixed size %+v", got)
	}
	if got := *b.Steps[2].Send.Size; got != (SizeDist{Min: 1, Max: 9}) {
		t.Errorf("size range %+v", got)
	}
	if *b.Steps[3].Sleep != Duration(500*time.Millisecond) {
		t.Errorf("sleep %v", b.Steps[3].Sleep)
	}
	want := []ThresholdSpec{{Expr: "rtt p99 < 10ms"}, {Expr: "errors == 0", AbortOnFail: true}}
	if !reflect.DeepEqual(sc.Thresholds, want) {
		t.Errorf("thresholds %+v", sc.Thresholds)
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{"1.5", 1500 * time.Millisecond, false},
		{"0", 0, false},
		{"200ms", 200 * time.Millisecond, false},
		{"1m30s", 90 * time.Second, false},
		{" 2s ", 2 * time.Second, false},
		{"-1", 0, true},
		{"-1s", 0, true},
		{"2 seconds", 0, true},
		{"", 0, true},
		{"NaN", 0, true},
		{"inf", 0, true},
		{"1e300", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseDuration(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestParseByteSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		err  bool
	}{
		{"65536", 65536, false},
		{"64KiB", 64 << 10, false},
		{"64 kb", 64 << 10, false},
		{"1MiB", 1 << 20, false},
		{"2m", 2 << 20, false},
		{"1GiB", 1 << 30, false},
		{"100B", 100, false},
		{"-1", 0, true},
		{"1.5MiB", 0, true},
		{"1 TB", 0, true},
		{"", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseByteSize(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParseByteSize(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestTemplates(t *testing.T) {
	vars := map[string]string{"a": "1", "room": "lobby"}
	lookup := func(n string) string { return vars[n] }
	tests := []struct {
		in, out string
		vars    []string
		err     string
	}{
		{in: "plain", out: "plain"},
		{in: "", out: ""},
		{in: "{{a}}", out: "1", vars: []string{"a"}},
		{in: "room-{{ room }}-{{a}}!", out: "room-lobby-1!", vars: []string{"room", "a"}},
		{in: "{{missing}}", out: "", vars: []string{"missing"}},
		{in: "json {\"a\": 1}", out: "json {\"a\": 1}"},
		{in: "{{a", err: "unclosed {{"},
		{in: "{{}}", err: "bad variable name"},
		{in: "{{a b}}", err: "bad variable name"},
		{in: "{{1a}}", err: "bad variable name"},
	}
	for _, tt := range tests {
		tp, err := ParseTemplate(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseTemplate(%q) error %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseTemplate(%q): %v", tt.in, err)
			continue
		}
		if got := string(tp.Render(nil, lookup)); got != tt.out {
			t.Errorf("Render(%q) = %q, want %q", tt.in, got, tt.out)
		}
		if got := tp.Vars(); !slices.Equal(got, tt.vars) {
			t.Errorf("Vars(%q) = %v, want %v", tt.in, got, tt.vars)
		}
		if tp.Static() != (len(tt.vars) == 0) {
			t.Errorf("Static(%q) = %v", tt.in, tp.Static())
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("MustTemplate of a bad template did not panic")
		}
	}()
	MustTemplate("{{")
}

func TestTemplateVariablesInScope(t *testing.T) {
	// Built-in variables, flow vars and captured values are all usable, the
	// captured ones only after the step that captures them.
	mustParse(t, `
target: builtin
clients: 1
duration: 1s
flows:
  - name: f
    vars: {room: lobby}
    steps:
      - connect:
          path: "/broadcast?room={{room}}&s={{session}}&c={{client}}"
          headers: {X-Flow: "{{flow}}"}
      - send: {text: "{{iteration}} {{seq}} {{time_ms}} {{random}}"}
      - request: {json: {op: login}, capture: {token: token}}
      - send: {json: {token: "{{token}}", nested: ["{{room}}"]}}
      - expect: {contains: ok, capture: {order: id}}
      - request: {text: "{{order}}"}
`)
}

// TestValidationRules triggers every rule of Validate at least once and
// checks the field it blames and what it says.
func TestValidationRules(t *testing.T) {
	const load = "clients: 1\nduration: 1s\n"
	const head = "target: builtin\n" + load
	flow := func(steps string) string {
		return head + "flows:\n- name: f\n  steps:\n" + steps
	}
	conn := "  - connect: {path: /echo}\n"
	tests := []struct {
		name, src, field, msg string
	}{
		// target
		{"missing target", load, "target", "missing"},
		{"bad target", "target: http://x\n" + load, "target", "not `builtin` or a ws://"},
		{"target without host", "target: ws://\n" + load, "target", "not `builtin`"},
		{"builtin settings for remote target", "target: ws://h:1\nbuiltin: {max_conns: 1}\n" + load, "builtin", "settings for the built-in server"},
		{"start_target without name or command", "start_target: {addr: 127.0.0.1:0}\n" + load, "start_target", "give name"},
		{"start_target with name and command", "start_target: {name: go, command: [x]}\n" + load, "start_target", "not both"},
		{"start_target unknown name", "start_target: {name: nginx}\n" + load, "start_target.name", "want one of"},
		{"start_target settings for a command", "start_target: {command: [x], ping_interval: 1s}\n" + load, "start_target", "apply to a named target"},
		{"start_target signal", "start_target: {command: [x], stop_signal: HUP}\n" + load, "start_target.stop_signal", "want TERM or INT"},
		{"target and start_target", "target: ws://h:1\nstart_target: {name: go}\n" + load, "target", "comes from start_target"},
		{"source address", head + "client: {source_addrs: [192.168.1.1]}\n", "client.source_addrs[0]", "only loopback"},

		// load profile
		{"no load", "target: builtin\n", "phases", "no load profile"},
		{"no clients", "target: builtin\nduration: 1s\n", "clients", "at least 1"},
		{"no duration", "target: builtin\nclients: 1\n", "duration", "longer than zero"},
		{"ramp not shorter", "target: builtin\nclients: 1\nramp_up: 2s\nduration: 2s\n", "ramp_up", "not shorter than duration"},
		{"phase without model", "target: builtin\nphases: [{duration: 1s}]\n", "phases[0]", "set clients (closed model) or arrival_rate"},
		{"phase with both models", "target: builtin\nphases: [{duration: 1s, clients: 1, arrival_rate: 1}]\n", "phases[0]", "not both"},
		{"negative clients", "target: builtin\nphases: [{duration: 1s, clients: -1}]\n", "phases[0].clients", "must not be negative"},
		{"negative arrival rate", "target: builtin\nphases: [{duration: 1s, arrival_rate: -1}]\n", "phases[0].arrival_rate", "must not be negative"},
		{"zero total", "target: builtin\nphases: [{duration: 0s, clients: 1}]\n", "phases", "zero seconds"},

		// flows
		{"flow without name", head + "flows: [{steps: [{sleep: 1s}]}]\n", "flows[0].name", "missing"},
		{"duplicate flow", head + "flows: [{name: a, steps: [{sleep: 1s}]}, {name: a, steps: [{sleep: 1s}]}]\n", "flows[1].name", "used by another flow"},
		{"negative weight", head + "flows: [{name: a, weight: -2, steps: [{sleep: 1s}]}]\n", "flows[0].weight", "at least 1"},
		{"on_error", head + "flows: [{name: a, on_error: ignore, steps: [{sleep: 1s}]}]\n", "flows[0].on_error", "want end or reconnect"},
		{"backoff factor", head + "flows: [{name: a, backoff: {factor: 0.5}, steps: [{sleep: 1s}]}]\n", "flows[0].backoff.factor", "at least 1"},
		{"backoff jitter", head + "flows: [{name: a, backoff: {jitter: 1.5}, steps: [{sleep: 1s}]}]\n", "flows[0].backoff.jitter", "between 0 and 1"},
		{"no steps", head + "flows: [{name: a, steps: []}]\n", "flows[0].steps", "at least one step"},
		{"bad var name", head + "flows: [{name: a, vars: {a-b: x}, steps: [{sleep: 1s}]}]\n", "flows[0].vars.a-b", "letters, digits"},

		// steps in general
		{"no action", flow("  - name: x\n"), "flows[0].steps[0]", "no action"},
		{"two actions", flow("  - sleep: 1s\n    think: {max: 1s}\n"), "flows[0].steps[0]", "one action per step, found 2 (sleep, think)"},
		{"before connect", flow("  - send: {text: x}\n"), "flows[0].steps[0].send", "needs a connection"},
		{"after close", flow(conn + "  - close: {}\n  - ping: {}\n"), "flows[0].steps[2].ping", "needs a connection"},
		{"metric name syntax", flow(conn + "  - name: a-b\n    ping: {}\n"), "flows[0].steps[1].name", "use letters, digits and _"},
		{"reserved metric", flow(conn + "  - name: loss\n    request: {text: x}\n"), "flows[0].steps[1].name", "is reserved"},
		{"built-in metric", flow(conn + "  - name: handshake\n    request: {text: x}\n"), "flows[0].steps[1].name", "built-in metric"},
		{"metric from two kinds", flow(conn + "  - name: m\n    request: {text: x}\n  - name: m\n    ping: {}\n"), "flows[0].steps[2].name", "also recorded by a request step"},
		{"unknown variable", flow(conn + "  - send: {text: \"{{who}}\"}\n"), "flows[0].steps[1].send.text", "unknown variable {{who}}"},
		{"capture used too early", flow(conn + "  - send: {text: \"{{tok}}\"}\n  - request: {json: {}, capture: {tok: t}}\n"), "flows[0].steps[1].send.text", "unknown variable {{tok}}"},
		{"unclosed template", flow(conn + "  - send: {json: {a: \"{{x\"}}\n"), "flows[0].steps[1].send.json", "unclosed {{"},

		// connect
		{"path and url", flow("  - connect: {path: /a, url: ws://h/a}\n"), "flows[0].steps[0].connect", "not both"},
		{"neither path nor url", flow("  - connect: {timeout: 1s}\n"), "flows[0].steps[0].connect", "give path"},
		{"relative path", flow("  - connect: {path: echo}\n"), "flows[0].steps[0].connect.path", "must start with /"},
		{"http url", flow("  - connect: {url: http://h/}\n"), "flows[0].steps[0].connect.url", "not a ws:// or wss:// URL"},
		{"url template", flow("  - connect: {url: \"ws://h/{{nope}}\"}\n"), "flows[0].steps[0].connect.url", "unknown variable"},
		{"header template", flow("  - connect: {path: /, headers: {X-A: \"{{nope}}\"}}\n"), "flows[0].steps[0].connect.headers.X-A", "unknown variable"},

		// payloads
		{"empty payload", flow(conn + "  - send: {binary: true}\n"), "flows[0].steps[1].send", "exactly one of text, json or size"},
		{"two payloads", flow(conn + "  - send: {text: a, json: {}}\n"), "flows[0].steps[1].send", "exactly one of"},
		{"size range", flow(conn + "  - send: {size: {min: 5, max: 2}}\n"), "flows[0].steps[1].send.size", "max >= min"},
		{"size dist", flow(conn + "  - send: {size: {mean: 5, dist: pareto}}\n"), "flows[0].steps[1].send.size.dist", "want uniform, exponential or normal"},

		// echo
		{"negative echo rate", flow(conn + "  - echo: {rate: -1}\n"), "flows[0].steps[1].echo.rate", "must not be negative"},
		{"negative echo size", flow(conn + "  - echo: {size: -1}\n"), "flows[0].steps[1].echo.size", "must not be negative"},
		{"negative echo count", flow(conn + "  - echo: {count: -1}\n"), "flows[0].steps[1].echo.count", "must not be negative"},
		{"rate and inflight", flow(conn + "  - echo: {rate: 1, inflight: 1}\n"), "flows[0].steps[1].echo", "exclude each other"},
		{"negative inflight", flow(conn + "  - echo: {inflight: -1}\n"), "flows[0].steps[1].echo.inflight", "at least 1"},
		{"absurd rate", flow(conn + "  - echo: {rate: 2000000}\n"), "flows[0].steps[1].echo.rate", "beyond any generator"},

		// expect and request
		{"expect without condition", flow(conn + "  - expect: {timeout: 1s}\n"), "flows[0].steps[1].expect", "at least one of contains, regex or json"},
		{"expect regex", flow(conn + "  - expect: {regex: \"a(\"}\n"), "flows[0].steps[1].expect.regex", "missing closing )"},
		{"capture name", flow(conn + "  - expect: {contains: a, capture: {1x: a}}\n"), "flows[0].steps[1].expect.capture.1x", "letters, digits"},
		{"capture path", flow(conn + "  - expect: {contains: a, capture: {x: \"\"}}\n"), "flows[0].steps[1].expect.capture.x", "dotted JSON path"},
		{"correlate", flow(conn + "  - request: {text: a, correlate: header}\n"), "flows[0].steps[1].request.correlate", "want marker or json:FIELD"},
		{"json correlate without json", flow(conn + "  - request: {text: a, correlate: \"json:id\"}\n"), "flows[0].steps[1].request.correlate", "needs a json payload"},
		{"reply regex", flow(conn + "  - request: {text: a, reply: {regex: \"*\"}}\n"), "flows[0].steps[1].request.reply.regex", "missing argument"},
		{"request capture", flow(conn + "  - request: {text: a, capture: {x: \"\"}}\n"), "flows[0].steps[1].request.capture.x", "dotted JSON path"},

		// think, loop, close, publish
		{"uniform think", flow("  - think: {min: 2s, max: 1s}\n"), "flows[0].steps[0].think", "max >= min"},
		{"uniform think without max", flow("  - think: {min: 1s}\n"), "flows[0].steps[0].think", "max > 0"},
		{"exponential think", flow("  - think: {dist: exponential}\n"), "flows[0].steps[0].think.mean", "mean > 0"},
		{"normal think", flow("  - think: {stddev: 1s, dist: normal}\n"), "flows[0].steps[0].think.mean", "mean > 0"},
		{"think dist", flow("  - think: {mean: 1s, dist: gamma}\n"), "flows[0].steps[0].think.dist", "want uniform, exponential or normal"},
		{"loop count", flow("  - loop: {count: -1, steps: [{sleep: 1s}]}\n"), "flows[0].steps[0].loop.count", "must not be negative"},
		{"empty loop", flow("  - loop: {steps: []}\n"), "flows[0].steps[0].loop.steps", "at least one step"},
		{"inside loop", flow("  - loop: {steps: [{ping: {}}]}\n"), "flows[0].steps[0].loop.steps[0].ping", "needs a connection"},
		{"close code reserved", flow(conn + "  - close: {code: 1005}\n"), "flows[0].steps[1].close.code", "cannot be sent by a client"},
		{"close code too big", flow(conn + "  - close: {code: 5000}\n"), "flows[0].steps[1].close.code", "use 1000, 1001 or 3000-4999"},
		{"publish rate", flow(conn + "  - publish: {rate: 0}\n"), "flows[0].steps[1].publish.rate", "more than zero"},
		{"publish count", flow(conn + "  - publish: {rate: 1, count: -1}\n"), "flows[0].steps[1].publish.count", "must not be negative"},
		{"publish size", flow(conn + "  - publish: {rate: 1, size: -1}\n"), "flows[0].steps[1].publish.size", "must not be negative"},

		// thresholds and capacity
		{"bad threshold", head + "thresholds: [rtt p99 <]\n", "thresholds[0]", ""},
		{"threshold window", head + "interval: 2s\nthresholds: [{expr: rtt p99 < 1s, window: 1s}]\n", "thresholds[0].window", "shorter than the report interval"},
		{"capacity variable", head + "capacity: {variable: users, start: 1, max: 2}\n", "capacity.variable", "want clients, arrival_rate or message_rate"},
		{"capacity start", head + "capacity: {variable: clients, start: 0, max: 2}\n", "capacity.start", "more than zero"},
		{"capacity max", head + "capacity: {variable: clients, start: 5, max: 2}\n", "capacity.max", "at least start"},
		{"capacity step", head + "capacity: {variable: clients, start: 1, max: 2, factor: 1}\n", "capacity", "step > 0"},
		{"capacity slo", head + "capacity: {variable: clients, start: 1, max: 2, step: 1, slo: [\"\"]}\n", "capacity.slo[0]", ""},

		// numbers a schedule cannot use
		{"NaN rate", head + "message: {rate: .nan}\n", "message.rate", "finite"},
		{"infinite arrival rate", "target: builtin\nphases: [{duration: 1s, arrival_rate: .inf}]\n", "phases[0].arrival_rate", "finite"},
		{"NaN publish rate", flow(conn + "  - publish: {rate: .nan}\n"), "flows[0].steps[1].publish.rate", "finite"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("v.yaml", []byte(tt.src))
			var ps Problems
			if !errors.As(err, &ps) {
				t.Fatalf("got %v, want Problems", err)
			}
			for _, p := range ps {
				if p.Field == tt.field && strings.Contains(p.Msg, tt.msg) {
					if p.File != "v.yaml" {
						t.Errorf("file %q", p.File)
					}
					return
				}
			}
			t.Fatalf("no problem %s: …%s…; got:\n%v", tt.field, tt.msg, err)
		})
	}
}

// TestValidScenariosPass runs every good file through Parse; a rule that
// rejects one of them is wrong.
func TestValidScenariosPass(t *testing.T) {
	for _, f := range append(glob(t, "../scenarios/*.yaml"), glob(t, "testdata/good/*.yaml")...) {
		if _, err := Load(f); err != nil {
			t.Errorf("%v", err)
		}
	}
}

func TestKind(t *testing.T) {
	d := Duration(time.Second)
	s := Step{Sleep: &d, Ping: &PingStep{}}
	if got := s.Actions(); !slices.Equal(got, []StepKind{KindSleep, KindPing}) || s.Kind() != KindNone {
		t.Errorf("Actions = %v, Kind = %v", got, s.Kind())
	}
	if got := (&Step{}).Actions(); len(got) != 0 || (&Step{}).Kind() != KindNone {
		t.Errorf("empty Actions = %v", got)
	}
	s = Step{Ping: &PingStep{}}
	if s.Kind() != KindPing || s.Kind().String() != "ping" || !s.Kind().NeedsConnection() {
		t.Errorf("Kind = %v", s.Kind())
	}
}

func TestDurationJSON(t *testing.T) {
	b, err := json.Marshal(Duration(1500 * time.Millisecond))
	if err != nil || string(b) != `"1.5s"` {
		t.Fatalf("%s %v", b, err)
	}
	var d Duration
	if err := json.Unmarshal(b, &d); err != nil || d.D() != 1500*time.Millisecond {
		t.Fatalf("%v %v", d, err)
	}
	if err := json.Unmarshal([]byte(`"-1s"`), &d); err == nil {
		t.Fatal("negative duration accepted")
	}
}

func TestNonFiniteNumbersNeverMarshal(t *testing.T) {
	// Regression: Validate accepted NaN rates, and the report's JSON
	// encoding of the scenario then failed.
	_, err := Parse("nan.yaml", []byte("target: builtin\nclients: 1\nduration: 1s\nflows: [{name: a, backoff: {jitter: .nan}, steps: [{sleep: 1s}]}]\n"))
	if err == nil {
		t.Fatal("NaN jitter accepted")
	}
	if !strings.Contains(err.Error(), "flows[0].backoff.jitter") {
		t.Errorf("problem does not name the field: %v", err)
	}
}

func js(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// For a started target, a ping_interval of 0 (pings off) differs from one
// left out (the target's default), so the field keeps the difference.
func TestStartTargetPingIntervalZeroIsKept(t *testing.T) {
	const load = "phases: [{duration: 1s, clients: 1}]\nflows: [{name: f, steps: [{connect: {path: /echo}}]}]\n"
	for _, tt := range []struct {
		yaml string
		want *time.Duration
	}{
		{"start_target: {name: tornado}\n", nil},
		{"start_target: {name: tornado, ping_interval: 0}\n", new(time.Duration(0))},
		{"start_target: {name: tornado, ping_interval: 2s}\n", new(2 * time.Second)},
	} {
		sc, err := Parse("st.yaml", []byte(tt.yaml+load))
		if err != nil {
			t.Fatalf("%s: %v", tt.yaml, err)
		}
		got := sc.StartTarget.PingInterval
		switch {
		case tt.want == nil && got != nil:
			t.Errorf("%s: ping_interval %v, want left out", tt.yaml, got.D())
		case tt.want != nil && (got == nil || got.D() != *tt.want):
			t.Errorf("%s: ping_interval %v, want %v", tt.yaml, got, *tt.want)
		}
	}
}
