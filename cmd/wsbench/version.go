package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/spf13/pflag"

	"github.com/wsbench/wsbench/report"
)

func init() {
	register(&command{
		name:    "version",
		summary: "print the version, commit and Go version (also --version)",
		usage:   []string{"wsbench version"},
		flags:   func() *pflag.FlagSet { return newFlagSet("version") },
		run:     runVersion,
	})
	// Reports say which wsbench made them.
	report.Version = shortVersion(build)
}

// build is read before init changes report.Version.
var build = readBuild()

func runVersion(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("version")
	if code, done := parseFlags("version", fs, args, stdout, stderr); done {
		return code
	}
	if fs.NArg() > 0 {
		return usageError("version", stderr, "takes no arguments")
	}
	fmt.Fprintln(stdout, longVersion(build))
	return exitOK
}

// ldflagsVersion is report.Version's value when no -ldflags -X set it.
const ldflagsVersion = "0.1.0-dev"

// buildInfo is what the binary knows about how it was built.
type buildInfo struct {
	ldflags  string // -X report.Version, when a release build set one
	module   string // the main module's version: a tag, a pseudo-version or "(devel)"
	revision string // vcs.revision: the commit, when Go stamped it
	time     string // vcs.time: the commit's time (Go records no build time)
	modified bool   // vcs.modified: built from a work tree with changes
	goVer    string
}

// readBuild reads the build information Go embeds in the binary. go build
// inside a git checkout stamps the commit (-buildvcs=auto) and derives a
// pseudo-version from it; go run, go test, -buildvcs=false (or GOFLAGS),
// a git worktree (Go 1.26 does not stamp those) and builds outside a
// repository do not, and then only "(devel)" is known.
func readBuild() buildInfo {
	b := buildInfo{goVer: runtime.Version()}
	if report.Version != ldflagsVersion && report.Version != "" {
		b.ldflags = report.Version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	b.module = bi.Main.Version
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			b.revision = s.Value
		case "vcs.time":
			b.time = s.Value
		case "vcs.modified":
			b.modified = s.Value == "true"
		}
	}
	return b
}

// version is the version proper: the release's, the module's, or devel.
func (b buildInfo) version() string {
	switch {
	case b.ldflags != "":
		return b.ldflags
	case b.module != "" && b.module != "(devel)":
		return b.module
	}
	return "devel"
}

// shortVersion is the version a report records: "v1.2.0", a
// pseudo-version (which names the commit), "devel+abc123def456[-dirty]",
// or "devel" when nothing more is known.
func shortVersion(b buildInfo) string {
	v := b.version()
	if v == "devel" && b.revision != "" {
		v += "+" + short(b.revision)
		if b.modified {
			v += "-dirty"
		}
	}
	return v
}

// longVersion is the --version line: the version, the commit with its
// time and whether the tree was modified, and the Go version and
// platform. Without version control information it says why.
func longVersion(b buildInfo) string {
	s := "wsbench " + b.version()
	switch {
	case b.revision != "":
		s += " (commit " + short(b.revision)
		if b.time != "" {
			s += ", committed " + b.time
		}
		if b.modified {
			s += ", with uncommitted changes"
		}
		s += ")"
	default:
		s += " (no commit recorded: built by go run or go test, with -buildvcs=false (see go env GOFLAGS), in a git worktree, or outside a git checkout; go build in a checkout records it)"
	}
	return fmt.Sprintf("%s %s %s/%s", s, b.goVer, runtime.GOOS, runtime.GOARCH)
}

func short(rev string) string {
	if len(rev) > 12 {
		return rev[:12]
	}
	return rev
}
