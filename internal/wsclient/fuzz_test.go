package wsclient

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/wsbench/wsbench/internal/faultserver"
)

// discardConn is the write side of a connection whose server bytes come
// from a fuzzer: the network is not the point of the fuzz test.
type discardConn struct{}

func (discardConn) Read([]byte) (int, error)         { return 0, io.EOF }
func (discardConn) Write(p []byte) (int, error)      { return len(p), nil }
func (discardConn) Close() error                     { return nil }
func (discardConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (discardConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (discardConn) SetDeadline(time.Time) error      { return nil }
func (discardConn) SetReadDeadline(time.Time) error  { return nil }
func (discardConn) SetWriteDeadline(time.Time) error { return nil }

// FuzzReadMessage feeds arbitrary server bytes to the reader. It must
// never panic, never return or buffer more than the message limit, and end
// every stream with a classified error: a protocol error carrying a close
// code the client may send, or the end of the connection.
func FuzzReadMessage(f *testing.F) {
	for _, name := range faultserver.FrameNames() {
		f.Add(faultserver.Frames[name].Head)
	}
	f.Add([]byte{0x81, 0x02, 'h', 'i'})                                   // a text message
	f.Add([]byte{0x01, 0x01, 'a', 0x89, 0x00, 0x80, 0x01, 'b'})           // fragments around a ping
	f.Add([]byte{0x88, 0x02, 0x03, 0xe8})                                 // a close with 1000
	f.Add([]byte{0x82, 0x7e, 0x00, 0x10, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0xa}) // a 16-bit length, cut short
	const limit = 1 << 10
	f.Fuzz(func(t *testing.T, data []byte) {
		c := &Conn{nc: discardConn{}, br: bufio.NewReader(bytes.NewReader(data)), maxMsg: limit, utf8: true, wbuf: make([]byte, 0, 256)}
		for range len(data) + 1 {
			msg, err := c.ReadMessage()
			if cap(c.rbuf) > limit {
				t.Fatalf("buffered %d bytes, limit %d", cap(c.rbuf), limit)
			}
			if err == nil {
				if len(msg.Payload) > limit {
					t.Fatalf("message of %d bytes, limit %d", len(msg.Payload), limit)
				}
				continue
			}
			var pe *ProtocolError
			var ce *CloseError
			switch {
			case errors.As(err, &pe):
				if pe.Code != 1002 && pe.Code != 1007 && pe.Code != 1009 {
					t.Fatalf("protocol error closing with %d: %v", pe.Code, err)
				}
			case errors.As(err, &ce):
			default:
				t.Fatalf("unclassified error %v", err)
			}
			if Classify(err) == CauseOther {
				t.Fatalf("error %v classified as other", err)
			}
			return
		}
		t.Fatalf("%d bytes gave more messages than bytes", len(data))
	})
}
