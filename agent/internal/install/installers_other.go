//go:build !windows

package install

import (
	"github.com/redflag-io/redflag/agent/internal/install/apt"
	"github.com/redflag-io/redflag/agent/internal/install/dnf"
	"github.com/redflag-io/redflag/agent/internal/install/docker"
	"github.com/redflag-io/redflag/agent/internal/install/installer"
)

// platformInstallers returns, in the order they install, the managers
// this platform can have; absent ones report themselves not installed.
// The list mirrors the scanners of scanrun.UpdateScanners.
func platformInstallers() []installer.Installer {
	return []installer.Installer{apt.Installer{}, dnf.Installer{}, docker.Installer{}}
}
