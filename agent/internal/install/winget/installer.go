package winget

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/redflag-io/redflag/agent/internal/install/installer"
	"github.com/redflag-io/redflag/agent/internal/scan"
	"github.com/redflag-io/redflag/internal/protocol"
)

// Installer upgrades with winget. The zero value runs "winget" from PATH.
type Installer struct {
	// Winget is the winget program; empty means "winget". A service
	// running as LocalSystem usually needs the full path under
	// C:\Program Files\WindowsApps.
	Winget string
}

// Manager implements installer.Installer.
func (Installer) Manager() protocol.PackageManager { return protocol.ManagerWinget }

// Selects implements installer.Installer: a rollout names a package by
// its winget id, case-insensitively as winget matches ids.
func (Installer) Selects(name string, u protocol.PendingUpdate) bool {
	return strings.EqualFold(name, u.Name)
}

// Keys implements installer.Installer.
func (Installer) Keys(u protocol.PendingUpdate) []string { return []string{u.Name} }

// Plan implements installer.Installer. winget cannot resolve an upgrade
// in advance, so the plan is the selection with the versions the scan
// saw; dependencies are governed at install time (see the package
// comment).
func (Installer) Plan(_ context.Context, req installer.Request) (installer.Plan, error) {
	var plan installer.Plan
	for _, u := range req.Updates {
		if !validID(u.Name) {
			return installer.Plan{}, fmt.Errorf("winget: refusing package id %q", u.Name)
		}
		plan.Changes = append(plan.Changes, installer.Change{Name: u.Name, From: u.CurrentVersion, To: u.AvailableVersion, Kind: installer.Upgrade})
	}
	if req.AllowNewDependencies {
		plan.Notes = append(plan.Notes, "winget may also install declared dependencies")
	}
	return plan, nil
}

// runFunc runs a command; tests replace the real runner.
type runFunc func(context.Context, scan.Command) (scan.Result, error)

// listFunc lists the pending upgrades again after installing.
type listFunc func(context.Context) ([]protocol.PendingUpdate, error)

// install upgrades each selected package, then checks with list which
// ones really changed. It stops at the first failure.
func (i Installer) install(ctx context.Context, req installer.Request, run runFunc, list listFunc) (installer.Result, error) {
	path := i.Winget
	if path == "" {
		path = "winget"
	}
	var (
		res  installer.Result
		done []protocol.PendingUpdate
		fail error
	)
	for _, u := range req.Updates {
		args, err := UpgradeArgs(u.Name, req.AllowNewDependencies)
		if err != nil {
			fail = err
			break
		}
		req.Log.Info("upgrading with winget", "id", u.Name, "to", u.AvailableVersion)
		out, err := run(ctx, scan.Command{Path: path, Args: args, MaxOutput: installer.MaxInstallOutput})
		var ee *scan.ExitError
		if err != nil && !errors.As(err, &ee) && !errors.Is(err, scan.ErrOutputTooLarge) {
			fail = fmt.Errorf("winget upgrade %s: %w", u.Name, err)
			break
		}
		verdict, err := Interpret(out.ExitCode, out.Stdout)
		if err != nil {
			fail = fmt.Errorf("%s: %w", u.Name, err)
			break
		}
		switch verdict {
		case NotApplicable:
			res.Notes = append(res.Notes, u.Name+": no applicable upgrade")
			continue
		case UpgradedRebootRequired:
			res.RebootRequired = true
		}
		done = append(done, u)
	}
	res = confirm(ctx, res, done, list, req)
	return res, fail
}

// confirm reports the upgrades winget said it made, with the version
// after: a package the scan no longer lists is at the version the plan
// named; one still listed at its old version was not upgraded, which is
// noted instead.
func confirm(ctx context.Context, res installer.Result, done []protocol.PendingUpdate, list listFunc, req installer.Request) installer.Result {
	if len(done) == 0 {
		return res
	}
	now := map[string]protocol.PendingUpdate{}
	after, err := list(ctx)
	if err != nil {
		req.Log.Warn("could not list upgrades again to confirm them", "err", err)
	}
	for _, u := range after {
		now[strings.ToLower(u.Name)] = u
	}
	for _, u := range done {
		c := installer.Change{Name: u.Name, From: u.CurrentVersion, To: u.AvailableVersion, Kind: installer.Upgrade}
		if still, ok := now[strings.ToLower(u.Name)]; ok {
			if still.CurrentVersion == u.CurrentVersion {
				res.Notes = append(res.Notes, fmt.Sprintf("%s still at %s after winget reported success", u.Name, u.CurrentVersion))
				continue
			}
			c.To = still.CurrentVersion
		}
		res.Changes = append(res.Changes, c)
	}
	return res
}
