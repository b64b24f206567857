package dnf

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/redflag-io/redflag/agent/internal/scan"
	"github.com/redflag-io/redflag/api/v1alpha1"
)

// Fixed argument lists; never built from input.
var (
	checkUpdateArgs = []string{"check-update"}
	securityArgs    = []string{"updateinfo", "list", "--security"}
	installedArgs   = []string{"-qa", "--qf", InstalledQueryFormat}
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

var _ scan.Scanner = Runner{}

// Manager implements scan.Scanner.
func (Runner) Manager() v1alpha1.PackageManager { return v1alpha1.ManagerDnf }

// Scan runs `dnf check-update`; when it reports upgrades (exit 100) it
// also runs `dnf updateinfo list --security` and `rpm -qa` and merges the
// three. dnf refreshes expired metadata itself. The deadline comes from
// ctx. Updates are returned alongside an error wrapping scan.ErrMalformed
// when part of the output could not be read.
func (r Runner) Scan(ctx context.Context) ([]v1alpha1.PendingUpdate, error) {
	dnf, rpm := r.DNF, r.RPM
	if dnf == "" {
		dnf = "dnf"
	}
	if rpm == "" {
		rpm = "rpm"
	}
	res, err := run(ctx, dnf, checkUpdateArgs, exitUpdates)
	if err != nil {
		return nil, err
	}
	if res.ExitCode == 0 {
		return nil, nil
	}
	upgrades, parseErr := ParseCheckUpdate(bytes.NewReader(res.Stdout))
	if len(upgrades) == 0 {
		if parseErr == nil {
			parseErr = errors.New("dnf check-update exited 100 but listed no upgrades")
		}
		return nil, fmt.Errorf("dnf scan: %w", parseErr)
	}

	res, err = run(ctx, dnf, securityArgs)
	if err != nil {
		return nil, err
	}
	advisories, err := ParseAdvisories(bytes.NewReader(res.Stdout))
	if err != nil {
		return nil, fmt.Errorf("dnf scan: %w", err)
	}

	res, err = run(ctx, rpm, installedArgs)
	if err != nil {
		return nil, err
	}
	inst, instErr := ParseInstalled(bytes.NewReader(res.Stdout))

	updates := Merge(upgrades, inst, advisories)
	if err := errors.Join(parseErr, instErr); err != nil {
		return updates, fmt.Errorf("dnf scan: %w", err)
	}
	return updates, nil
}

func run(ctx context.Context, path string, args []string, okExit ...int) (scan.Result, error) {
	res, err := scan.Command{Path: path, Args: args, Env: cLocale, OKExit: okExit}.Run(ctx)
	if err != nil {
		return res, fmt.Errorf("dnf scan: %w", err)
	}
	return res, nil
}
