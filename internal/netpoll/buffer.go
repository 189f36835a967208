package netpoll

import (
	"math/bits"
	"sync"
)

// Buffer pools by size class: powers of two from MinBuffer to MaxPooled.
const (
	MinBuffer = 512
	MaxPooled = 4 << 20
)

const (
	minShift = 9 // log2(MinBuffer)
	classes  = 22 - minShift + 1
)

var pools [classes]sync.Pool

// class returns the size class of a buffer of at least n bytes.
func class(n int) int {
	if n <= MinBuffer {
		return 0
	}
	return bits.Len(uint(n-1)) - minShift
}

// GetBuffer returns a buffer of length n (and a capacity of the next power
// of two) from a pool. Its contents are arbitrary. Buffers above MaxPooled
// are allocated and not pooled.
func GetBuffer(n int) *[]byte {
	c := class(n)
	if c >= classes {
		b := make([]byte, n)
		return &b
	}
	if v := pools[c].Get(); v != nil {
		b := v.(*[]byte)
		*b = (*b)[:n]
		return b
	}
	b := make([]byte, n, MinBuffer<<c)
	return &b
}

// PutBuffer returns b to its pool. b must not be used afterwards.
func PutBuffer(b *[]byte) {
	c := cap(*b)
	if c < MinBuffer || c > MaxPooled || c&(c-1) != 0 {
		return // not from GetBuffer
	}
	pools[class(c)].Put(b)
}
