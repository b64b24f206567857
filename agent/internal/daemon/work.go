package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/redflag-io/redflag/agent/internal/facts"
	"github.com/redflag-io/redflag/agent/internal/install"
	"github.com/redflag-io/redflag/internal/protocol"
)

// works runs the rollout work the gateway hands out: one piece at a time,
// each ID once. Progress goes to the outbox as work reports (Running, then
// the end state), so a result survives a lost connection or a restart.
type works struct {
	stateDir string
	log      *slog.Logger
	// selfUpdate runs an agentVersion piece; set by the daemon.
	selfUpdate func(ctx context.Context, w protocol.WorkRequest) protocol.WorkResult
	// install runs a packages piece: install.Run, or a fake in tests.
	install func(ctx context.Context, req protocol.PackageWork, dryRun bool, opts install.Options) (install.Outcome, error)
	// rescan, set by the daemon, scans for pending updates again after an
	// install changed packages; its channel closes when the scan ended.
	rescan func(ctx context.Context, workID string) <-chan struct{}

	mu      sync.Mutex
	state   workState
	running string
	// abandonedRunning is the running work the gateway said was abandoned,
	// once logged.
	abandonedRunning string
	wg               sync.WaitGroup
	// finished wakes the main loop to deliver a result at once.
	finished chan struct{}
	// restart is closed when a self-update staged a new binary and the
	// process must exit so the supervisor tries it.
	restart chan struct{}
}

func newWorks(stateDir string, log *slog.Logger) *works {
	ws, err := readWorkState(stateDir)
	if err != nil {
		log.Warn("reading work state", "err", err)
	}
	if ws.Current != nil && ws.Current.Phase == protocol.WorkRunning {
		log.Info("work was interrupted; it runs again when the gateway offers it, and is dropped if the gateway says the rollout abandoned it", "id", ws.Current.ID,
			"versionsBeforeKept", ws.Before != nil && ws.Before.ID == ws.Current.ID)
	}
	return &works{
		stateDir: stateDir, log: log, state: ws, install: install.Run,
		finished: make(chan struct{}, 1), restart: make(chan struct{}),
	}
}

// abandon drops work the gateway says a rollout gave up on (the host was
// silent longer than the rollout's hostTimeout, so the rollout counted it
// as failed and moved on): such an ID is marked finished, so it is never
// started or redone after a restart, and work interrupted in it (the
// process died mid-install) ends as Failed, HostTimedOut in work.json.
// It returns the interrupted IDs it dropped, for the caller to report.
//
// Work running in this process now is left to finish: killing a package
// manager mid-install is worse than a result nobody counts, and the
// gateway keeps the rollout's failure whatever the host reports.
func (w *works) abandon(ids []string) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var dropped []string
	changed := false
	for _, id := range ids {
		if w.running == id {
			if w.abandonedRunning != id {
				w.abandonedRunning = id
				w.log.Warn("the rollout gave up on this work while it runs (the host was silent too long); it finishes, and the rollout keeps it as failed", "id", id)
			}
			continue
		}
		if w.state.done(id) {
			continue
		}
		if c := w.state.Current; c != nil && c.ID == id && c.Phase == protocol.WorkRunning {
			now := time.Now().UTC()
			c.Phase, c.Reason, c.Finished = protocol.WorkFailed, protocol.ReasonHostTimedOut, &now
			c.Message = "abandoned by the rollout (the host was silent longer than its hostTimeout); not resumed"
			dropped = append(dropped, id)
			w.log.Warn("dropping interrupted work: the rollout gave up on it while the host was silent", "id", id, "agentUpdate", c.AgentUpdate)
		}
		w.state.finish(id)
		if w.state.Before != nil && w.state.Before.ID == id {
			w.state.Before = nil
		}
		changed = true
	}
	if changed {
		if err := writeWorkState(w.stateDir, w.state); err != nil {
			// In memory it is dropped; after a restart the gateway says so again.
			w.log.Error("writing work state", "err", err)
		}
	}
	return dropped
}

// start launches the offered work unless it is running or done.
func (w *works) start(ctx context.Context, req *protocol.WorkRequest, queue func(protocol.Report)) {
	if req == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.running != "" || w.state.done(req.ID) {
		return
	}
	w.running = req.ID
	w.wg.Go(func() { w.run(ctx, *req, queue) })
}

func (w *works) run(ctx context.Context, req protocol.WorkRequest, queue func(protocol.Report)) {
	started := time.Now().UTC()
	res := protocol.WorkResult{ID: req.ID, AgentUpdate: req.AgentUpdate, Phase: protocol.WorkRunning, Started: started, DryRun: req.DryRun}
	if req.AgentVersion != nil {
		res.ToVersion = req.AgentVersion.Version
	}
	w.record(&res, false)
	queue(protocol.Report{Kind: protocol.ReportWork, Work: &res})
	w.log.Info("work starting", "id", req.ID, "agentUpdate", req.AgentUpdate)

	var (
		final     protocol.WorkResult
		refreshed bool
	)
	switch {
	case req.Packages != nil:
		final, refreshed = w.installPackages(ctx, req, res)
	case req.AgentVersion != nil && req.DryRun:
		// The API refuses this combination; a host never replaces its binary
		// on a dry run whatever the gateway sends.
		final = res
		final.Phase, final.Message = protocol.WorkSucceeded, "dry run: would update the agent to "+req.AgentVersion.Version
	case req.AgentVersion != nil && w.selfUpdate != nil:
		final = w.selfUpdate(ctx, req)
	default:
		final = res
		final.Phase, final.Reason, final.Message = protocol.WorkFailed, "UnknownWork", "the work names neither packages nor an agent version"
	}
	if ctx.Err() != nil && req.Packages == nil && final.Phase != protocol.WorkSucceeded {
		// Stopped mid-way: not done; it runs again after restart.
		w.clearRunning()
		return
	}
	if final.Phase == protocol.WorkRunning {
		// A self-update staged a new binary: the next process reports.
		w.clearRunning()
		close(w.restart)
		return
	}
	now := time.Now().UTC()
	final.Finished = &now
	queue(protocol.Report{Kind: protocol.ReportWork, Work: &final})
	w.record(&final, true)
	w.log.Info("work finished", "id", req.ID, "phase", final.Phase, "reason", final.Reason, "message", final.Message)
	var rescanned <-chan struct{}
	if req.Packages != nil && w.rescan != nil && ((!req.DryRun && len(final.Changes) > 0) || refreshed) {
		// Also after a failure that changed some packages: the Agent's
		// pending updates should match the host either way. A dry run or
		// an install that changed nothing but refreshed the package lists
		// has seen updates the last scan may not have: without a rescan the
		// Agent would keep the older, shorter list until the next
		// scheduled scan.
		rescanned = w.rescan(ctx, req.ID)
	}
	select {
	case w.finished <- struct{}{}:
	default:
	}
	if final.Rebooting {
		w.reboot(ctx, rescanned)
	}
}

// installPackages runs a package install and, per the rollout's policy and
// window, asks for a reboot. It also reports whether the install refreshed
// the package lists.
func (w *works) installPackages(ctx context.Context, req protocol.WorkRequest, res protocol.WorkResult) (protocol.WorkResult, bool) {
	// The daemon stopping must not kill a package manager mid-install (a
	// half-configured dpkg is worse than a late result): the install runs
	// to its own timeout, and the daemon waits for it only so long (see
	// waitFor). If the process ends first, the work is not marked done
	// and runs again after restart, where apt waits for the lock.
	opts := install.Options{Log: w.log, Planned: func(planned []protocol.PackageChange) { w.planned(req.ID, planned) }}
	out, err := w.install(context.WithoutCancel(ctx), *req.Packages, req.DryRun, opts)
	res.Changes, res.Message = w.withBefore(req.ID, out.Changes), out.Message
	if len(res.Changes) > protocol.MaxWorkChanges {
		// The Agent keeps 50; the message says how many there were.
		res.Message = fmt.Sprintf("%s (%d packages changed; the first %d are listed)", res.Message, len(res.Changes), protocol.MaxWorkChanges)
		res.Changes = res.Changes[:protocol.MaxWorkChanges]
	}
	if err != nil {
		res.Phase, res.Reason = protocol.WorkFailed, install.ReasonInstallFailed
		var f *install.Failure
		if errors.As(err, &f) && f.Reason != "" {
			res.Reason = f.Reason
		}
		if res.Message == "" {
			// Outcome.Message names the failing manager and what was and
			// was not done; the error alone is the fallback.
			res.Message = err.Error()
		}
		return res, out.Refreshed
	}
	res.Phase = protocol.WorkSucceeded
	if req.DryRun {
		return res, out.Refreshed
	}
	res.RebootRequired = out.RebootRequired
	if f, err := facts.Collect(ctx); err == nil {
		res.RebootRequired = res.RebootRequired || f.System.RebootRequired
	}
	inWindow := req.RebootBefore == nil || time.Now().Before(*req.RebootBefore)
	switch {
	case req.Reboot == protocol.RebootAlways || (req.Reboot == protocol.RebootIfRequired && res.RebootRequired):
		if inWindow {
			res.Rebooting = true
			res.Message += "; rebooting"
		} else {
			res.Message += "; reboot skipped: the maintenance window has closed"
		}
	case res.RebootRequired:
		res.Message += "; a reboot is required (the rollout's reboot policy is " + string(req.Reboot) + ")"
	}
	return res, out.Refreshed
}

// reboot waits for the rescan after the install (at most rescanWait) and
// then briefly for the results to be delivered, then reboots.
func (w *works) reboot(ctx context.Context, rescanned <-chan struct{}) {
	if rescanned != nil {
		select {
		case <-ctx.Done():
			return
		case <-rescanned:
		case <-time.After(rescanWait):
			w.log.Warn("rebooting before the scan after the install finished; the next scheduled scan brings the pending updates up to date", "waited", rescanWait)
		}
	}
	select {
	case <-ctx.Done():
		return
	case <-time.After(rebootGrace):
	}
	if err := install.Reboot(ctx); err != nil {
		w.log.Error("rebooting after the install", "err", err)
	}
}

// rebootGrace lets the main loop deliver the result before the host goes down.
const rebootGrace = 5 * time.Second

// rescanWait bounds how long a reboot waits for the scan after the install:
// apt and dnf take seconds, but a reboot is not held for a slow one.
const rescanWait = time.Minute

func (w *works) record(res *protocol.WorkResult, done bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	cp := *res
	w.state.Current = &cp
	if done {
		w.state.finish(res.ID)
		w.running = ""
		if w.state.Before != nil && w.state.Before.ID == res.ID {
			// Reported; no redo will need them.
			w.state.Before = nil
		}
	}
	if err := writeWorkState(w.stateDir, w.state); err != nil {
		w.log.Error("writing work state", "err", err)
	}
}

// planned records the versions before of work id's planned changes on
// disk, before the install touches a package (install.Options.Planned
// calls it then), so a redo after a crash still knows them. A first
// attempt's versions are kept over a redo's, which sees the host after
// the first attempt's upgrades.
func (w *works) planned(id string, changes []protocol.PackageChange) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.state.remember(id, changes) {
		return
	}
	if err := writeWorkState(w.stateDir, w.state); err != nil {
		// The install goes ahead: only a redo's report would lack them.
		w.log.Error("recording the versions before the install", "id", id, "err", err)
	}
}

// withBefore is changes with the versions recorded before the first
// attempt of work id.
func (w *works) withBefore(id string, changes []protocol.PackageChange) []protocol.PackageChange {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.state.withBefore(id, changes)
}

func (w *works) clearRunning() {
	w.mu.Lock()
	w.running = ""
	w.mu.Unlock()
}

// waitFor waits for running work to end, at most d.
func (w *works) waitFor(d time.Duration) {
	done := make(chan struct{})
	go func() { w.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
		w.log.Warn("stopping while work still runs; it is redone after restart", "waited", d)
	}
}
