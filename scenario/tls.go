package scenario

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// TLS configures wss:// connections. Without it (or with no ca_files) the
// server's certificate is verified against the system's roots and the
// URL's host name. File paths are relative to the scenario file.
type TLS struct {
	// CAFiles are PEM files of the CAs that verify the server; they
	// replace the system's roots unless SystemRoots is set.
	CAFiles     []string `yaml:"ca_files,omitempty" json:"ca_files,omitempty"`
	SystemRoots bool     `yaml:"system_roots,omitempty" json:"system_roots,omitempty"` // trust the system's roots besides CAFiles
	// CertFile and KeyFile are the client certificate (PEM, chain
	// allowed) and its private key, offered when the server asks.
	CertFile string `yaml:"cert_file,omitempty" json:"cert_file,omitempty"`
	KeyFile  string `yaml:"key_file,omitempty" json:"key_file,omitempty"`
	// ServerName is sent as SNI and verified against the certificate
	// instead of the URL's host (to reach a virtual host by IP address).
	ServerName string `yaml:"server_name,omitempty" json:"server_name,omitempty"`
	// InsecureSkipVerify accepts any server certificate. Reports flag a
	// run that used it.
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify,omitempty" json:"insecure_skip_verify,omitempty"`
	MinVersion         string `yaml:"min_version,omitempty" json:"min_version,omitempty"` // 1.0, 1.1, 1.2 (default) or 1.3
}

// tlsVersions maps min_version as written (YAML reads 1.0 as the number
// 1) to crypto/tls's constants.
var tlsVersions = map[string]uint16{
	"1": tls.VersionTLS10, "1.0": tls.VersionTLS10, "1.1": tls.VersionTLS11,
	"1.2": tls.VersionTLS12, "1.3": tls.VersionTLS13,
}

// maxPEMFile bounds what a certificate or key file may hold: a chain of a
// few certificates is kilobytes, and a path that names a device or a huge
// file by mistake must not hang or exhaust the validator.
const maxPEMFile = 1 << 20

// resolvePaths makes the file paths relative to dir (the scenario file's
// directory), so the scenario means the same files whatever the working
// directory; absolute paths stay as they are.
func (t *TLS) resolvePaths(dir string) {
	if t == nil {
		return
	}
	rel := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	for i, p := range t.CAFiles {
		t.CAFiles[i] = rel(p)
	}
	t.CertFile = rel(t.CertFile)
	t.KeyFile = rel(t.KeyFile)
}

// Config returns the crypto/tls client configuration t describes, reading
// the CA, certificate and key files; nil for a nil t. The scenario must
// have been validated, but files can change after that.
func (t *TLS) Config() (*tls.Config, error) {
	if t == nil {
		return nil, nil
	}
	cfg, ps := t.build("client.tls")
	errs := make([]error, len(ps))
	for i, p := range ps {
		errs[i] = fmt.Errorf("%s: %s", p.Field, p.Msg)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return cfg, nil
}

// tls checks the client.tls section, files included.
func (v *validator) tls() {
	t := v.sc.Client.TLS
	if t == nil {
		return
	}
	_, ps := t.build("client.tls")
	v.ps = append(v.ps, ps...)
}

// build makes the configuration and reports every problem of the section,
// with field paths under prefix.
func (t *TLS) build(prefix string) (*tls.Config, Problems) {
	var ps Problems
	add := func(field, format string, args ...any) {
		ps = append(ps, Problem{Field: prefix + "." + field, Msg: fmt.Sprintf(format, args...)})
	}
	cfg := &tls.Config{ServerName: t.ServerName, InsecureSkipVerify: t.InsecureSkipVerify}

	if t.MinVersion != "" {
		ver, ok := tlsVersions[t.MinVersion]
		if !ok {
			add("min_version", "%q: want 1.0, 1.1, 1.2 or 1.3", t.MinVersion)
		}
		cfg.MinVersion = ver
	}
	if n := t.ServerName; n != "" && (strings.ContainsAny(n, ":/ \t") || strings.Trim(n, ".") == "") {
		add("server_name", "%q: want a host name alone, without scheme, port or path", n)
	}
	if t.InsecureSkipVerify {
		if len(t.CAFiles) > 0 {
			add("ca_files", "not used with insecure_skip_verify: true, which verifies nothing; drop one of them")
		}
		if t.SystemRoots {
			add("system_roots", "not used with insecure_skip_verify: true, which verifies nothing; drop one of them")
		}
	}

	if len(t.CAFiles) > 0 {
		pool := x509.NewCertPool()
		if t.SystemRoots {
			sys, err := x509.SystemCertPool()
			if err != nil {
				add("system_roots", "the system's roots cannot be read: %v", err)
			} else {
				pool = sys
			}
		}
		for i, p := range t.CAFiles {
			field := fmt.Sprintf("ca_files[%d]", i)
			data, err := readPEMFile(p)
			if err != nil {
				add(field, "%v", err)
				continue
			}
			if !pool.AppendCertsFromPEM(data) {
				add(field, "%s holds no PEM certificate (want -----BEGIN CERTIFICATE-----)", p)
			}
		}
		cfg.RootCAs = pool
	}

	switch {
	case t.CertFile != "" && t.KeyFile == "":
		add("cert_file", "a client certificate needs its key: add key_file")
	case t.CertFile == "" && t.KeyFile != "":
		add("key_file", "a client key needs its certificate: add cert_file")
	case t.CertFile != "":
		certPEM, certErr := readPEMFile(t.CertFile)
		keyPEM, keyErr := readPEMFile(t.KeyFile)
		if certErr != nil {
			add("cert_file", "%v", certErr)
		} else if !hasPEM(certPEM, func(typ string) bool { return typ == "CERTIFICATE" }) {
			add("cert_file", "%s holds no PEM certificate (want -----BEGIN CERTIFICATE-----)", t.CertFile)
			certErr = errNoPEM
		}
		if keyErr != nil {
			add("key_file", "%v", keyErr)
		} else if !hasPEM(keyPEM, func(typ string) bool { return strings.HasSuffix(typ, "PRIVATE KEY") }) {
			add("key_file", "%s holds no PEM private key (want -----BEGIN PRIVATE KEY-----)", t.KeyFile)
			keyErr = errNoPEM
		}
		if certErr != nil || keyErr != nil {
			break
		}
		pair, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			add("key_file", "does not go with cert_file: %v", err)
			break
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, ps
}

var errNoPEM = errors.New("no PEM data")

// hasPEM reports whether data holds a PEM block whose type is accepted.
func hasPEM(data []byte, accept func(typ string) bool) bool {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return false
		}
		if accept(b.Type) {
			return true
		}
	}
}

// readPEMFile reads a certificate or key file of at most maxPEMFile bytes.
func readPEMFile(path string) ([]byte, error) {
	if path == "" {
		return nil, errors.New("empty path")
	}
	// Stat before opening: opening a FIFO would block.
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s does not exist (a relative path is relative to the scenario file)", path)
	}
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxPEMFile+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(data) > maxPEMFile {
		return nil, fmt.Errorf("%s is larger than %d bytes: not a certificate or key file", path, maxPEMFile)
	}
	return data, nil
}
