package scanrun

import "github.com/redflag-io/redflag/agent/internal/scan"

// DockerScanners returns the scanners of subsystem "docker". Docker image
// updates are part of subsystem "updates" (every package manager, Docker
// images included, in one inventory), so this list is empty: a scanner may
// belong to one subsystem only, and the inventory has one owner.
func DockerScanners() []scan.Scanner {
	return nil
}
