//go:build windows

package winget

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/redflag-io/redflag/agent/internal/scan"
	"github.com/redflag-io/redflag/internal/protocol"
)

// upgradeArgs is the fixed argument list of the table scan.
var upgradeArgs = []string{"upgrade", "--accept-source-agreements", "--disable-interactivity"}

// Exit codes with which `winget upgrade` reports that nothing is
// upgradable (APPINSTALLER_CLI_ERROR_NO_APPLICATIONS_FOUND and
// APPINSTALLER_CLI_ERROR_UPDATE_NOT_APPLICABLE), as Go reports a Windows
// exit status.
var noUpgradeExits = []int{int(uint32(0x8A150014)), int(uint32(0x8A15002B))}

// Runner scans with winget. The zero value prefers the
// Microsoft.WinGet.Client module and falls back to "winget" from PATH.
type Runner struct {
	// Winget is the winget program; empty means "winget". A service
	// running as LocalSystem usually needs the full path under
	// C:\Program Files\WindowsApps.
	Winget string
}

var _ scan.Scanner = Runner{}

// Manager implements scan.Scanner.
func (Runner) Manager() protocol.PackageManager { return protocol.ManagerWinget }

// Scan lists upgrades through ClientScript when the PowerShell module is
// installed (untruncated, unlocalised JSON), and otherwise through the
// `winget upgrade` table. The deadline comes from ctx.
func (r Runner) Scan(ctx context.Context) ([]protocol.PendingUpdate, error) {
	res, err := scan.PowerShellCommand(ClientScript, exitNoClientModule).Run(ctx)
	if err == nil && res.ExitCode == 0 {
		updates, err := ParseClientJSON(res.Stdout)
		if err != nil {
			return nil, fmt.Errorf("winget scan: %w", err)
		}
		return updates, nil
	}
	if ctx.Err() != nil {
		return nil, fmt.Errorf("winget scan: %w", context.Cause(ctx))
	}
	clientErr := err // nil when the module is simply absent

	path := r.Winget
	if path == "" {
		path = "winget"
	}
	res, err = scan.Command{Path: path, Args: upgradeArgs, OKExit: noUpgradeExits}.Run(ctx)
	if err != nil {
		return nil, fmt.Errorf("winget scan: %w", errors.Join(err, clientErr))
	}
	updates, err := ParseTable(bytes.NewReader(res.Stdout))
	if err != nil {
		return updates, fmt.Errorf("winget scan: %w", err)
	}
	return updates, nil
}
