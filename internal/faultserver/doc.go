// Package faultserver is a WebSocket server that fails on purpose, for
// wsbench's reliability tests (the fault matrix in internal/reliability
// and the engine's failing-server tests). It speaks real TCP on loopback,
// in-process (Start) or as a child process (StartProcess), so a test can
// also kill it, freeze it and restart it on the same port.
//
// Healthy by default, it echoes every data message (path /broadcast?room=R
// fans them out to the room instead) and misbehaves as the connection's URL
// query asks, so one server serves every case and a scenario's connect
// path says which fault a flow meets:
//
//	handshake=silent        accept TCP, never answer the upgrade
//	handshake=status&status=503
//	                        answer the upgrade with that HTTP status
//	handshake=bad_accept    answer 101 with a wrong Sec-WebSocket-Accept
//	fault=close&code=1011   send a close frame with that code
//	fault=eof               end the TCP stream (FIN) without a close frame
//	fault=reset             abort the connection (RST)
//	fault=stop_reading      stop reading (and writing) for good
//	fault=frame&frame=NAME  send the hostile frame NAME (see Frames)
//	after=N                 the fault takes the place of the server's
//	                        (N+1)th data message on the connection
//	                        (default 0: its first), and nothing is sent
//	                        after it
//	after_ms=N              ...or N milliseconds after the upgrade, whichever
//	                        comes first (a fault in the middle of traffic,
//	                        however fast the client goes)
//	drop=N                  silently drop every Nth data message received
//	push=50ms               send a text message "tick" this often,
//	                        unprompted (for flows that send nothing)
//
// It serves the target contract's GET /healthz and GET /stats; the stats
// count exactly what it received and sent (messages_in, messages_out) and
// every fault it committed, so tests compare them with the client's counts.
//
// Concurrency: a Server's methods are safe for concurrent use. Each
// connection has one goroutine that reads it and a write lock shared by
// everything that writes to it (echo, broadcast, push, faults).
package faultserver
