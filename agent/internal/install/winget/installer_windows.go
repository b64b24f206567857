//go:build windows

package winget

import (
	"context"
	"log/slog"

	"github.com/redflag-io/redflag/agent/internal/install/installer"
	"github.com/redflag-io/redflag/agent/internal/scan"
	scanwinget "github.com/redflag-io/redflag/agent/internal/scan/winget"
	"github.com/redflag-io/redflag/internal/protocol"
)

var _ installer.Installer = Installer{}

// Pending implements installer.Installer with the winget scanner.
func (i Installer) Pending(ctx context.Context, _ *slog.Logger) ([]protocol.PendingUpdate, error) {
	return scanwinget.Runner{Winget: i.Winget}.Scan(ctx)
}

// Install implements installer.Installer.
func (i Installer) Install(ctx context.Context, req installer.Request, _ installer.Plan) (installer.Result, error) {
	list := func(ctx context.Context) ([]protocol.PendingUpdate, error) { return i.Pending(ctx, req.Log) }
	return i.install(ctx, req, runCommand, list)
}

func runCommand(ctx context.Context, c scan.Command) (scan.Result, error) { return c.Run(ctx) }
