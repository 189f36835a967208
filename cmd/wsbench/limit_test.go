package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/wsbench/wsbench/report"
)

// A run near the generator's descriptor limit in which every connection
// succeeded measured the target faithfully: the report notes the
// descriptors, and the run passes. (It used to exit 4 every time, so a
// capacity scenario near the limit could never pass.)
func TestNearDescriptorLimitIsANote(t *testing.T) {
	const limit, conns = 320, 140 // the built-in target holds the other end of each: 280 of 320
	dir := t.TempDir()
	sc := filepath.Join(dir, "idle.yaml")
	if err := os.WriteFile(sc, []byte(fmt.Sprintf(`
name: near-the-limit
target: builtin
phases:
  - {duration: 1s, clients: %d}
  - {duration: 2s, clients: %d}
flows:
  - name: idle
    steps:
      - connect: {path: /echo}
      - listen: {}
thresholds: ["errors == 0"]
`, conns, conns)), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "r.json")
	// The test binary is wsbench itself with WSBENCH_TEST_MAIN (TestMain).
	cmd := exec.Command("/bin/sh", "-c", "ulimit -n "+strconv.Itoa(limit)+` && exec "$0" "$@"`, os.Args[0], "run", "--quiet", "--json", out, sc)
	cmd.Env = append(os.Environ(), "WSBENCH_TEST_MAIN=1")
	b, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	rep, rerr := report.ReadJSONFile(out)
	if rerr != nil {
		t.Fatalf("no report (%v); output:\n%s", rerr, b)
	}
	g := rep.Generator
	t.Logf("descriptors: peak %d of %d; findings %+v", g.FDPeak, g.FDLimit, g.Findings)
	if g.FDLimit != limit || float64(g.FDPeak) < 0.9*limit {
		t.Fatalf("descriptor peak %d of %d: the run did not come near the limit", g.FDPeak, g.FDLimit)
	}
	if rep.Counters.ConnectsOK != conns || rep.Counters.Errors() != 0 {
		t.Fatalf("connects %d, errors %v", rep.Counters.ConnectsOK, rep.Counters.ErrorsByCause)
	}
	noted := false
	for _, f := range g.Findings {
		noted = noted || (f.Rule == "descriptors" && f.Verdict == report.VerdictNote)
	}
	if g.Unreliable || !noted {
		t.Fatalf("unreliable %v, findings %+v: want a note about descriptors, not a verdict", g.Unreliable, g.Findings)
	}
	if code := cmd.ProcessState.ExitCode(); code != exitOK {
		t.Fatalf("exit %d, want %d; output:\n%s", code, exitOK, b)
	}
}
