// Package netpoll is a readiness-driven reactor for many mostly idle
// connections: a connection waiting for input costs a registration (about a
// hundred bytes) instead of a goroutine and its stack, and a read buffer
// only while a handler is reading. It is what the reference server
// (targets/refserver) serves its WebSocket connections on, and what a
// lightweight load-generator connection is built on. The approach is the one
// of gobwas/ws's "A Million WebSockets and Go"; the code is this project's.
//
// It has three parts:
//
//   - Poller: an epoll instance (Linux) whose registrations are one-shot, so
//     a readable connection is handed to exactly one goroutine of a small,
//     bounded pool, and re-armed only when that goroutine is done with it.
//   - Wheel: a hashed timer wheel for many coarse per-connection timers
//     (heartbeats, ping timeouts, think times), O(1) to schedule and to
//     cancel, all driven by one goroutine.
//   - GetBuffer/PutBuffer: size-classed buffer pools, so a connection holds
//     a buffer only while a read or a partial message needs one.
//
// # Concurrency contract of the Poller
//
// A connection is registered with Poller.Register, which takes the
// connection's syscall.RawConn and a Handler and returns a paused Desc;
// Desc.Resume arms it. Publishing the Desc before Resume means the handler
// and any goroutine that Kicks it see the Desc. Every system call the Poller
// makes on the descriptor (epoll_ctl) runs inside RawConn.Control, which
// holds a reference on the descriptor: a concurrent Close of the connection
// cannot close it mid-call, so the number can never be reused under us.
// Handlers should read the same way (RawConn.Read with a callback that
// never returns false, so it never parks).
//
// Handler.Ready is called on one of the Poller's pool goroutines when the
// descriptor is readable (data, end of stream, or an error pending) or
// when Desc.Kick asked for it. For one Desc, calls to Ready never overlap
// and each happens after the previous one returned (they are serialised
// by the Desc's mutex, which also orders their memory effects), so the
// handler owns its connection's read state without locking. Ready must not
// block for long: the pool is bounded (Config.Workers), and a blocked
// handler delays every other connection queued behind it. It may be called
// when nothing is readable (after Kick, or a readiness that another read
// already consumed); a read returning EAGAIN is normal.
//
// Ready returns whether to re-arm: true waits for the next readiness,
// false leaves the connection paused (no more Ready calls except by Kick)
// until Desc.Resume. Resume and Kick may be called from any goroutine at
// any time, including while Ready runs: a Resume during Ready re-arms when
// Ready returns, whatever it returned; a Kick during Ready runs Ready once
// more afterwards.
//
// Desc.Close deregisters: no readiness or Kick after it starts Ready. When
// Close is called from inside Ready (the usual place) that is the end of
// the handler. When it is called from another goroutine, a Ready that is
// running or already taken off the run queue may still run once after
// Close returned; so to tear a connection down from elsewhere, set a flag
// and Kick, and do the teardown (and Close) inside Ready, which serialises
// it with the reads. Close does not close the connection: close it after
// Desc.Close, or before it (the kernel then drops the registration itself
// and Close only frees the slot). Events the kernel queued before a Close
// and delivered after it carry the Desc's slot number and a generation
// that no longer matches, so they are dropped rather than handed to a
// connection that reused the slot or the descriptor number.
//
// Poller.Close stops the event loop and the pool after the handlers that
// are running have returned; Descs still queued are not run. Call it after
// the connections are gone (never from inside Ready).
//
// # Concurrency contract of the Wheel
//
// Wheel methods are safe for concurrent use. A timer's function runs on the
// wheel's goroutine, one at a time, at or after its due time (never
// before), late by up to one tick plus scheduling delay; it must be short
// and must not block (hand longer work to another goroutine). Stop returns
// false when the function has already started or finished; it does not wait
// for it. A Timer may be re-scheduled with Schedule from inside its own
// function.
//
// # Writes
//
// The package does not write. Callers write with one non-blocking attempt
// through RawConn.Write (a callback bound once, that always returns true)
// and, only when the socket buffer is full, hand the rest to a goroutine
// that writes with net.Conn.Write, which parks in Go's netpoller. Both
// ways cost the same when the socket takes the frame (one system call, no
// allocation: BenchmarkWrite measures 5-9 µs either way on the busy
// development machine), so the choice is made on behaviour: a plain
// net.Conn.Write from a handler would park a pool goroutine for as long as
// a slow or hostile peer does not read, and a few such peers would stall
// every connection. With the non-blocking attempt a slow reader costs a
// goroutine of its own, only while it is behind (targets/refserver pauses
// its reads meanwhile).
package netpoll
