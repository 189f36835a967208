// Package launch starts target servers as child processes and stops them:
// the reference server (wsbench serve) and the Python targets by name, or
// any command that follows the contract's start-up protocol (print
// `LISTENING host:port`, answer GET /healthz).
//
// It only ever ends the processes it started, by PID.
package launch
