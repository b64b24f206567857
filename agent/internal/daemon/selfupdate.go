package daemon

import (
	"context"
	"time"

	"github.com/redflag-io/redflag/agent/internal/selfupdate"
	"github.com/redflag-io/redflag/internal/protocol"
	"github.com/redflag-io/redflag/internal/version"
)

// applySelfUpdate runs an agentVersion piece of work: download, verify and
// swap (agent/internal/selfupdate). A swap returns a Running result, which
// makes the daemon exit with the restart code; the new process (or, after
// a rollback, the old one again) reports the end through settleSelfUpdate.
func (d *daemon) applySelfUpdate(ctx context.Context, req protocol.WorkRequest) protocol.WorkResult {
	started := time.Now().UTC()
	exe, err := selfupdate.Executable()
	if err != nil {
		return selfupdate.ToWorkResult(req, selfupdate.Result{}, err, started)
	}
	key, err := d.cfg.ReleaseKey()
	if err != nil {
		// A key that does not decode verifies nothing: Apply refuses with
		// NoReleaseKey, which tells the user what to fix.
		d.log.Error("the config's release key does not decode; refusing self-updates", "err", err)
		key = nil
	}
	res, err := selfupdate.Apply(ctx, selfupdate.Options{
		Client: d.client.HTTP, BaseURL: d.cfg.ServerURL, ReleaseKey: key, StateDir: d.paths.StateDir,
		Executable: exe, RunningVersion: version.Version,
	}, req)
	return selfupdate.ToWorkResult(req, res, err, started)
}

// settleSelfUpdate runs after every verified check-in (and at start): it
// confirms a freshly updated binary to the supervisor and queues the
// outcome of the last self-update exactly once, marking its ID finished so
// the work is not run again.
func (d *daemon) settleSelfUpdate(checkedIn bool) {
	if checkedIn {
		if err := selfupdate.Confirm(d.paths.StateDir, version.Version); err != nil {
			d.log.Warn("confirming the self-update", "err", err)
		}
	}
	res, err := selfupdate.Outcome(d.paths.StateDir, version.Version)
	if err != nil {
		d.log.Warn("reading the self-update outcome", "err", err)
		return
	}
	if res == nil {
		return
	}
	// A fixed key: should the agent crash between queueing this and
	// Reported, the repeat carries the same key and is applied once.
	d.queue(protocol.Report{IdempotencyKey: "selfupdate/" + res.ID + "/" + string(res.Phase), Kind: protocol.ReportWork, Work: res})
	d.works.record(res, true)
	if err := selfupdate.Reported(d.paths.StateDir, res.ID); err != nil {
		d.log.Warn("marking the self-update outcome reported", "err", err)
	}
	d.log.Info("self-update outcome", "id", res.ID, "phase", res.Phase, "from", res.FromVersion, "to", res.ToVersion, "reason", res.Reason)
}
