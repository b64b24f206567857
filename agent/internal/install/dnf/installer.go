package dnf

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/redflag-io/redflag/agent/internal/install/installer"
	"github.com/redflag-io/redflag/agent/internal/scan"
	scandnf "github.com/redflag-io/redflag/agent/internal/scan/dnf"
	"github.com/redflag-io/redflag/internal/protocol"
)

// env keeps dnf's headings in the English the parser reads and its table
// at 80 columns: dnf5 sizes it from COLUMNS when stdout is not a
// terminal, and a narrow table keeps the old version on lines of its own.
var env = []string{"LANG=C", "LC_ALL=C", "COLUMNS=80"}

// Argument lists; names are appended, never interpolated.
var (
	planArgs      = []string{"upgrade", "--assumeno"}
	installArgs   = []string{"-y", "upgrade"}
	installedArgs = []string{"-qa", "--qf", scandnf.InstalledQueryFormat}
)

// exitAborted is dnf's exit status after --assumeno refused the
// transaction, the normal end of a dry run.
const exitAborted = 1

// Installer installs with dnf (4 or 5). The zero value runs "dnf" and
// "rpm" from PATH.
type Installer struct {
	// DNF and RPM are the programs; empty means the name on PATH.
	DNF, RPM string
}

var _ installer.Installer = Installer{}

// Manager implements installer.Installer.
func (Installer) Manager() protocol.PackageManager { return protocol.ManagerDnf }

// Selects implements installer.Installer: a rollout names an RPM package
// by its name, or by name.arch.
func (Installer) Selects(name string, u protocol.PendingUpdate) bool {
	return name == u.Name || strings.HasPrefix(name, u.Name+".") && validArch(name[len(u.Name)+1:])
}

// Keys implements installer.Installer.
func (Installer) Keys(u protocol.PendingUpdate) []string { return []string{u.Name} }

// Pending implements installer.Installer with the dnf scanner, which
// refreshes expired metadata itself.
func (i Installer) Pending(ctx context.Context, _ *slog.Logger) ([]protocol.PendingUpdate, error) {
	return scandnf.Runner{DNF: i.DNF, RPM: i.RPM}.Scan(ctx)
}

// Plan implements installer.Installer with `dnf upgrade --assumeno`.
func (i Installer) Plan(ctx context.Context, req installer.Request) (installer.Plan, error) {
	names, err := checkedNames(req)
	if err != nil {
		return installer.Plan{}, err
	}
	dnfRoot, _, err := scandnf.RootArgs()
	if err != nil {
		return installer.Plan{}, fmt.Errorf("dnf: %w", err)
	}
	before, err := i.installed(ctx)
	if err != nil {
		return installer.Plan{}, err
	}
	res, err := scan.Command{
		Path:   prog(i.DNF, "dnf"),
		Args:   args(dnfRoot, planArgs, names),
		Env:    env,
		OKExit: []int{exitAborted},
	}.Run(ctx)
	if err != nil {
		return installer.Plan{}, fmt.Errorf("dnf upgrade --assumeno: %w", err)
	}
	if res.ExitCode == exitAborted && !aborted(res) {
		// Exit 1 without the abort message is a real error (no match,
		// depsolve failure).
		return installer.Plan{}, fmt.Errorf("dnf upgrade --assumeno exited %d: %s", res.ExitCode, installer.Tail(append(res.Stdout, res.Stderr...), 3))
	}
	tx, err := ParseTransaction(bytes.NewReader(res.Stdout))
	if err != nil {
		return installer.Plan{}, err
	}
	return installer.Plan{Changes: changes(tx, before)}, nil
}

// aborted reports whether dnf said it stopped at the confirmation.
func aborted(res scan.Result) bool {
	return bytes.Contains(res.Stdout, []byte("Operation aborted")) || bytes.Contains(res.Stderr, []byte("Operation aborted"))
}

// changes turns a transaction's entries into Changes, the versions
// before taken from rpm.
func changes(tx Transaction, before scandnf.Installed) []installer.Change {
	out := make([]installer.Change, 0, len(tx.Entries))
	for _, e := range tx.Entries {
		c := installer.Change{Name: e.Name + "." + e.Arch, Key: e.Name, From: lookup(before, e.Name, e.Arch), To: e.EVR, Kind: e.Kind}
		if c.Kind == installer.Remove {
			if c.From == "" {
				c.From = e.EVR
			}
			c.To = ""
		}
		out = append(out, c)
	}
	return out
}

// Install implements installer.Installer: `dnf -y upgrade`, then rpm.
func (i Installer) Install(ctx context.Context, req installer.Request, plan installer.Plan) (installer.Result, error) {
	names, err := checkedNames(req)
	if err != nil {
		return installer.Result{}, err
	}
	dnfRoot, _, err := scandnf.RootArgs()
	if err != nil {
		return installer.Result{}, fmt.Errorf("dnf: %w", err)
	}
	req.Log.Info("installing with dnf", "packages", names)
	_, runErr := installer.RunInstall(ctx, scan.Command{Path: prog(i.DNF, "dnf"), Args: args(dnfRoot, installArgs, names), Env: env})
	// Read back even after a failure: rpm may have upgraded some
	// packages before the transaction stopped.
	after, readErr := i.installed(ctx)
	res := readBack(plan, after)
	if runErr != nil {
		return res, fmt.Errorf("dnf upgrade: %w", runErr)
	}
	if readErr != nil {
		return res, fmt.Errorf("dnf installed, but reading the versions back failed: %w", readErr)
	}
	return res, nil
}

// readBack compares the planned changes with what rpm now has.
func readBack(plan installer.Plan, after scandnf.Installed) installer.Result {
	var res installer.Result
	for _, c := range plan.Changes {
		if c.Kind == installer.Remove {
			continue
		}
		name, arch := splitNA(c.Name)
		now := lookup(after, name, arch)
		switch {
		case now == "":
			res.Notes = append(res.Notes, c.Name+" is not installed")
		case now == c.From:
			res.Notes = append(res.Notes, fmt.Sprintf("%s still at %s", c.Name, now))
		default:
			c.To = now
			res.Changes = append(res.Changes, c)
		}
	}
	return res
}

// installed reads the installed packages with rpm.
func (i Installer) installed(ctx context.Context) (scandnf.Installed, error) {
	_, rpmRoot, err := scandnf.RootArgs()
	if err != nil {
		return nil, fmt.Errorf("rpm: %w", err)
	}
	res, err := scan.Command{Path: prog(i.RPM, "rpm"), Args: args(rpmRoot, installedArgs, nil), Env: env}.Run(ctx)
	if err != nil {
		return nil, fmt.Errorf("rpm -qa: %w", err)
	}
	inst, err := scandnf.ParseInstalled(bytes.NewReader(res.Stdout))
	if err != nil && !errors.Is(err, scan.ErrMalformed) {
		return nil, err
	}
	return inst, nil
}

// lookup returns the installed version of name.arch, else of name in any
// architecture (a package that moved to noarch); "" when not installed.
func lookup(inst scandnf.Installed, name, arch string) string {
	if v, ok := inst[name+"."+arch]; ok {
		return v
	}
	var keys []string
	for na := range inst {
		if n, _ := splitNA(na); n == name {
			keys = append(keys, na)
		}
	}
	if len(keys) == 0 {
		return ""
	}
	slices.Sort(keys) // deterministic when several arches remain
	return inst[keys[0]]
}

func splitNA(s string) (name, arch string) {
	i := strings.LastIndexByte(s, '.')
	if i <= 0 {
		return s, ""
	}
	return s[:i], s[i+1:]
}

// checkedNames returns the selected names, refusing any dnf could read as
// an option.
func checkedNames(req installer.Request) ([]string, error) {
	names := req.Names()
	if len(names) == 0 {
		return nil, errors.New("dnf: no packages selected")
	}
	for _, n := range names {
		if !validName(n) {
			return nil, fmt.Errorf("dnf: refusing package name %q", n)
		}
	}
	return names, nil
}

// args builds a command line from fixed parts: the root arguments
// (scandnf.RootArgs), the subcommand and the checked names.
func args(root, fixed, names []string) []string {
	out := make([]string, 0, len(root)+len(fixed)+len(names))
	return append(append(append(out, root...), fixed...), names...)
}

func prog(path, def string) string {
	if strings.TrimSpace(path) == "" {
		return def
	}
	return path
}
