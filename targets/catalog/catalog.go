// Package catalog is the one list of the targets wsbench knows by name:
// the flag help, scenario validation, the launcher, `wsbench targets` and
// the comparison scripts all read it. It has no dependencies, so the
// scenario language can validate names without pulling in the servers.
package catalog

import (
	"slices"
	"strings"
)

// Target is a target wsbench can start by name.
type Target struct {
	Name      string // as in --start-target and start_target.name
	Language  string // "Go" or "Python"
	Framework string // what it is built on
	// Debian is the package the framework comes from ("" for the
	// built-in Go server).
	Debian string
}

var targets = []Target{
	{Name: "go", Language: "Go", Framework: "wsbench reference server (gobwas/ws)"},
	{Name: "tornado", Language: "Python", Framework: "Tornado", Debian: "python3-tornado"},
	{Name: "twisted", Language: "Python", Framework: "Twisted + Autobahn", Debian: "python3-autobahn"},
	{Name: "websockets", Language: "Python", Framework: "asyncio websockets", Debian: "python3-websockets"},
	{Name: "aiohttp", Language: "Python", Framework: "aiohttp", Debian: "python3-aiohttp"},
}

// All returns every known target, in the order users see them.
func All() []Target { return slices.Clone(targets) }

// Names returns the known targets' names.
func Names() []string {
	out := make([]string, len(targets))
	for i, t := range targets {
		out[i] = t.Name
	}
	return out
}

// Lookup returns the target called name.
func Lookup(name string) (Target, bool) {
	i := slices.IndexFunc(targets, func(t Target) bool { return t.Name == name })
	if i < 0 {
		return Target{}, false
	}
	return targets[i], true
}

// IsKnown reports whether name is a known target.
func IsKnown(name string) bool {
	_, ok := Lookup(name)
	return ok
}

// List returns the names joined for help texts: "go, tornado, …".
func List() string { return strings.Join(Names(), ", ") }
