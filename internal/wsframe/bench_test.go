package wsframe

import (
	"fmt"
	"testing"

	"github.com/gobwas/ws"
)

// discard is a Handler that keeps nothing.
type discard struct{ n int }

func (d *discard) Message(m Message) error         { d.n += len(m.Payload()); return nil }
func (d *discard) Control(ws.OpCode, []byte) error { return nil }

// BenchmarkFeed decodes a 32 KiB chunk of masked text messages (the
// server's read size), in place, with UTF-8 checks; and the same stream in
// 1,000-byte pieces, which splits messages across Feeds and so goes
// through the buffered path.
func BenchmarkFeed(b *testing.B) {
	for _, size := range []int{64, 1024, 16 << 10} {
		msg := make([]byte, size)
		for i := range msg {
			msg[i] = 'a' + byte(i%26)
		}
		f := frame(ws.OpText, true, true, string(msg))
		var stream []byte
		for len(stream)+len(f) <= 32<<10 {
			stream = append(stream, f...)
		}
		for _, piece := range []int{len(stream), 1000} {
			b.Run(fmt.Sprintf("size=%d/piece=%d", size, piece), func(b *testing.B) {
				buf := make([]byte, len(stream))
				h := &discard{}
				d := Decoder{Server: true, CheckUTF8: true, MaxMessageSize: 1 << 20}
				b.SetBytes(int64(len(stream)))
				for b.Loop() {
					copy(buf, stream) // Feed unmasks in place
					for p := buf; len(p) > 0; {
						k := min(piece, len(p))
						if err := d.Feed(p[:k], h); err != nil {
							b.Fatal(err)
						}
						p = p[k:]
					}
				}
			})
		}
	}
}
