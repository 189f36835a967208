package main

import (
	"bufio"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wsbench/wsbench/internal/testcert"
	"github.com/wsbench/wsbench/report"
)

// TestServeAndRunTLS: `wsbench serve --tls-cert --tls-key` serves wss://,
// and a run that skips verification against it works and is flagged in
// the terminal summary and the JSON report.
func TestServeAndRunTLS(t *testing.T) {
	dir := t.TempDir()
	ca := testcert.NewCA(t, "cmd test CA")
	certFile, keyFile := ca.Issue(t, testcert.Leaf{}).WriteFiles(t, dir, "server")

	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	served := make(chan int, 1)
	go func() {
		served <- runServe(ctx, []string{"--addr", "127.0.0.1:0", "--tls-cert", certFile, "--tls-key", keyFile}, pw, io.Discard)
		pw.Close()
	}()
	defer func() {
		cancel()
		if code := <-served; code != exitOK {
			t.Errorf("serve exited %d", code)
		}
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("serve printed no LISTENING line: %v", err)
	}
	go io.Copy(io.Discard, pr)
	addr := strings.TrimSpace(strings.TrimPrefix(line, "LISTENING "))

	sc := filepath.Join(dir, "tls.yaml")
	doc := "target: wss://" + addr + "\nclients: 2\nduration: 1s\nmessage: {rate: 10}\nclient:\n  drain: 100ms\n  tls: {insecure_skip_verify: true}\nthresholds: [\"errors == 0\"]\n"
	if err := os.WriteFile(sc, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	j := filepath.Join(dir, "r.json")
	code, stdout, stderr := wsbench(t, "run", "--json", j, sc)
	if code != exitOK {
		t.Fatalf("run exited %d:\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "!! INSECURE: TLS certificates were NOT verified") {
		t.Errorf("the summary does not flag the insecure run:\n%s", stdout)
	}
	r, err := report.ReadJSONFile(j)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Insecure() || r.Metrics["tls_handshake"] == nil || r.Metrics["tls_handshake"].Count != r.Counters.ConnectsOK {
		t.Errorf("report tls %+v, tls_handshake %+v, connects ok %d", r.TLS, r.Metrics["tls_handshake"], r.Counters.ConnectsOK)
	}
}

func TestServeTLSFlags(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var errb strings.Builder
	code := runServe(ctx, []string{"--addr", "127.0.0.1:0", "--tls-cert", "server.pem"}, io.Discard, &errb)
	if code != exitCannotStart || !strings.Contains(errb.String(), "--tls-cert and --tls-key go together") {
		t.Errorf("exit %d, stderr %q", code, errb.String())
	}
	errb.Reset()
	code = runServe(ctx, []string{"--addr", "127.0.0.1:0", "--tls-cert", "missing.pem", "--tls-key", "missing-key.pem"}, io.Discard, &errb)
	if code != exitCannotStart || !strings.Contains(errb.String(), "missing.pem") {
		t.Errorf("exit %d, stderr %q", code, errb.String())
	}
}
