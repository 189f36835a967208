package engine

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wsbench/wsbench/internal/testcert"
	"github.com/wsbench/wsbench/internal/wsclient"
	"github.com/wsbench/wsbench/report"
	"github.com/wsbench/wsbench/scenario"
	"github.com/wsbench/wsbench/targets/refserver"
)

// tlsTarget starts the reference server over TLS with a certificate made
// for the test; clientCA, if not nil, makes it require client certificates.
func tlsTarget(t *testing.T, cert *testcert.Issued, clientCA *x509.CertPool) string {
	t.Helper()
	cfg := &tls.Config{Certificates: []tls.Certificate{cert.Cert}}
	if clientCA != nil {
		cfg.ClientCAs, cfg.ClientAuth = clientCA, tls.RequireAndVerifyClientCert
	}
	srv := refserver.New(refserver.Config{TLS: cfg})
	addr, err := srv.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return "wss://" + addr
}

// TestTLSRuns runs short scenarios against TLS targets and checks what a
// user relies on: what connects, the cause of what does not, a report in
// every case, and three timings per connection.
func TestTLSRuns(t *testing.T) {
	t.Parallel()
	ca := testcert.NewCA(t, "engine test CA")
	dir := t.TempDir()
	certs := filepath.Join(dir, "certs")
	if err := os.Mkdir(certs, 0o755); err != nil {
		t.Fatal(err)
	}
	ca.WriteFile(t, certs, "ca.pem")
	ca.Issue(t, testcert.Leaf{Client: true}).WriteFiles(t, certs, "client")

	byIP := tlsTarget(t, ca.Issue(t, testcert.Leaf{}), nil)
	byName := tlsTarget(t, ca.Issue(t, testcert.Leaf{DNSNames: []string{"echo.internal"}}), nil)
	mutual := tlsTarget(t, ca.Issue(t, testcert.Leaf{}), ca.Pool())

	tests := []struct {
		name      string
		target    string
		tls       string // the client.tls section, or "" for none
		wantCause string // "" when every connection must succeed
		insecure  bool
	}{
		{name: "CA file", target: byIP, tls: "ca_files: [certs/ca.pem]"},
		{name: "system roots", target: byIP, wantCause: wsclient.CauseTLSUnknownAuthority},
		{name: "server name", target: byName, tls: "ca_files: [certs/ca.pem]\nserver_name: echo.internal"},
		{name: "wrong server name", target: byName, tls: "ca_files: [certs/ca.pem]\nserver_name: other.internal", wantCause: wsclient.CauseTLSHostname},
		{name: "client certificate", target: mutual, tls: "ca_files: [certs/ca.pem]\ncert_file: certs/client.pem\nkey_file: certs/client-key.pem"},
		{name: "no client certificate", target: mutual, tls: "ca_files: [certs/ca.pem]", wantCause: wsclient.CauseTLSClientCertRequired},
		{name: "insecure", target: byIP, tls: "insecure_skip_verify: true", insecure: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			doc := "name: tls\ntarget: " + tt.target + "\nclients: 3\nduration: 1s\nmessage: {size: 32, rate: 20}\nclient:\n  drain: 100ms\n"
			if tt.tls != "" {
				doc += "  tls:\n    " + strings.ReplaceAll(tt.tls, "\n", "\n    ") + "\n"
			}
			// The scenario sits beside certs/ and the test runs elsewhere:
			// the relative paths resolve against the file.
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-")+".yaml")
			if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
				t.Fatal(err)
			}
			sc, err := scenario.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			rep, err := Run(ctx, sc, Options{Logf: t.Logf})
			if rep == nil {
				t.Fatalf("no report (%v)", err)
			}
			c := rep.Counters
			if rep.TLS == nil || rep.TLS.InsecureSkipVerify != tt.insecure {
				t.Errorf("report tls %+v, want insecure_skip_verify %v", rep.TLS, tt.insecure)
			}
			var summary bytes.Buffer
			if err := report.WriteText(&summary, rep); err != nil {
				t.Fatal(err)
			}
			if got := strings.Contains(summary.String(), "INSECURE"); got != tt.insecure {
				t.Errorf("summary flags INSECURE: %v, want %v\n%s", got, tt.insecure, summary.String())
			}

			if tt.wantCause != "" {
				if c.ConnectsOK != 0 || c.ConnectsFailed == 0 {
					t.Fatalf("connects ok %d failed %d: want every one to fail", c.ConnectsOK, c.ConnectsFailed)
				}
				if len(c.ErrorsByCause) != 1 || c.ErrorsByCause[tt.wantCause] == 0 {
					t.Fatalf("errors %v, want only %s", c.ErrorsByCause, tt.wantCause)
				}
				if m := rep.Metrics["tls_handshake"]; m != nil && m.Count != 0 {
					t.Errorf("tls_handshake recorded %d failed handshakes", m.Count)
				}
				return
			}
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			if c.ConnectsOK != 3 || c.Errors() != 0 || c.MessagesReceived == 0 {
				t.Fatalf("connects ok %d, errors %v, received %d", c.ConnectsOK, c.ErrorsByCause, c.MessagesReceived)
			}
			for _, name := range []string{"connect", "tls_handshake", "handshake"} {
				if m := rep.Metrics[name]; m == nil || m.Count != c.ConnectsOK || m.MinUS <= 0 {
					t.Errorf("%s: %+v, want %d samples", name, m, c.ConnectsOK)
				}
			}
			// (Reading /stats over HTTPS with the run's TLS settings is
			// package targets' job: TestStatsOverTLS.)
		})
	}
}

// TestPlainRunHasNoTLS: a ws:// run records no TLS handshake and its
// report carries no TLS section.
func TestPlainRunHasNoTLS(t *testing.T) {
	t.Parallel()
	rep := run(t, mustScenario(t, "target: builtin\nclients: 2\nduration: 500ms\nmessage: {rate: 10}\nclient: {drain: 100ms}\n"))
	if rep.TLS != nil {
		t.Errorf("report tls %+v on a ws:// run", rep.TLS)
	}
	if m := rep.Metrics["tls_handshake"]; m != nil {
		t.Errorf("tls_handshake %+v on a ws:// run", m)
	}
}
