//go:build race

package pacer

// The race detector allocates on its own, so allocation counts mean nothing.
const raceEnabled = true
