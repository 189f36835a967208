// Package conformance checks a running wsbench target against the target
// contract in targets/CONTRACT.md.
//
// Check runs every clause of the contract as a named check against one
// server and returns a Report; it never stops at the first failure. The
// checks run one after another, because several of them measure /stats
// counters as deltas: run Check against an otherwise idle target.
// Package launch starts targets as processes for it (`wsbench conform
// --start NAME`).
//
// The client side uses github.com/gobwas/ws at the frame level, so the checks
// see exactly what the server sends: close codes, pings and opcodes.
package conformance
