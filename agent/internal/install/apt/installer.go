package apt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"

	"github.com/redflag-io/redflag/agent/internal/install/installer"
	"github.com/redflag-io/redflag/agent/internal/scan"
	scanapt "github.com/redflag-io/redflag/agent/internal/scan/apt"
	"github.com/redflag-io/redflag/internal/protocol"
)

// lockTimeoutSeconds is how long apt-get waits for the dpkg lock held by
// another apt (unattended-upgrades, a user) before giving up; older apt
// ignores the option and fails at once.
const lockTimeoutSeconds = "300"

// cLocale keeps apt's output in the English the parser reads.
var cLocale = []string{"LANG=C", "LC_ALL=C"}

// installEnv makes an install unattended. needrestart (Ubuntu) would
// otherwise restart services itself, the agent's included, killing the
// install it is running; in list mode it only reports them.
var installEnv = append([]string{
	"DEBIAN_FRONTEND=noninteractive",
	"APT_LISTCHANGES_FRONTEND=none",
	"NEEDRESTART_MODE=l",
	"UCF_FORCE_CONFFOLD=1",
}, cLocale...)

// Argument lists; names are appended, never interpolated.
var (
	updateArgs   = []string{"-o", "DPkg::Lock::Timeout=" + lockTimeoutSeconds, "update"}
	simulateArgs = []string{"-s", "-y", "install", "--only-upgrade"}
	installArgs  = []string{
		"-y",
		"-o", "Dpkg::Options::=--force-confdef",
		"-o", "Dpkg::Options::=--force-confold",
		"-o", "DPkg::Lock::Timeout=" + lockTimeoutSeconds,
		"install", "--only-upgrade",
	}
)

// Installer installs with apt-get. The zero value runs apt-get,
// apt-config and dpkg-query from PATH and refreshes the package lists
// first.
type Installer struct {
	// AptGet, AptConfig and DpkgQuery are the programs; empty means the
	// name on PATH.
	AptGet, AptConfig, DpkgQuery string
	// Scanner lists the pending updates.
	Scanner scanapt.Runner
	// NoRefresh skips `apt-get update` before listing.
	NoRefresh bool
}

var (
	_ installer.Installer = Installer{}
	_ installer.Refresher = Installer{}
)

// Refreshes implements installer.Refresher.
func (i Installer) Refreshes() bool { return !i.NoRefresh }

// Manager implements installer.Installer.
func (Installer) Manager() protocol.PackageManager { return protocol.ManagerApt }

// Selects implements installer.Installer: a rollout names a Debian
// package by its name, as apt list shows it.
func (Installer) Selects(name string, u protocol.PendingUpdate) bool { return name == u.Name }

// Keys implements installer.Installer.
func (Installer) Keys(u protocol.PendingUpdate) []string { return []string{u.Name} }

// Pending implements installer.Installer: apt-get update, then the apt
// scanner. A failed refresh (a mirror down) is logged and the listing
// goes ahead with the lists on disk.
func (i Installer) Pending(ctx context.Context, log *slog.Logger) ([]protocol.PendingUpdate, error) {
	if !i.NoRefresh {
		_, err := scan.Command{Path: prog(i.AptGet, "apt-get"), Args: updateArgs, Env: cLocale}.Run(ctx)
		switch {
		case errors.Is(err, scan.ErrNotInstalled):
			return nil, fmt.Errorf("apt: %w", err)
		case ctx.Err() != nil:
			return nil, fmt.Errorf("apt-get update: %w", context.Cause(ctx))
		case err != nil:
			log.Warn("apt-get update failed; using the package lists on disk", "err", err)
		}
	}
	return i.Scanner.Scan(ctx)
}

// Plan implements installer.Installer with apt-get's simulation.
func (i Installer) Plan(ctx context.Context, req installer.Request) (installer.Plan, error) {
	names, err := checkedNames(req)
	if err != nil {
		return installer.Plan{}, err
	}
	res, err := scan.Command{
		Path: prog(i.AptGet, "apt-get"),
		Args: append(append([]string{}, simulateArgs...), names...),
		Env:  cLocale,
	}.Run(ctx)
	if err != nil {
		return installer.Plan{}, fmt.Errorf("apt-get simulation: %w", err)
	}
	changes, err := ParseSimulation(bytes.NewReader(res.Stdout))
	if err != nil {
		return installer.Plan{}, err
	}
	return installer.Plan{Changes: changes}, nil
}

// Install implements installer.Installer: the simulated command for real,
// then the versions dpkg records.
func (i Installer) Install(ctx context.Context, req installer.Request, plan installer.Plan) (installer.Result, error) {
	names, err := checkedNames(req)
	if err != nil {
		return installer.Result{}, err
	}
	req.Log.Info("installing with apt-get", "packages", names)
	_, runErr := installer.RunInstall(ctx, scan.Command{
		Path: prog(i.AptGet, "apt-get"),
		Args: append(append([]string{}, installArgs...), names...),
		Env:  installEnv,
	})
	// Read back even after a failure: dpkg may have upgraded some
	// packages before it stopped, and the report must say so.
	res, readErr := i.readBack(ctx, plan)
	if runErr != nil {
		return res, fmt.Errorf("apt-get install: %w", runErr)
	}
	if readErr != nil {
		return res, fmt.Errorf("apt installed, but reading the versions back failed: %w", readErr)
	}
	return res, nil
}

// readBack compares the planned changes with what dpkg records. Only a
// package fully installed at a new version is reported as changed; one
// still at its old version, or left half-way by a failure, is noted.
func (i Installer) readBack(ctx context.Context, plan installer.Plan) (installer.Result, error) {
	var names []string
	for _, c := range plan.Changes {
		if c.Kind != installer.Remove {
			names = append(names, c.Name)
		}
	}
	var res installer.Result
	if len(names) == 0 {
		return res, nil
	}
	states, err := i.installed(ctx, names)
	if err != nil {
		return res, err
	}
	for _, c := range plan.Changes {
		if c.Kind == installer.Remove {
			continue
		}
		st, ok := states[c.Name]
		switch {
		case !ok || st.Status == "not-installed" || st.Status == "config-files":
			res.Notes = append(res.Notes, c.Name+" is not installed")
		case st.Status != "installed":
			// dpkg stopped half-way (a failing maintainer script): the
			// new version is there but not working yet.
			res.Notes = append(res.Notes, fmt.Sprintf("%s left %s at %s", c.Name, st.Status, st.Version))
		case st.Version == c.From:
			res.Notes = append(res.Notes, fmt.Sprintf("%s still at %s", c.Name, st.Version))
		default:
			c.To = st.Version
			res.Changes = append(res.Changes, c)
		}
	}
	return res, nil
}

// installed asks dpkg-query, in the database apt uses, for the versions
// of names.
func (i Installer) installed(ctx context.Context, names []string) (map[string]state, error) {
	res, err := scan.Command{Path: prog(i.AptConfig, "apt-config"), Args: configArgs, Env: cLocale}.Run(ctx)
	if err != nil {
		return nil, fmt.Errorf("apt-config: %w", err)
	}
	vars := parseShell(string(res.Stdout))
	status := vars[varStatus]
	if !filepath.IsAbs(status) {
		return nil, fmt.Errorf("apt-config gave no absolute Dir::State::status (got %q)", status)
	}
	args := []string{"--admindir=" + filepath.Dir(status), "-W", "--showformat=" + queryFormat}
	// dpkg-query exits 1 when a name is not installed; the others are
	// still printed.
	res, err = scan.Command{Path: prog(i.DpkgQuery, "dpkg-query"), Args: append(args, names...), Env: cLocale, OKExit: []int{1}}.Run(ctx)
	if err != nil {
		return nil, fmt.Errorf("dpkg-query: %w", err)
	}
	return installedStates(bytes.NewReader(res.Stdout), vars[varArch])
}

// checkedNames returns the selected names, refusing any that apt could
// read as an option (they come from apt's own listing, so this never
// happens on a sane host).
func checkedNames(req installer.Request) ([]string, error) {
	names := req.Names()
	for _, n := range names {
		if !validName(n) {
			return nil, fmt.Errorf("apt: refusing package name %q", n)
		}
	}
	if len(names) == 0 {
		return nil, errors.New("apt: no packages selected")
	}
	return names, nil
}

func prog(path, def string) string {
	if strings.TrimSpace(path) == "" {
		return def
	}
	return path
}
