package dnf

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/redflag-io/redflag/agent/internal/scan"
	"github.com/redflag-io/redflag/internal/protocol"
)

// Fixed argument lists; never built from input.
var (
	checkUpdateArgs = []string{"check-update"}
	securityArgs    = []string{"updateinfo", "list", "--security"}
	// The same with the versionlock plugin off, run only when the host
	// has locks, to see what they withhold.
	unlockedCheckUpdateArgs = []string{"--disableplugin=versionlock", "check-update"}
	unlockedSecurityArgs    = []string{"--disableplugin=versionlock", "updateinfo", "list", "--security"}
	installedArgs           = []string{"-qa", "--qf", InstalledQueryFormat}
)

// exitUpdates is dnf check-update's exit code when upgrades are listed.
const exitUpdates = 100

// cLocale keeps headings and prose in the English the parsers expect.
var cLocale = []string{"LANG=C", "LC_ALL=C"}

// Runner scans with dnf and rpm. The zero value runs "dnf" and "rpm" from
// PATH.
type Runner struct {
	// DNF is the dnf program (dnf4 or dnf5); empty means "dnf".
	DNF string
	// RPM is the rpm program; empty means "rpm".
	RPM string
}

var _ scan.OptionScanner = Runner{}

// Manager implements scan.Scanner.
func (Runner) Manager() protocol.PackageManager { return protocol.ManagerDnf }

// Scan is ScanWith under the zero Options: dnf's own metadata expiry.
func (r Runner) Scan(ctx context.Context) ([]protocol.PendingUpdate, error) {
	return r.ScanWith(ctx, scan.Options{})
}

// ScanWith runs `rpm -qa`, `dnf versionlock list` and `dnf check-update`;
// when the host has version locks it runs check-update again with the
// versionlock plugin disabled, and the locked packages only that run
// lists are the held upgrades (Held, which installs leave alone, as
// apt-mark holds). When there are upgrades it also runs `dnf updateinfo
// list --security` and merges them all. An empty rpm database is reported as
// scan.ErrNotInstalled: dnf is present but manages nothing (a Debian host
// with the dnf package), so the host counts as having no dnf rather than
// a failing one. When RootEnv names a root, dnf runs with --installroot and rpm
// with --root there. dnf refreshes expired metadata itself. The deadline comes from
// ctx. Updates are returned alongside an error wrapping scan.ErrMalformed
// when part of the output could not be read.
//
// dnf refreshes metadata older than its metadata_expire (48h by default
// on Fedora and RHEL) by itself; opts.RefreshListsAfter, when set, is
// passed as that expiry, so the ScanSchedule's bound holds on dnf hosts
// as it does on apt ones. A refresh that fails makes dnf fail (or, with
// skip_if_unavailable, warn), as it would from the host's own settings.
func (r Runner) ScanWith(ctx context.Context, opts scan.Options) ([]protocol.PendingUpdate, error) {
	dnf, rpm := r.DNF, r.RPM
	if dnf == "" {
		dnf = "dnf"
	}
	if rpm == "" {
		rpm = "rpm"
	}
	dnfRoot, rpmRoot, err := RootArgs()
	if err != nil {
		return nil, fmt.Errorf("dnf scan: %w", err)
	}
	// rpm first: a host whose rpm database is empty (a Debian host with
	// dnf and rpm installed as tools, for building images) has nothing
	// dnf manages, and is told apart from a dnf host whose scan fails.
	res, err := run(ctx, rpm, withRoot(rpmRoot, installedArgs))
	if err != nil {
		return nil, err
	}
	inst, instErr := ParseInstalled(bytes.NewReader(res.Stdout))
	if len(inst) == 0 && instErr == nil {
		return nil, fmt.Errorf("dnf scan: %w: rpm's database lists no installed package, so dnf manages nothing on this host", scan.ErrNotInstalled)
	}

	locks, lockErr := r.locks(ctx, dnf, dnfRoot)
	visible, err := checkUpdate(ctx, dnf, withRoot(dnfRoot, withExpiry(checkUpdateArgs, opts.RefreshListsAfter)))
	if err != nil {
		return nil, err
	}
	upgrades, parseErr := visible.upgrades, visible.parseErr
	var held map[string]bool
	if len(locks) > 0 {
		// versionlock hides the newer versions of locked packages from
		// check-update; ask again without it and keep, as held, the
		// locked packages it alone lists. One that check-update already
		// lists may move within its lock, and is not held.
		all, err := checkUpdate(ctx, dnf, withRoot(dnfRoot, withExpiry(unlockedCheckUpdateArgs, opts.RefreshListsAfter)))
		if err != nil {
			return nil, err
		}
		var withheld []Upgrade
		withheld, held = heldUpgrades(all.upgrades, upgrades, locks)
		upgrades = append(upgrades, withheld...)
		parseErr = errors.Join(parseErr, all.parseErr)
	}
	if len(upgrades) == 0 {
		if err := errors.Join(parseErr, lockErr); err != nil {
			return nil, fmt.Errorf("dnf scan: %w", err)
		}
		return nil, nil
	}

	args := securityArgs
	if len(locks) > 0 {
		args = unlockedSecurityArgs
	}
	res, err = run(ctx, dnf, withRoot(dnfRoot, withExpiry(args, opts.RefreshListsAfter)))
	if err != nil {
		return nil, err
	}
	advisories, err := ParseAdvisories(bytes.NewReader(res.Stdout))
	if err != nil {
		return nil, fmt.Errorf("dnf scan: %w", err)
	}

	updates := Merge(upgrades, inst, advisories)
	markHeld(updates, held)
	if err := errors.Join(parseErr, instErr, lockErr); err != nil {
		return updates, fmt.Errorf("dnf scan: %w", err)
	}
	return updates, nil
}

// checked is what one check-update found: the upgrades it could read and
// why it could not read the rest.
type checked struct {
	upgrades []Upgrade
	parseErr error
}

// checkUpdate runs one dnf check-update and parses its upgrades. Exit 0
// means none; exit 100 with none readable is a parse error.
func checkUpdate(ctx context.Context, dnf string, args []string) (checked, error) {
	res, err := run(ctx, dnf, args, exitUpdates)
	if err != nil || res.ExitCode == 0 {
		return checked{}, err
	}
	upgrades, parseErr := ParseCheckUpdate(bytes.NewReader(res.Stdout))
	if len(upgrades) == 0 && parseErr == nil {
		parseErr = errors.New("dnf check-update exited 100 but listed no upgrades")
	}
	return checked{upgrades, parseErr}, nil
}

func run(ctx context.Context, path string, args []string, okExit ...int) (scan.Result, error) {
	res, err := scan.Command{Path: path, Args: args, Env: cLocale, OKExit: okExit}.Run(ctx)
	if err != nil {
		return res, fmt.Errorf("dnf scan: %w", err)
	}
	return res, nil
}

// withExpiry puts dnf's metadata_expire, in whole seconds (at least one),
// before args when maxAge is set. 0 leaves the host's setting: dnf reads
// metadata_expire=0 as "always expired", the opposite of never refreshing.
func withExpiry(args []string, maxAge time.Duration) []string {
	if maxAge <= 0 {
		return args
	}
	secs := max(int64(maxAge/time.Second), 1)
	return append([]string{"--setopt=metadata_expire=" + strconv.FormatInt(secs, 10)}, args...)
}

// withRoot puts the RootArgs of one program before args.
func withRoot(root, args []string) []string {
	if len(root) == 0 {
		return args
	}
	return append(slices.Clone(root), args...)
}
