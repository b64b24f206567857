package rollout

import (
	"slices"

	"k8s.io/apimachinery/pkg/api/meta"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
)

// Outcome is where one host stands in one rollout.
type Outcome int

// Host outcomes.
const (
	// Pending: the host has not run this rollout's work (or its failure
	// was retried).
	Pending Outcome = iota
	// Running: the host reported that it started and not yet that it ended.
	Running
	Succeeded
	Failed
	// Skipped: nothing to do (an agentVersion rollout to the version the
	// host already runs).
	Skipped
)

func (o Outcome) String() string {
	return [...]string{"Pending", "Running", "Succeeded", "Failed", "Skipped"}[o]
}

// Done reports whether the host needs nothing more from the rollout.
func (o Outcome) Done() bool { return o == Succeeded || o == Skipped }

// HostResult is an outcome with the host's explanation of a failure.
type HostResult struct {
	Outcome Outcome
	Reason  string
	Message string
	// Finished is when a Succeeded or Failed outcome was reached.
	Finished *redflagv1.WorkRecord
}

// OutcomeOf reads one host's outcome for the work key from its status.
// A success under any attempt of the key counts; a failure counts only
// under the current attempt, which is how a retry makes failed hosts
// pending again. currentWork wins over the completed list (it is newer).
func OutcomeOf(key, workID string, st *redflagv1.AgentStatus, targetVersion string) HostResult {
	current := Attempt(key, workID)
	if w := st.CurrentWork; w != nil {
		if a := Attempt(key, w.ID); a >= 0 && RebootPending(st) {
			// Installed, and rebooting: the host keeps its slot until it
			// is back (a new boot time, and Ready).
			return HostResult{Outcome: Running}
		} else if a >= 0 {
			rec := redflagv1.WorkRecord{ID: w.ID, AgentUpdate: w.AgentUpdate, Phase: w.Phase, Reason: w.Reason}
			if w.FinishedAt != nil {
				rec.FinishedAt = *w.FinishedAt
			}
			if r, ok := fromRecord(rec, a == current, w.Message); ok {
				return r
			}
		}
	}
	for i := len(st.CompletedWork) - 1; i >= 0; i-- {
		rec := st.CompletedWork[i]
		if a := Attempt(key, rec.ID); a >= 0 {
			if r, ok := fromRecord(rec, a == current, ""); ok {
				return r
			}
		}
	}
	if targetVersion != "" && sameVersion(st.AgentVersion, targetVersion) {
		return HostResult{Outcome: Skipped}
	}
	return HostResult{Outcome: Pending}
}

func fromRecord(rec redflagv1.WorkRecord, currentAttempt bool, message string) (HostResult, bool) {
	switch rec.Phase {
	case redflagv1.WorkAssigned, redflagv1.WorkRunning:
		// Work of an older attempt still running holds the host as much
		// as the current one does.
		return HostResult{Outcome: Running}, true
	case redflagv1.WorkSucceeded:
		return HostResult{Outcome: Succeeded, Finished: &rec}, true
	case redflagv1.WorkSkipped:
		return HostResult{Outcome: Skipped, Finished: &rec}, true
	case redflagv1.WorkFailed, redflagv1.WorkRolledBack:
		if !currentAttempt {
			return HostResult{}, false
		}
		return HostResult{Outcome: Failed, Reason: rec.Reason, Message: message, Finished: &rec}, true
	}
	return HostResult{}, false
}

func sameVersion(a, b string) bool {
	trim := func(s string) string {
		if len(s) > 0 && s[0] == 'v' {
			return s[1:]
		}
		return s
	}
	return a != "" && trim(a) == trim(b)
}

// AppendWorkRecord keeps one record per work ID, newest last, at most
// MaxCompletedWork. The gateway stores hosts' results with it and the
// controller its timeouts, so both keep the list the same way.
func AppendWorkRecord(list []redflagv1.WorkRecord, r redflagv1.WorkRecord) []redflagv1.WorkRecord {
	list = slices.DeleteFunc(list, func(x redflagv1.WorkRecord) bool { return x.ID == r.ID })
	list = append(list, r)
	if len(list) > redflagv1.MaxCompletedWork {
		list = list[len(list)-redflagv1.MaxCompletedWork:]
	}
	return list
}

// RecordOf is the completedWork record of finished work ws: what it was,
// how it ended and what it installed (the first MaxRecordedChanges
// changes; reported is how many the host reported, so the rest is counted
// in changesOmitted).
func RecordOf(ws *redflagv1.WorkStatus, reported int) redflagv1.WorkRecord {
	r := redflagv1.WorkRecord{
		ID: ws.ID, AgentUpdate: ws.AgentUpdate, Phase: ws.Phase, Reason: ws.Reason, DryRun: ws.DryRun,
		FromVersion: ws.FromVersion, ToVersion: ws.ToVersion,
	}
	if ws.FinishedAt != nil {
		r.FinishedAt = *ws.FinishedAt
	}
	n := min(len(ws.Changes), redflagv1.MaxRecordedChanges)
	r.Changes = slices.Clone(ws.Changes[:n])
	r.ChangesOmitted = int32(min(max(reported, len(ws.Changes))-n, 1<<30))
	return r
}

// RebootPending reports whether the host's current work succeeded with a
// reboot that has not visibly happened yet: the host has not reported a
// boot time after the work finished, or is not Ready since. A host that
// never comes back stays Running until the rollout's hostTimeout fails it.
func RebootPending(st *redflagv1.AgentStatus) bool {
	w := st.CurrentWork
	if w == nil || !w.Rebooting || w.Phase != redflagv1.WorkSucceeded || w.FinishedAt == nil {
		return false
	}
	if st.System.BootTime == nil || !st.System.BootTime.After(w.FinishedAt.Time) {
		return true
	}
	return !meta.IsStatusConditionTrue(st.Conditions, redflagv1.ConditionReady)
}
