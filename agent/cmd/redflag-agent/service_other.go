//go:build !windows

package main

import (
	"fmt"
	"io"
)

// serviceCommand refuses: only Windows has a Service Control Manager. On
// Linux the agent runs under systemd (docs/install-agent.md).
func serviceCommand(_ []string, _, stderr io.Writer) int {
	fmt.Fprintln(stderr, "redflag-agent service: Windows only; on Linux the agent runs under systemd (redflag-agent.service, see docs/install-agent.md)")
	return 2
}

// runAsWindowsService reports that this process is not a Windows service,
// so main runs the command line as usual.
func runAsWindowsService([]string) (code int, isService bool) {
	return 0, false
}
