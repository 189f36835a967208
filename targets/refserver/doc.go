// Package refserver is the Go reference implementation of the wsbench target
// contract (targets/CONTRACT.md): /healthz, /stats, /echo,
// /broadcast?room=R and /push?rate=N&size=B&count=C over ws:// (or wss://
// with Config.TLS), with server heartbeats, size and UTF-8 limits and a
// graceful 1001 shutdown.
//
// It is the baseline other targets are compared to, the target of wsbench's
// own throughput benchmarks, and the server of capacity tests with
// hundreds of thousands of mostly idle connections, so it is built to be
// fast per message and small per connection: an idle connection costs no
// goroutine and no read buffer, a few KiB in all (see scripts/bench-server
// for the measurement).
//
// # Goroutines and lifetimes
//
// Serve runs the accept loop. Every accepted connection gets one goroutine
// for its HTTP request: it answers /healthz and /stats itself, and for the
// WebSocket endpoints upgrades the connection with gobwas/ws's zero-copy
// Upgrader (net/http is not involved), registers it with the server's
// reactor (internal/netpoll) and ends. From then on the connection has no
// goroutine of its own:
//
//   - Reading: when the socket is readable, a goroutine of the reactor's
//     small pool runs conn.Ready, which reads what is there into a pooled
//     32 KiB buffer and feeds it to a wsframe.Decoder; a partial frame or
//     message waits in the decoder (a pooled buffer only while a message is
//     incomplete), never in a blocked goroutine. One Ready runs at a time
//     per connection, so the read state needs no lock.
//   - Writing: every write is first tried without blocking, under the
//     connection's write mutex (an echo goes out from the read buffer in
//     place, header written into the scratch space in front of the
//     payload). Only when the socket does not take everything does the rest
//     go to a queue drained by a writer goroutine with blocking writes
//     (parked in Go's netpoller); it exists only while the peer is behind,
//     and reading pauses meanwhile (echo backpressure). So a slow or
//     hostile reader costs a goroutine of its own but never holds a pool
//     goroutine. Frames with a due time (Config.ProcessDelay,
//     Config.ServiceTime) wait in the same queue with a Go timer set for the
//     first of them. The queue is bounded (Config.SendQueue); a member that
//     falls that far behind is closed with 1008 rather than losing messages
//     silently.
//   - Broadcast: the sender's Ready appends the frame to every member's
//     queue under the room lock (so every member sees the room's one order)
//     and then flushes each member outside it.
//   - /push: a Go timer runs the schedule; no goroutine waits between
//     messages.
//   - Heartbeat: one timer per connection on a shared hashed wheel
//     (netpoll.Wheel), with a tick of a tenth of the ping interval or
//     timeout (1-100 ms).
//
// When Config.ServiceTime > 0 a single server-wide worker goroutine serves
// every echo and broadcast message in arrival order.
//
// A connection is torn down inside Ready (end of stream, a read error, or
// an abort another goroutine asked for by flag and Desc.Kick: a failed
// write, a send queue overflow, the close timeout), so teardown never races
// a read. Counters of a connection move to the server's totals when the
// last of its teardown and its writer goroutine is done, so Stats never
// counts a message twice or not at all.
//
// Shutdown stops accepting, sends close 1001 to every connection, waits for
// the peers' close frames (at most Config.CloseTimeout) and for every
// connection to be torn down, then stops the reactor; when its context
// expires first it aborts the remaining connections at once and still
// returns only after they are torn down. No goroutine outlives Shutdown.
package refserver
