package main

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/spf13/pflag"
)

// newFlagSet returns an empty flag set for the command name that reports
// errors to its caller and prints nothing itself: parseFlags does the
// printing, the same way for every command.
func newFlagSet(name string) *pflag.FlagSet {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.SortFlags = true
	return fs
}

// parseFlags parses the arguments of the command name into fs. When the
// command must return at once, done is true and code is its exit code:
// exitOK after --help (printed on stdout), exitCannotStart after a bad flag
// (the error, the usage line and a hint printed on stderr).
func parseFlags(name string, fs *pflag.FlagSet, args []string, stdout, stderr io.Writer) (code int, done bool) {
	err := fs.Parse(args)
	switch {
	case err == nil:
		return 0, false
	case errors.Is(err, pflag.ErrHelp):
		printHelp(stdout, commands[name], fs)
		return exitOK, true
	}
	return usageError(name, stderr, "%s", flagError(fs, err)), true
}

// usageError prints a usage mistake of the command name on stderr with
// its usage line and where to find more, and returns exitCannotStart.
func usageError(name string, stderr io.Writer, format string, args ...any) int {
	fmt.Fprintf(stderr, "wsbench %s: %s\n", name, fmt.Sprintf(format, args...))
	if c := commands[name]; c != nil {
		for i, u := range c.usage {
			prefix := "Usage: "
			if i > 0 {
				prefix = "       "
			}
			fmt.Fprintln(stderr, prefix+u)
		}
	}
	fmt.Fprintf(stderr, "Run 'wsbench %s --help' for its flags.\n", name)
	return exitCannotStart
}

// printHelp prints a command's --help: synopsis, description and flags.
func printHelp(w io.Writer, c *command, fs *pflag.FlagSet) {
	if c == nil {
		return
	}
	for i, u := range c.usage {
		prefix := "Usage: "
		if i > 0 {
			prefix = "       "
		}
		fmt.Fprintln(w, prefix+u)
	}
	if len(c.about) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, strings.Join(c.about, "\n"))
	}
	if fs.HasFlags() {
		fmt.Fprintln(w, "\nFlags:")
		fmt.Fprint(w, fs.FlagUsages())
	}
}

var unknownFlagRe = regexp.MustCompile(`^unknown flag: --(\S+)$`)

// flagError rewords pflag's error where it can help: a misspelt flag gets
// the closest known name.
func flagError(fs *pflag.FlagSet, err error) string {
	msg := err.Error()
	if m := unknownFlagRe.FindStringSubmatch(msg); m != nil {
		var names []string
		fs.VisitAll(func(f *pflag.Flag) { names = append(names, f.Name) })
		if s := closest(m[1], names); s != "" {
			msg += fmt.Sprintf(" (did you mean --%s?)", s)
		}
	}
	return msg
}

// closest returns the candidate nearest to s if it is near enough to be a
// likely typo, else "".
func closest(s string, candidates []string) string {
	best, bestD := "", 0
	for _, c := range candidates {
		d := editDistance(s, c)
		if best == "" || d < bestD {
			best, bestD = c, d
		}
	}
	if best == "" || bestD > max(1, len(s)/3) {
		return ""
	}
	return best
}

// editDistance is the optimal string alignment distance of a and b, by
// bytes: insertions, deletions, substitutions and transpositions of
// neighbours ("rnu" is one from "run") each count one.
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

// completeAnnotation marks what a flag's value is, for shell completion:
// "file" (any path), "file:EXT,EXT" (paths with these extensions) or
// "values:A,B,C" (one of these words).
const completeAnnotation = "wsbench_complete"

// completeFiles marks flags whose value is a path, with the extensions
// that fit (none: any file).
func completeFiles(fs *pflag.FlagSet, exts string, names ...string) {
	v := "file"
	if exts != "" {
		v += ":" + exts
	}
	for _, n := range names {
		if err := fs.SetAnnotation(n, completeAnnotation, []string{v}); err != nil {
			panic(err) // a flag name typo in this file
		}
	}
}

// completeValues marks a flag whose value is one of a few words.
func completeValues(fs *pflag.FlagSet, name string, values ...string) {
	if err := fs.SetAnnotation(name, completeAnnotation, []string{"values:" + strings.Join(values, ",")}); err != nil {
		panic(err)
	}
}
