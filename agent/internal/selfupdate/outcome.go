package selfupdate

import (
	"errors"
	"fmt"
	"time"

	"github.com/redflag-io/redflag/internal/protocol"
	"github.com/redflag-io/redflag/internal/release"
)

// Confirm tells the supervisor that this binary works: the daemon calls it
// after each successful check-in (a verified work document), and it marks
// a pending or on-trial update to runningVersion confirmed; the supervisor
// then promotes the staged binary to the executable's path. Anything else
// (no record, another version, an ended update) is left alone, so calling
// it every time is cheap and harmless.
func Confirm(stateDir, runningVersion string) error {
	rec, err := ReadRecord(stateDir)
	if err != nil || rec == nil {
		return err
	}
	if rec.State != StatePending && rec.State != StateTrial {
		return nil
	}
	if release.CompareVersions(rec.ToVersion, runningVersion) != 0 {
		return nil
	}
	rec.finish(StateConfirmed, "", fmt.Sprintf("%s checked in after replacing %s", rec.ToVersion, rec.FromVersion), time.Now())
	return writeRecord(stateDir, rec)
}

// Outcome returns the work result of the last update, when there is one to
// report, and nil otherwise. The daemon calls it at start and after each
// Confirm; it queues what it gets in its outbox and then calls Reported,
// which stops Outcome from returning it again (also after a restart).
//
// It returns Succeeded once the new version confirmed and is at the
// executable's path (promoted), RolledBack once the supervisor dropped a
// new binary that failed its trial, Failed when the supervisor could not
// promote it (PromoteFailed) or the agent came back as the old version
// without a rollback (NotApplied: the staged binary never ran) or as a
// third version (UnexpectedVersion). An update still waiting for Confirm
// or for its promotion gives nil.
func Outcome(stateDir, runningVersion string) (*protocol.WorkResult, error) {
	rec, err := ReadRecord(stateDir)
	if err != nil || rec == nil || rec.Reported {
		return nil, err
	}
	if !rec.finished() {
		if appliedHere.Load() || release.CompareVersions(rec.ToVersion, runningVersion) == 0 {
			// In flight: staged by this very process, or the new binary on
			// trial, before its Confirm or before the supervisor promoted it.
			return nil, nil
		}
		// The agent is back, but not as the new version, and no supervisor
		// rolled it back. Settle the record so the rollout hears of it.
		res := outcomeOf(rec, runningVersion)
		rec.finish(StateFailed, res.Reason, res.Message, time.Now())
		if err := writeRecord(stateDir, rec); err != nil {
			return nil, err
		}
	}
	res := outcomeOf(rec, runningVersion)
	return &res, nil
}

// Reported marks the outcome of work id as queued for delivery, so Outcome
// does not return it again. A record for other work is left alone.
func Reported(stateDir, id string) error {
	rec, err := ReadRecord(stateDir)
	if err != nil || rec == nil || rec.WorkID != id || rec.Reported || !rec.finished() {
		return err
	}
	rec.Reported = true
	return writeRecord(stateDir, rec)
}

// outcomeOf is the work result a record stands for, seen from a daemon
// running runningVersion.
func outcomeOf(rec *Record, runningVersion string) protocol.WorkResult {
	res := protocol.WorkResult{
		ID: rec.WorkID, AgentUpdate: rec.AgentUpdate, Started: rec.Started, Finished: rec.Finished,
		FromVersion: rec.FromVersion, ToVersion: rec.ToVersion, Reason: rec.Reason, Message: rec.Message,
	}
	switch {
	case rec.State == StateConfirmed && rec.Promoted:
		res.Phase = protocol.WorkSucceeded
		res.Reason = ""
	case rec.State == StateRolledBack:
		res.Phase = protocol.WorkRolledBack
	case rec.State == StateFailed:
		res.Phase = protocol.WorkFailed
	case release.CompareVersions(rec.ToVersion, runningVersion) == 0:
		// Not finished, seen by the new version itself: it runs (swapped
		// in without a supervisor, or a trial nobody decides on).
		res.Phase, res.Reason, res.Message = protocol.WorkSucceeded, "", rec.ToVersion+" is running"
	case release.CompareVersions(rec.FromVersion, runningVersion) == 0:
		res.Phase, res.Reason = protocol.WorkFailed, ReasonNotApplied
		res.Message = fmt.Sprintf("the agent restarted as %s, not %s: the staged binary never ran or was not promoted (no supervisor?), or it was replaced by hand", runningVersion, rec.ToVersion)
	default:
		res.Phase, res.Reason = protocol.WorkFailed, ReasonUnexpectedVersion
		res.Message = fmt.Sprintf("the agent is now %s, neither %s nor %s: it was replaced by hand", runningVersion, rec.FromVersion, rec.ToVersion)
	}
	if res.Finished == nil && res.Phase.Finished() {
		now := time.Now().UTC()
		res.Finished = &now
	}
	return res
}

// ToWorkResult turns Apply's answer into the work result the daemon
// records and reports for the work (started is when it began):
//
//   - ErrRestart: Phase Running with FromVersion/ToVersion; the daemon
//     reports nothing more and exits with RestartExitCode, and a later
//     process reports the end through Outcome;
//   - AlreadyCurrent: Succeeded;
//   - ErrAlreadyHandled: the recorded outcome (the same result Outcome
//     gives, so reporting it again changes nothing);
//   - a Refusal or other error: Failed with ReasonOf(err). A cancelled
//     context gives reason Interrupted: the work is not finished and should
//     not be reported as failed.
func ToWorkResult(work protocol.WorkRequest, res Result, err error, started time.Time) protocol.WorkResult {
	if errors.Is(err, ErrAlreadyHandled) && res.Previous != nil {
		return *res.Previous
	}
	out := protocol.WorkResult{
		ID: work.ID, AgentUpdate: work.AgentUpdate, Started: started,
		FromVersion: res.FromVersion, ToVersion: res.ToVersion,
	}
	if out.ToVersion == "" && work.AgentVersion != nil {
		out.ToVersion = work.AgentVersion.Version
	}
	if errors.Is(err, ErrRestart) {
		out.Phase, out.Message = protocol.WorkRunning, "staged "+res.ToVersion+"; restarting to try it"
		return out
	}
	now := time.Now().UTC()
	out.Finished = &now
	if err == nil {
		out.Phase, out.Message = protocol.WorkSucceeded, "already running "+res.ToVersion
		return out
	}
	out.Phase, out.Reason, out.Message = protocol.WorkFailed, ReasonOf(err), err.Error()
	return out
}
