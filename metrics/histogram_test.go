package metrics

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/binary"
	"math"
	"strings"
	"testing"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// encodedHeader is the V2 compressed encoding of a histogram header with
// no counts: what a hostile or corrupt report can hold in a few bytes.
func encodedHeader(sig int32, lowest, highest int64) string {
	var inner bytes.Buffer
	_ = binary.Write(&inner, binary.BigEndian, []int32{0x1c849303, 0, 0, sig})
	_ = binary.Write(&inner, binary.BigEndian, []int64{lowest, highest})
	_ = binary.Write(&inner, binary.BigEndian, 1.0)
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	_, _ = zw.Write(inner.Bytes())
	_ = zw.Close()
	var outer bytes.Buffer
	_ = binary.Write(&outer, binary.BigEndian, []int32{0x1c849304, int32(z.Len())})
	outer.Write(z.Bytes())
	return base64.StdEncoding.EncodeToString(outer.Bytes())
}

// TestCountsNeededMatchesHdr checks the geometry arithmetic against the
// library's own counts arrays.
func TestCountsNeededMatchesHdr(t *testing.T) {
	for _, g := range []struct {
		lo, hi int64
		sig    int32
	}{
		{LowestUS, HighestUS, SigFigs}, {1, 2, 1}, {1, 1000, 1}, {1, 1 << 20, 2}, {1000, 1e9, 3},
		{1, 1 << 30, 4}, {7, 1 << 24, 5}, {1, math.MaxInt64, 3}, {1 << 20, 1 << 40, 2},
	} {
		want := int64(len(hdr.New(g.lo, g.hi, int(g.sig)).Export().Counts))
		if got := countsNeeded(g.lo, g.hi, g.sig); got != want {
			t.Errorf("countsNeeded(%d, %d, %d) = %d, hdr has %d", g.lo, g.hi, g.sig, got, want)
		}
	}
}

// TestDecodeRejectsHugeGeometry: a header that asks for a huge counts
// array is rejected before it is allocated; a foreign geometry of sane
// size still decodes and re-homes.
func TestDecodeRejectsHugeGeometry(t *testing.T) {
	_, err := DecodeHistogram(encodedHeader(5, 1, math.MaxInt64))
	if err == nil || !strings.Contains(err.Error(), "counts, more than") {
		t.Fatalf("huge geometry: %v", err)
	}
	foreign := hdr.New(1, 1e7, 4)
	for _, v := range []int64{1, 500, 123456} {
		_ = foreign.RecordValue(v)
	}
	b, err := foreign.Encode(hdr.V2CompressedEncodingCookieBase)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	h, err := DecodeHistogram(s)
	if err != nil {
		t.Fatalf("sane foreign geometry: %v", err)
	}
	if h.TotalCount() != 3 || h.SignificantFigures() != SigFigs || h.HighestTrackableValue() != HighestUS {
		t.Fatalf("re-homed histogram: %d values, %d digits, highest %d", h.TotalCount(), h.SignificantFigures(), h.HighestTrackableValue())
	}
}

// FuzzDecodeHistogram feeds DecodeHistogram what a report file may hold.
// It must not panic; what it accepts has wsbench's geometry, a total equal
// to its counts, values inside the recordable range, and encodes back to
// the same histogram. Seeds live in testdata/fuzz/FuzzDecodeHistogram.
//
//	go test -run='^$' -fuzz=FuzzDecodeHistogram -fuzztime=60s ./metrics/
func FuzzDecodeHistogram(f *testing.F) {
	h := NewHistogram()
	for _, v := range []int64{1, 2, 999, 1000, 123456, HighestUS} {
		RecordUS(h, v)
	}
	for _, hist := range []*Histogram{NewHistogram(), h} {
		s, err := EncodeHistogram(hist)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(s)
	}
	if b, err := hdr.New(1, 1e6, 2).Encode(hdr.V2CompressedEncodingCookieBase); err == nil {
		f.Add(string(b))
	}
	f.Add(encodedHeader(5, 1, math.MaxInt64))
	f.Add("")
	top := NewHistogram()
	RecordUS(top, HighestUS)
	maxValue := top.Max() // the highest value a bucket of the range stands for
	f.Fuzz(func(t *testing.T, s string) {
		h, err := DecodeHistogram(s)
		if err != nil {
			return
		}
		if h.LowestTrackableValue() != LowestUS || h.HighestTrackableValue() != HighestUS || h.SignificantFigures() != SigFigs {
			t.Fatalf("geometry %d..%d at %d digits", h.LowestTrackableValue(), h.HighestTrackableValue(), h.SignificantFigures())
		}
		var sum int64
		h.ForEachBucket(func(_, c int64) bool {
			if c < 0 {
				t.Fatalf("negative count %d", c)
			}
			sum += c
			return true
		})
		if sum != h.TotalCount() {
			t.Fatalf("total %d, counts sum to %d", h.TotalCount(), sum)
		}
		if h.TotalCount() > 0 && (h.Min() < 0 || h.Max() > maxValue) {
			t.Fatalf("values %d..%d outside the range", h.Min(), h.Max())
		}
		enc, err := EncodeHistogram(h)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		back, err := DecodeHistogram(enc)
		if err != nil || !Equal(back, h) {
			t.Fatalf("round trip: %v", err)
		}
	})
}
