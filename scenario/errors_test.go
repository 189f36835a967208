package scenario

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files of TestErrorMessages")

// testEnvVars is the environment the golden tests and the fuzz seeds see:
// fixed, so that the goldens do not depend on the machine, and passed as
// Options.LookupEnv, so that the tests can run in parallel.
// cmd/wsbench's test of the same files sets the same variables.
var testEnvVars = map[string]string{
	"WSB_TOKEN":    testSecret,
	"WSB_TARGET":   "ws://127.0.0.1:9",
	"WSB_CLIENTS":  "10",
	"WSB_WORDS":    "ten",
	"WSB_EMPTY":    "",
	"WSB_BAD_URL":  "http://user:" + testSecret + "@host/",
	"WSB_DURATION": "2s",
}

// testSecret must appear in no message.
const testSecret = "tok-5ecret-XYZ"

func testEnv(name string) (string, bool) {
	v, ok := testEnvVars[name]
	return v, ok
}

// TestErrorMessages pins what users see for each bad file in testdata/bad:
// the complete output of Parse, compared with the file's .golden twin. Run
// `go test ./scenario -run ErrorMessages -update` after a deliberate change
// of wording, and read the diff.
func TestErrorMessages(t *testing.T) {
	files := glob(t, "testdata/bad/*.yaml")
	if len(files) == 0 {
		t.Fatal("no files in testdata/bad")
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		t.Run(name, func(t *testing.T) {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			// A slash-separated relative path keeps the golden files the same
			// on every machine.
			_, err = ParseWith(filepath.ToSlash(f), src, Options{LookupEnv: testEnv})
			if err == nil {
				t.Fatalf("%s loads without error", f)
			}
			if _, ok := err.(Problems); !ok {
				t.Errorf("error is a %T, want Problems", err)
			}
			got := err.Error() + "\n"
			if strings.Contains(got, testSecret) {
				t.Errorf("the message shows the secret from the environment:\n%s", got)
			}
			golden := strings.TrimSuffix(f, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("error output of %s changed (run with -update if intended)\n--- got\n%s--- want\n%s", f, got, want)
			}
		})
	}
}

// TestGoldenFilesHaveInputs catches golden files left behind by a renamed
// or deleted case.
func TestGoldenFilesHaveInputs(t *testing.T) {
	for _, g := range glob(t, "testdata/bad/*.golden") {
		if _, err := os.Stat(strings.TrimSuffix(g, ".golden") + ".yaml"); err != nil {
			t.Errorf("%s has no input file", g)
		}
	}
}

// TestProblemsSortedByLine checks the order on a file with many problems:
// the golden file shows it, this says it.
func TestProblemsSortedByLine(t *testing.T) {
	_, err := Load("testdata/bad/many-problems.yaml")
	ps, ok := err.(Problems)
	if !ok || len(ps) < 5 {
		t.Fatalf("want at least 5 problems, got %v", err)
	}
	for i := 1; i < len(ps); i++ {
		if ps[i].Line < ps[i-1].Line {
			t.Errorf("problem %d (line %d) after problem %d (line %d)", i, ps[i].Line, i-1, ps[i-1].Line)
		}
	}
	for _, p := range ps {
		if p.Line == 0 || p.Field == "" {
			t.Errorf("problem without position or field: %+v", p)
		}
	}
}
