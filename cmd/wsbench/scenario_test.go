package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
// environment: `validate --print`, the terminal summary and every report
// format show *** instead, and so does an error message about it.
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
thresholds: ["errors == 0"]
flows:
  - name: f
    steps:
      - connect: {path: "/echo?token=${WSB_SECRET_TOKEN}"}
      - echo: {rate: 5, count: 3}
capacity: {variable: clients, start: 1, step: 1, max: 2, step_duration: 1s, warmup: 100ms, refine: -1, slo: ["errors == 0"]}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	var shown strings.Builder
	code, stdout, stderr := wsbench(t, "validate", "--print", scn)
	if code != exitOK || !strings.Contains(stdout, "Authorization: Bearer ***") {
		t.Fatalf("validate --print: exit %d\n%s%s", code, stdout, stderr)
	}
	shown.WriteString(stdout + stderr)

	out := func(name string) string { return filepath.Join(dir, name) }
	code, stdout, stderr = wsbench(t, "run", "--json", out("r.json"), "--html", out("r.html"),
		"--junit", out("r.xml"), "--summary-md", out("r.md"), scn)
	if code != exitOK {
		t.Fatalf("run: exit %d\n%s%s", code, stdout, stderr)
	}
	shown.WriteString(stdout + stderr)
	// Each level of a capacity search runs a copy of the scenario.
	code, stdout, stderr = wsbench(t, "capacity", "--json", out("c.json"), scn)
	if code != exitOK {
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
