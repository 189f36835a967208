package targets

import (
	"context"
	"crypto/tls"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/wsbench/wsbench/engine"
	"github.com/wsbench/wsbench/internal/testcert"
	"github.com/wsbench/wsbench/report"
	"github.com/wsbench/wsbench/scenario"
	"github.com/wsbench/wsbench/targets/refserver"
)

func mustScenario(t *testing.T, y string) *scenario.Scenario {
	t.Helper()
	sc, err := scenario.Parse(t.Name()+".yaml", []byte(y))
	if err != nil {
		t.Fatalf("scenario:\n%v", err)
	}
	return sc
}

// run starts sc's target, runs sc against it and stops it, as wsbench run
// does.
func run(t *testing.T, sc *scenario.Scenario) *report.Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	target, err := Start(ctx, sc, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := target.Stop(); err != nil {
			t.Error(err)
		}
	}()
	rep, err := target.Run(ctx, sc, engine.Options{Logf: t.Logf})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return rep
}

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

// The built-in target runs in the generator's process: the report says
// so, the server's own counts are in it, and they agree with the client's.
func TestBuiltinRunsInProcess(t *testing.T) {
	sc := mustScenario(t, `
name: builtin
target: builtin
clients: 3
duration: 1s
message: {size: 64, rate: 20}
`)
	rep := run(t, sc)
	if !rep.Generator.IncludesTarget {
		t.Fatal("the built-in target shares the generator's process, but the report does not say so")
	}
	if rep.Server == nil || rep.Server.After["messages_in"]-rep.Server.Before["messages_in"] != rep.Counters.MessagesSent {
		t.Fatalf("server stats %+v, client sent %d", rep.Server, rep.Counters.MessagesSent)
	}
	if rep.Target == "builtin" || rep.Target == "" {
		t.Fatalf("report target %q, want the server's address", rep.Target)
	}
}

// A target that cannot start is an error before any load.
func TestStartRejectsUnknownTargets(t *testing.T) {
	for _, target := range []string{"http://127.0.0.1:1", "localhost:80"} {
		if _, err := Start(context.Background(), &scenario.Scenario{Target: target}, nil); err == nil {
			t.Errorf("target %q accepted", target)
		}
	}
}

// A wss:// target's /stats is read over HTTPS with the run's TLS
// settings, so its own counts land in the report beside the client's.
func TestStatsOverTLS(t *testing.T) {
	ca := testcert.NewCA(t, "targets test CA")
	cert := ca.Issue(t, testcert.Leaf{})
	srv := refserver.New(refserver.Config{TLS: &tls.Config{Certificates: []tls.Certificate{cert.Cert}}})
	addr, err := srv.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	caFile := ca.WriteFile(t, t.TempDir(), "ca.pem")
	sc := mustScenario(t, `
name: stats-over-tls
target: wss://`+addr+`
clients: 2
duration: 500ms
message: {size: 64, rate: 10}
client:
  tls: {ca_files: [`+caFile+`]}
`)
	rep := run(t, sc)
	if rep.Server == nil || rep.Server.After["messages_in"]-rep.Server.Before["messages_in"] != rep.Counters.MessagesSent {
		t.Fatalf("server stats %+v, client sent %d: /stats was not read over TLS", rep.Server, rep.Counters.MessagesSent)
	}
	if Stats("wss://"+addr, nil) != nil {
		t.Fatal("/stats read without trusting the test CA")
	}
}
