//go:build unix

package selfupdate

import (
	"os"
	"syscall"
)

// signalStop asks the daemon to stop as systemd would.
func signalStop(p *os.Process) error { return p.Signal(syscall.SIGTERM) }

// ReexecSelf returns a SupervisorOptions.Reexec that replaces this process
// with exe (same pid, argv and environment), so a supervisor runs the code
// of the update it just confirmed. argv includes argv[0] (os.Args).
func ReexecSelf(exe string, argv, env []string) func() error {
	return func() error { return syscall.Exec(exe, argv, env) }
}
