package gateway

import (
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/internal/schedule"
)

// scanLedger remembers scan runs that changed nothing, so storing them costs
// no write: dispatch reads the newest run from here, and the next liveness
// write (which happens anyway, every 1.75 intervals) carries them to the
// Agent's status. Another replica, or this one after a restart, sees only the
// stored run; it hands out the same scan ID the agent already ran, which the
// agent skips, so nothing runs twice.
type scanLedger struct {
	mu   sync.Mutex
	runs map[string]map[string]redflagv1.SubsystemStatus // agent → subsystem → run
}

func (l *scanLedger) record(key string, run redflagv1.SubsystemStatus) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.runs == nil {
		l.runs = map[string]map[string]redflagv1.SubsystemStatus{}
	}
	if l.runs[key] == nil {
		l.runs[key] = map[string]redflagv1.SubsystemStatus{}
	}
	l.runs[key][run.Name] = run
}

// lastRun is the newer of the stored run and the remembered one.
func (l *scanLedger) lastRun(rec *agentRecord, sub string) (*metav1.Time, redflagv1.RunResult) {
	stored, result := rec.lastRun[sub], rec.lastResult[sub]
	l.mu.Lock()
	run, ok := l.runs[rec.key][sub]
	l.mu.Unlock()
	if ok && run.LastRun != nil && (stored == nil || run.LastRun.After(stored.Time)) {
		return run.LastRun, run.Result
	}
	return stored, result
}

// pending returns the agent's whole subsystems list with remembered runs
// newer than the stored ones laid over it, or nil when nothing is newer.
func (l *scanLedger) pending(rec *agentRecord) []redflagv1.SubsystemStatus {
	l.mu.Lock()
	defer l.mu.Unlock()
	newer := false
	for sub, run := range l.runs[rec.key] {
		if s := rec.lastRun[sub]; run.LastRun != nil && (s == nil || run.LastRun.After(s.Time)) {
			newer = true
		}
	}
	if !newer {
		return nil
	}
	var out []redflagv1.SubsystemStatus
	for _, stored := range rec.subsystems {
		if run, ok := l.runs[rec.key][stored.Name]; ok && run.LastRun != nil && (stored.LastRun == nil || run.LastRun.After(stored.LastRun.Time)) {
			out = append(out, run)
		} else {
			out = append(out, stored)
		}
	}
	for sub, run := range l.runs[rec.key] {
		if _, ok := rec.lastRun[sub]; !ok {
			out = append(out, run)
		}
	}
	return out
}

// drop forgets one subsystem's remembered run (a newer one was stored).
func (l *scanLedger) drop(key, sub string) {
	l.mu.Lock()
	delete(l.runs[key], sub)
	l.mu.Unlock()
}

func (l *scanLedger) forget(key string) {
	l.mu.Lock()
	delete(l.runs, key)
	l.mu.Unlock()
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
