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
	register("validate", "check scenario files without running them", runValidate)
}

// validateOptions are the validate command's flags.
type validateOptions struct {
	print  bool // dump each valid scenario as completed
	schema bool // print the JSON Schema and exit
}

// runValidate loads every file given, reports every problem of every file,
// and exits 2 when any file is invalid. Nothing is run and the target is
// not contacted.
func runValidate(_ context.Context, args []string, stdout, stderr io.Writer) int {
	var o validateOptions
	fs := pflag.NewFlagSet("validate", pflag.ContinueOnError)
	fs.BoolVarP(&o.print, "print", "p", false, "print each valid scenario as it will run: defaults filled in, the short form expanded, values from the environment as ***")
	fs.BoolVar(&o.schema, "schema", false, "print the JSON Schema of the scenario format (for editors) and exit")
	setUsage(fs, stderr,
		"Usage: wsbench validate [flags] SCENARIO.yaml...",
		"\nChecks scenario files without running them and reports every problem with",
		"file:line:column and the field it concerns. Exits 2 if any file is invalid.",
	)
	if code, done := parseFlags(fs, args); done {
		return code
	}
	if o.schema {
		if _, err := stdout.Write(scenario.Schema); err != nil {
			fmt.Fprintf(stderr, "wsbench validate: %v\n", err)
			return exitFailed
		}
		return exitOK
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return exitCannotStart
	}
	code := exitOK
	for _, path := range fs.Args() {
		if err := validateFile(path, o, stdout); err != nil {
			fmt.Fprintln(stderr, err)
			code = exitCannotStart
		}
	}
	return code
}

// validateFile loads one scenario and prints its summary (and, with
// --print, the completed scenario). The error is what to tell the user.
func validateFile(path string, o validateOptions, w io.Writer) error {
	sc, err := scenario.Load(path)
	if err != nil {
		var ps scenario.Problems
		if errors.As(err, &ps) {
			return err // every line already says file:line:col: field: msg
		}
		return fmt.Errorf("wsbench validate: %w", err)
	}
	fmt.Fprintf(w, "%s: ok (%s, %s, %s total)\n", path,
		plural(len(sc.Phases), "phase"), plural(len(sc.Flows), "flow"), sc.TotalDuration())
	if !o.print {
		return nil
	}
	out, err := sc.YAML() // values from the environment as ***
	if err != nil {
		return fmt.Errorf("%s: print: %w", path, err)
	}
	fmt.Fprintf(w, "# %s as it will run (defaults filled in)\n", path)
	_, err = w.Write(out)
	return err
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
