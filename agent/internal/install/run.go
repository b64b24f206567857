package install

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/redflag-io/redflag/agent/internal/install/installer"
	"github.com/redflag-io/redflag/agent/internal/scan"
	"github.com/redflag-io/redflag/internal/protocol"
)

var (
	// errTimedOut is the cause of a manager's context that hit
	// Options.Timeout, telling it apart from the agent stopping.
	errTimedOut = errors.New("timed out")
	// errPanicked is wrapped when an installer panicked: a bug in one
	// installer must not take the agent down.
	errPanicked = errors.New("installer panicked")
)

// Run resolves, checks (dry run first) and, unless dryRun, installs the
// selected pending updates with every selected manager present on the
// host. On failure it returns a *Failure together with an Outcome that
// lists what was changed before the failure and says what was not done.
func Run(ctx context.Context, req protocol.PackageWork, dryRun bool, opts Options) (Outcome, error) {
	return run(ctx, req, dryRun, opts.withDefaults(), platformInstallers())
}

// work is one manager's share of a request, from plan to result.
type work struct {
	inst     installer.Installer
	selected []protocol.PendingUpdate
	plan     installer.Plan
	result   installer.Result
	state    workState
}

type workState int

const (
	planned workState = iota
	installed
	failed
)

func (w *work) manager() protocol.PackageManager { return w.inst.Manager() }

func run(ctx context.Context, req protocol.PackageWork, dryRun bool, opts Options, all []installer.Installer) (out Outcome, err error) {
	var refreshed bool
	defer func() { out.Refreshed = refreshed }()
	if err := validate(req); err != nil {
		f := &Failure{Reason: ReasonInvalidRequest, Err: err}
		return Outcome{Message: clip(f.Error())}, f
	}
	log := opts.Log
	var (
		works  []*work
		absent []protocol.PackageManager
	)
	for _, inst := range chosen(all, req.Managers) {
		w, err := plan(ctx, inst, req, opts)
		if r, ok := inst.(installer.Refresher); ok && r.Refreshes() && !errors.Is(err, scan.ErrNotInstalled) {
			refreshed = true
		}
		if errors.Is(err, scan.ErrNotInstalled) {
			log.Info("package manager not present; skipped", "manager", inst.Manager())
			absent = append(absent, inst.Manager())
			continue
		}
		if err != nil {
			// Nothing has been installed yet: the message need only say
			// why.
			return Outcome{Message: clip(err.Error())}, err
		}
		works = append(works, w)
	}
	if len(works) == 0 && len(req.Managers) > 0 && req.Scope == protocol.ScopeNamed {
		f := &Failure{Reason: ReasonManagerUnavailable, Manager: req.Managers[0], Err: fmt.Errorf(
			"the rollout names packages of %s, and none is present on this host", joinManagers(req.Managers))}
		return Outcome{Message: clip(f.Error())}, f
	}
	// Managers the rollout named but this host lacks are worth a word;
	// the ones nobody asked for are not.
	note := func(out Outcome) Outcome {
		if len(req.Managers) > 0 && len(absent) > 0 {
			out.Message = clip(out.Message + "; not present on this host: " + joinManagers(absent))
		}
		return out
	}
	if dryRun {
		return note(dryOutcome(works)), nil
	}
	if opts.Planned != nil {
		var planned []protocol.PackageChange
		for _, w := range works {
			if len(w.selected) > 0 {
				planned = append(planned, toAPI(w.manager(), w.plan.Changes)...)
			}
		}
		if len(planned) > 0 {
			opts.Planned(planned)
		}
	}
	for i, w := range works {
		if len(w.selected) == 0 {
			continue
		}
		if err := install(ctx, w, req, opts); err != nil {
			return failedOutcome(works, i, err), err
		}
	}
	return note(doneOutcome(works)), nil
}

// plan lists one manager's pending updates, selects, dry-runs and judges
// the plan. It returns an error wrapping scan.ErrNotInstalled for an
// absent manager, else a *Failure.
func plan(ctx context.Context, inst installer.Installer, req protocol.PackageWork, opts Options) (*work, error) {
	m := inst.Manager()
	log := opts.Log.With("manager", m)
	mctx, cancel := context.WithTimeoutCause(ctx, opts.Timeout, errTimedOut)
	defer cancel()

	var pending []protocol.PendingUpdate
	err := safely(func() (err error) {
		pending, err = inst.Pending(mctx, log)
		return err
	})
	switch {
	case errors.Is(err, scan.ErrNotInstalled):
		return nil, err
	case err != nil && errors.Is(err, scan.ErrMalformed) && len(pending) > 0:
		// What could be read is still a true list; an update it missed
		// is simply not selected.
		log.Warn("part of the pending updates could not be read", "err", err)
	case err != nil:
		return nil, failure(ctx, mctx, m, ReasonManagerUnavailable, opts, fmt.Errorf("listing pending updates: %w", err))
	}

	w := &work{inst: inst, selected: selectUpdates(inst, pending, req)}
	log.Info("pending updates selected", "pending", len(pending), "selected", len(w.selected))
	if len(w.selected) == 0 {
		return w, nil
	}
	r := installer.Request{Updates: w.selected, AllowNewDependencies: req.AllowNewDependencies, Log: log}
	err = safely(func() (err error) {
		w.plan, err = inst.Plan(mctx, r)
		return err
	})
	if err != nil {
		return nil, failure(ctx, mctx, m, ReasonDryRunFailed, opts, fmt.Errorf("dry run: %w", err))
	}
	log.Info("dry run", "changes", len(w.plan.Changes), "notes", w.plan.Notes)
	if f := judge(m, w.plan, w.selected, req); f != nil {
		return nil, f
	}
	return w, nil
}

// install runs one manager's install and records its result in w.
func install(ctx context.Context, w *work, req protocol.PackageWork, opts Options) error {
	m := w.manager()
	log := opts.Log.With("manager", m)
	mctx, cancel := context.WithTimeoutCause(ctx, opts.Timeout, errTimedOut)
	defer cancel()
	r := installer.Request{Updates: w.selected, AllowNewDependencies: req.AllowNewDependencies, Log: log}
	err := safely(func() (err error) {
		w.result, err = w.inst.Install(mctx, r, w.plan)
		return err
	})
	if err != nil {
		w.state = failed
		log.Error("install failed", "err", err, "changed", len(w.result.Changes))
		return failure(ctx, mctx, m, ReasonInstallFailed, opts, err)
	}
	w.state = installed
	log.Info("installed", "changed", len(w.result.Changes), "rebootRequired", w.result.RebootRequired)
	return nil
}

// failure builds the *Failure for err, telling a timeout and a stopping
// agent apart from the manager's own failure (reason).
func failure(ctx, mctx context.Context, m protocol.PackageManager, reason string, opts Options, err error) *Failure {
	switch {
	case errors.Is(context.Cause(mctx), errTimedOut):
		return &Failure{Reason: ReasonTimeout, Manager: m, Err: fmt.Errorf("no result within %s: %w", opts.Timeout, err)}
	case ctx.Err() != nil:
		return &Failure{Reason: ReasonInterrupted, Manager: m, Err: err}
	case errors.Is(err, installer.ErrUnsupported):
		return &Failure{Reason: ReasonUnsupported, Manager: m, Err: err}
	}
	return &Failure{Reason: reason, Manager: m, Err: err}
}

// safely runs fn, turning a panic into an error.
func safely(fn func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: %v", errPanicked, p)
		}
	}()
	return fn()
}

// noneMatched is the message of an install with nothing selected.
const noneMatched = "no pending update matched the rollout"

func dryOutcome(works []*work) Outcome {
	var out Outcome
	var parts []string
	for _, w := range works {
		if len(w.selected) == 0 {
			continue
		}
		out.Changes = append(out.Changes, toAPI(w.manager(), w.plan.Changes)...)
		parts = append(parts, describe(w.manager(), w.plan.Changes, w.plan.Notes, true))
	}
	if len(parts) == 0 {
		parts = []string{noneMatched}
	}
	out.Message = clip("dry run: " + strings.Join(parts, "; "))
	return out
}

func doneOutcome(works []*work) Outcome {
	var out Outcome
	var parts []string
	for _, w := range works {
		if w.state != installed {
			continue
		}
		out.Changes = append(out.Changes, toAPI(w.manager(), w.result.Changes)...)
		out.RebootRequired = out.RebootRequired || w.result.RebootRequired
		parts = append(parts, describe(w.manager(), w.result.Changes, w.result.Notes, false))
	}
	if len(parts) == 0 {
		parts = []string{noneMatched}
	}
	out.Message = clip(strings.Join(parts, "; "))
	return out
}

// failedOutcome reports an install stopped by works[at]'s failure: the
// failure first (the message is clipped from the end), then what the
// managers before it did, then what was not attempted.
func failedOutcome(works []*work, at int, err error) Outcome {
	done := doneOutcome(works[:at])
	fw := works[at]
	out := Outcome{
		Changes:        append(done.Changes, toAPI(fw.manager(), fw.result.Changes)...),
		RebootRequired: done.RebootRequired || fw.result.RebootRequired,
	}
	parts := []string{err.Error()}
	switch {
	case len(fw.result.Changes) > 0:
		parts = append(parts, "before failing "+describe(fw.manager(), fw.result.Changes, fw.result.Notes, false))
	case len(fw.result.Notes) > 0:
		parts = append(parts, strings.Join(fw.result.Notes, ", "))
	}
	if done.Message != noneMatched {
		parts = append(parts, "done: "+done.Message)
	}
	var skipped []protocol.PackageManager
	for _, w := range works[at+1:] {
		if len(w.selected) > 0 {
			skipped = append(skipped, w.manager())
		}
	}
	if len(skipped) > 0 {
		parts = append(parts, "not attempted: "+joinManagers(skipped))
	}
	out.Message = clip(strings.Join(parts, "; "))
	return out
}

func joinManagers(ms []protocol.PackageManager) string {
	s := make([]string, len(ms))
	for i, m := range ms {
		s[i] = string(m)
	}
	slices.Sort(s)
	return strings.Join(s, ", ")
}
