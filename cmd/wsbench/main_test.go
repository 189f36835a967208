package main

import (
	"bytes"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// TestMain runs wsbench itself when WSBENCH_TEST_MAIN is set, so a test
// can start the CLI as a process (to send it signals) without building it.
func TestMain(m *testing.M) {
	if os.Getenv("WSBENCH_TEST_MAIN") == "1" {
		os.Exit(dispatch(os.Args[1:], os.Stdout, os.Stderr))
	}
	code := m.Run()
	if sharedDir != "" {
		os.RemoveAll(sharedDir)
	}
	os.Exit(code)
}

// wsbench runs the CLI in-process, as main would, and returns the exit
// code with what it printed.
func wsbench(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := dispatch(args, &out, &errb)
	return code, out.String(), errb.String()
}

// Reports of real runs that several tests read and none changes: a run of
// gate-pass.yaml (fast) and of gate-slower.yaml (the same scenario against
// a server 30 ms slower).
var (
	sharedOnce             sync.Once
	sharedDir              string
	sharedFast, sharedSlow string
	sharedErr              string
)

func sharedReports(t *testing.T) (fast, slow string) {
	t.Helper()
	sharedOnce.Do(func() {
		dir, err := os.MkdirTemp("", "wsbench-cli-test-")
		if err != nil {
			sharedErr = err.Error()
			return
		}
		sharedDir = dir
		for _, r := range []struct {
			path     *string
			scenario string
		}{{&sharedFast, "testdata/gate-pass.yaml"}, {&sharedSlow, "testdata/gate-slower.yaml"}} {
			p := filepath.Join(dir, filepath.Base(r.scenario)+".json")
			var out, errb bytes.Buffer
			if code := dispatch([]string{"run", "--quiet", "--json", p, r.scenario}, &out, &errb); code != exitOK {
				sharedErr = "run " + r.scenario + ": " + errb.String()
				return
			}
			*r.path = p
		}
	})
	if sharedErr != "" {
		t.Fatal(sharedErr)
	}
	return sharedFast, sharedSlow
}
