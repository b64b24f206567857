//go:build !linux

package selfupdate

import "syscall"

// childSysProcAttr: without Pdeathsig, the daemon notices the supervisor's
// death by end-of-file on its stdin (WatchSupervisor).
func childSysProcAttr() *syscall.SysProcAttr { return nil }
