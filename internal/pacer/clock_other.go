//go:build !linux

package pacer

import "errors"

func openClock() (clock, error) {
	return nil, errors.New("no precise clock on this platform")
}
