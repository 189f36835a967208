package scenario

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"

	"github.com/wsbench/wsbench/internal/testcert"
)

// tlsFixture writes a CA, a server certificate's CA-signed leaf and a
// client certificate with its key under dir/certs, as a scenario refers
// to them.
type tlsFixture struct {
	dir    string
	ca     *testcert.CA
	server *testcert.Issued
}

func newTLSFixture(t *testing.T) *tlsFixture {
	t.Helper()
	dir := t.TempDir()
	certs := filepath.Join(dir, "certs")
	if err := os.Mkdir(certs, 0o755); err != nil {
		t.Fatal(err)
	}
	ca := testcert.NewCA(t, "scenario test CA")
	ca.WriteFile(t, certs, "ca.pem")
	ca.Issue(t, testcert.Leaf{Client: true}).WriteFiles(t, certs, "client")
	testcert.NewCA(t, "other").Issue(t, testcert.Leaf{Client: true}).WriteFiles(t, certs, "other")
	return &tlsFixture{dir: dir, ca: ca, server: ca.Issue(t, testcert.Leaf{})}
}

// load writes a short-form scenario with the given client.tls section
// into the fixture's directory and loads it from there: the test's
// working directory is elsewhere, so relative paths must resolve against
// the file.
func (f *tlsFixture) load(t *testing.T, section string) (*Scenario, error) {
	t.Helper()
	doc := "target: wss://127.0.0.1:8443\nclients: 1\nduration: 1s\nclient:\n  tls:\n"
	for _, l := range strings.Split(strings.TrimSpace(section), "\n") {
		doc += "    " + l + "\n"
	}
	path := filepath.Join(f.dir, "tls.yaml")
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	return Load(path)
}

func TestTLSConfig(t *testing.T) {
	t.Parallel()
	f := newTLSFixture(t)
	leaf, err := x509.ParseCertificate(f.server.Cert.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	verifies := func(cfg *tls.Config) bool {
		_, err := leaf.Verify(x509.VerifyOptions{Roots: cfg.RootCAs, DNSName: "localhost"})
		return err == nil
	}
	tests := []struct {
		name    string
		section string
		check   func(t *testing.T, cfg *tls.Config)
	}{
		{name: "CA file, client certificate, server name, version", section: `
ca_files: [certs/ca.pem]
cert_file: certs/client.pem
key_file: certs/client-key.pem
server_name: echo.internal
min_version: 1.3`,
			check: func(t *testing.T, cfg *tls.Config) {
				if !verifies(cfg) {
					t.Error("the CA file does not verify its leaf")
				}
				if len(cfg.Certificates) != 1 || cfg.ServerName != "echo.internal" || cfg.MinVersion != tls.VersionTLS13 || cfg.InsecureSkipVerify {
					t.Errorf("config %+v", cfg)
				}
			}},
		{name: "CA file and system roots", section: "ca_files: [certs/ca.pem]\nsystem_roots: true",
			check: func(t *testing.T, cfg *tls.Config) {
				if !verifies(cfg) {
					t.Error("the CA file does not verify its leaf")
				}
			}},
		{name: "system roots by default", section: "server_name: echo.internal",
			check: func(t *testing.T, cfg *tls.Config) {
				if cfg.RootCAs != nil {
					t.Error("RootCAs set: the system's roots would not be used")
				}
			}},
		{name: "YAML's 1.0 is the number 1", section: "min_version: 1.0",
			check: func(t *testing.T, cfg *tls.Config) {
				if cfg.MinVersion != tls.VersionTLS10 {
					t.Errorf("min version %x", cfg.MinVersion)
				}
			}},
		{name: "insecure", section: "insecure_skip_verify: true",
			check: func(t *testing.T, cfg *tls.Config) {
				if !cfg.InsecureSkipVerify {
					t.Error("not insecure")
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc, err := f.load(t, tt.section)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := sc.Client.TLS.Config()
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, cfg)
		})
	}
}

// TestTLSProblems checks the problems that need real files, by field and
// wording; testdata/bad/bad-tls.yaml pins the ones that do not.
func TestTLSProblems(t *testing.T) {
	t.Parallel()
	f := newTLSFixture(t)
	tests := []struct {
		name, section, field, msg string
	}{
		{"CA file is not PEM", "ca_files: [tls.yaml]", "client.tls.ca_files[0]", "holds no PEM certificate"},
		{"CA file is a directory", "ca_files: [certs]", "client.tls.ca_files[0]", "is not a regular file"},
		{"key of another certificate", "cert_file: certs/client.pem\nkey_file: certs/other-key.pem", "client.tls.key_file", "does not go with cert_file"},
		{"key file holds a certificate", "cert_file: certs/client.pem\nkey_file: certs/client.pem", "client.tls.key_file", "holds no PEM private key"},
		{"certificate file holds a key", "cert_file: certs/client-key.pem\nkey_file: certs/client-key.pem", "client.tls.cert_file", "holds no PEM certificate"},
		{"key without certificate", "key_file: certs/client-key.pem", "client.tls.key_file", "needs its certificate"},
		{"empty CA path", `ca_files: [""]`, "client.tls.ca_files[0]", "empty path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.load(t, tt.section)
			ps, ok := err.(Problems)
			if !ok || len(ps) != 1 {
				t.Fatalf("want one problem, got %v", err)
			}
			p := ps[0]
			if p.Field != tt.field || !strings.Contains(p.Msg, tt.msg) || p.Line == 0 {
				t.Errorf("got %s (field %s, line %d), want field %s and %q", p.Error(), p.Field, p.Line, tt.field, tt.msg)
			}
		})
	}
}

// TestTLSPathsSurvivePrinting: the completed scenario that `validate
// --print` shows holds the resolved paths, so it loads from the working
// directory and means the same files.
func TestTLSPathsSurvivePrinting(t *testing.T) {
	t.Parallel()
	f := newTLSFixture(t)
	sc, err := f.load(t, "ca_files: [certs/ca.pem]\ncert_file: certs/client.pem\nkey_file: ./certs/client-key.pem")
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(f.dir, "certs", "ca.pem"); sc.Client.TLS.CAFiles[0] != want {
		t.Errorf("ca_files[0] = %s, want %s", sc.Client.TLS.CAFiles[0], want)
	}
	printed, err := yaml.Marshal(sc)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse("printed.yaml", printed)
	if err != nil {
		t.Fatalf("printed scenario: %v", err)
	}
	if !reflect.DeepEqual(back.Client.TLS, sc.Client.TLS) {
		t.Errorf("printed scenario's tls %+v, want %+v", back.Client.TLS, sc.Client.TLS)
	}
}

// TestTLSConfigRereadsFiles: Config reads the files again when the run
// starts, and names the field of one that went missing since validation.
func TestTLSConfigRereadsFiles(t *testing.T) {
	t.Parallel()
	f := newTLSFixture(t)
	sc, err := f.load(t, "ca_files: [certs/ca.pem]")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(f.dir, "certs", "ca.pem")); err != nil {
		t.Fatal(err)
	}
	_, err = sc.Client.TLS.Config()
	if err == nil || !strings.HasPrefix(err.Error(), "client.tls.ca_files[0]: ") || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("Config after the CA file went: %v", err)
	}
}
