package coord

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Frame types of a worker's stream.
const (
	frameInterval = 'I' // metrics.Interval wire form
	frameReport   = 'R' // the worker's final report, JSON
	// Remote workers (remote.go, join.go) also send:
	frameClock = 'C' // a clock probe: T0, varint (clock.go)
	frameHello = 'H' // who the worker is and its clock estimate, JSON (hello)
	frameDrift = 'K' // the clock estimate at the end of the run, JSON
)

// maxFrame bounds a frame a reader accepts: a report with a broadcast
// ledger of a large run is the biggest, tens of megabytes.
const maxFrame = 256 << 20

// writeFrame writes one frame: its type, a uvarint length, the payload.
func writeFrame(w io.Writer, typ byte, payload []byte) error {
	var hdr [1 + binary.MaxVarintLen64]byte
	hdr[0] = typ
	n := binary.PutUvarint(hdr[1:], uint64(len(payload)))
	if _, err := w.Write(hdr[:1+n]); err != nil {
		return err
	}
	_, err := w.Write(payload)
	return err
}

// readFrame reads one frame; io.EOF means the stream ended cleanly
// between frames.
func readFrame(r *bufio.Reader) (typ byte, payload []byte, err error) {
	typ, err = r.ReadByte()
	if err != nil {
		return 0, nil, err
	}
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return 0, nil, fmt.Errorf("frame length: %w", noEOF(err))
	}
	if n > maxFrame {
		return 0, nil, fmt.Errorf("frame of %d bytes", n)
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		return 0, nil, fmt.Errorf("frame of %d bytes: %w", n, noEOF(err))
	}
	return typ, payload, nil
}

func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
