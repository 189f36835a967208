package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/wsbench/wsbench/report"
)

// output is one file a command was asked to write.
type output struct {
	flag  string // the flag that names it, "--json", for messages
	path  string // "" for none; "-" (or /dev/stdout) for stdout
	what  string // "JSON report", for "wrote JSON report to PATH"
	write func(io.Writer) error
}

// toStdout reports whether path means the command's standard output.
// /dev/stdout and its aliases count: writing them through a second
// descriptor would interleave with (or truncate) what goes to stdout.
func toStdout(path string) bool {
	switch filepath.Clean(path) {
	case "-", "/dev/stdout", "/dev/fd/1", "/proc/self/fd/1":
		return true
	}
	return false
}

// checkOutputs is the pre-flight check of a command's outputs, before it
// does anything that takes time: at most one goes to stdout, no two name
// the same file, none is one of the command's input files, and every file
// can be written. It creates and truncates nothing, so a run that cannot
// start leaves an earlier report intact.
func checkOutputs(inputs []string, outs ...output) error {
	var errs []error
	var stdoutFlag string
	seen := map[string]string{}
	for _, o := range outs {
		switch {
		case o.path == "":
			continue
		case toStdout(o.path):
			if stdoutFlag != "" {
				errs = append(errs, fmt.Errorf("%s and %s both write to stdout; give one of them a file", stdoutFlag, o.flag))
			}
			stdoutFlag = o.flag
			continue
		}
		key := sameFileKey(o.path)
		if prev, ok := seen[key]; ok {
			errs = append(errs, fmt.Errorf("%s and %s both write %s", prev, o.flag, o.path))
			continue
		}
		seen[key] = o.flag
		if in := overwritesInput(o.path, inputs); in != "" {
			errs = append(errs, fmt.Errorf("%s %s would overwrite the input %s; choose another file", o.flag, o.path, in))
			continue
		}
		if err := report.CheckWritable(o.path); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", o.flag, err))
		}
	}
	return errors.Join(errs...)
}

// sameFileKey identifies the file a path names, for spotting two outputs
// (or an output and an input) that are the same file under two names.
func sameFileKey(path string) string {
	if fi, err := os.Stat(path); err == nil && fi.Mode().IsRegular() {
		if real, err := filepath.EvalSymlinks(path); err == nil {
			return real
		}
	}
	if abs, err := filepath.Abs(path); err == nil {
		return abs
	}
	return filepath.Clean(path)
}

// overwritesInput returns the input that out would replace, or "".
func overwritesInput(out string, inputs []string) string {
	if out == "" || toStdout(out) {
		return ""
	}
	key := sameFileKey(out)
	for _, in := range inputs {
		if in != "" && sameFileKey(in) == key {
			return in
		}
	}
	return ""
}

// writeOutputs writes every output with a path, each file atomically (see
// report.WriteFile), "-" to stdout, and goes on past a failed one so one
// bad path does not cost the others. Each failure is reported on stderr
// naming the flag and path; each success too, unless quiet.
func writeOutputs(cmd string, quiet bool, stdout, stderr io.Writer, outs ...output) error {
	var errs []error
	for _, o := range outs {
		if o.path == "" {
			continue
		}
		var err error
		if toStdout(o.path) {
			err = o.write(stdout)
			if err != nil {
				err = fmt.Errorf("write %s to stdout: %w", o.what, err)
			}
		} else {
			err = report.WriteFile(o.path, o.write)
		}
		if err != nil {
			errs = append(errs, err)
			fmt.Fprintf(stderr, "wsbench %s: %s: %v\n", cmd, o.flag, err)
			continue
		}
		if !quiet && !toStdout(o.path) {
			fmt.Fprintf(stderr, "wrote %s to %s\n", o.what, o.path)
		}
	}
	return errors.Join(errs...)
}

// anyToStdout reports whether one of the outputs goes to stdout, so the
// command's own text (a summary, a table) moves to stderr.
func anyToStdout(outs ...output) bool {
	for _, o := range outs {
		if o.path != "" && toStdout(o.path) {
			return true
		}
	}
	return false
}

// reportOutput is an output that renders a report.
func reportOutput(flag, path, what string, rep **report.Report, render func(io.Writer, *report.Report) error) output {
	return output{flag: flag, path: path, what: what, write: func(w io.Writer) error { return render(w, *rep) }}
}

// plural returns "1 word" or "N words".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
