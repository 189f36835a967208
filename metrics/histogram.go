package metrics

import (
	"fmt"

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
// write. The result is re-homed into wsbench's standard range so merges
// with locally recorded histograms stay exact.
func DecodeHistogram(s string) (*hdr.Histogram, error) {
	if s == "" {
		return NewHistogram(), nil
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
