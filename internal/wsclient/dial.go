package wsclient

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/gobwas/httphead"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsflate"
)

// aLongTimeAgo is a deadline in the past: setting it interrupts blocked I/O.
var aLongTimeAgo = time.Unix(1, 0)

// Dial opens a WebSocket connection to url (ws:// or wss://) and times its
// three stages separately: the TCP connect, the TLS handshake (wss://
// only) and the HTTP upgrade. The TLS handshake is completed on its own
// before the upgrade request is written, so its time is not folded into
// the upgrade's. Every wss:// dial is a full handshake (no session
// resumption), as for as many fresh clients. On failure the error can be
// classified with Classify.
func Dial(ctx context.Context, rawURL string, o Options) (*Conn, Timing, error) {
	var t Timing
	fail := func(err error) (*Conn, Timing, error) {
		return nil, t, fmt.Errorf("dial %s: %w", rawURL, err)
	}
	u, err := url.ParseRequestURI(rawURL)
	if err != nil {
		return fail(err)
	}
	secure := false
	port := "80"
	switch u.Scheme {
	case "ws":
	case "wss":
		secure, port = true, "443"
	default:
		return fail(fmt.Errorf("unexpected scheme %q: want ws or wss", u.Scheme))
	}
	if p := u.Port(); p != "" {
		port = p
	}
	timeout := o.ConnectTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	// No TCP keepalive: WebSocket heartbeats are the scenario's to choose
	// (client.ping_interval), and Go's default (probes after 15 s idle)
	// costs four setsockopt calls per connect, and a packet per idle
	// connection every 15 s, which a capacity test of idle connections
	// would count against the target.
	nd := net.Dialer{KeepAlive: -1}
	if o.LocalAddr != nil {
		nd.LocalAddr = o.LocalAddr
	}
	start := time.Now()
	nc, err := nd.DialContext(ctx, "tcp", net.JoinHostPort(u.Hostname(), port))
	connected := time.Now()
	t.Connect = connected.Sub(start)
	if err != nil {
		return fail(err)
	}
	ok := false
	defer func() {
		if !ok {
			nc.Close()
		}
	}()

	upgradeFrom := connected
	var certs *clientCerts
	if secure {
		var cfg *tls.Config
		cfg, certs = clientConfig(o.TLS, u.Hostname())
		tc := tls.Client(nc, cfg)
		err := tc.HandshakeContext(ctx)
		done := time.Now()
		t.TLS = done.Sub(connected)
		if err != nil {
			return fail(tlsFailure("tls handshake", err, certs))
		}
		nc, upgradeFrom = tc, done
	}

	bufSize := o.ReadBufferSize
	if bufSize <= 0 {
		bufSize = 4096
	}
	d := ws.Dialer{
		ReadBufferSize:  bufSize,
		WriteBufferSize: 1024,
		Protocols:       o.Subprotocols,
	}
	if len(o.Headers) > 0 {
		d.Header = ws.HandshakeHeaderHTTP(o.Headers)
	}
	if o.Compression {
		d.Extensions = []httphead.Option{wsflate.DefaultParameters.Option()}
	}
	// Upgrade does blocking I/O without a context: the deadline set when
	// ctx ends (timeout or the run stopping) interrupts it.
	stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(aLongTimeAgo) })
	br, hs, err := d.Upgrade(nc, u)
	if !stop() {
		// ctx ended during the upgrade; whatever the I/O error says, the
		// cause is the timeout or the cancellation.
		return fail(fmt.Errorf("upgrade: %w", ctx.Err()))
	}
	if err != nil {
		if secure {
			err = tlsFailure("upgrade", err, certs)
		}
		return fail(err)
	}
	t.Handshake = time.Since(upgradeFrom)

	c := &Conn{
		nc:       nc,
		protocol: hs.Protocol,
		maxMsg:   o.MaxMessageSize,
		utf8:     !o.SkipUTF8Check,
	}
	if c.maxMsg <= 0 {
		c.maxMsg = DefaultMaxMessageSize
	}
	for _, ext := range hs.Extensions {
		if bytes.Equal(ext.Name, wsflate.ExtensionNameBytes) {
			c.deflate = true
		}
	}
	// The dialer hands back its reader only when the server sent frames
	// right behind the 101; those bytes are in it, so keep reading from it.
	c.br = br
	if tc, isTCP := nc.(*net.TCPConn); o.Poll && isTCP {
		rc, err := tc.SyscallConn()
		if err != nil {
			return fail(err)
		}
		pl := &poller{rc: rc}
		pl.readFn, pl.writeFn = pl.readCB, pl.writeCB
		c.pl = pl
	} else {
		c.wbuf = make([]byte, 0, 256)
		if c.br == nil {
			c.br = bufio.NewReaderSize(nc, bufSize)
		}
	}
	ok = true
	return c, t, nil
}

// clientCerts records what a server asked of the client's certificates
// during one dial.
type clientCerts struct {
	configured bool        // the configuration has a certificate to offer
	asked      atomic.Bool // the server asked for a certificate
	sent       atomic.Bool // and the client sent one
}

// clientConfig returns the TLS configuration of one dial: base (or an
// empty config, which verifies against the system's roots) with the URL's
// host as server name unless base names one. It also records whether the
// server asked for a client certificate and whether one was sent, because
// a TLS 1.3 server judges the client's certificate only after the
// client's side of the handshake is done, and a connection reset can
// overtake its alert: knowing that a certificate was asked for and none
// was sent is the reliable way to name that failure. The certificate
// chosen is the one crypto/tls would choose: the first the server's
// request supports.
func clientConfig(base *tls.Config, host string) (*tls.Config, *clientCerts) {
	var cfg *tls.Config
	if base == nil {
		cfg = &tls.Config{}
	} else {
		cfg = base.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	cc := &clientCerts{configured: len(cfg.Certificates) > 0 || cfg.GetClientCertificate != nil}
	certs, get := cfg.Certificates, cfg.GetClientCertificate
	cfg.GetClientCertificate = func(cri *tls.CertificateRequestInfo) (*tls.Certificate, error) {
		cc.asked.Store(true)
		if get != nil {
			c, err := get(cri)
			if err == nil && c != nil && len(c.Certificate) > 0 {
				cc.sent.Store(true)
			}
			return c, err
		}
		for i := range certs {
			if cri.SupportsCertificate(&certs[i]) == nil {
				cc.sent.Store(true)
				return &certs[i], nil
			}
		}
		return &tls.Certificate{}, nil // no acceptable certificate: send none
	}
	return cfg, cc
}
