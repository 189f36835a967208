package coord

import "syscall"

// dieWithParent has the kernel kill a worker when its coordinator dies.
func dieWithParent() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
