//go:build !windows

package scanrun

import (
	"github.com/redflag-io/redflag/agent/internal/scan"
	"github.com/redflag-io/redflag/agent/internal/scan/apt"
	"github.com/redflag-io/redflag/agent/internal/scan/dnf"
	"github.com/redflag-io/redflag/agent/internal/scan/docker"
)

// UpdateScanners returns the package managers of subsystem "updates" on
// this platform, Docker images included. All are listed: the ones the host lacks
// reports scan.ErrNotInstalled and is shown as absent.
func UpdateScanners() []scan.Scanner {
	return []scan.Scanner{apt.Runner{}, dnf.Runner{}, docker.Runner{}}
}
