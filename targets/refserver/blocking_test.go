package refserver

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// selfSigned returns a TLS configuration with a fresh certificate for
// 127.0.0.1.
func selfSigned(t *testing.T) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "refserver test"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
}

// dialTLS dials wss://addr+path, trusting any certificate.
func dialTLS(t *testing.T, addr, path string) *client {
	t.Helper()
	d := ws.Dialer{TLSConfig: &tls.Config{InsecureSkipVerify: true}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	nc, br, _, err := d.Dial(ctx, "wss://"+addr+path)
	if err != nil {
		t.Fatalf(
			"dial %s: %v",
			path, err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	c := &client{nc: nc, r: nc}
	if br != nil {
		c.r = br
	}
	return c
}

// TestConnWithoutDescriptor serves WebSocket over a tls.Listener, whose
// connections the reactor cannot poll: each keeps a reader goroutine and
// the contract holds all the same.
func TestConnWithoutDescriptor(t *testing.T) {
	s := New(Config{MaxMessageSize: testMaxSize, PingInterval: time.Minute, CloseTimeout: 2 * time.Second, Logf: t.Logf})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(tls.NewListener(ln, selfSigned(t))) }()
	addr := ln.Addr().String()

	t.Run("echo", func(t *testing.T) {
		c := dialTLS(t, addr, "/echo")
		for _, n := range []int{0, 125, 126, 20000, testMaxSize} {
			p := bytes.Repeat([]byte{byte(n)}, n)
			c.send(t, ws.OpBinary, p)
			got, op := c.mustRecv(t)
			if op != ws.OpBinary || !bytes.Equal(got, p) {
				t.Fatalf(
					"%d bytes: echo of %d bytes, opcode %v",
					n, len(got), op)
			}
		}
		c.send(t, ws.OpBinary, make([]byte, testMaxSize+1))
		if code := c.closeCode(t); code != ws.StatusMessageTooBig {
			t.Errorf(
				"close code %d, want 1009",
				code)
		}
	})

	t.Run("broadcast", func(t *testing.T) {
		a := dialTLS(t, addr, "/broadcast?room=tls")
		b := dialTLS(t, addr, "/broadcast?room=tls")
		a.send(t, ws.OpText, []byte("hello"))
		for _, c := range []*client{a, b} {
			if p, _ := c.mustRecv(t); string(p) != "hello" {
				t.Errorf(
					"member got %q",
					p)
			}
		}
	})

	t.Run("shutdown", func(t *testing.T) {
		cs := []*client{dialTLS(t, addr, "/echo"), dialTLS(t, addr, "/push?rate=100")}
		codes := make([]ws.StatusCode, len(cs))
		var wg sync.WaitGroup
		for i, c := range cs {
			wg.Go(func() {
				for {
					if _, _, err := c.recv(); err != nil {
						codes[i], _ = closedWith(err)
						c.nc.Close() // the close handshake is done: end TCP too
						return
					}
				}
			})
		}
		waitFor(t, "both connections", func() bool { return s.Stats().ConnectionsOpen == 2 })
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf(
				"Shutdown: %v",
				err)
		}
		wg.Wait()
		for i, code := range codes {
			if code != ws.StatusGoingAway {
				t.Errorf(
					"connection %d: close code %d, want 1001",
					i, code)
			}
		}
		if err := <-served; err != nil {
			t.Errorf(
				"Serve: %v",
				err)
		}
		checkNoLeaks(t)
	})
}
