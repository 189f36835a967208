// Package conformance checks a running wsbench target against the target
// contract in targets/CONTRACT.md, and starts target servers as child
// processes.
//
// Check runs every clause of the contract as a named check against one
// server and returns a Report; it never stops at the first failure. The
// checks run one after another, because several of them measure /stats
// counters as deltas: run Check against an otherwise idle target.
//
// StartProcess starts a target command, learns its address from the
// `LISTENING host:port` line it prints, and waits for /healthz; Process.Stop
// shuts it down with a signal. Together they let a test or `wsbench run
// --start-target` use any target without racing for a port.
//
// The client side uses github.com/gobwas/ws at the frame level, so the checks
// see exactly what the server sends: close codes, pings and opcodes.
package conformance
