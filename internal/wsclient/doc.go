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
// concurrently with it and with each other.
package wsclient
