package metrics

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"math/bits"

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

// Histogram is a latency histogram in microseconds as a run keeps it:
// HdrHistogram's packed (sparse) form, whose size grows with the buckets
// it holds (a few hundred bytes for an interval) instead of the 184 KB a
// dense HdrHistogram of this range always takes. Recording goes into
// dense Recorders, which are faster to record into and are folded into
// packed histograms once per interval.
type Histogram = hdr.PackedHistogram

// NewHistogram returns an empty packed latency histogram.
func NewHistogram() *Histogram {
	return hdr.NewPacked(LowestUS, HighestUS, SigFigs)
}

// Recorder is a dense latency histogram for the hot path, in Histogram's
// bucket geometry: recording is an index computation and an add, ten
// times less than into a packed histogram. It also keeps the range of
// buckets it touched, so that folding it into a Histogram and clearing it
// (FoldInto, once per interval and shard) costs the buckets it holds, not
// the whole range: hdrhistogram-go's dense Histogram scans and zeroes all
// its 23,552 counts (184 KB) to do that, and the first such clears of a
// run page-faulted the arrays in, milliseconds in which scheduled sends
// waited on a one-CPU generator.
type Recorder struct {
	counts []int64
	lo, hi int // the touched bucket range; lo > hi when empty
	total  int64
}

// The bucket geometry of LowestUS, HighestUS and SigFigs, as HdrHistogram
// lays it out: buckets of subBuckets counts each, where bucket b holds
// values of magnitude 2^b with SigFigs digits; the first half of every
// bucket but the first overlaps the one below, so it is not stored.
// TestRecorderGeometry checks it against hdrhistogram-go, value by value.
var (
	subBucketHalfMag = int(math.Ceil(math.Log2(2*math.Pow10(SigFigs)))) - 1 // 10: 2,048 sub-buckets
	subBucketHalf    = 1 << subBucketHalfMag
	subBucketMask    = uint64(2*subBucketHalf - 1) // LowestUS is 1: no unit shift
	recorderLen      = bucketIndex(HighestUS) + 1
)

// bucketIndex is the flat counts index of v (1 ≤ v ≤ HighestUS).
func bucketIndex(v int64) int {
	b := bits.Len64(uint64(v)|subBucketMask) - (subBucketHalfMag + 1)
	return (b+1)<<subBucketHalfMag + int(v>>b) - subBucketHalf
}

// bucketValue is the lowest value of the bucket at flat index i.
func bucketValue(i int) int64 {
	b := i>>subBucketHalfMag - 1
	sub := int64(i&(subBucketHalf-1)) + int64(subBucketHalf)
	if b < 0 {
		sub -= int64(subBucketHalf)
		b = 0
	}
	return sub << b
}

// NewRecorder returns an empty Recorder. Its counts take 184 KB of
// address space but only the pages of the buckets it records into.
func NewRecorder() *Recorder {
	return &Recorder{counts: make([]int64, recorderLen), lo: recorderLen, hi: -1}
}

// RecordUS records a value in microseconds, clamped into range (see
// clampUS), and reports whether it was clamped from above.
func (r *Recorder) RecordUS(us int64) (clampedHigh bool) {
	us, clampedHigh = clampUS(us)
	i := bucketIndex(us)
	r.counts[i]++
	r.total++
	r.lo = min(r.lo, i)
	r.hi = max(r.hi, i)
	return clampedHigh
}

// TotalCount returns how many values the Recorder holds.
func (r *Recorder) TotalCount() int64 { return r.total }

// FoldInto adds the Recorder's counts to h and empties the Recorder,
// touching only the buckets between the lowest and highest it recorded.
func (r *Recorder) FoldInto(h *Histogram) {
	if r.total == 0 {
		return
	}
	for i := r.lo; i <= r.hi; i++ {
		if c := r.counts[i]; c != 0 {
			// Same geometry: the bucket's lowest value lands in the same
			// bucket of h, and nothing is dropped.
			_ = h.RecordValues(bucketValue(i), c)
			r.counts[i] = 0
		}
	}
	r.lo, r.hi, r.total = recorderLen, -1, 0
}

// clampUS brings a value in microseconds into the trackable range so no
// sample is ever lost: a zero or negative duration (a reply faster than
// the clock's resolution) counts as 1 µs, and anything above an hour as an
// hour. It reports whether the value was clamped from above, so callers
// can count such samples.
func clampUS(us int64) (int64, bool) {
	if us < LowestUS {
		return LowestUS, false
	}
	if us > HighestUS {
		return HighestUS, true
	}
	return us, false
}

// RecordUS records a value in microseconds into h, clamped into range
// (see clampUS), and reports whether it was clamped from above.
func RecordUS(h *Histogram, us int64) (clampedHigh bool) {
	us, clampedHigh = clampUS(us)
	_ = h.RecordValue(us)
	return clampedHigh
}

// EncodeHistogram returns h in HdrHistogram's V2 compressed, base64 form:
// the interchange format other HdrHistogram tools read.
func EncodeHistogram(h *Histogram) (string, error) {
	b, err := h.Encode()
	if err != nil {
		return "", fmt.Errorf("encode histogram: %w", err)
	}
	return string(b), nil
}

// DecodeHistogram parses the form EncodeHistogram writes (or any V2
// stream of another HdrHistogram implementation), validating it, because
// reports are read from files wsbench did not necessarily write: a
// geometry that needs more than MaxDecodeCounts counts is refused before
// it is allocated. The result is re-homed into wsbench's standard range
// so merges with locally recorded histograms stay exact; values outside
// it are an error.
func DecodeHistogram(s string) (*Histogram, error) {
	if s == "" {
		return NewHistogram(), nil
	}
	if err := checkGeometry(s); err != nil {
		return nil, fmt.Errorf("decode histogram: %w", err)
	}
	h, err := hdr.DecodePacked([]byte(s))
	if err != nil {
		return nil, fmt.Errorf("decode histogram: %w", err)
	}
	if h.LowestTrackableValue() == LowestUS && h.HighestTrackableValue() == HighestUS && h.SignificantFigures() == SigFigs {
		return h, nil
	}
	out := NewHistogram()
	var bad error
	h.ForEachBucket(func(v, n int64) bool {
		if n < 0 || v < LowestUS || v > HighestUS {
			bad = fmt.Errorf("decode histogram: value %d µs outside %d..%d", v, LowestUS, HighestUS)
			return false
		}
		if err := out.RecordValues(v, n); err != nil {
			bad = fmt.Errorf("decode histogram: %w", err)
			return false
		}
		return true
	})
	if bad != nil {
		return nil, bad
	}
	return out, nil
}

// mergeInto adds src into dst, which share wsbench's geometry, so nothing
// can be dropped but a count that would overflow the total.
func mergeInto(dst, src *Histogram) error {
	if src.TotalCount() == 0 {
		return nil
	}
	if dropped := dst.Merge(src); dropped > 0 {
		return fmt.Errorf("merge histogram: %d samples would overflow the count", dropped)
	}
	return nil
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

// Equal reports whether a and b hold the same counts in the same buckets.
func Equal(a, b *Histogram) bool {
	if a.TotalCount() != b.TotalCount() || a.Populated() != b.Populated() {
		return false
	}
	type bucket struct{ v, n int64 }
	var ab []bucket
	a.ForEachBucket(func(v, n int64) bool { ab = append(ab, bucket{v, n}); return true })
	i, same := 0, true
	b.ForEachBucket(func(v, n int64) bool {
		same = i < len(ab) && ab[i] == bucket{v, n}
		i++
		return same
	})
	return same && i == len(ab)
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
