package engine

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// requireTornado skips the test when Debian's Tornado is missing, or fails
// it under scripts/test (WSBENCH_TEST_REQUIRE_ALL), which installs it.
func requireTornado(t *testing.T) {
	t.Helper()
	out, err := exec.Command("/usr/bin/python3", "-c", "import tornado.websocket").CombinedOutput()
	if err == nil {
		return
	}
	if os.Getenv("WSBENCH_TEST_REQUIRE_ALL") != "" {
		t.Fatalf("python3-tornado missing: %v\n%s", err, out)
	}
	t.Skipf("python3-tornado missing (run scripts/install-python-targets): %v", err)
}

// start_target runs a named target as a child process with the contract's
// settings, and the run sees them: pings at the interval asked for, none
// with 0. (A short run cannot tell "off" from the target's 20 s default;
// TestCommandPingInterval in targets/launch pins that difference.)
func TestStartTargetPingInterval(t *testing.T) {
	requireTornado(t)
	for _, tt := range []struct {
		name, ping string
		wantPings  bool
	}{
		{"every 100ms", "100ms", true},
		{"0 turns them off", "0s", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sc := mustScenario(t, fmt.Sprintf(`
name: start-target-pings
start_target: {name: tornado, ping_interval: %s, ping_timeout: 5s}
phases:
  - {duration: 0s, clients: 2}
  - {duration: 1500ms, clients: 2}
flows:
  - name: idle
    steps:
      - connect: {path: /echo}
      - listen:
`, tt.ping))
			rep := run(t, sc)
			c := rep.Counters
			t.Logf("server pings %d, connects %d, closes %v", c.ServerPings, c.ConnectsOK, c.ClosesByCode)
			if c.ConnectsOK != 2 || c.Errors() != 0 {
				t.Fatalf("connects %d, errors %v", c.ConnectsOK, c.ErrorsByCause)
			}
			// 2 connections × 1.5 s at 100 ms is about 30 pings; 10 leaves
			// room for a slow start on a busy machine.
			if tt.wantPings && c.ServerPings < 10 {
				t.Fatalf("server pings %d, want about 30", c.ServerPings)
			}
			if !tt.wantPings && c.ServerPings != 0 {
				t.Fatalf("server pings %d with ping_interval 0", c.ServerPings)
			}
			if rep.Server == nil || rep.Server.After["pid"] == 0 {
				t.Fatalf("no target process in the report: %+v", rep.Server)
			}
		})
	}
}
