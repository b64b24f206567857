package gateway

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/internal/schedule"
)

// The scan ledger remembers scan runs that changed nothing, so storing them costs
// no write: dispatch reads the newest run from here, and the next liveness
// write (which happens anyway, every 1.75 intervals) carries them to the
// Agent's status. Another replica, or this one after a restart, sees only the
// stored run; it hands out the same scan ID the agent already ran, which the
// agent skips, so nothing runs twice. The runs live in the agent's state
// (agentState.runs), by subsystem.

// recordRun remembers a run that changed nothing stored.
func (s *agentState) recordRun(run redflagv1.SubsystemStatus) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gone {
		return
	}
	if s.runs == nil {
		s.runs = map[string]redflagv1.SubsystemStatus{}
	}
	s.runs[run.Name] = run
}

// lastRun is the newer of the stored run and the remembered one.
func (s *agentState) lastRun(rec *agentRecord, sub string) (*metav1.Time, redflagv1.RunResult) {
	stored, result := rec.lastRun[sub], rec.lastResult[sub]
	s.mu.Lock()
	run, ok := s.runs[sub]
	s.mu.Unlock()
	if ok && run.LastRun != nil && (stored == nil || run.LastRun.After(stored.Time)) {
		return run.LastRun, run.Result
	}
	return stored, result
}

// pendingRuns returns the agent's whole subsystems list with remembered
// runs newer than the stored ones laid over it, or nil when nothing is
// newer.
func (s *agentState) pendingRuns(rec *agentRecord) []redflagv1.SubsystemStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	newer := false
	for sub, run := range s.runs {
		if st := rec.lastRun[sub]; run.LastRun != nil && (st == nil || run.LastRun.After(st.Time)) {
			newer = true
		}
	}
	if !newer {
		return nil
	}
	var out []redflagv1.SubsystemStatus
	for _, stored := range rec.subsystems {
		if run, ok := s.runs[stored.Name]; ok && run.LastRun != nil && (stored.LastRun == nil || run.LastRun.After(stored.LastRun.Time)) {
			out = append(out, run)
		} else {
			out = append(out, stored)
		}
	}
	for sub, run := range s.runs {
		if _, ok := rec.lastRun[sub]; !ok {
			out = append(out, run)
		}
	}
	return out
}

// dropRun forgets one subsystem's remembered run (a newer one was stored).
func (s *agentState) dropRun(sub string) {
	s.mu.Lock()
	delete(s.runs, sub)
	s.mu.Unlock()
}

// unchangedScan reports whether a run would change nothing stored but its
// time: same result, same inventory (of updates, or of docker). (A new
// message alone waits for the next write.)
func unchangedScan(rec *agentRecord, run redflagv1.SubsystemStatus, hash string) bool {
	if _, ok := rec.lastRun[run.Name]; !ok || rec.lastResult[run.Name] != run.Result {
		return false
	}
	switch {
	case run.Result != redflagv1.RunSucceeded:
		return true
	case run.Name == schedule.Updates:
		return hash == rec.updatesHash
	case run.Name == schedule.Docker:
		return hash == rec.dockerHash
	}
	return true
}
