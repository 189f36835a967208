package wsclient

import (
	"net"
	"syscall"
	"unsafe"
)

// tcpClose is Linux's TCP_CLOSE state: where a socket goes when an RST
// arrives. A peer's FIN alone leaves it in CLOSE_WAIT.
const tcpClose = 7

// wasReset reports whether the connection under nc was reset by the peer.
// Linux hands a received RST's ECONNRESET to whichever syscall comes
// first: when a write takes it, the reader then sees a plain EOF, and the
// reset would be miscounted as a clean end of stream. The socket's state
// still tells them apart.
func wasReset(nc net.Conn) bool {
	if u, ok := nc.(interface{ NetConn() net.Conn }); ok {
		nc = u.NetConn()
	}
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	var info syscall.TCPInfo
	reset := false
	_ = raw.Control(func(fd uintptr) {
		n := uint32(unsafe.Sizeof(info))
		_, _, errno := syscall.Syscall6(syscall.SYS_GETSOCKOPT, fd, syscall.IPPROTO_TCP, syscall.TCP_INFO,
			uintptr(unsafe.Pointer(&info)), uintptr(unsafe.Pointer(&n)), 0)
		reset = errno == 0 && info.State == tcpClose
	})
	return reset
}
