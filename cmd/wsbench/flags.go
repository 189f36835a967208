package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/pflag"
)

// setUsage makes fs print its errors and, for --help, the usage text (a
// synopsis and a description, as lines) followed by the flags, on stderr.
func setUsage(fs *pflag.FlagSet, stderr io.Writer, lines ...string) {
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, strings.Join(lines, "\n"))
		fmt.Fprintln(stderr, "\nFlags:")
		fs.PrintDefaults()
	}
}

// parseFlags parses args into fs. When the command must return at once,
// done is true and code is its exit code: exitOK after --help, or
// exitCannotStart after a bad flag (which pflag has already reported).
func parseFlags(fs *pflag.FlagSet, args []string) (code int, done bool) {
	err := fs.Parse(args)
	switch {
	case err == nil:
		return 0, false
	case errors.Is(err, pflag.ErrHelp):
		return exitOK, true
	}
	return exitCannotStart, true
}
