package refserver

import (
	"crypto/tls"
	"time"
)

// Defaults used for zero Config fields.
const (
	// DefaultMaxMessageSize is the data message limit when
	// Config.MaxMessageSize is 0 (CONTRACT.md: 1048576).
	DefaultMaxMessageSize = 1 << 20
	// DefaultPingTimeout is used when Config.PingInterval > 0 and
	// Config.PingTimeout is 0 (CONTRACT.md: 20 seconds).
	DefaultPingTimeout = 20 * time.Second
	// DefaultSendQueue is the outbound queue limit when Config.SendQueue is 0.
	DefaultSendQueue = 16384
	// DefaultCloseTimeout is used when Config.CloseTimeout is 0.
	DefaultCloseTimeout = time.Second
	// DefaultHandshakeTimeout is used when Config.HandshakeTimeout is 0.
	DefaultHandshakeTimeout = 10 * time.Second
)

// Config configures a Server. The zero value is a usable server with no
// heartbeats and a 1 MiB message limit.
type Config struct {
	// PingInterval is how often the server pings every WebSocket
	// connection; 0 disables server pings.
	PingInterval time.Duration
	// PingTimeout closes a connection with 1011 when no pong (any pong)
	// arrives within this long after a ping; 0 means DefaultPingTimeout.
	// A ping the peer does not even accept from the socket for this long
	// counts as unanswered as well.
	PingTimeout time.Duration
	// MaxMessageSize is the largest data message accepted; a larger one
	// gets close 1009. 0 means DefaultMaxMessageSize. /push sizes above it
	// are rejected with HTTP 400.
	MaxMessageSize int64
	// ProcessDelay is added to every echo and broadcast reply. Each message
	// waits on its own (the delay shifts latency, not throughput): message
	// received at t is sent at t+ProcessDelay, order kept.
	ProcessDelay time.Duration
	// ServiceTime, if > 0, sends every echo and broadcast message of the
	// whole server through one serial worker that spends this long on each,
	// on an absolute clock: capacity is exactly 1/ServiceTime messages per
	// second and queueing delay grows without bound past it. The worker
	// sleeps until about a millisecond before each deadline and spins for
	// the rest, so it keeps one CPU busy while it has work.
	ServiceTime time.Duration
	// MaxConns, if > 0, answers WebSocket upgrades beyond this many open
	// connections with HTTP 503.
	MaxConns int
	// DropEvery, if > 0, injects a fault for tests: in broadcast, every
	// DropEvery-th delivery (one message to one member, counted server-wide)
	// is silently not sent and counted in Stats.Dropped.
	DropEvery int
	// SendQueue bounds the messages waiting for one connection's writer
	// (broadcast, delayed echo); a connection that falls further behind is
	// closed with 1008. 0 means DefaultSendQueue.
	SendQueue int
	// CloseTimeout is how long the server waits for the peer's close frame
	// and end of stream after it sends a close frame; 0 means
	// DefaultCloseTimeout.
	CloseTimeout time.Duration
	// HandshakeTimeout bounds reading the HTTP request and writing the
	// response; 0 means DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
	// TLS, if set, makes Serve and Start serve wss:// and https:// (for
	// /healthz and /stats) with this configuration; see LoadTLS.
	TLS *tls.Config
	// Logf, if set, receives one line per noteworthy event (rejected
	// handshakes, protocol errors, heartbeat timeouts). nil is silent.
	Logf func(format string, args ...any)
}

// withDefaults returns c with zero and negative fields replaced by their
// defaults.
func (c Config) withDefaults() Config {
	if c.PingInterval < 0 {
		c.PingInterval = 0
	}
	if c.PingTimeout <= 0 {
		c.PingTimeout = DefaultPingTimeout
	}
	if c.MaxMessageSize <= 0 {
		c.MaxMessageSize = DefaultMaxMessageSize
	}
	c.ProcessDelay = max(c.ProcessDelay, 0)
	c.ServiceTime = max(c.ServiceTime, 0)
	c.MaxConns = max(c.MaxConns, 0)
	c.DropEvery = max(c.DropEvery, 0)
	if c.SendQueue <= 0 {
		c.SendQueue = DefaultSendQueue
	}
	if c.CloseTimeout <= 0 {
		c.CloseTimeout = DefaultCloseTimeout
	}
	if c.HandshakeTimeout <= 0 {
		c.HandshakeTimeout = DefaultHandshakeTimeout
	}
	return c
}

// Stats are the server's counters since it was created, as served on
// /stats. Message and byte counts cover data messages (payload bytes) on
// every WebSocket endpoint; control frames are not counted.
type Stats struct {
	ConnectionsTotal int64 `json:"connections_total"` // successful upgrades
	ConnectionsOpen  int64 `json:"connections_open"`  // upgraded and not yet torn down
	MessagesIn       int64 `json:"messages_in"`       // data messages received
	MessagesOut      int64 `json:"messages_out"`      // data messages written to a socket
	BytesIn          int64 `json:"bytes_in"`          // payload bytes of MessagesIn
	BytesOut         int64 `json:"bytes_out"`         // payload bytes of MessagesOut
	Dropped          int64 `json:"dropped"`           // deliveries skipped by Config.DropEvery
}
