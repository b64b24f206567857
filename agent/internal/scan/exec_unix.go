//go:build unix

package scan

import (
	"os/exec"
	"syscall"
)

// killGroup puts the command in its own process group and makes
// cancellation kill the whole group, so helpers it forked (apt methods,
// rpm scriptlets) die with it instead of holding its pipes open.
func killGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
