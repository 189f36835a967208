package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/pflag"

	"github.com/wsbench/wsbench/scenario"
)

func init() {
	register(&command{
		name:    "validate",
		summary: "check scenario files without running them",
		usage:   []string{"wsbench validate [flags] SCENARIO.yaml..."},
		about: []string{
			"Checks scenario files without running them and reports every problem with",
			"file:line:column and the field it concerns. Exits 2 if any file is invalid.",
			"A line per valid file goes to stderr; --print writes the completed scenarios",
			"to stdout as YAML that validates again, --schema the JSON Schema.",
		},
		args:  argScenario,
		flags: func() *pflag.FlagSet { return validateFlags(new(validateOptions)) },
		run:   runValidate,
	})
}

// validateOptions are the validate command's flags.
type validateOptions struct {
	print  bool // dump each valid scenario as completed
	schema bool // print the JSON Schema and exit
}

func validateFlags(o *validateOptions) *pflag.FlagSet {
	fs := newFlagSet("validate")
	fs.BoolVarP(&o.print, "print", "p", false, "print each valid scenario as it will run on stdout: defaults filled in, the short form expanded, values from the environment as ***")
	fs.BoolVar(&o.schema, "schema", false, "print the JSON Schema of the scenario format (for editors) on stdout and exit")
	return fs
}

// runValidate loads every file given, reports every problem of every file,
// and exits 2 when any file is invalid. Nothing is run and the target is
// not contacted.
func runValidate(_ context.Context, args []string, stdout, stderr io.Writer) int {
	var o validateOptions
	fs := validateFlags(&o)
	if code, done := parseFlags("validate", fs, args, stdout, stderr); done {
		return code
	}
	if o.schema {
		if fs.NArg() > 0 {
			return usageError("validate", stderr, "--schema takes no files")
		}
		if _, err := stdout.Write(scenario.Schema); err != nil {
			fmt.Fprintf(stderr, "wsbench validate: %v\n", err)
			return exitFailed
		}
		return exitOK
	}
	if fs.NArg() == 0 {
		return usageError("validate", stderr, "no scenario files")
	}
	var out outcome
	printed := 0
	for _, path := range fs.Args() {
		sc, err := validateFile(path)
		if err != nil {
			fmt.Fprintln(stderr, err)
			out.cannotStart = true
			continue
		}
		fmt.Fprintf(stderr, "%s: ok (%s, %s, %s total)\n", path,
			plural(len(sc.Phases), "phase"), plural(len(sc.Flows), "flow"), sc.TotalDuration())
		if !o.print {
			continue
		}
		if err := printScenario(stdout, path, sc, printed > 0); err != nil {
			fmt.Fprintf(stderr, "wsbench validate: %s: %v\n", path, err)
			out.failed = true
		}
		printed++
	}
	return out.code()
}

// validateFile loads one scenario; the error is what to tell the user.
func validateFile(path string) (*scenario.Scenario, error) {
	sc, err := scenario.Load(path)
	if err != nil {
		var ps scenario.Problems
		if errors.As(err, &ps) {
			return nil, err // every line already says file:line:col: field: msg
		}
		return nil, fmt.Errorf("wsbench validate: %w", err)
	}
	return sc, nil
}

// printScenario writes the completed scenario as a YAML document; after
// the first, documents are separated by "---" so the stream stays YAML.
func printScenario(w io.Writer, path string, sc *scenario.Scenario, more bool) error {
	b, err := sc.YAML() // values from the environment as ***, $ as $$
	if err != nil {
		return fmt.Errorf("print: %w", err)
	}
	if more {
		if _, err := io.WriteString(w, "---\n"); err != nil {
			return err
		}
	}
	if _, err := fmt.Fprintf(w, "# %s as it will run (defaults filled in)\n", path); err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}
