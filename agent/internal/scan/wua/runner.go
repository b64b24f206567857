//go:build windows

package wua

import (
	"context"
	"fmt"

	"github.com/redflag-io/redflag/agent/internal/scan"
	"github.com/redflag-io/redflag/internal/protocol"
)

// Runner scans with the Windows Update Agent through Windows PowerShell.
type Runner struct{}

var _ scan.Scanner = Runner{}

// Manager implements scan.Scanner.
func (Runner) Manager() protocol.PackageManager { return protocol.ManagerWindowsUpdate }

// Scan runs SearchScript and parses its output. A search can take minutes
// (it may contact Windows Update); the deadline comes from ctx.
func (Runner) Scan(ctx context.Context) ([]protocol.PendingUpdate, error) {
	res, err := scan.PowerShellCommand(SearchScript).Run(ctx)
	if err != nil {
		return nil, fmt.Errorf("windows update scan: %w", err)
	}
	updates, err := Parse(res.Stdout)
	if err != nil {
		return nil, fmt.Errorf("windows update scan: %w", err)
	}
	return updates, nil
}
