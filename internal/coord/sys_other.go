//go:build !linux

package coord

import "syscall"

// dieWithParent: only Linux has a parent-death signal; elsewhere a worker
// notices its coordinator's end when its stdin closes.
func dieWithParent() *syscall.SysProcAttr { return &syscall.SysProcAttr{} }
