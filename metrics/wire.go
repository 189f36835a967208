package metrics

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
)

// The wire form of an Interval is how a worker process streams its
// intervals to a coordinator: binary, versioned, and validated on decode,
// because it crosses a process (later a network) boundary.
//
//	"WSBI" version(uvarint)
//	start_ns(varint) end_ns(varint) active(varint) cpu(float64 bits, LE)
//	counters:  n(uvarint), n × { name, value(varint) }        non-zero only
//	families:  n(uvarint), n × { name, m(uvarint), m × { key, value(varint) } }
//	histograms: n(uvarint), n × { name, b(uvarint), b × { value delta(uvarint), count(uvarint) } }
//
// Strings are a uvarint length and bytes. Counters go by name, not by
// position, so a decoder rejects a counter it does not know instead of
// adding it to the wrong one. Histograms are their populated buckets,
// values ascending (as deltas), which re-record exactly because both sides
// use the same geometry: smaller and far cheaper than the V2 compressed
// form reports use.
const wireMagic = "WSBI"

// WireVersion is the version of the wire form this build writes and reads.
const WireVersion = 1

// Limits a decoder enforces, so a corrupt or hostile stream cannot make
// it allocate without bound.
const (
	maxWireString  = 1 << 10
	maxWireEntries = 1 << 16
	maxWireBuckets = 1 << 16 // more than the 23,552 buckets of the geometry
)

// AppendBinary appends the wire form of iv to b.
func (iv *Interval) AppendBinary(b []byte) ([]byte, error) {
	b = append(b, wireMagic...)
	b = binary.AppendUvarint(b, WireVersion)
	b = binary.AppendVarint(b, int64(iv.Start))
	b = binary.AppendVarint(b, int64(iv.End))
	b = binary.AppendVarint(b, iv.Active)
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(iv.CPUPercent))
	var c *Counters
	var names []string
	var hists []*Histogram
	if iv.Set != nil {
		c, names, hists = &iv.Set.Counters, iv.Set.names, iv.Set.Hists
	} else {
		c = &Counters{}
	}
	n := 0
	for _, k := range counterList {
		if k.Get(c) != 0 {
			n++
		}
	}
	b = binary.AppendUvarint(b, uint64(n))
	for _, k := range counterList {
		if v := k.Get(c); v != 0 {
			b = appendString(b, k.Name)
			b = binary.AppendVarint(b, v)
		}
	}
	n = 0
	for _, f := range familyList {
		if len(f.Get(c)) > 0 {
			n++
		}
	}
	b = binary.AppendUvarint(b, uint64(n))
	for _, f := range familyList {
		m := f.Get(c)
		if len(m) == 0 {
			continue
		}
		b = appendString(b, f.Name)
		b = binary.AppendUvarint(b, uint64(len(m)))
		for key, v := range m {
			b = appendString(b, key)
			b = binary.AppendVarint(b, v)
		}
	}
	n = 0
	for _, h := range hists {
		if h.TotalCount() > 0 {
			n++
		}
	}
	b = binary.AppendUvarint(b, uint64(n))
	for i, h := range hists {
		if h.TotalCount() == 0 {
			continue
		}
		b = appendString(b, names[i])
		b = binary.AppendUvarint(b, uint64(h.Populated()))
		prev := int64(0)
		h.ForEachBucket(func(v, count int64) bool {
			b = binary.AppendUvarint(b, uint64(v-prev))
			b = binary.AppendUvarint(b, uint64(count))
			prev = v
			return true
		})
	}
	return b, nil
}

// MarshalBinary returns the wire form of iv.
func (iv *Interval) MarshalBinary() ([]byte, error) { return iv.AppendBinary(nil) }

// UnmarshalBinary decodes the wire form into iv, validating every field.
// The decoded Set holds the metrics the sender had, by name.
func (iv *Interval) UnmarshalBinary(data []byte) error {
	d := wireDecoder{b: data}
	if len(data) < len(wireMagic) || string(data[:len(wireMagic)]) != wireMagic {
		return errors.New("interval: not an interval (bad magic)")
	}
	d.b = d.b[len(wireMagic):]
	if v := d.uvarint(); d.err == nil && v != WireVersion {
		return fmt.Errorf("interval: wire version %d, this wsbench reads %d", v, WireVersion)
	}
	out := Interval{}
	out.Start = time.Duration(d.varint())
	out.End = time.Duration(d.varint())
	out.Active = d.varint()
	out.CPUPercent = d.float()
	if d.err == nil {
		switch {
		case out.Start < 0 || out.End < out.Start:
			d.fail("interval from %v to %v", out.Start, out.End)
		case out.Active < 0:
			d.fail("%d open connections", out.Active)
		case math.IsNaN(out.CPUPercent) || math.IsInf(out.CPUPercent, 0) || out.CPUPercent < 0:
			d.fail("CPU %v", out.CPUPercent)
		}
	}
	set := &Set{}
	for range d.count(maxWireEntries) {
		name := d.string()
		v := d.varint()
		if d.err != nil {
			break
		}
		k, ok := LookupCounter(name)
		if !ok {
			d.fail("unknown counter %q", name)
			break
		}
		if k.Get(&set.Counters) != 0 {
			d.fail("counter %q twice", name)
			break
		}
		k.Add(&set.Counters, v)
	}
	for range d.count(maxWireEntries) {
		name := d.string()
		if d.err != nil {
			break
		}
		f, ok := LookupFamily(name)
		if !ok {
			d.fail("unknown counter family %q", name)
			break
		}
		if f.Get(&set.Counters) != nil {
			d.fail("counter family %q twice", name)
			break
		}
		m := map[string]int64{}
		for range d.count(maxWireEntries) {
			key := d.string()
			v := d.varint()
			if d.err != nil {
				break
			}
			if _, dup := m[key]; dup {
				d.fail("%s key %q twice", name, key)
				break
			}
			m[key] = v
		}
		*f.field(&set.Counters) = m
	}
	for range d.count(maxWireEntries) {
		name := d.string()
		if d.err != nil {
			break
		}
		if set.Histogram(name) != nil {
			d.fail("histogram %q twice", name)
			break
		}
		h := NewHistogram()
		var v int64
		var total uint64
		for i := range d.count(maxWireBuckets) {
			delta := d.uvarint()
			count := d.uvarint()
			if d.err != nil {
				break
			}
			if (i > 0 && delta == 0) || delta > HighestUS || v+int64(delta) > HighestUS || count == 0 {
				d.fail("histogram %q: bucket %d (value +%d, count %d) out of order or out of range", name, i, delta, count)
				break
			}
			v += int64(delta)
			if v < LowestUS || count > math.MaxInt64-total {
				d.fail("histogram %q: bucket %d out of range", name, i)
				break
			}
			total += count
			if err := h.RecordValues(v, int64(count)); err != nil {
				d.fail("histogram %q: %v", name, err)
				break
			}
		}
		if d.err != nil {
			break
		}
		set.names = append(set.names, name)
		set.Hists = append(set.Hists, h)
	}
	if d.err == nil && len(d.b) > 0 {
		d.fail("%d bytes after the interval", len(d.b))
	}
	if d.err != nil {
		return fmt.Errorf("interval: %w", d.err)
	}
	out.Set = set
	*iv = out
	return nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

type wireDecoder struct {
	b   []byte
	err error
}

func (d *wireDecoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf(format, args...)
	}
}

func (d *wireDecoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("truncated or overlong number")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *wireDecoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("truncated or overlong number")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *wireDecoder) float() float64 {
	if d.err != nil {
		return 0
	}
	if len(d.b) < 8 {
		d.fail("truncated")
		return 0
	}
	v := math.Float64frombits(binary.LittleEndian.Uint64(d.b))
	d.b = d.b[8:]
	return v
}

// count reads an entry count, refusing one above limit or one that cannot
// fit in what is left (every entry takes at least a byte).
func (d *wireDecoder) count(limit int) int {
	n := d.uvarint()
	if d.err != nil {
		return 0
	}
	if n > uint64(limit) || n > uint64(len(d.b)) {
		d.fail("%d entries", n)
		return 0
	}
	return int(n)
}

func (d *wireDecoder) string() string {
	n := d.uvarint()
	if d.err != nil {
		return ""
	}
	if n > maxWireString || n > uint64(len(d.b)) {
		d.fail("string of %d bytes", n)
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}
