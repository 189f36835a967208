package refserver

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
)

// LoadTLS returns a server TLS configuration from PEM files: the server's
// certificate (chain allowed) and private key and, when clientCAFile is
// not empty, the CAs a client certificate must chain to; clients without
// such a certificate are then refused in the handshake.
func LoadTLS(certFile, keyFile, clientCAFile string) (*tls.Config, error) {
	if certFile == "" || keyFile == "" {
		return nil, errors.New("refserver: TLS needs a certificate and its key")
	}
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("refserver: TLS certificate: %w", err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{pair}}
	if clientCAFile != "" {
		data, err := os.ReadFile(clientCAFile)
		if err != nil {
			return nil, fmt.Errorf("refserver: client CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(data) {
			return nil, fmt.Errorf("refserver: client CA: %s holds no PEM certificate", clientCAFile)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// tlsListener wraps ln in TLS when the server is configured for it. The
// handshake then runs in the connection's first read, under
// Config.HandshakeTimeout like the HTTP request that follows it.
func (s *Server) tlsListener(ln net.Listener) net.Listener {
	if s.cfg.TLS == nil {
		return ln
	}
	return tls.NewListener(ln, s.cfg.TLS)
}
