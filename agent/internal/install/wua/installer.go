package wua

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/redflag-io/redflag/agent/internal/install/installer"
	"github.com/redflag-io/redflag/agent/internal/scan"
	"github.com/redflag-io/redflag/internal/protocol"
)

// ErrInstallFailed is wrapped when Windows Update reports updates it
// could not install.
var ErrInstallFailed = errors.New("windows update installation failed")

// Installer installs through the Windows Update Agent.
type Installer struct{}

// Manager implements installer.Installer.
func (Installer) Manager() protocol.PackageManager { return protocol.ManagerWindowsUpdate }

// Selects implements installer.Installer: a rollout names an update by
// its title or by one of its KB ids, with or without the "KB".
func (Installer) Selects(name string, u protocol.PendingUpdate) bool {
	if strings.EqualFold(name, u.Name) {
		return true
	}
	want := strings.ToUpper(strings.TrimSpace(name))
	if !strings.HasPrefix(want, "KB") {
		want = "KB" + want
	}
	for _, kb := range kbs(u) {
		if kb == want {
			return true
		}
	}
	return false
}

// Keys implements installer.Installer: the title and the KB ids.
func (Installer) Keys(u protocol.PendingUpdate) []string {
	return append([]string{u.Name}, kbs(u)...)
}

// kbs splits the scanner's "KB5037771,KB890830".
func kbs(u protocol.PendingUpdate) []string {
	var out []string
	for kb := range strings.SplitSeq(u.AvailableVersion, ",") {
		if kb = strings.ToUpper(strings.TrimSpace(kb)); kb != "" {
			out = append(out, kb)
		}
	}
	return out
}

// Plan implements installer.Installer: an update is self-contained, so
// the plan is the selection.
func (Installer) Plan(_ context.Context, req installer.Request) (installer.Plan, error) {
	var plan installer.Plan
	for _, u := range req.Updates {
		plan.Changes = append(plan.Changes, installer.Change{Name: u.Name, To: u.AvailableVersion, Kind: installer.Upgrade})
	}
	return plan, nil
}

// runFunc runs a command; tests replace the real runner.
type runFunc func(context.Context, scan.Command) (scan.Result, error)

// install runs InstallScript and reads its report.
func (Installer) install(ctx context.Context, req installer.Request, run runFunc) (installer.Result, error) {
	titles := req.Names()
	script, err := InstallScript(titles)
	if err != nil {
		return installer.Result{}, err
	}
	req.Log.Info("installing with Windows Update", "updates", titles)
	cmd := scan.PowerShellCommand(script)
	cmd.MaxOutput = installer.MaxInstallOutput
	out, err := run(ctx, cmd)
	if err != nil {
		return installer.Result{}, fmt.Errorf("windows update install: %w", err)
	}
	rep, err := ParseReport(out.Stdout)
	if err != nil {
		return installer.Result{}, err
	}
	return judgeReport(rep, titles)
}

// judgeReport turns a report into a Result: installed updates as
// changes, failed ones into an error, selected titles Windows Update no
// longer offered into notes.
func judgeReport(rep Report, titles []string) (installer.Result, error) {
	res := installer.Result{RebootRequired: rep.RebootRequired}
	seen := map[string]bool{}
	var failed []string
	for _, u := range rep.Updates {
		seen[u.Title] = true
		kb := strings.Join(prefixKB(u.KBArticleIDs), ",")
		if succeeded(u.ResultCode) {
			res.Changes = append(res.Changes, installer.Change{Name: u.Title, To: kb, Kind: installer.Upgrade})
			res.RebootRequired = res.RebootRequired || u.RebootRequired
			continue
		}
		what := u.Title
		if kb != "" {
			what = kb
		}
		failed = append(failed, fmt.Sprintf("%s (%s, %s)", what, resultName(u.ResultCode), hresult(u.HResult)))
	}
	for _, t := range titles {
		if !seen[t] {
			res.Notes = append(res.Notes, "no longer offered: "+t)
		}
	}
	switch {
	case len(failed) > 0:
		return res, fmt.Errorf("%w: %s", ErrInstallFailed, strings.Join(failed, "; "))
	case rep.Found > 0 && !succeeded(rep.InstallResult):
		return res, fmt.Errorf("%w: installation result %s (%s)", ErrInstallFailed, resultName(rep.InstallResult), hresult(rep.HResult))
	}
	return res, nil
}

func prefixKB(ids []string) []string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		id = strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(id)), "KB")
		if id != "" {
			out = append(out, "KB"+id)
		}
	}
	return out
}

func resultName(code int) string {
	switch code {
	case 0:
		return "not started"
	case 1:
		return "in progress"
	case resultSucceeded:
		return "succeeded"
	case resultSucceededWithErrors:
		return "succeeded with errors"
	case resultFailed:
		return "failed"
	case resultAborted:
		return "aborted"
	}
	return fmt.Sprintf("result code %d", code)
}
