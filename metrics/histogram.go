package metrics

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"math"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram range and precision shared by every latency histogram wsbench
// records, so that any two of them (even from different reports) merge
// without loss.
const (
	LowestUS  = 1             // 1 µs
	HighestUS = 3_600_000_000 // 1 hour: nothing a run measures is longer
	SigFigs   = 3             // 0.1% value precision
)

// NewHistogram returns an empty latency histogram in microseconds.
func NewHistogram() *hdr.Histogram {
	return hdr.New(LowestUS, HighestUS, SigFigs)
}

// RecordUS records a value in microseconds, clamping it into the trackable
// range so no sample is ever lost: a zero or negative duration (a reply
// faster than the clock's resolution) counts as 1 µs, and anything above an
// hour as an hour. It reports whether the value was clamped from above, so
// callers can count such samples.
func RecordUS(h *hdr.Histogram, us int64) (clampedHigh bool) {
	if us < LowestUS {
		us = LowestUS
	}
	if us > HighestUS {
		us, clampedHigh = HighestUS, true
	}
	// Cannot fail: the value is in range by construction.
	_ = h.RecordValue(us)
	return clampedHigh
}

// EncodeHistogram returns h in HdrHistogram's V2 compressed, base64 form:
// the interchange format other HdrHistogram tools read.
func EncodeHistogram(h *hdr.Histogram) (string, error) {
	b, err := h.Encode(hdr.V2CompressedEncodingCookieBase)
	if err != nil {
		return "", fmt.Errorf("encode histogram: %w", err)
	}
	return string(b), nil
}

// DecodeHistogram parses the form EncodeHistogram writes, validating it
// first because reports are read from files wsbench did not necessarily
// write: a geometry that needs more than MaxDecodeCounts counts is refused
// before it is allocated, and the decoded counts are validated before
// they are used. The result is re-homed into wsbench's standard range so
// merges with locally recorded histograms stay exact.
func DecodeHistogram(s string) (*hdr.Histogram, error) {
	if s == "" {
		return NewHistogram(), nil
	}
	if err := checkGeometry(s); err != nil {
		return nil, fmt.Errorf("decode histogram: %w", err)
	}
	h, err := hdr.Decode([]byte(s))
	if err != nil {
		return nil, fmt.Errorf("decode histogram: %w", err)
	}
	if err := h.Export().Validate(); err != nil {
		return nil, fmt.Errorf("decode histogram: %w", err)
	}
	if h.LowestTrackableValue() == LowestUS && h.HighestTrackableValue() == HighestUS && h.SignificantFigures() == SigFigs {
		return h, nil
	}
	out := NewHistogram()
	if dropped := out.Merge(h); dropped > 0 {
		return nil, fmt.Errorf("decode histogram: %d values outside %d..%d µs", dropped, LowestUS, HighestUS)
	}
	return out, nil
}

// MaxDecodeCounts bounds the counts array of a histogram DecodeHistogram
// accepts. The header alone decides that allocation: a 60-byte string can
// ask for 1 to 2^63 at 5 significant digits, which took two seconds and
// 94 MB to decode. wsbench's own histograms need 23,552 counts; a foreign
// one at up to 4 significant digits over any range fits, as does one at 5
// over a range of 2^20.
const MaxDecodeCounts = 1 << 20

// checkGeometry reads the header of an encoded histogram (base64, then an
// 8-byte cookie and length, then zlib around a 40-byte header) and rejects
// a geometry that needs more than MaxDecodeCounts counts, before anything
// that large is allocated. Anything it cannot read it leaves to hdr.Decode
// to reject with its own error.
func checkGeometry(s string) error {
	const outer, inner = 8, 40
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(raw) <= outer {
		return nil
	}
	zr, err := zlib.NewReader(bytes.NewReader(raw[outer:]))
	if err != nil {
		return nil
	}
	var h [inner]byte
	if _, err := io.ReadFull(zr, h[:]); err != nil {
		return nil
	}
	sig := int32(binary.BigEndian.Uint32(h[12:]))
	lowest := int64(binary.BigEndian.Uint64(h[16:]))
	highest := int64(binary.BigEndian.Uint64(h[24:]))
	if n := countsNeeded(lowest, highest, sig); n > MaxDecodeCounts {
		return fmt.Errorf("its geometry (%d to %d at %d significant digits) needs %d counts, more than the %d accepted", lowest, highest, sig, n, MaxDecodeCounts)
	}
	return nil
}

// countsNeeded is the length of the counts array of an HdrHistogram of
// the given range and precision (the standard HdrHistogram layout: buckets
// of 2^k-unit resolution, each with half a sub-bucket range of counts), or
// 0 for a geometry the decoder rejects anyway.
func countsNeeded(lowest, highest int64, sig int32) int64 {
	if sig < 0 || sig > 5 {
		return 0
	}
	lowest = max(lowest, 1)
	subMag := int(math.Ceil(math.Log2(2 * math.Pow10(int(sig)))))
	half := max(subMag, 1) - 1
	unit := int(math.Floor(math.Log2(float64(lowest))))
	if unit+half > 61 {
		return 0
	}
	sub := int64(1) << (half + 1)
	smallestUntrackable := sub << unit
	buckets := int64(1)
	for smallestUntrackable <= highest {
		if smallestUntrackable > math.MaxInt64/2 {
			buckets++
			break
		}
		smallestUntrackable <<= 1
		buckets++
	}
	return (buckets + 1) * (sub / 2)
}
