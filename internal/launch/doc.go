// Package launch starts target servers as child processes and stops them:
// the reference server (wsbench serve) and the Python targets by name, or
// any command that follows the contract's start-up protocol (print
// `LISTENING host:port`, answer GET /healthz).
//
// A Topology starts a named target as several processes at once: a
// private redis-server on a free loopback port (the bus the Python
// targets bridge their broadcast rooms through), N target processes, and
// haproxy in front of them from a generated configuration; it collects
// every process's output and counters (their /stats, /stats/rooms and
// /info, Redis's INFO, haproxy's show stat) and stops them all, also when
// starting fails or is cancelled.
//
// Concurrency: a Process's methods are safe for concurrent use. A
// Topology's Start must return before its other methods are called; after
// that they are safe for concurrent use, and Stop is idempotent.
//
// It only ever ends the processes it started, by PID.
package launch
