package wsclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"

	"github.com/gobwas/ws"
)

// Causes are the short names errors are counted under in reports.
const (
	CauseRefused         = "refused"          // TCP connection refused
	CauseTimeout         = "timeout"          // connect, handshake or I/O deadline passed
	CauseDNS             = "dns"              // host name did not resolve
	CauseReset           = "reset"            // connection reset or broken pipe
	CauseHandshakeStatus = "handshake_status" // the server answered the upgrade with a non-101 status (suffixed _NNN)
	CauseHandshake       = "handshake"        // malformed or unacceptable upgrade response
	CauseTLS             = "tls"              // TLS failure of no more specific cause (see the CauseTLS… constants)
	CauseFDLimit         = "fd_limit"         // the generator ran out of file descriptors
	CausePorts           = "ports_exhausted"  // no free local port for the connection
	CauseClosed          = "closed"           // the peer closed the connection (no close frame: 1006)
	CauseProtocol        = "protocol"         // the server broke RFC 6455
	CauseTooBig          = "message_too_big"  // a server message over the client's size limit
	CauseBadUTF8         = "invalid_utf8"     // a server text message that is not UTF-8
	CauseCanceled        = "canceled"         // the run stopped while the operation was in progress
	CauseWriteTimeout    = "write_timeout"    // a write the server did not take in time (it stopped reading)
	CauseOther           = "other"
)

// ErrWriteTimeout is matched by the error of a write that did not complete
// within the connection's write timeout.
var ErrWriteTimeout = errors.New("write timed out: the server is not reading")

// ErrInterrupted is matched by the error of a write that InterruptWrite cut
// short.
var ErrInterrupted = errors.New("write interrupted: the session is stopping")

// Classify returns the cause name of err.
func Classify(err error) string {
	if err == nil {
		return ""
	}
	var ce *CloseError
	if errors.As(err, &ce) {
		return ce.Cause()
	}
	var pe *ProtocolError
	if errors.As(err, &pe) {
		return pe.Cause
	}
	var te *TLSError
	if errors.As(err, &te) {
		return te.Cause
	}
	var se ws.StatusError
	if errors.As(err, &se) {
		return fmt.Sprintf("%s_%d", CauseHandshakeStatus, int(se))
	}
	if errors.Is(err, ws.ErrHandshakeBadProtocol) || errors.Is(err, ws.ErrHandshakeBadSubProtocol) ||
		errors.Is(err, ws.ErrHandshakeBadExtensions) || errors.Is(err, ws.ErrHandshakeBadUpgrade) ||
		errors.Is(err, ws.ErrHandshakeBadConnection) || errors.Is(err, ws.ErrHandshakeBadSecAccept) ||
		errors.Is(err, ws.ErrMalformedResponse) {
		return CauseHandshake
	}
	switch {
	case errors.Is(err, ErrWriteTimeout):
		return CauseWriteTimeout
	case errors.Is(err, context.Canceled), errors.Is(err, ErrInterrupted):
		return CauseCanceled
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return CauseTimeout
	case errors.Is(err, syscall.ECONNREFUSED):
		return CauseRefused
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ECONNABORTED):
		return CauseReset
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE):
		return CauseFDLimit
	case errors.Is(err, syscall.EADDRNOTAVAIL), errors.Is(err, syscall.EADDRINUSE):
		return CausePorts
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return CauseClosed
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return CauseDNS
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return CauseTimeout
	}
	if c := tlsCause(err); c != "" {
		return c
	}
	return CauseOther
}

// CloseError reports that the connection ended: with a close handshake
// (Code is the peer's or our close code) or without one (Code 1006).
type CloseError struct {
	Code      int
	Reason    string
	Initiator string // "client", "server", or "none" for an abrupt end
	Err       error  // the I/O error for an abrupt end
}

func (e *CloseError) Error() string {
	if e.Initiator == "none" {
		return fmt.Sprintf("connection closed without a close frame (1006): %v", e.Err)
	}
	return fmt.Sprintf("connection closed by %s with %d %q", e.Initiator, e.Code, e.Reason)
}

func (e *CloseError) Unwrap() error { return e.Err }

// Cause names the close for errors_by_cause: "closed" for an abrupt end,
// "server_close_NNNN" for a close the server started.
func (e *CloseError) Cause() string {
	if e.Initiator == "none" {
		if e.Err != nil {
			if c := Classify(e.Err); c != CauseClosed && c != CauseOther {
				return c
			}
		}
		return CauseClosed
	}
	return fmt.Sprintf("%s_close_%d", e.Initiator, e.Code)
}

// ProtocolError is a server frame that breaks the protocol or the client's
// limits. The client has sent the matching close code, or had sent Code
// before the frame came.
type ProtocolError struct {
	Cause string
	Code  int // the close code the client sent
	Msg   string
}

func (e *ProtocolError) Error() string {
	return fmt.Sprintf("%s (closed with %d): %s", e.Cause, e.Code, e.Msg)
}
