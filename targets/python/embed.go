// Package python embeds the Python target servers so a wsbench binary can
// start them from anywhere (`--start-target tornado`), not only from a
// checkout. The programs themselves are plain scripts run by Debian's
// /usr/bin/python3; see README.md beside them.
package python

import "embed"

//go:embed *_server.py wsbench_scaleout.py
var scripts embed.FS

// Support lists the modules every server imports from its own directory;
// whoever writes a server's Script somewhere writes these beside it.
var Support = []string{"wsbench_scaleout.py"}

// Script returns the program of the named target (tornado, twisted,
// websockets, aiohttp).
func Script(name string) ([]byte, error) {
	return scripts.ReadFile(name + "_server.py")
}

// File returns one of the embedded files by name (a server script or a
// module listed in Support).
func File(name string) ([]byte, error) {
	return scripts.ReadFile(name)
}
