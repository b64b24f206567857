package selfupdate

import (
	"fmt"
	"time"
)

// promote puts a confirmed update's binary at <exe>: the binary there is
// kept as <exe>.previous and <exe>.next renamed over it (swap). It reports
// whether <exe> now holds the new binary; when not, the record says Failed
// (PromoteFailed), never Confirmed: the update must not be reported
// Succeeded while the old binary is what the service manager starts.
func (s *supervisor) promote(rec *Record) bool {
	exe := s.o.Executable
	var err error
	switch {
	case hasSHA256(exe, rec.SHA256):
		// Renamed already: a kill cut the last promotion short of its record.
	case s.stagedInPlace(rec):
		err = swap(exe, NextPath(exe), PreviousPath(exe))
	default:
		err = fmt.Errorf("the staged binary %s is gone or changed", NextPath(exe))
	}
	if err != nil && !hasSHA256(exe, rec.SHA256) {
		s.promoteFailed(rec, err)
		return false
	}
	if err != nil {
		// The rename happened; only making it durable failed.
		s.log.Warn("promoting the update", "err", err)
	}
	rec.Promoted = true
	s.settled(rec)
	s.log.Info("update confirmed: the new binary is in place", "version", rec.ToVersion, "work", rec.WorkID, "previous", PreviousPath(exe))
	return true
}

// promoteFailed records a confirmed update that could not be put at <exe>.
// The staged binary stays until its daemon has stopped (Windows cannot
// delete a running image); the next start without a trial deletes it.
func (s *supervisor) promoteFailed(rec *Record, err error) {
	msg := fmt.Sprintf("%s checked in, but putting it at %s failed: %v; %s stays", rec.ToVersion, s.o.Executable, err, rec.FromVersion)
	rec.finish(StateFailed, ReasonPromoteFailed, msg, time.Now())
	s.settled(rec)
	s.log.Error("promoting the confirmed update failed; the old binary stays", "from", rec.FromVersion, "to", rec.ToVersion, "err", err)
}

// rollback ends a trial that failed: the record says RolledBack and the
// staged binary is deleted. <exe> was never changed, so nothing has to be
// put back. The daemon on trial must already be stopped.
func (s *supervisor) rollback(rec *Record, reason, what string) {
	// The record first: a kill before the deletion leaves a staged binary
	// that the next start deletes, not a trial to resume.
	rec.finish(StateRolledBack, reason, what+"; rolled back to "+rec.FromVersion, time.Now())
	s.settled(rec)
	s.dropStaged()
	s.log.Warn("update rolled back", "from", rec.FromVersion, "to", rec.ToVersion, "reason", rec.Reason, "message", rec.Message)
}

// settled writes a record the supervisor has decided on. A failed write is
// logged: the binaries are already where the decision put them, and the
// daemon's Outcome reads the versions when the record lags behind.
func (s *supervisor) settled(rec *Record) {
	if err := writeRecord(s.o.StateDir, rec); err != nil {
		s.log.Error("recording the self-update decision", "state", rec.State, "err", err)
	}
}

// dropStaged deletes the staged binary; failing to is only logged, as a
// later start tries again.
func (s *supervisor) dropStaged() {
	if err := removeStaged(s.o.Executable); err != nil {
		s.log.Warn("deleting the staged binary", "err", err)
	}
}
