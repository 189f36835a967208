//go:build !linux

package wsclient

import "net"

// wasReset cannot tell a reset from an EOF without Linux's TCP_INFO.
func wasReset(net.Conn) bool { return false }
