//go:build !windows

package install

import "os/exec"

// defaultRebootCommand is systemd's reboot, or the classic shutdown where
// there is no systemctl (containers, other inits).
func defaultRebootCommand() []string {
	if _, err := exec.LookPath("systemctl"); err == nil {
		return []string{"systemctl", "reboot"}
	}
	return []string{"shutdown", "-r", "now"}
}
