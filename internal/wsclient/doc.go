// Package wsclient is wsbench's WebSocket client connection: a thin layer
// over gobwas/ws that dials ws:// and wss:// with separate TCP-connect,
// TLS-handshake and upgrade timings, writes each masked frame with a
// single syscall from a reused buffer, reads messages into a reused buffer
// (no allocation per message), answers pings, and classifies every
// failure into a short cause name for the report's errors_by_cause (TLS
// failures by what went wrong: unknown authority, name mismatch, expiry,
// client certificate, version).
//
// A Conn has one reader and any number of writers: ReadMessage must be
// called from one goroutine only, the Write methods are safe to call
// concurrently with it and with each other, and InterruptWrite and Close
// may be called from any goroutine at any time. A write that fails (a
// reset, a write timeout, an interruption) leaves the connection broken:
// every later write fails at once, since a frame may be half sent.
//
// Every way a connection can end has one cause (Classify): a close frame
// by code, a protocol violation or oversized message (the client closes
// with 1002, 1007 or 1009 and never buffers past its message limit), a
// reset (even when a write consumed the RST), an EOF without a close
// frame, a write timeout.
package wsclient
