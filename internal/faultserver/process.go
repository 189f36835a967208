package faultserver

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/wsbench/wsbench/internal/launch"
)

// childEnv is the environment variable that turns a re-executed test
// binary into a fault server process listening on its value.
const childEnv = "WSBENCH_FAULTSERVER_ADDR"

// ServeIfChild makes the current process a fault server when it was
// started by StartProcess, and then never returns; otherwise it returns at
// once. A test package that uses StartProcess calls it first thing in
// TestMain:
//
//	func TestMain(m *testing.M) {
//		faultserver.ServeIfChild()
//		os.Exit(m.Run())
//	}
func ServeIfChild() {
	addr, ok := os.LookupEnv(childEnv)
	if !ok {
		return
	}
	s, err := Start(addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// The launch protocol: one LISTENING line once connections are
	// accepted.
	fmt.Printf("LISTENING %s\n", s.Addr())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	s.Close()
	os.Exit(0)
}

// StartProcess starts a fault server as a child process listening on addr
// ("127.0.0.1:0" for a free port, or the address of one that was killed,
// to restart it on the same port), so a test can SIGKILL, SIGSTOP and
// SIGCONT it. The child is the test binary itself, re-executed; its
// TestMain must call ServeIfChild. Stop it with Stop or Kill on the
// returned process.
func StartProcess(ctx context.Context, addr string) (*launch.Process, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("faultserver: %w", err)
	}
	// -test.run matches nothing, so a binary whose TestMain forgot
	// ServeIfChild exits without running tests (and Start says so).
	return launch.Start(ctx, []string{exe, "-test.run=^$"}, []string{childEnv + "=" + addr})
}
