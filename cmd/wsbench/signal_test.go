package main

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The first Ctrl-C stops the run and writes what was measured; a second
// exits at once, even while the first is still draining. The run is
// testdata/drain.yaml, which after the first signal waits 20 s for replies
// that a 20 s server delay holds back: only the second signal ends it
// sooner.
func TestSecondSignalExitsAtOnce(t *testing.T) {
	t.Parallel()
	j := filepath.Join(t.TempDir(), "r.json")
	cmd := exec.Command(os.Args[0], "run", "--json", j, "testdata/drain.yaml")
	cmd.Env = append(os.Environ(), "WSBENCH_TEST_MAIN=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	// waitFor reads stderr until a line contains s.
	waitFor := func(s string) {
		t.Helper()
		deadline := time.After(60 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("wsbench ended before printing %q", s)
				}
				if strings.Contains(l, s) {
					return
				}
			case <-deadline:
				t.Fatalf("no %q on stderr", s)
			}
		}
	}
	waitFor("conns 2") // the progress line: the run is under way
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	waitFor("stopping, writing what was measured")
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	waitFor("exiting at once; reports not written")
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitInterrupted {
		t.Fatalf("wait: %v, want exit %d", err, exitInterrupted)
	}
	if _, err := os.Stat(j); err == nil {
		t.Error("a report was written after the second signal")
	}
}
