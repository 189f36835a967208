package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/pflag"

	"github.com/wsbench/wsbench/targets/catalog"
)

func init() {
	register(&command{
		name:    "targets",
		summary: "list the targets wsbench starts by name",
		usage:   []string{"wsbench targets [--names]"},
		about: []string{
			"Lists the known targets (--start-target NAME, start_target.name, conform --start):",
			"name, language, framework and the Debian package it comes from. --names prints",
			"the names only, one per line, for scripts.",
		},
		flags: func() *pflag.FlagSet { return targetsFlags(new(bool)) },
		run:   runTargets,
	})
}

func targetsFlags(names *bool) *pflag.FlagSet {
	fs := newFlagSet("targets")
	fs.BoolVar(names, "names", false, "print the names only, one per line")
	return fs
}

func runTargets(_ context.Context, args []string, stdout, stderr io.Writer) int {
	var names bool
	fs := targetsFlags(&names)
	if code, done := parseFlags("targets", fs, args, stdout, stderr); done {
		return code
	}
	if fs.NArg() > 0 {
		return usageError("targets", stderr, "targets takes no arguments")
	}
	if names {
		for _, n := range catalog.Names() {
			fmt.Fprintln(stdout, n)
		}
		return exitOK
	}
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tLANGUAGE\tFRAMEWORK\tDEBIAN PACKAGE\tSCALE-OUT")
	for _, t := range catalog.All() {
		pkg, scale := t.Debian, "no"
		if pkg == "" {
			pkg = "-"
		}
		if catalog.ScaleOut(t.Name) {
			scale = "processes, bus, proxy, loop, accel"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.Name, t.Language, t.Framework, pkg, scale)
	}
	if err := tw.Flush(); err != nil {
		fmt.Fprintf(stderr, "wsbench targets: %v\n", err)
		return exitFailed
	}
	return exitOK
}
