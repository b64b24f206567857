package daemon

import (
	"context"
	"time"

	"github.com/redflag-io/redflag/agent/internal/selfupdate"
	"github.com/redflag-io/redflag/internal/protocol"
	"github.com/redflag-io/redflag/internal/version"
)

// applySelfUpdate runs an agentVersion piece of work: download, verify and
// stage (agent/internal/selfupdate). Staging returns a Running result,
// which makes the daemon exit with the restart code; the supervisor tries
// the staged binary, and the process that runs after its decision (the
// promoted binary, or the old one again) reports the end through
// settleSelfUpdate. Without a supervisor (--no-supervisor) nothing would
// start a staged binary, so Apply swaps it in place instead.
func (d *daemon) applySelfUpdate(ctx context.Context, req protocol.WorkRequest) protocol.WorkResult {
	started := time.Now().UTC()
	// The canonical path, also on trial, when this process runs from the
	// staged <exe>.next: a later update must replace <exe>.
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
		Executable: exe, InPlace: !selfupdate.Supervised(), RunningVersion: version.Version,
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
