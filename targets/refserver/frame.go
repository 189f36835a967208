package refserver

import (
	"encoding/binary"

	"github.com/gobwas/ws"
)

// maxHeaderLen is the longest header of a frame the server sends: final,
// unmasked, with a 64-bit length.
const maxHeaderLen = 10

// headerLen returns the header length of a server frame with an n-byte
// payload.
func headerLen(n int) int {
	switch {
	case n < 126:
		return 2
	case n <= 0xffff:
		return 4
	default:
		return 10
	}
}

// putHeader writes the header of a final, unmasked frame with opcode op and
// an n-byte payload into b, which must hold headerLen(n) bytes, and returns
// its length.
func putHeader(b []byte, op ws.OpCode, n int) int {
	h := headerLen(n)
	b[0] = 0x80 | byte(op)
	switch h {
	case 2:
		b[1] = byte(n)
	case 4:
		b[1] = 126
		binary.BigEndian.PutUint16(b[2:4], uint16(n))
	default:
		b[1] = 127
		binary.BigEndian.PutUint64(b[2:10], uint64(n))
	}
	return h
}

// appendHeader appends the header of a final, unmasked frame with opcode op
// and an n-byte payload.
func appendHeader(dst []byte, op ws.OpCode, n int) []byte {
	var b [maxHeaderLen]byte
	h := putHeader(b[:], op, n)
	return append(dst, b[:h]...)
}

// appendFrame appends a final, unmasked frame with opcode op and payload p.
func appendFrame(dst []byte, op ws.OpCode, p []byte) []byte {
	return append(appendHeader(dst, op, len(p)), p...)
}

// newFrame returns a final, unmasked frame with opcode op and payload p in
// a new slice, which broadcast shares between all members.
func newFrame(op ws.OpCode, p []byte) []byte {
	return appendFrame(make([]byte, 0, headerLen(len(p))+len(p)), op, p)
}
