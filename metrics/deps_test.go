package metrics

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The project's packages depend on each other one way: data at the
// bottom, the engine in the middle, evaluation and wiring on top. A new
// import that points the wrong way fails here, where the rule is
// written down (docs/architecture.md says why).
func TestDependencies(t *testing.T) {
	const mod = "github.com/wsbench/wsbench/"
	// For each package (relative to the module root), the project
	// packages it must not import.
	forbidden := map[string][]string{
		"metrics":         {"scenario", "threshold", "report", "engine", "gate", "capacity", "targets"},
		"threshold":       {"scenario", "report", "engine", "gate", "capacity", "targets", "internal"},
		"scenario":        {"report", "engine", "gate", "capacity", "internal", "targets/refserver", "targets/python", "targets/conformance"},
		"report":          {"scenario", "engine", "gate", "capacity", "targets", "internal"},
		"engine":          {"gate", "capacity", "targets/refserver", "targets/python", "internal/launch", "internal/coord"},
		"gate":            {"engine", "capacity", "targets", "internal", "scenario"},
		"targets/catalog": {"scenario", "report", "engine", "gate", "internal", "targets/refserver", "targets/python"},
	}
	for pkg, bad := range forbidden {
		dir := filepath.Join("..", filepath.FromSlash(pkg))
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			name := e.Name()
			if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(dir, name), nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range f.Imports {
				path, _ := strconv.Unquote(imp.Path.Value)
				rel, ok := strings.CutPrefix(path, mod)
				if !ok {
					continue
				}
				for _, b := range bad {
					if rel == b || strings.HasPrefix(rel, b+"/") {
						t.Errorf("%s/%s imports %s: %s must not depend on %s", pkg, name, rel, pkg, b)
					}
				}
			}
		}
	}
}
