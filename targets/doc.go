// Package targets starts, watches and stops the servers a run's load goes
// to: the built-in reference server (target: builtin), a known target
// process by name (start_target.name, see package catalog), or any
// command that follows the contract's start-up protocol. A plain ws://
// URL is a Target too, one that wsbench did not start.
//
// The engine runs load against an address and nothing else; Target.Run
// is the glue: it reads the target's /stats before and after, ends the
// run as failed if a started target process dies, and records what the
// target is (in the generator's process or not, its memory) in the
// report. Starting once and running several times (capacity steps) is the
// reason the two are separate.
//
// A Target is safe for concurrent use; Stop must be called once.
package targets
