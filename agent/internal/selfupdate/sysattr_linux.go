//go:build linux

package selfupdate

import "syscall"

// childSysProcAttr makes the kernel SIGKILL the daemon when the supervisor
// dies, however it dies (a SIGKILL leaves it no time to stop its child).
// Pdeathsig fires when the thread that started the child exits; the Go
// runtime only ends threads locked with LockOSThread, which Supervise
// never does.
func childSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
