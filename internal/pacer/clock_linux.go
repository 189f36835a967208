//go:build linux

package pacer

import (
	"encoding/binary"
	"fmt"
	"os"
	"syscall"
	"time"
	"unsafe"
)

// timerfd is a CLOCK_MONOTONIC timerfd, the clock Go's monotonic readings
// come from. It is non-blocking, so os.File reads it through the netpoller.
type timerfd struct {
	f  *os.File
	fd uintptr
}

const (
	clockMonotonic = 1
	tfdNonblock    = syscall.O_NONBLOCK
	tfdCloexec     = syscall.O_CLOEXEC
)

func openClock() (clock, error) {
	fd, _, errno := syscall.Syscall(syscall.SYS_TIMERFD_CREATE, clockMonotonic, tfdNonblock|tfdCloexec, 0)
	if errno != 0 {
		return nil, fmt.Errorf("timerfd_create: %w", errno)
	}
	return &timerfd{f: os.NewFile(fd, "pacer-timerfd"), fd: fd}, nil
}

// itimerspec is struct itimerspec: no interval, one expiry.
type itimerspec struct {
	interval syscall.Timespec
	value    syscall.Timespec
}

func (t *timerfd) arm(d time.Duration) error {
	spec := itimerspec{value: syscall.NsecToTimespec(int64(d))}
	_, _, errno := syscall.Syscall6(syscall.SYS_TIMERFD_SETTIME, t.fd, 0, uintptr(unsafe.Pointer(&spec)), 0, 0, 0)
	if errno != 0 {
		return fmt.Errorf("timerfd_settime: %w", errno)
	}
	return nil
}

func (t *timerfd) wait() bool {
	var buf [8]byte // the number of expiries since the last read
	for {
		n, err := t.f.Read(buf[:])
		if err != nil {
			return false
		}
		if n == 8 && binary.NativeEndian.Uint64(buf[:]) > 0 {
			return true
		}
	}
}

func (t *timerfd) close() error { return t.f.Close() }
