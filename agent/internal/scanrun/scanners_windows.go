//go:build windows

package scanrun

import (
	"github.com/redflag-io/redflag/agent/internal/scan"
	"github.com/redflag-io/redflag/agent/internal/scan/winget"
	"github.com/redflag-io/redflag/agent/internal/scan/wua"
)

// UpdateScanners returns the package managers of subsystem "updates" on
// Windows.
func UpdateScanners() []scan.Scanner {
	return []scan.Scanner{winget.Runner{}, wua.Runner{}}
}
