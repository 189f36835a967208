package wsclient

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"reflect"
	"strings"
	"syscall"
)

// Causes of wss:// connections that failed in TLS. What went wrong decides
// who has to act (the certificate's owner, the scenario's author, the
// server's operator), so each gets its own name; CauseTLS is what is left.
const (
	CauseTLSUnknownAuthority   = "tls_unknown_authority"    // the server's certificate does not chain to a trusted root (client.tls.ca_files)
	CauseTLSHostname           = "tls_hostname_mismatch"    // the server's certificate is not valid for the server name (client.tls.server_name)
	CauseTLSExpired            = "tls_cert_expired"         // the server's certificate is expired or not yet valid
	CauseTLSBadCert            = "tls_bad_certificate"      // the server's certificate is unusable otherwise (wrong key usage, malformed)
	CauseTLSClientCertRequired = "tls_client_cert_required" // the server asked for a client certificate and none is configured
	CauseTLSClientCertRejected = "tls_client_cert_rejected" // the server refused the client certificate (unknown CA, expired, …)
	CauseTLSVersion            = "tls_protocol_version"     // no TLS version both sides accept (client.tls.min_version)
	CauseTLSHandshakeFailure   = "tls_handshake_failure"    // the server aborted the handshake (no common cipher suite, unknown SNI name, …)
	CauseTLSNotTLS             = "tls_not_tls"              // the server did not answer in TLS (a plain ws:// server?)
)

// TLSError is a wss:// dial that failed because of TLS, with its cause.
// Stage is "tls handshake" or "upgrade" (a TLS 1.3 server judges the
// client's certificate after the client's side of the handshake is done,
// so its verdict arrives while the upgrade is read).
type TLSError struct {
	Cause  string
	Stage  string
	Detail string // what the cause means here, when the error alone does not say
	Err    error
}

func (e *TLSError) Error() string {
	if e.Detail != "" {
		return fmt.Sprintf("%s: %s: %v", e.Stage, e.Detail, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.Stage, e.Err)
}

func (e *TLSError) Unwrap() error { return e.Err }

// tlsFailure names err, which ended a wss:// dial at stage, as a
// *TLSError when TLS explains it; other errors (a timeout, an HTTP status)
// come back unchanged. cc, if not nil, is what the server asked of the
// client's certificates.
func tlsFailure(stage string, err error, cc *clientCerts) error {
	cause, detail := tlsCause(err), ""
	if cc != nil && cc.asked.Load() {
		switch {
		case !cc.sent.Load() && (cause == CauseTLSClientCertRejected || cause == CauseTLSClientCertRequired ||
			cause == CauseTLSHandshakeFailure || cause == CauseTLS || cause == "" && hungUp(err)):
			cause = CauseTLSClientCertRequired
			detail = "the server requires a client certificate and none is configured (client.tls.cert_file)"
			if cc.configured {
				detail = "the server requires a client certificate and the configured one is not issued by a CA the server accepts"
			}
		case cc.sent.Load() && cause == CauseTLSClientCertRejected:
			detail = "the server rejected the client certificate"
		}
	}
	if cause == "" {
		if stage == "tls handshake" {
			return fmt.Errorf("%s: %w", stage, err)
		}
		return err
	}
	return &TLSError{Cause: cause, Stage: stage, Detail: detail, Err: err}
}

// hungUp reports whether err is the peer ending the connection.
func hungUp(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// tlsCause returns the TLS cause of err, or "" when err is not about TLS.
func tlsCause(err error) string {
	var te *TLSError
	if errors.As(err, &te) {
		return te.Cause
	}
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	var invalid x509.CertificateInvalidError
	var verify *tls.CertificateVerificationError
	var record tls.RecordHeaderError
	switch {
	case errors.As(err, &unknown):
		return CauseTLSUnknownAuthority
	case errors.As(err, &host):
		return CauseTLSHostname
	case errors.As(err, &invalid):
		if invalid.Reason == x509.Expired {
			return CauseTLSExpired
		}
		return CauseTLSBadCert
	case errors.As(err, &verify):
		return CauseTLSBadCert
	case errors.As(err, &record):
		return CauseTLSNotTLS
	}
	if code, ok := remoteAlert(err); ok {
		switch code {
		case alertCertificateRequired:
			return CauseTLSClientCertRequired
		case alertBadCertificate, alertUnsupportedCertificate, alertCertificateRevoked, alertCertificateExpired,
			alertCertificateUnknown, alertUnknownCA, alertAccessDenied:
			// The server judges the only certificate the client sends:
			// its own.
			return CauseTLSClientCertRejected
		case alertProtocolVersion:
			return CauseTLSVersion
		case alertHandshakeFailure, alertInsufficientSecurity, alertUnrecognizedName:
			return CauseTLSHandshakeFailure
		}
		return CauseTLS
	}
	var local tls.AlertError
	if errors.As(err, &local) {
		switch uint8(local) {
		case alertProtocolVersion:
			return CauseTLSVersion
		case alertBadCertificate, alertUnsupportedCertificate, alertCertificateUnknown:
			return CauseTLSBadCert
		case alertHandshakeFailure, alertInsufficientSecurity:
			return CauseTLSHandshakeFailure
		}
		return CauseTLS
	}
	if strings.Contains(err.Error(), "tls: ") {
		return CauseTLS
	}
	return ""
}

// TLS alert codes (RFC 8446, section 6).
const (
	alertHandshakeFailure       = 40
	alertBadCertificate         = 42
	alertUnsupportedCertificate = 43
	alertCertificateRevoked     = 44
	alertCertificateExpired     = 45
	alertCertificateUnknown     = 46
	alertUnknownCA              = 48
	alertAccessDenied           = 49
	alertProtocolVersion        = 70
	alertInsufficientSecurity   = 71
	alertUnrecognizedName       = 112
	alertCertificateRequired    = 116
)

// remoteAlert returns the code of a TLS alert the peer sent. crypto/tls
// reports one as a *net.OpError with Op "remote error" around an
// unexported uint8 type; the code is read from that type's value.
func remoteAlert(err error) (uint8, bool) {
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "remote error" || op.Err == nil {
		return 0, false
	}
	v := reflect.ValueOf(op.Err)
	if v.Kind() != reflect.Uint8 {
		return 0, false
	}
	return uint8(v.Uint()), true
}
