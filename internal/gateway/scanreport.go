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
	"github.com/redflag-io/redflag/internal/schedule"
)

var validResults = []redflagv1.RunResult{redflagv1.RunSucceeded, redflagv1.RunFailed, redflagv1.RunTimedOut, redflagv1.RunSkipped}

var validManagers = []redflagv1.PackageManager{
	redflagv1.ManagerApt, redflagv1.ManagerDnf, redflagv1.ManagerDocker, redflagv1.ManagerWindowsUpdate, redflagv1.ManagerWinget,
}

// applyScan stores a scan's outcome: the subsystem's last run (which makes
// the scan no longer due) and, for updates, the inventory when its content
// changed. A transition to failure, or back, is recorded as an Event and in
// the history, in the same write.
func (g *Gateway) applyScan(ctx context.Context, rec *agentRecord, sr *scanReport) error {
	if !slices.Contains(schedule.Subsystems, sr.Subsystem) || !slices.Contains(validResults, sr.Result) {
		return errBadReport("scan report names an unknown subsystem or result")
	}
	if !g.hostTimeOK(sr.Finished) {
		return errBadReport("scan report's finish time is missing, before 1970 or in the future")
	}
	finished := metav1.NewTime(sr.Finished.UTC().Truncate(time.Second))
	run := redflagv1.SubsystemStatus{Name: sr.Subsystem, LastRun: &finished, Result: sr.Result, Message: truncate(sr.Message, redflagv1.MaxMessageLength)}
	_, nowScan := scanNowValue(sr.ID)
	if !nowScan && unchangedScan(rec, run, sr.UpdatesHash) {
		// Nothing but the time changed: no write now (see scanledger.go).
		rec.st.recordRun(run)
		return nil
	}
	err := g.patchStatus(ctx, statusOf(rec), func(a *redflagv1.Agent) (*redflagv1.HistoryEntry, error) {
		var announce *redflagv1.HistoryEntry
		prev := redflagv1.SubsystemStatus{Name: sr.Subsystem}
		i := slices.IndexFunc(a.Status.Subsystems, func(s redflagv1.SubsystemStatus) bool { return s.Name == sr.Subsystem })
		if i >= 0 {
			prev = a.Status.Subsystems[i]
		}
		next := run
		if i >= 0 {
			a.Status.Subsystems[i] = next
		} else {
			a.Status.Subsystems = append(a.Status.Subsystems, next)
		}
		if sr.Subsystem == schedule.Updates && sr.Updates != nil && sr.Result == redflagv1.RunSucceeded && sr.UpdatesHash != a.Status.Updates.Hash {
			prevUpdates := a.Status.Updates
			a.Status.Updates = clampInventory(*sr.Updates, sr.UpdatesHash)
			// An inventory without a plausible scan time gets the
			// scan's: a nil one would hide UpdatesAvailable.
			if a.Status.Updates.ScannedAt = g.hostTime(sr.Updates.ScannedAt); a.Status.Updates.ScannedAt == nil {
				a.Status.Updates.ScannedAt = finished.DeepCopy()
			}
			carryFirstSeen(&a.Status.Updates, prevUpdates, *a.Status.Updates.ScannedAt)
		}
		if sr.Subsystem == schedule.Docker {
			g.applyDocker(a, sr, finished)
		}
		failed := sr.Result == redflagv1.RunFailed || sr.Result == redflagv1.RunTimedOut
		wasFailed := prev.Result == redflagv1.RunFailed || prev.Result == redflagv1.RunTimedOut
		switch {
		case failed && !wasFailed:
			e := g.recorder.Entry(events.ScanFailed, fmt.Sprintf("%s scan %s: %s", sr.Subsystem, sr.Result, next.Message), map[string]string{"subsystem": sr.Subsystem})
			announce = &e
		case !failed && wasFailed:
			e := g.recorder.Entry(events.ScanSucceeded, sr.Subsystem+" scan succeeds again", map[string]string{"subsystem": sr.Subsystem})
			announce = &e
		}
		if v, ok := scanNowValue(sr.ID); ok && v == truncate(a.Annotations[redflagv1.ScanNowAnnotation], 64) {
			a.Status.ScanNowHandled = v
		}
		return announce, nil
	})
	if err != nil {
		return fmt.Errorf("storing %s scan of %s: %w", sr.Subsystem, rec.key, err)
	}
	// Stored: the status is authoritative for this subsystem again.
	rec.st.dropRun(sr.Subsystem)
	return nil
}

// scanNowValue returns the scan-now value a scan ID carries, if any.
func scanNowValue(id string) (string, bool) {
	_, v, ok := strings.Cut(id, "-"+scanNowPrefix)
	return v, ok
}

// clampInventory keeps a host's inventory within the schema's bounds: a
// host cannot make its Agent refuse to store, or grow past its budget.
func clampInventory(in redflagv1.UpdateInventory, hash string) redflagv1.UpdateInventory {
	out := redflagv1.UpdateInventory{Total: max(in.Total, 0), Security: max(in.Security, 0), Truncated: in.Truncated, Hash: truncate(hash, 64)}
	for k, v := range in.ByManager {
		if slices.Contains(validManagers, redflagv1.PackageManager(k)) {
			if out.ByManager == nil {
				out.ByManager = map[string]int32{}
			}
			out.ByManager[k] = max(v, 0)
		}
	}
	for _, it := range in.Items {
		if len(out.Items) == redflagv1.MaxUpdateItems {
			out.Truncated = true
			break
		}
		if !slices.Contains(validManagers, it.Manager) || it.Name == "" {
			continue
		}
		out.Items = append(out.Items, redflagv1.PendingUpdate{
			Manager: it.Manager, Name: truncate(it.Name, 128), CurrentVersion: truncate(it.CurrentVersion, 80),
			AvailableVersion: truncate(it.AvailableVersion, 80), Security: it.Security, Held: it.Held, Source: truncate(it.Source, 80),
		})
	}
	return out
}

// errBadReport is a report that will never be accepted (400).
type errBadReport string

func (e errBadReport) Error() string { return string(e) }
