package faultserver

import (
	"encoding/binary"
	"sort"
)

// Hostile is a frame sequence that breaks RFC 6455 or the client's
// limits. The server writes Head once and then, when Stream is set, keeps
// writing Stream until the client goes away or Limit bytes have gone out.
type Hostile struct {
	Doc    string // what is wrong, for docs/reliability.md
	Code   int    // the close code a correct client fails the connection with
	Head   []byte
	Stream []byte
	Limit  int64
}

// streamChunk is what the streaming hostile frames repeat: large enough
// that a client which buffered it all would show in its heap at once.
const streamChunk = 64 << 10

// streamLimit bounds what a streaming hostile frame sends; a client that
// is still reading after this much has failed to stop it anyway.
const streamLimit = 1 << 30

// frame builds one unmasked server frame header (b0 is FIN, RSV and the
// opcode) for a payload of length n, and appends p.
func frame(b0 byte, n uint64, p []byte) []byte {
	b := []byte{b0}
	switch {
	case n < 126:
		b = append(b, byte(n))
	case n <= 0xffff:
		b = append(b, 126, byte(n>>8), byte(n))
	default:
		b = append(b, 127)
		b = binary.BigEndian.AppendUint64(b, n)
	}
	return append(b, p...)
}

func closeBody(code uint16, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, code), reason...)
}

const (
	fin    = 0x80
	rsv1   = 0x40
	rsv2   = 0x20
	rsv3   = 0x10
	opCont = 0x0
	opText = 0x1
	opBin  = 0x2
	opClos = 0x8
	opPing = 0x9
)

// Frames are the hostile frames fault=frame&frame=NAME sends, by name.
var Frames = map[string]Hostile{
	"huge_header": {
		Code:   1009,
		Doc:    "a text frame whose header claims a 1 GiB payload, then the payload streamed",
		Head:   frame(fin|opText, 1<<30, nil),
		Stream: make([]byte, streamChunk),
		Limit:  1 << 30,
	},
	"not_a_frame": {
		Code: 1002,
		Doc:  "bytes that are not a WebSocket frame (an HTTP status line)",
		Head: []byte("HTTP/1.1 500 Internal Server Error\r\n\r\n"),
	},
	"length_msb": {
		Code: 1002,
		Doc:  "a 64-bit payload length with the most significant bit set",
		Head: append([]byte{fin | opBin, 127}, 0x80, 0, 0, 0, 0, 0, 0, 1),
	},
	"reserved_opcode": {
		Code: 1002,
		Doc:  "a data frame with the reserved opcode 3",
		Head: frame(fin|0x3, 1, []byte("x")),
	},
	"reserved_control_opcode": {
		Code: 1002,
		Doc:  "a control frame with the reserved opcode 11",
		Head: frame(fin|0xB, 1, []byte("x")),
	},
	"rsv1": {
		Code: 1002,
		Doc:  "a text frame with RSV1 set, no extension negotiated",
		Head: frame(fin|rsv1|opText, 1, []byte("x")),
	},
	"rsv2": {
		Code: 1002,
		Doc:  "a text frame with RSV2 set",
		Head: frame(fin|rsv2|opText, 1, []byte("x")),
	},
	"rsv3": {
		Code: 1002,
		Doc:  "a binary frame with RSV3 set",
		Head: frame(fin|rsv3|opBin, 1, []byte("x")),
	},
	"fragmented_ping": {
		Code: 1002,
		Doc:  "a ping without FIN (control frames must not be fragmented)",
		Head: frame(opPing, 1, []byte("p")),
	},
	"oversized_ping": {
		Code: 1002,
		Doc:  "a ping with a 126-byte payload (control frames carry at most 125)",
		Head: frame(fin|opPing, 126, make([]byte, 126)),
	},
	"masked": {
		Code: 1002,
		Doc:  "a masked text frame (servers must not mask)",
		Head: append([]byte{fin | opText, 0x80 | 1, 1, 2, 3, 4}, 'x'^1),
	},
	"invalid_utf8": {
		Code: 1007,
		Doc:  "a text message that is not UTF-8",
		Head: frame(fin|opText, 2, []byte{0xff, 0xfe}),
	},
	"orphan_continuation": {
		Code: 1002,
		Doc:  "a continuation frame with no message to continue",
		Head: frame(fin|opCont, 1, []byte("x")),
	},
	"message_inside_message": {
		Code: 1002,
		Doc:  "a new text frame while a fragmented message is open",
		Head: append(frame(opText, 1, []byte("a")), frame(fin|opText, 1, []byte("b"))...),
	},
	"endless_fragments": {
		Code:   1009,
		Doc:    "a fragmented message that never ends: 64 KiB continuation frames without FIN, streamed",
		Head:   frame(opBin, streamChunk, make([]byte, streamChunk)),
		Stream: frame(opCont, streamChunk, make([]byte, streamChunk)),
		Limit:  streamLimit,
	},
	"close_code_1005": {
		Code: 1002,
		Doc:  "a close frame carrying 1005, a code reserved for \"no code\"",
		Head: frame(fin|opClos, 2, closeBody(1005, "")),
	},
	"close_code_999": {
		Code: 1002,
		Doc:  "a close frame carrying 999, below the defined range",
		Head: frame(fin|opClos, 2, closeBody(999, "")),
	},
	"close_code_5000": {
		Code: 1002,
		Doc:  "a close frame carrying 5000, above the defined range",
		Head: frame(fin|opClos, 2, closeBody(5000, "")),
	},
	"close_one_byte": {
		Code: 1002,
		Doc:  "a close frame with a 1-byte payload",
		Head: frame(fin|opClos, 1, []byte{3}),
	},
	"close_reason_not_utf8": {
		Code: 1007,
		Doc:  "a close frame whose reason is not UTF-8",
		Head: frame(fin|opClos, 3, closeBody(1000, "\xff")),
	},
}

// FrameNames returns the names of Frames, sorted.
func FrameNames() []string {
	var out []string
	for n := range Frames {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
