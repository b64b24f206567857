//go:build windows

package install

// defaultRebootCommand restarts Windows at once, recorded in the event
// log as a planned restart for an operating-system hotfix (p:2:17).
func defaultRebootCommand() []string {
	return []string{"shutdown.exe", "/r", "/t", "0", "/d", "p:2:17", "/c", "RedFlag: restarting to finish installing updates"}
}
