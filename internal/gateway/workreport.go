package gateway

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/internal/events"
	"github.com/redflag-io/redflag/internal/rollout"
)

var reportablePhases = []redflagv1.WorkPhase{
	redflagv1.WorkRunning, redflagv1.WorkSucceeded, redflagv1.WorkFailed, redflagv1.WorkRolledBack, redflagv1.WorkSkipped,
}

// applyWork stores a host's progress on rollout work in its Agent's status:
// currentWork, and on an end state a record in completedWork, which is what
// the AgentUpdate controller counts. A host may only report work it was
// given (offered now, or already recorded as its current work).
func (g *Gateway) applyWork(ctx context.Context, rec *agentRecord, wr *workReport) error {
	if wr.ID == "" || len(wr.ID) > 300 || !slices.Contains(reportablePhases, wr.Phase) || wr.Started.IsZero() {
		return errBadReport("work report needs an id (at most 300 characters), a start time and a phase of Running, Succeeded, Failed, RolledBack or Skipped")
	}
	if !g.hostTimeOK(wr.Started) || (wr.Finished != nil && !wr.Finished.IsZero() && !g.hostTimeOK(*wr.Finished)) {
		return errBadReport("work report's start or finish time is before 1970 or in the future")
	}
	offered := g.rollouts.workFor(rec, g.clock.Now())
	if rec.workID != wr.ID && (offered == nil || offered.ID != wr.ID) {
		return errBadReport(fmt.Sprintf("work %q is not assigned to this host", truncate(wr.ID, 64)))
	}
	status := workStatusOf(wr)
	if offered != nil && offered.ID == wr.ID {
		status.AgentUpdate = offered.AgentUpdate
	} else if rec.workID == wr.ID {
		status.AgentUpdate = truncate(wr.AgentUpdate, 253)
	}
	err := g.patchStatus(ctx, statusOf(rec), func(a *redflagv1.Agent) (*redflagv1.HistoryEntry, error) {
		if cur := a.Status.CurrentWork; cur != nil && cur.ID == status.ID && cur.Phase.Finished() {
			if lateAfterTimeout(cur, status) {
				// The rollout gave up on the host before this result came:
				// the failure stands (the rollout counted it and moved on),
				// but the Agent shows what the host really did.
				cur.Message = truncate(cur.Message+"; "+lateReportNote+string(status.Phase)+": "+status.Message, redflagv1.MaxMessageLength)
				cur.Changes = status.Changes
				// The timeout's record keeps its Failed phase and gains
				// what the host says it installed.
				for i := range a.Status.CompletedWork {
					if r := &a.Status.CompletedWork[i]; r.ID == status.ID {
						late := rollout.RecordOf(status, len(wr.Changes))
						r.Changes, r.ChangesOmitted, r.FromVersion, r.ToVersion = late.Changes, late.ChangesOmitted, late.FromVersion, late.ToVersion
					}
				}
				return nil, nil
			}
			// A late or repeated report must not undo an end state.
			return nil, errNoChange
		}
		if status.ToVersion != "" && status.FromVersion == "" {
			// The agent names only the target when it starts a
			// self-update; the version it runs is on its Agent.
			status.FromVersion = a.Status.AgentVersion
		}
		a.Status.CurrentWork = status
		if status.Phase.Finished() {
			a.Status.CompletedWork = rollout.AppendWorkRecord(a.Status.CompletedWork, rollout.RecordOf(status, len(wr.Changes)))
		}
		if reason, msg, meta, ok := workEvent(status, wr, platformOf(a)); ok {
			e := g.recorder.Entry(reason, msg, meta)
			return &e, nil
		}
		return nil, nil
	})
	if err != nil {
		return fmt.Errorf("storing work %s of %s: %w", wr.ID, rec.key, err)
	}
	return nil
}

// workStatusOf clamps a host's report to the schema's bounds.
func workStatusOf(wr *workReport) *redflagv1.WorkStatus {
	started := metav1.NewTime(wr.Started.UTC().Truncate(time.Second))
	ws := &redflagv1.WorkStatus{
		ID: wr.ID, Phase: wr.Phase, StartedAt: &started, Reason: truncate(wr.Reason, 64),
		Message: truncate(wr.Message, redflagv1.MaxMessageLength), DryRun: wr.DryRun, Rebooting: wr.Rebooting && wr.Phase == redflagv1.WorkSucceeded,
		FromVersion: truncate(wr.FromVersion, 64), ToVersion: truncate(wr.ToVersion, 64),
	}
	if wr.Phase.Finished() {
		at := started
		if wr.Finished != nil && !wr.Finished.IsZero() {
			at = metav1.NewTime(wr.Finished.UTC().Truncate(time.Second))
		}
		ws.FinishedAt = &at
	}
	if wr.Phase == redflagv1.WorkFailed || wr.Phase == redflagv1.WorkRolledBack {
		if ws.Reason == "" {
			ws.Reason = string(wr.Phase)
		}
	}
	for _, c := range wr.Changes {
		if len(ws.Changes) == redflagv1.MaxWorkChanges {
			break
		}
		if !slices.Contains(validManagers, c.Manager) || c.Name == "" {
			continue
		}
		ws.Changes = append(ws.Changes, redflagv1.PackageChange{Manager: c.Manager, Name: truncate(c.Name, 128), From: truncate(c.From, 80), To: truncate(c.To, 80)})
	}
	return ws
}

// workEvent picks the Event a work transition is recorded as. Starting a
// package install is not one (currentWork shows it); starting a self-update
// is, because the agent is about to replace itself. platform is the host's
// "<os family>/<arch>", which a self-update's binary was chosen for.
func workEvent(ws *redflagv1.WorkStatus, wr *workReport, platform string) (events.Reason, string, map[string]string, bool) {
	meta := map[string]string{"agentUpdate": ws.AgentUpdate, "workID": ws.ID}
	selfUpdate := ws.ToVersion != ""
	if selfUpdate {
		meta["oldVersion"], meta["newVersion"], meta["platform"] = ws.FromVersion, ws.ToVersion, platform
	}
	switch ws.Phase {
	case redflagv1.WorkRunning:
		if selfUpdate {
			return events.AgentUpdateStarted, fmt.Sprintf("updating the agent from %s to %s", ws.FromVersion, ws.ToVersion), meta, true
		}
	case redflagv1.WorkSucceeded:
		if selfUpdate {
			return events.AgentUpdated, fmt.Sprintf("the agent now runs %s (was %s)", ws.ToVersion, ws.FromVersion), meta, true
		}
		meta["packages"] = fmt.Sprint(len(wr.Changes))
		meta["dryRun"] = fmt.Sprint(ws.DryRun)
		return events.UpdatesInstalled, ws.Message, meta, true
	case redflagv1.WorkFailed:
		meta["reason"] = ws.Reason
		return events.InstallFailed, ws.Reason + ": " + ws.Message, meta, true
	case redflagv1.WorkRolledBack:
		meta["reason"] = ws.Reason
		return events.AgentRolledBack, ws.Reason + ": " + ws.Message, meta, true
	}
	return events.Reason{}, "", nil, false
}

// platformOf is the host's "<os family>/<arch>", as release artifacts are
// named.
func platformOf(a *redflagv1.Agent) string {
	return a.Status.OS.Family + "/" + a.Status.OS.Arch
}

// lateReportNote marks a timed-out work record that already carries the
// host's late result.
const lateReportNote = "the host reported later: "

// lateAfterTimeout reports whether status is a host's first end state for
// work the rollout had already failed as HostTimedOut.
func lateAfterTimeout(cur, status *redflagv1.WorkStatus) bool {
	return cur.Reason == rollout.HostTimedOut && status.Phase.Finished() && !strings.Contains(cur.Message, lateReportNote)
}
