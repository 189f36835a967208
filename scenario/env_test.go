package scenario

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestSubstitute(t *testing.T) {
	t.Parallel()
	env := map[string]string{"A": "alpha", "EMPTY": "", "N": "10", "TOK": "s3cret"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	tests := []struct {
		in, real, masked string
		missing          []string
		err              string
	}{
		{in: "plain", real: "plain", masked: "plain"},
		{in: "${A}", real: "alpha", masked: "***"},
		{in: "x-${A}-y", real: "x-alpha-y", masked: "x-***-y"},
		{in: "${A}${N}", real: "alpha10", masked: "******"},
		{in: "$$", real: "$", masked: "$"},
		{in: "$${A}", real: "${A}", masked: "${A}"},
		{in: "price $5 and $", real: "price $5 and $", masked: "price $5 and $"},
		{in: "${EMPTY}", real: "", masked: "***"},
		{in: "${EMPTY:-d}", real: "d", masked: "d"},
		{in: "${NOPE:-def ault}", real: "def ault", masked: "def ault"},
		{in: "${NOPE:-}", real: "", masked: ""},
		{in: "${NOPE:-${TOK}}", real: "s3cret", masked: "***"},
		{in: "${NOPE:-a${NOPE2:-b}c}", real: "abc", masked: "abc"},
		{in: "${NOPE:-$$}", real: "$", masked: "$"},
		{in: "${NOPE}", real: "", missing: []string{"NOPE"}},
		{in: "${NOPE} ${NOPE2}", real: " ", missing: []string{"NOPE", "NOPE2"}},
		{in: "${A", err: "without a closing }"},
		{in: "${}", err: "name is missing"},
		{in: "${1A}", err: "not a variable name"},
		{in: "${A B}", err: "not a variable name"},
		{in: "${env:A}", err: "write ${A}"},
		{in: "${A:?msg}", err: "only ${NAME} and ${NAME:-default}"},
		{in: "${A-d}", err: "only ${NAME} and ${NAME:-default}"},
	}
	for _, tt := range tests {
		r, err := substitute(tt.in, lookup)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("substitute(%q): error %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("substitute(%q): %v", tt.in, err)
			continue
		}
		if !slices.Equal(r.missing, tt.missing) {
			t.Errorf("substitute(%q): missing %v, want %v", tt.in, r.missing, tt.missing)
		}
		if tt.missing != nil {
			continue
		}
		if r.real() != tt.real || r.masked() != tt.masked {
			t.Errorf("substitute(%q) = %q (shown %q), want %q (shown %q)", tt.in, r.real(), r.masked(), tt.real, tt.masked)
		}
	}
}

func parseEnv(t *testing.T, env map[string]string, src string) *Scenario {
	t.Helper()
	sc, err := ParseWith(t.Name()+".yaml", []byte(src), Options{LookupEnv: func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}})
	if err != nil {
		t.Fatalf("Parse:\n%v", err)
	}
	return sc
}

// A value from the environment is read as the field needs it: a number
// for a number, quoted or not (inside {…} it has to be quoted), text for
// text; in a json payload, unquoted it takes the type its text has.
func TestEnvValuesTakeTheirFieldsType(t *testing.T) {
	t.Parallel()
	env := map[string]string{"N": "12", "RATE": "2.5", "ON": "true", "D": "1500ms", "SZ": "64KiB", "TOK": "s3cret-token", "HOST": "127.0.0.1:9"}
	sc := parseEnv(t, env, `
name: run-${N}
target: ws://${HOST}
seed: ${N}
clients: ${N}
duration: ${D}
client: {compression: "${ON}", max_message_size: "${SZ}", headers: {Authorization: "Bearer ${TOK}"}}
flows:
  - name: f
    vars: {n: "${N}"}
    steps:
      - connect: {path: "/echo?t=${TOK}"}
      - echo: {rate: "${RATE}", count: "${N}"}
      - send:
          json:
            n: ${N}
            q: "${N}"
            on: ${ON}
            r: ${RATE}
            t: ${TOK}
            lit: "$$N"
`)
	if sc.Clients != 12 || sc.Seed != 12 || sc.Duration.D().Milliseconds() != 1500 {
		t.Errorf("clients %d seed %d duration %v", sc.Clients, sc.Seed, sc.Duration.D())
	}
	if !sc.Client.Compression || sc.Client.MaxMessageSize != 64<<10 {
		t.Errorf("client %+v", sc.Client)
	}
	if e := sc.Flows[0].Steps[1].Echo; e.Rate != 2.5 || e.Count != 12 {
		t.Errorf("echo %+v", e)
	}
	if sc.Name != "run-12" || sc.Target != "ws://127.0.0.1:9" || sc.Flows[0].Vars["n"] != "12" {
		t.Errorf("name %q target %q vars %v", sc.Name, sc.Target, sc.Flows[0].Vars)
	}
	want := map[string]any{"n": int64(12), "q": "12", "on": true, "r": 2.5, "t": "s3cret-token", "lit": "$N"}
	if got := sc.Flows[0].Steps[2].Send.JSON; !reflect.DeepEqual(got, want) {
		t.Errorf("json payload %#v, want %#v", got, want)
	}
	if got := sc.Client.Headers["Authorization"]; got != "Bearer s3cret-token" {
		t.Errorf("the run must use the real value, got %q", got)
	}
}

// What wsbench shows of a scenario never holds a string from the
// environment; the scenario the run uses is untouched.
func TestRedactedMasksEveryStringFromTheEnvironment(t *testing.T) {
	t.Parallel()
	const secret = "s3cret-token"
	env := map[string]string{"TOK": secret, "N": "3", "SHORT": "ab"}
	sc := parseEnv(t, env, `
name: env-${SHORT}
target: builtin
clients: ${N}
duration: 1s
client: {headers: {Authorization: "Bearer ${TOK}"}}
thresholds: ["rtt p99 < 100ms"]
flows:
  - name: f
    vars: {token: "${TOK}"}
    steps:
      - connect: {path: "/echo?t=${TOK}", headers: {X-T: "${TOK}"}}
      - send: {json: {token: "${TOK}", list: ["${TOK}"]}, binary: true}
      - request: {text: "${TOK}"}
`)
	before, _ := json.Marshal(sc)
	shown, err := json.Marshal(sc.Redacted())
	if err != nil {
		t.Fatal(err)
	}
	if after, _ := json.Marshal(sc); string(after) != string(before) {
		t.Fatal("Redacted changed the scenario")
	}
	if !strings.Contains(string(before), secret) {
		t.Fatal("the scenario the run uses lost the real value")
	}
	if strings.Contains(string(shown), secret) {
		t.Errorf("the redacted scenario shows the secret:\n%s", shown)
	}
	for _, want := range []string{`"Bearer ***"`, `"/echo?t=***"`, `"X-T":"***"`, `"list":["***"]`, `"name":"env-***"`, `"clients":3`} {
		if !strings.Contains(string(shown), want) {
			t.Errorf("the redacted scenario lacks %s:\n%s", want, shown)
		}
	}
	printed, err := sc.YAML()
	if err != nil || strings.Contains(string(printed), secret) {
		t.Errorf("YAML shows the secret (%v):\n%s", err, printed)
	}
	if got := sc.Mask("dial ws://h/echo?t=" + secret + ": refused"); got != "dial ws://h/echo?t=***: refused" {
		t.Errorf("Mask: %q", got)
	}
	// Too short to look for in free text: masking every "ab" would garble
	// messages without hiding anything.
	if got := sc.Mask("about ab"); got != "about ab" {
		t.Errorf("Mask of a short value: %q", got)
	}
	err = sc.MaskError(errors.New("bad " + secret))
	if err.Error() != "bad ***" {
		t.Errorf("MaskError: %v", err)
	}
	if plain := (&Scenario{}).Redacted(); plain == nil {
		t.Error("Redacted of a scenario without secrets is nil")
	}
}

// `validate --print` writes $ as $$, so that what it prints loads back to
// the same scenario.
func TestYAMLLoadsBack(t *testing.T) {
	t.Parallel()
	sc := parseEnv(t, nil, `
target: builtin
clients: 1
duration: 1s
flows:
  - name: f
    steps:
      - connect: {path: "/echo"}
      - send: {text: "costs $$5, literally $${HOME}", json: null}
      - expect: {regex: "\\$[0-9]+$"}
`)
	printed, err := sc.YAML()
	if err != nil {
		t.Fatal(err)
	}
	back := parseEnv(t, nil, string(printed))
	a, _ := json.Marshal(sc)
	b, _ := json.Marshal(back)
	if string(a) != string(b) {
		t.Errorf("printed scenario loads differently:\n%s\n%s\n--- printed:\n%s", a, b, printed)
	}
	if got := back.Flows[0].Steps[1].Send.Text; got != "costs $5, literally ${HOME}" {
		t.Errorf("text %q", got)
	}
}

// Anchors, aliases and merge keys work as in any YAML file, and problems
// inside them are reported once.
func TestMergeKeys(t *testing.T) {
	t.Parallel()
	sc := parseEnv(t, nil, `
target: builtin
clients: 1
duration: 1s
flows:
  - name: f
    backoff: &b {initial: 1s, max: 10s}
    steps:
      - connect: &c {path: /echo, timeout: 2s}
      - connect:
          <<: *c
          path: /other
  - name: g
    backoff:
      <<: [*b, {factor: 3, initial: 5s}]
      jitter: 0.5
    steps: [{sleep: 1s}]
`)
	if c := sc.Flows[0].Steps[1].Connect; c.Path != "/other" || c.Timeout.D().Seconds() != 2 {
		t.Errorf("merged connect %+v", c)
	}
	if b := sc.Flows[1].Backoff; b.Initial.D().Seconds() != 1 || b.Max.D().Seconds() != 10 || b.Factor != 3 || b.Jitter != 0.5 {
		t.Errorf("merged backoff %+v", b)
	}
	_, err := Parse("alias.yaml", []byte("target: builtin\nclients: *nope\nduration: 1s\n"))
	if err == nil || !strings.Contains(err.Error(), "refers to no &anchor") {
		t.Errorf("unknown alias: %v", err)
	}
}

// A file that expands exponentially through aliases is refused, not
// expanded.
func TestAliasBomb(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("target: builtin\nclients: 1\nduration: 1s\nflows:\n  - name: f\n    steps:\n      - connect: {path: /echo}\n      - send:\n          json:\n            a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 9; i++ {
		prev := "*a" + string(rune('0'+i-1))
		b.WriteString("            a" + string(rune('0'+i)) + ": &a" + string(rune('0'+i)) + " [" + strings.Repeat(prev+", ", 9) + prev + "]\n")
	}
	_, err := Parse("bomb.yaml", []byte(b.String()))
	if err == nil || !strings.Contains(err.Error(), "expands to more than") {
		t.Fatalf("got %v", err)
	}
}

// The cap keeps the output readable; every problem is still in the
// Problems value.
func TestProblemsCap(t *testing.T) {
	t.Parallel()
	var ps Problems
	for i := range MaxProblemsShown + 3 {
		ps = append(ps, Problem{File: "f.yaml", Line: i + 1, Col: 1, Field: "x", Msg: "bad"})
	}
	lines := strings.Split(ps.Error(), "\n")
	if len(lines) != MaxProblemsShown+1 || lines[MaxProblemsShown] != "f.yaml: and 3 more problems" {
		t.Errorf("got %d lines, last %q", len(lines), lines[len(lines)-1])
	}
}

func TestExcerptCaret(t *testing.T) {
	t.Parallel()
	src := []byte("a: 1\n\tb: 2\nc:   3\n")
	got := excerpt(src, 3, 6)
	want := "   1 | a: 1\n   2 | \tb: 2\n>  3 | c:   3\n            ^"
	if got != want {
		t.Errorf("excerpt:\n%s\nwant:\n%s", got, want)
	}
	// The caret copies tabs, so that it lines up however a tab is shown.
	if got := excerpt(src, 2, 2); !strings.HasSuffix(got, "\n       \t^") {
		t.Errorf("tab: %q", got)
	}
}

func TestSuggest(t *testing.T) {
	t.Parallel()
	names := []string{"target", "clients", "duration", "ramp_up", "message", "abort_on_fail"}
	for in, want := range map[string]string{
		"duraton": "duration", "trget": "target", "Clients": "clients", "clinets": "clients",
		"ramp-up": "ramp_up", "abort": "abort_on_fail", "xyz": "", "messages": "message", "frobnicate": "",
	} {
		if got := suggest(in, names); got != want {
			t.Errorf("suggest(%q) = %q, want %q", in, got, want)
		}
	}
}
