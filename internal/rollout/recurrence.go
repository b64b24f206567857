package rollout

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
)

// RunKey is the work key of run n of a recurring rollout:
// "<name>.<uid hash>.n<run>". Unlike WorkKey it does not hash the spec: a
// run keeps its key (and its hosts' results) when the object is edited
// mid-run, the edit applying from the next run; each run has a new key,
// so every host is asked again what is pending then.
func RunKey(au *redflagv1.AgentUpdate, run int32) string {
	sum := sha256.Sum256([]byte(au.UID))
	return au.Name + "." + hex.EncodeToString(sum[:4]) + ".n" + strconv.Itoa(int(run))
}

// NextRun is when the run after one started at started is due: every
// later, but never before now (a run missed while the manager was down,
// the window closed or the last run was long is made up once, not once
// per missed interval).
func NextRun(started time.Time, every time.Duration, now time.Time) time.Time {
	if next := started.Add(every); next.After(now) {
		return next
	}
	return now
}

// RunDue reports whether a recurring rollout may start its next run:
// none is going on (a halted run blocks later runs until it is retried,
// as a failure budget should), the next run's time has come (or there
// never was one), the window is open and the rollout is not paused.
func RunDue(st *redflagv1.AgentUpdateStatus, now time.Time, windowOpen, paused bool) bool {
	if paused || !windowOpen || RunActive(st) {
		return false
	}
	return st.NextRun == nil || !now.Before(st.NextRun.Time)
}

// RunActive reports whether the current run is going on or halted.
func RunActive(st *redflagv1.AgentUpdateStatus) bool {
	if len(st.Runs) == 0 {
		return false
	}
	r := st.Runs[len(st.Runs)-1].Result
	return r == redflagv1.RunInProgress || r == redflagv1.RunStopped
}

// AppendRun adds a run record, keeping the newest MaxRunRecords.
func AppendRun(runs []redflagv1.RunRecord, r redflagv1.RunRecord) []redflagv1.RunRecord {
	runs = append(runs, r)
	if len(runs) > redflagv1.MaxRunRecords {
		runs = runs[len(runs)-redflagv1.MaxRunRecords:]
	}
	return runs
}
