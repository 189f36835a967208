package scenario

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files of TestErrorMessages")

// TestErrorMessages pins what users see for each bad file in testdata/bad:
// the complete output of Load, compared with the file's .golden twin. Run
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
			// A slash-separated relative path keeps the golden files the same
			// on every machine.
			_, err := Load(filepath.ToSlash(f))
			if err == nil {
				t.Fatalf("%s loads without error", f)
			}
			if _, ok := err.(Problems); !ok {
				t.Errorf("error is a %T, want Problems", err)
			}
			got := err.Error() + "\n"
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
