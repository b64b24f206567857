//go:build windows

package install

import (
	"github.com/redflag-io/redflag/agent/internal/install/installer"
	"github.com/redflag-io/redflag/agent/internal/install/winget"
	"github.com/redflag-io/redflag/agent/internal/install/wua"
)

// platformInstallers returns, in the order they install, the managers
// Windows can have. Applications go first: Windows Update is the one
// that may ask for a reboot.
func platformInstallers() []installer.Installer {
	return []installer.Installer{winget.Installer{}, wua.Installer{}}
}
