package refserver

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/wsbench/wsbench/internal/testcert"
)

// TestServeTLS serves wss:// and https:// with a certificate made in the
// test and talks to it with gobwas/ws and net/http, as independent peers.
func TestServeTLS(t *testing.T) {
	ca := testcert.NewCA(t, "refserver test CA")
	dir := t.TempDir()
	certFile, keyFile := ca.Issue(t, testcert.Leaf{}).WriteFiles(t, dir, "server")
	cfg, err := LoadTLS(certFile, keyFile, "")
	if err != nil {
		t.Fatal(err)
	}
	_, addr := startServer(t, Config{TLS: cfg})

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	d := ws.Dialer{TLSConfig: &tls.Config{RootCAs: ca.Pool()}}
	nc, _, _, err := d.Dial(ctx, "wss://"+addr+"/echo")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if err := wsutil.WriteClientText(nc, []byte("secret")); err != nil {
		t.Fatal(err)
	}
	msg, err := wsutil.ReadServerText(nc)
	if err != nil || string(msg) != "secret" {
		t.Fatalf("echo over TLS: %q, %v", msg, err)
	}

	hc := http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}}
	defer hc.CloseIdleConnections()
	resp, err := hc.Get("https://" + addr + "/stats")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"connections_total":1`) {
		t.Fatalf("GET /stats over TLS: %d %s", resp.StatusCode, body)
	}

	// A plain ws:// client gets no WebSocket from a TLS server.
	if c, _, _, err := ws.Dial(ctx, "ws://"+addr+"/echo"); err == nil {
		c.Close()
		t.Fatal("plain ws:// dial to a TLS server succeeded")
	}
}

// TestServeTLSClientCA: with a client CA the server refuses clients
// without a certificate from it.
func TestServeTLSClientCA(t *testing.T) {
	ca := testcert.NewCA(t, "refserver test CA")
	dir := t.TempDir()
	certFile, keyFile := ca.Issue(t, testcert.Leaf{}).WriteFiles(t, dir, "server")
	cfg, err := LoadTLS(certFile, keyFile, ca.WriteFile(t, dir, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	_, addr := startServer(t, Config{TLS: cfg})
	client := ca.Issue(t, testcert.Leaf{Client: true})

	for _, tt := range []struct {
		name  string
		certs []tls.Certificate
		ok    bool
	}{
		{"with a certificate", []tls.Certificate{client.Cert}, true},
		{"without", nil, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			d := ws.Dialer{TLSConfig: &tls.Config{RootCAs: ca.Pool(), Certificates: tt.certs}}
			nc, _, _, err := d.Dial(ctx, "wss://"+addr+"/echo")
			if err == nil {
				defer nc.Close()
				// TLS 1.3 settles the client's certificate after the
				// client's handshake: the first read tells.
				err = wsutil.WriteClientText(nc, []byte("x"))
				if err == nil {
					_, err = wsutil.ReadServerText(nc)
				}
			}
			if (err == nil) != tt.ok {
				t.Fatalf("dial and echo: %v, want success %v", err, tt.ok)
			}
		})
	}
}

func TestLoadTLSErrors(t *testing.T) {
	ca := testcert.NewCA(t, "refserver test CA")
	dir := t.TempDir()
	certFile, keyFile := ca.Issue(t, testcert.Leaf{}).WriteFiles(t, dir, "server")
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, cert, key, ca, want string
	}{
		{"no key", certFile, "", "", "needs a certificate and its key"},
		{"missing certificate", filepath.Join(dir, "missing.pem"), keyFile, "", "no such file"},
		{"swapped", keyFile, certFile, "", "TLS certificate"},
		{"client CA not PEM", certFile, keyFile, notPEM, "holds no PEM certificate"},
	} {
		if _, err := LoadTLS(tt.cert, tt.key, tt.ca); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want an error with %q", tt.name, err, tt.want)
		}
	}
}
