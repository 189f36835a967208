// Package python embeds the Python target servers so a wsbench binary can
// start them from anywhere (`--start-target tornado`), not only from a
// checkout. The programs themselves are plain scripts run by Debian's
// /usr/bin/python3; see README.md beside them.
package python

import "embed"

//go:embed *_server.py
var scripts embed.FS

// Script returns the program of the named target (tornado, twisted,
// websockets, aiohttp).
func Script(name string) ([]byte, error) {
	return scripts.ReadFile(name + "_server.py")
}
