package scanrun

import "github.com/redflag-io/redflag/agent/internal/scan"

// DockerScanners returns the scanners of subsystem "docker". None exists
// yet; the image scanner of agent/internal/scan/docker registers here
// with one line: return []scan.Scanner{docker.Runner{}}.
func DockerScanners() []scan.Scanner {
	return nil
}
