package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wsbench/wsbench/report"
)

// badScenarios are the scenario package's golden error cases; their
// environment is the one those tests pass to the parser (keep the two in
// step).
const badScenarios = "../../scenario/testdata/bad/"

var scenarioTestEnv = map[string]string{
	"WSB_TOKEN":    cliSecret,
	"WSB_TARGET":   "ws://127.0.0.1:9",
	"WSB_CLIENTS":  "10",
	"WSB_WORDS":    "ten",
	"WSB_EMPTY":    "",
	"WSB_BAD_URL":  "http://user:" + cliSecret + "@host/",
	"WSB_DURATION": "2s",
}

const cliSecret = "tok-5ecret-XYZ"

// TestScenarioErrorsThroughTheCLI runs every bad scenario of the scenario
// package's golden tests through `wsbench validate` and `wsbench run`:
// both exit 2 and print exactly the golden text on stderr, nothing on
// stdout.
func TestScenarioErrorsThroughTheCLI(t *testing.T) {
	for k, v := range scenarioTestEnv {
		t.Setenv(k, v)
	}
	files, err := filepath.Glob(badScenarios + "*.yaml")
	if err != nil || len(files) < 20 {
		t.Fatalf("found %d bad scenarios (%v)", len(files), err)
	}
	for _, f := range files {
		golden, err := os.ReadFile(strings.TrimSuffix(f, ".yaml") + ".golden")
		if err != nil {
			t.Fatal(err)
		}
		want := strings.ReplaceAll(string(golden), "testdata/bad/", badScenarios)
		for _, cmd := range [][]string{{"validate", f}, {"run", "--quiet", "--json", "", f}} {
			code, stdout, stderr := wsbench(t, cmd...)
			if code != exitCannotStart || stdout != "" || stderr != want {
				t.Errorf("wsbench %s: exit %d, want %d; stdout %q\n--- stderr\n%s--- want\n%s", strings.Join(cmd, " "), code, exitCannotStart, stdout, stderr, want)
			}
		}
	}
}

// TestSecretsNeverShown runs a scenario whose token comes from the
// environment (and whose messages come from a data file): `validate
// --print`, the terminal summary, every report format and a capacity
// search show *** instead, and so does an error message about it.
func TestSecretsNeverShown(t *testing.T) {
	t.Setenv("WSB_SECRET_TOKEN", cliSecret)
	dir := t.TempDir()
	scn := filepath.Join(dir, "s.yaml")
	if err := os.WriteFile(scn, []byte(`
name: secret-${WSB_SECRET_TOKEN}
target: builtin
clients: 2
duration: 1s
client: {headers: {Authorization: "Bearer ${WSB_SECRET_TOKEN}"}}
data:
  users: {file: users.csv}
flows:
  - name: f
    steps:
      - connect: {path: "/echo?token=${WSB_SECRET_TOKEN}"}
      - send: {text: "{{users.name}}"}
      - expect: {regex: "^(alice|bob)$", timeout: 5s}
      - echo: {rate: 5, count: 3}
# One level; the warmup is a whole interval, so that the measured window
# does not depend on when the interval ticks land.
interval: 250ms
capacity: {variable: clients, start: 1, step: 1, max: 1, step_duration: 1s, warmup: 250ms, refine: -1, slo: ["errors == 0"]}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	// The rows of the data file must reach the target, or the expect step
	// times out.
	if err := os.WriteFile(filepath.Join(dir, "users.csv"), []byte("name\nalice\nbob\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var shown strings.Builder
	code, stdout, stderr := wsbench(t, "validate", "--print", scn)
	if code != exitOK || !strings.Contains(stdout, "Authorization: Bearer ***") {
		t.Fatalf("validate --print: exit %d\n%s%s", code, stdout, stderr)
	}
	shown.WriteString(stdout + stderr)

	out := func(name string) string { return filepath.Join(dir, name) }
	// A busy machine may make the generator unreliable (exit 4); that
	// changes nothing here.
	code, stdout, stderr = wsbench(t, "run", "--json", out("r.json"), "--html", out("r.html"),
		"--junit", out("r.xml"), "--summary-md", out("r.md"), scn)
	if code != exitOK && code != exitUnreliable {
		t.Fatalf("run: exit %d\n%s%s", code, stdout, stderr)
	}
	shown.WriteString(stdout + stderr)
	rep, err := report.ReadJSONFile(out("r.json"))
	if err != nil {
		t.Fatal(err)
	}
	if c := rep.Counters; c.Errors() != 0 || c.MessagesReceived == 0 {
		t.Fatalf("the rows did not reach the target: errors %v, %d messages received", c.ErrorsByCause, c.MessagesReceived)
	}
	// Each level of a capacity search runs a copy of the scenario.
	code, stdout, stderr = wsbench(t, "capacity", "--json", out("c.json"), scn)
	if code != exitOK && code != exitUnreliable {
		t.Fatalf("capacity: exit %d\n%s%s", code, stdout, stderr)
	}
	shown.WriteString(stdout + stderr)
	for _, f := range []string{"r.json", "r.html", "r.xml", "r.md", "c.json"} {
		b, err := os.ReadFile(out(f))
		if err != nil || len(b) == 0 {
			t.Fatalf("%s: %v", f, err)
		}
		shown.Write(b)
	}

	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("target: http://${WSB_SECRET_TOKEN}@host/\nclients: 1\nduration: 1s\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = wsbench(t, "validate", bad)
	if code != exitCannotStart || !strings.Contains(stderr, `target: "http://***@host/" is not`) {
		t.Fatalf("validate bad: exit %d\n%s%s", code, stdout, stderr)
	}
	shown.WriteString(stdout + stderr)

	if strings.Contains(shown.String(), cliSecret) {
		t.Errorf("the secret shows in wsbench's output or reports:\n%s", shown.String())
	}
}
