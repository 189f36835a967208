package conformance

import (
	"github.com/wsbench/wsbench/internal/launch"

	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// systemPython is Debian's interpreter, the one the python3-* framework
// packages install for (see scripts/install-python-targets).
const systemPython = "/usr/bin/python3"

// Settings every target under test gets: short pings so the ping checks
// finish quickly, a timeout and slack that a busy CI machine (a Python
// event loop descheduled for half a second) does not trip, and a max
// message size the echo checks reach exactly.
const (
	testPingInterval = 200 * time.Millisecond
	testPingTimeout  = time.Second
	testPingSlack    = time.Second
	testMaxMessage   = 65536
)

var pythonTargets = []struct {
	name   string
	module string // what the target needs to import
	script string // under targets/python
}{
	{"tornado", "tornado.websocket", "tornado_server.py"},
	{"twisted", "autobahn.twisted.websocket", "twisted_server.py"},
	{"websockets", "websockets", "websockets_server.py"},
	{"aiohttp", "aiohttp", "aiohttp_server.py"},
}

// requirePython skips the test if the system interpreter cannot import
// module, or fails it under scripts/test, which installs the frameworks and
// sets WSBENCH_TEST_REQUIRE_ALL so that CI cannot pass by skipping.
func requirePython(t *testing.T, module string) {
	t.Helper()
	if _, err := os.Stat(systemPython); err != nil {
		missing(t, "%s not found", systemPython)
	}
	out, err := exec.Command(systemPython, "-c", "import "+module).CombinedOutput()
	if err != nil {
		missing(t, "%s cannot import %s (run scripts/install-python-targets): %v\n%s", systemPython, module, err, out)
	}
}

func missing(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("WSBENCH_TEST_REQUIRE_ALL") != "" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

// startPython starts a Python target on a free loopback port with the test
// settings; the process is killed at the end of the test if it still runs.
func startPython(t *testing.T, script string) *launch.Process {
	t.Helper()
	argv := []string{
		systemPython, filepath.Join("..", "python", script),
		"--addr", "127.0.0.1:0",
		"--ping-interval", fmt.Sprint(testPingInterval.Seconds()),
		"--ping-timeout", fmt.Sprint(testPingTimeout.Seconds()),
		"--max-message-size", fmt.Sprint(testMaxMessage),
	}
	p, err := launch.Start(t.Context(), argv, []string{"PYTHONDONTWRITEBYTECODE=1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Stop(syscall.SIGKILL, time.Second) })
	return p
}

func testOptions(shutdown func() error) Options {
	return Options{
		MaxMessageSize: testMaxMessage,
		PingInterval:   testPingInterval,
		PingTimeout:    testPingTimeout,
		PingSlack:      testPingSlack,
		Shutdown:       shutdown,
	}
}

// requirePassed fails the test listing every failed check.
func requirePassed(t *testing.T, rep Report, output func() string) {
	t.Helper()
	if rep.Passed() {
		t.Logf("\n%s", rep)
		return
	}
	var b strings.Builder
	for _, f := range rep.Failures() {
		fmt.Fprintf(&b, "\n  %s: %s", f.Name, f.Detail)
	}
	t.Errorf("%d checks failed:%s\n\nfull report:\n%s", len(rep.Failures()), b.String(), rep)
	if output != nil {
		if out := strings.TrimSpace(output()); out != "" {
			t.Logf("target output:\n%s", out)
		}
	}
}

func TestPythonTargets(t *testing.T) {
	for _, tt := range pythonTargets {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			requirePython(t, tt.module)
			p := startPython(t, tt.script)
			stop := func() error { return p.Stop(syscall.SIGTERM, 5*time.Second) }
			rep := Check(t.Context(), p.URL(), testOptions(stop))
			requirePassed(t, rep, p.Output)
		})
	}
}

// TestPythonTargetsSIGINT checks that SIGINT (Ctrl-C) shuts a target down
// as cleanly as SIGTERM.
func TestPythonTargetsSIGINT(t *testing.T) {
	for _, tt := range pythonTargets {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			requirePython(t, tt.module)
			p := startPython(t, tt.script)
			opts := testOptions(func() error { return p.Stop(os.Interrupt, 5*time.Second) })
			opts.Only = []string{"healthz", "shutdown"}
			rep := Check(t.Context(), p.URL(), opts)
			requirePassed(t, rep, p.Output)
		})
	}
}
