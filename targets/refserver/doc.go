// Package refserver is the Go reference implementation of the wsbench target
// contract (targets/CONTRACT.md): /healthz, /stats, /echo,
// /broadcast?room=R and /push?rate=N&size=B&count=C over ws:// (or wss://
// with Config.TLS), with server heartbeats, size and UTF-8 limits and a
// graceful 1001 shutdown.
//
// It is the baseline other targets are compared to and the target of
// wsbench's own throughput benchmarks, so the echo path is built for speed:
// connections are accepted from a raw net.Listener and upgraded with
// gobwas/ws's zero-copy Upgrader (net/http is not involved), each connection
// has one reader goroutine with a 4 KiB bufio.Reader, and an echoed message
// is read into a per-connection buffer with room for the frame header in
// front, so the reply goes out with one Write and no allocation.
//
// # Goroutines and lifetimes
//
// Serve runs the accept loop. Every accepted connection gets one goroutine
// that reads the HTTP request, answers /healthz and /stats itself, and for
// the WebSocket endpoints upgrades the connection and then reads frames
// until the connection ends. Besides that reader, a connection has:
//
//   - a writer goroutine when replies are queued: on /broadcast, and on /echo
//     when Config.ProcessDelay or Config.ServiceTime is set. Its outbound queue
//     is bounded (Config.SendQueue); a member that falls that far behind is
//     closed with 1008 rather than losing messages silently;
//   - a pusher goroutine on /push;
//   - a heartbeat timer (time.AfterFunc) when Config.PingInterval > 0.
//
// All writes to a connection are serialised by a per-connection mutex, so
// frames never interleave. When Config.ServiceTime > 0 a single server-wide
// worker goroutine serves every echo and broadcast message in arrival order.
//
// Shutdown stops accepting, sends close 1001 to every connection, waits for
// the peers' close frames (at most Config.CloseTimeout) and for every
// goroutine above to end; when its context expires first it closes the
// remaining connections at once and still returns only after their
// goroutines have ended. No goroutine outlives Shutdown.
package refserver
