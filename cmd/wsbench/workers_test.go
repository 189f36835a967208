package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/wsbench/wsbench/report"
)

// wsbench run --workers 3 splits the run over three worker processes
// (this test binary stands in for wsbench: TestMain) and writes one
// report that lists each worker's share and agrees with the server's own
// counts.
func TestRunWithWorkers(t *testing.T) {
	rep := runSplit(t, `
name: split
target: builtin
interval: 500ms
clients: 6
ramp_up: 0s
duration: 2s
message: {size: 64, rate: 10}
thresholds: ["errors == 0"]
`, 3, map[string]string{})
	c := rep.Counters
	if c.ConnectsOK != 6 || c.MessagesSent == 0 || c.MessagesReceived != c.MessagesSent {
		t.Fatalf("connects %d, sent %d, received %d", c.ConnectsOK, c.MessagesSent, c.MessagesReceived)
	}
	if rep.Server == nil || rep.Server.After["messages_in"]-rep.Server.Before["messages_in"] != c.MessagesSent {
		t.Fatalf("server counted %+v, the workers sent %d", rep.Server, c.MessagesSent)
	}
	for _, w := range rep.Workers {
		if w.ConnectsOK != 2 || w.Exit != "exited with status 0" {
			t.Errorf("worker %+v: want 2 connections and a clean exit", w)
		}
	}
}

// A coordinated run against a topology: the coordinator checks the target
// once, before the proxy's counters are taken, and the workers do not
// check it again, so haproxy counts exactly the run's connections.
func TestRunWithWorkersBehindProxy(t *testing.T) {
	if _, err := exec.LookPath("haproxy"); err != nil {
		missingTool(t, "haproxy: %v", err)
	}
	if out, err := exec.Command("/usr/bin/python3", "-c", "import tornado").CombinedOutput(); err != nil {
		missingTool(t, "tornado: %v: %s", err, out)
	}
	rep := runSplit(t, `
name: proxied
start_target: {name: tornado, processes: 2, proxy: haproxy}
interval: 500ms
clients: 4
ramp_up: 0s
duration: 2s
message: {size: 64, rate: 5}
`, 2, map[string]string{})
	if rep.Counters.ConnectsOK != 4 {
		t.Fatalf("%d connects, want 4", rep.Counters.ConnectsOK)
	}
	if rep.Server == nil || rep.Server.Proxy == nil {
		t.Fatalf("no proxy figures: %+v", rep.Server)
	}
	if px := rep.Server.Proxy; px.Sessions != 4 {
		t.Fatalf("proxy counted %d sessions: want exactly the run's 4 connections", px.Sessions)
	}
}

// Data files reach the workers: a scenario's JSON does not carry the rows
// it loaded, so the assignment does, and each worker's sessions take
// their rows (here four rooms, by client) as one process's would.
func TestRunWithWorkersAndDataFile(t *testing.T) {
	rep := runSplit(t, `
name: rooms
target: builtin
interval: 500ms
data:
  rooms: {file: rooms.csv, by: client}
phases:
  - {duration: 0s, clients: 8}
  - {duration: 2s, clients: 8}
flows:
  - name: chat
    steps:
      - connect: {path: "/broadcast?room={{rooms.name}}"}
      - sleep: 500ms
      - publish: {rate: 4, size: 32, count: 4}
      - listen: {}
`, 2, map[string]string{"rooms.csv": "name\nred\ngreen\nblue\nwhite\n"})
	if c := rep.Counters; c.ConnectsOK != 8 || c.Errors() != 0 {
		t.Fatalf("connects %d, errors %v", c.ConnectsOK, c.ErrorsByCause)
	}
	if len(rep.Broadcast) != 1 || rep.Broadcast[0].Rooms != 4 || rep.Broadcast[0].Reach != 1 {
		t.Fatalf("broadcast %+v: want the four rooms of the data file, every message delivered", rep.Broadcast)
	}
}

// runSplit writes the scenario (and any other files) into a temporary
// directory, runs it over workers worker processes (this test binary
// stands in for wsbench: TestMain) and returns its report. A run must
// pass, or be unreliable, which a busy machine may make it.
func runSplit(t *testing.T, yaml string, workers int, files map[string]string) *report.Report {
	t.Helper()
	t.Setenv("WSBENCH_TEST_MAIN", "1") // the workers are this binary's worker command
	dir := t.TempDir()
	files["scenario.yaml"] = yaml
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, "r.json")
	code, _, stderr := wsbench(t, "run", "--quiet", "--workers", strconv.Itoa(workers), "--json", out, filepath.Join(dir, "scenario.yaml"))
	rep, err := report.ReadJSONFile(out)
	if err != nil {
		t.Fatalf("exit %d, no report (%v): %s", code, err, stderr)
	}
	if code != exitOK && !(code == exitUnreliable && rep.Generator.Unreliable) {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if len(rep.Workers) != workers {
		t.Fatalf("%d workers in the report, want %d", len(rep.Workers), workers)
	}
	return rep
}
