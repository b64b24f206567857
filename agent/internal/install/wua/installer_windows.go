//go:build windows

package wua

import (
	"context"
	"log/slog"

	"github.com/redflag-io/redflag/agent/internal/install/installer"
	"github.com/redflag-io/redflag/agent/internal/scan"
	scanwua "github.com/redflag-io/redflag/agent/internal/scan/wua"
	"github.com/redflag-io/redflag/internal/protocol"
)

var _ installer.Installer = Installer{}

// Pending implements installer.Installer with the Windows Update scanner.
func (Installer) Pending(ctx context.Context, _ *slog.Logger) ([]protocol.PendingUpdate, error) {
	return scanwua.Runner{}.Scan(ctx)
}

// Install implements installer.Installer.
func (i Installer) Install(ctx context.Context, req installer.Request, _ installer.Plan) (installer.Result, error) {
	return i.install(ctx, req, func(ctx context.Context, c scan.Command) (scan.Result, error) { return c.Run(ctx) })
}
