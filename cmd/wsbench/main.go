// Command wsbench is a WebSocket load-testing and benchmarking harness.
//
// main only dispatches: every subcommand lives in its own file as a
// function with the signature of command, owns its flag set, and returns an
// exit code, so main has the program's single os.Exit.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// command runs one subcommand with its arguments (without the subcommand
// name) and returns the process exit code. ctx is cancelled on the first
// SIGINT/SIGTERM; a second signal exits the process at once.
type command struct {
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
	summary string
}

var commands = map[string]command{}

func register(name, summary string, run func(ctx context.Context, args []string, stdout, stderr io.Writer) int) {
	commands[name] = command{run: run, summary: summary}
}

func main() {
	os.Exit(dispatch(os.Args[1:], os.Stdout, os.Stderr))
}

func dispatch(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		if len(args) == 0 {
			return exitCannotStart
		}
		return exitOK
	}
	if args[0] == "version" || args[0] == "--version" {
		fmt.Fprintln(stdout, "wsbench", version())
		return exitOK
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "wsbench: unknown command %q\n\n", args[0])
		usage(stderr)
		return exitCannotStart
	}
	ctx, stop := signalContext(stderr)
	defer stop()
	return cmd.run(ctx, args[1:], stdout, stderr)
}

// signalContext returns a context cancelled by the first SIGINT or SIGTERM,
// so a run stops gracefully and writes its partial report; the second
// signal exits immediately for a user who does not want to wait.
func signalContext(stderr io.Writer) (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		select {
		case <-sigs:
		case <-ctx.Done():
			return
		}
		fmt.Fprintln(stderr, "\nwsbench: stopping (signal again to exit now)")
		cancel()
		<-sigs
		fmt.Fprintln(stderr, "wsbench: exiting without a report")
		os.Exit(exitInterrupted)
	}()
	return ctx, func() { signal.Stop(sigs); cancel() }
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: wsbench COMMAND [flags] [args]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "  version    print the version")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'wsbench COMMAND --help' for a command's flags.")
}
