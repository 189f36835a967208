// Command wsbench is a WebSocket load-testing and benchmarking harness.
//
// main only dispatches: every subcommand lives in its own file as a
// command with its flag set and a run function that returns an exit code,
// so main has the program's single os.Exit. Flag parsing, usage and help
// are shared (flags.go), so every subcommand reports a bad flag the same
// way, and shell completion (completion.go) is generated from the same
// registry and flag sets.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"

	"github.com/spf13/pflag"
)

// command is one subcommand.
type command struct {
	name    string
	summary string   // one line for the command list
	usage   []string // synopsis lines, e.g. "wsbench run [flags] SCENARIO.yaml"
	about   []string // the description --help prints after the synopsis
	args    argKind  // what the positional arguments are, for completion
	// flags returns a fresh flag set of the command with its options
	// discarded, for help and completion; run builds its own.
	flags func() *pflag.FlagSet
	// run runs the command with its arguments (without the command's name)
	// and returns the exit code. ctx is cancelled on the first
	// SIGINT/SIGTERM; a second signal exits the process at once.
	run func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

// argKind says what a command's positional arguments are.
type argKind int

const (
	argNone     argKind = iota
	argScenario         // scenario files (*.yaml, *.yml)
	argReport           // JSON reports (*.json)
	argURL              // a ws:// URL
	argShell            // a shell name (completion)
)

var commands = map[string]*command{}

func register(c *command) {
	if _, dup := commands[c.name]; dup {
		panic("wsbench: command registered twice: " + c.name)
	}
	commands[c.name] = c
}

// commandNames returns the registered commands in alphabetical order.
func commandNames() []string {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func main() {
	os.Exit(dispatch(os.Args[1:], os.Stdout, os.Stderr))
}

func dispatch(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitCannotStart
	}
	switch args[0] {
	case "-h", "--help":
		usage(stdout)
		return exitOK
	case "help":
		// "wsbench help run" is "wsbench run --help".
		if len(args) == 1 {
			usage(stdout)
			return exitOK
		}
		args = []string{args[1], "--help"}
	case "--version", "-V":
		args[0] = "version"
	}
	cmd, ok := commands[args[0]]
	if !ok {
		msg := fmt.Sprintf("unknown command %q", args[0])
		if len(args[0]) > 1 && args[0][0] == '-' {
			msg = fmt.Sprintf("%q: a command comes first, its flags after it", args[0])
		} else if s := closest(args[0], commandNames()); s != "" {
			msg += fmt.Sprintf(" (did you mean %s?)", s)
		}
		fmt.Fprintf(stderr, "wsbench: %s\n", msg)
		fmt.Fprintln(stderr, "Usage: wsbench COMMAND [flags] [args]")
		fmt.Fprintln(stderr, "Run 'wsbench --help' for the commands.")
		return exitCannotStart
	}
	ctx, stop := signalContext(stderr, os.Exit)
	defer stop()
	return cmd.run(ctx, args[1:], stdout, stderr)
}

// signalContext returns a context cancelled by the first SIGINT or SIGTERM,
// so a run stops gracefully and writes its partial report; the second
// signal calls exit at once, for a user who does not want to wait.
func signalContext(stderr io.Writer, exit func(int)) (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case <-sigs:
		case <-done:
			return
		}
		fmt.Fprintln(stderr, "\nwsbench: stopping, writing what was measured (signal again to exit now, without reports)")
		cancel()
		select {
		case <-sigs:
		case <-done:
			return
		}
		fmt.Fprintln(stderr, "wsbench: exiting at once; reports not written")
		exit(exitInterrupted)
	}()
	return ctx, func() { signal.Stop(sigs); close(done); cancel() }
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: wsbench COMMAND [flags] [args]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	for _, n := range commandNames() {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'wsbench COMMAND --help' (or 'wsbench help COMMAND') for a command's flags.")
}
