package wsclient

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/wsbench/wsbench/internal/testcert"
)

// tlsServer starts a loopback TLS listener that upgrades every connection
// with gobwas/ws and echoes, and returns its wss:// URL and the server
// names (SNI) its clients sent.
func tlsServer(t *testing.T, cfg *tls.Config) (string, func() []string) {
	t.Helper()
	var mu sync.Mutex
	var names []string
	cfg = cfg.Clone()
	cfg.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		mu.Lock()
		names = append(names, hello.ServerName)
		mu.Unlock()
		return nil, nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	tln := tls.NewListener(ln, cfg)
	go func() {
		for {
			c, err := tln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(30 * time.Second))
				if _, err := ws.Upgrade(c); err != nil {
					return
				}
				echoHandler(c)
			}()
		}
	}()
	return "wss://" + ln.Addr().String() + "/echo", func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), names...)
	}
}

// TestDialTLS dials real TLS servers with certificates made in the test
// and checks what succeeds, how each failure is classified, and that the
// server name sent is the one configured.
func TestDialTLS(t *testing.T) {
	t.Parallel()
	ca := testcert.NewCA(t, "wsbench test CA")
	other := testcert.NewCA(t, "another CA")
	serverCert := ca.Issue(t, testcert.Leaf{})
	namedCert := ca.Issue(t, testcert.Leaf{DNSNames: []string{"echo.internal"}})
	expiredCert := ca.Issue(t, testcert.Leaf{NotBefore: time.Now().Add(-2 * time.Hour), NotAfter: time.Now().Add(-time.Hour)})
	clientCert := ca.Issue(t, testcert.Leaf{Client: true})
	strangerCert := other.Issue(t, testcert.Leaf{Client: true})
	expiredClient := ca.Issue(t, testcert.Leaf{Client: true, NotBefore: time.Now().Add(-2 * time.Hour), NotAfter: time.Now().Add(-time.Hour)})

	requireClient := func(max uint16) *tls.Config {
		return &tls.Config{
			Certificates: []tls.Certificate{serverCert.Cert},
			ClientAuth:   tls.RequireAndVerifyClientCert,
			ClientCAs:    ca.Pool(),
			MaxVersion:   max,
		}
	}
	plain := &tls.Config{Certificates: []tls.Certificate{serverCert.Cert}}

	tests := []struct {
		name      string
		server    *tls.Config
		client    *tls.Config // nil: the system's roots
		wantCause string      // "" for success
		wantSNI   string
	}{
		{name: "CA pool verifies", server: plain, client: &tls.Config{RootCAs: ca.Pool()}},
		{name: "system roots do not know a test CA", server: plain, client: nil, wantCause: CauseTLSUnknownAuthority},
		{name: "another CA", server: plain, client: &tls.Config{RootCAs: other.Pool()}, wantCause: CauseTLSUnknownAuthority},
		{name: "insecure skip verify", server: plain, client: &tls.Config{InsecureSkipVerify: true}},
		{name: "server name override", server: &tls.Config{Certificates: []tls.Certificate{namedCert.Cert}},
			client: &tls.Config{RootCAs: ca.Pool(), ServerName: "echo.internal"}, wantSNI: "echo.internal"},
		{name: "address is not the certificate's name", server: &tls.Config{Certificates: []tls.Certificate{namedCert.Cert}},
			client: &tls.Config{RootCAs: ca.Pool()}, wantCause: CauseTLSHostname},
		{name: "wrong server name", server: plain,
			client: &tls.Config{RootCAs: ca.Pool(), ServerName: "other.internal"}, wantCause: CauseTLSHostname, wantSNI: "other.internal"},
		{name: "expired", server: &tls.Config{Certificates: []tls.Certificate{expiredCert.Cert}},
			client: &tls.Config{RootCAs: ca.Pool()}, wantCause: CauseTLSExpired},
		{name: "client cert provided TLS 1.3", server: requireClient(0),
			client: &tls.Config{RootCAs: ca.Pool(), Certificates: []tls.Certificate{clientCert.Cert}}},
		{name: "client cert provided TLS 1.2", server: requireClient(tls.VersionTLS12),
			client: &tls.Config{RootCAs: ca.Pool(), Certificates: []tls.Certificate{clientCert.Cert}}},
		{name: "client cert missing TLS 1.3", server: requireClient(0),
			client: &tls.Config{RootCAs: ca.Pool()}, wantCause: CauseTLSClientCertRequired},
		{name: "client cert missing TLS 1.2", server: requireClient(tls.VersionTLS12),
			client: &tls.Config{RootCAs: ca.Pool()}, wantCause: CauseTLSClientCertRequired},
		// crypto/tls offers only a certificate from a CA the server
		// lists as acceptable; a stranger's certificate is not sent.
		{name: "client cert from an unknown CA TLS 1.3", server: requireClient(0),
			client: &tls.Config{RootCAs: ca.Pool(), Certificates: []tls.Certificate{strangerCert.Cert}}, wantCause: CauseTLSClientCertRequired},
		{name: "client cert from an unknown CA TLS 1.2", server: requireClient(tls.VersionTLS12),
			client: &tls.Config{RootCAs: ca.Pool(), Certificates: []tls.Certificate{strangerCert.Cert}}, wantCause: CauseTLSClientCertRequired},
		{name: "expired client cert TLS 1.3", server: requireClient(0),
			client: &tls.Config{RootCAs: ca.Pool(), Certificates: []tls.Certificate{expiredClient.Cert}}, wantCause: CauseTLSClientCertRejected},
		{name: "expired client cert TLS 1.2", server: requireClient(tls.VersionTLS12),
			client: &tls.Config{RootCAs: ca.Pool(), Certificates: []tls.Certificate{expiredClient.Cert}}, wantCause: CauseTLSClientCertRejected},
		{name: "no common version", server: &tls.Config{Certificates: []tls.Certificate{serverCert.Cert}, MaxVersion: tls.VersionTLS12},
			client: &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS13}, wantCause: CauseTLSVersion},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			url, sni := tlsServer(t, tt.server)
			c, timing, err := Dial(context.Background(), url, Options{TLS: tt.client, ConnectTimeout: 20 * time.Second})
			if tt.wantCause != "" {
				if err == nil {
					c.Close()
					t.Fatalf("dial succeeded, want %s", tt.wantCause)
				}
				if got := Classify(err); got != tt.wantCause {
					t.Fatalf("Classify(%v) = %s, want %s", err, got, tt.wantCause)
				}
			} else {
				if err != nil {
					t.Fatalf("dial: %v (%s)", err, Classify(err))
				}
				defer c.Close()
				if timing.Connect <= 0 || timing.TLS <= 0 || timing.Handshake <= 0 {
					t.Errorf("timing %+v: want every stage measured", timing)
				}
				if _, err := c.WriteMessage(ws.OpText, []byte("over tls")); err != nil {
					t.Fatal(err)
				}
				msg, err := c.ReadMessage()
				if err != nil || string(msg.Payload) != "over tls" {
					t.Fatalf("echo: %q, %v", msg.Payload, err)
				}
			}
			if tt.wantSNI != "" {
				if got := sni(); len(got) != 1 || got[0] != tt.wantSNI {
					t.Errorf("server saw server names %q, want [%s]", got, tt.wantSNI)
				}
			}
		})
	}
}

// TestDialTLSToPlainServer: wss:// to a plain HTTP server, which answers
// the ClientHello with 400 in plain text.
func TestDialTLSToPlainServer(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	_, _, err := Dial(context.Background(), "wss://"+srv.Listener.Addr().String()+"/", Options{TLS: &tls.Config{InsecureSkipVerify: true}})
	if got := Classify(err); got != CauseTLSNotTLS {
		t.Fatalf("Classify(%v) = %s, want %s", err, got, CauseTLSNotTLS)
	}
}

// TestDialPlainHasNoTLSTime: ws:// records no TLS stage.
func TestDialPlainHasNoTLSTime(t *testing.T) {
	t.Parallel()
	c, timing, err := Dial(context.Background(), server(t, echoHandler), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if timing.TLS != 0 || timing.Connect <= 0 || timing.Handshake <= 0 {
		t.Fatalf("timing %+v: want connect and handshake, no TLS", timing)
	}
}

// TestDialTLSTimeout: a server that accepts and never answers the
// ClientHello makes the dial time out as a timeout, not as TLS.
func TestDialTLSTimeout(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	_, timing, err := Dial(context.Background(), "wss://"+ln.Addr().String()+"/", Options{ConnectTimeout: 200 * time.Millisecond})
	if got := Classify(err); got != CauseTimeout {
		t.Fatalf("Classify(%v) = %s, want %s", err, got, CauseTimeout)
	}
	if timing.TLS <= 0 {
		t.Errorf("timing %+v: the TLS stage that timed out is not timed", timing)
	}
}

// TestDialTLSClientCertRequiredByReset: a TLS 1.3 server that asked for a
// client certificate, got none and reset the connection without an alert
// (as a reset can overtake the alert) is still named precisely.
func TestDialTLSClientCertRequiredByReset(t *testing.T) {
	t.Parallel()
	ca := testcert.NewCA(t, "wsbench test CA")
	cert := ca.Issue(t, testcert.Leaf{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg := &tls.Config{Certificates: []tls.Certificate{cert.Cert}, ClientAuth: tls.RequestClientCert}
	go func() {
		for {
			raw, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				tc := tls.Server(raw, cfg)
				if tc.Handshake() == nil && len(tc.ConnectionState().PeerCertificates) == 0 {
					raw.(*net.TCPConn).SetLinger(0) // close with RST
				}
				raw.Close()
			}()
		}
	}()
	_, _, err = Dial(context.Background(), "wss://"+ln.Addr().String()+"/", Options{TLS: &tls.Config{RootCAs: ca.Pool()}})
	if got := Classify(err); got != CauseTLSClientCertRequired {
		t.Fatalf("Classify(%v) = %s, want %s", err, got, CauseTLSClientCertRequired)
	}
}

// TestDialCanceledDuringUpgrade: a run that stops while a server sits on
// the upgrade request ends the dial as canceled, not as a timeout.
func TestDialCanceledDuringUpgrade(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan struct{})
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 1)
		if _, err := c.Read(buf); err == nil {
			close(got)
		}
		// Read until the client gives up: a single read would return the
		// rest of the upgrade request at once, and the close that follows
		// would beat the cancel.
		for b := make([]byte, 4096); ; {
			if _, err := c.Read(b); err != nil {
				return
			}
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-got
		cancel()
	}()
	_, _, err = Dial(ctx, "ws://"+ln.Addr().String()+"/", Options{ConnectTimeout: time.Minute})
	if c := Classify(err); c != CauseCanceled {
		t.Fatalf("Classify(%v) = %s, want %s", err, c, CauseCanceled)
	}
}

// BenchmarkDial measures opening (and closing) one connection on
// loopback, plain and with a full TLS 1.3 handshake (ECDSA P-256), so the
// cost of wss:// per connection is known when a churn test is planned.
func BenchmarkDial(b *testing.B) {
	ca := testcert.NewCA(b, "bench CA")
	cert := ca.Issue(b, testcert.Leaf{})
	for _, bc := range []struct {
		name   string
		server *tls.Config
		client *tls.Config
	}{
		{name: "ws"},
		{name: "wss", server: &tls.Config{Certificates: []tls.Certificate{cert.Cert}}, client: &tls.Config{RootCAs: ca.Pool()}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			defer ln.Close()
			scheme, l := "ws", ln
			if bc.server != nil {
				scheme, l = "wss", tls.NewListener(ln, bc.server)
			}
			go func() {
				for {
					c, err := l.Accept()
					if err != nil {
						return
					}
					go func() {
						defer c.Close()
						if _, err := ws.Upgrade(c); err == nil {
							_, _ = c.Read(make([]byte, 1))
						}
					}()
				}
			}()
			url := scheme + "://" + ln.Addr().String() + "/"
			var tlsTime time.Duration
			for b.Loop() {
				c, timing, err := Dial(context.Background(), url, Options{TLS: bc.client})
				if err != nil {
					b.Fatal(err)
				}
				tlsTime += timing.TLS
				c.Close()
			}
			b.ReportMetric(float64(tlsTime.Microseconds())/float64(b.N), "tls-us/op")
		})
	}
}
