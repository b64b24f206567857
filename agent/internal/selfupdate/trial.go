package selfupdate

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"time"
)

// supervisor holds what Supervise's steps share.
type supervisor struct {
	o   SupervisorOptions
	log *slog.Logger
	// backoff is the delay before the next restart after a crash.
	backoff time.Duration
}

// recoverRecord settles a record an earlier supervisor left unfinished
// (it was stopped, crashed, or the host rebooted) and returns the update
// to put on trial now, if any.
func (s *supervisor) recoverRecord() *Record {
	rec, err := ReadRecord(s.o.StateDir)
	if err != nil {
		s.log.Warn("ignoring the self-update record", "err", err)
		return nil
	}
	if rec == nil || rec.State.finished() || !s.ours(rec) {
		return nil
	}
	switch rec.State {
	case StatePending:
		// The daemon swapped and exited, but this supervisor never saw it.
		return s.pendingTrial()
	case StateTrial:
		if !s.newBinaryInPlace(rec) {
			s.rollback(rec, ReasonTrialInterrupted, "the trial of "+rec.ToVersion+" was interrupted")
			return nil
		}
		if rec.TrialAttempts >= maxTrialAttempts {
			s.rollback(rec, ReasonTrialInterrupted, fmt.Sprintf("the trial of %s was interrupted %d times (supervisor restarted) before it checked in", rec.ToVersion, rec.TrialAttempts))
			return nil
		}
		s.log.Info("resuming the trial of an update interrupted by a restart", "version", rec.ToVersion, "attempt", rec.TrialAttempts+1)
		return rec
	}
	return nil
}

// pendingTrial returns the Pending record whose new binary is now at the
// executable's path: the update to start on trial.
func (s *supervisor) pendingTrial() *Record {
	rec, err := ReadRecord(s.o.StateDir)
	if err != nil {
		s.log.Warn("reading the self-update record", "err", err)
		return nil
	}
	if rec == nil || rec.State != StatePending || !s.ours(rec) || !s.newBinaryInPlace(rec) {
		// No swap happened (a crash between record and swap); the daemon's
		// Outcome reports that the update did not apply.
		return nil
	}
	return rec
}

// ours reports whether the record is about the binary this supervisor runs.
func (s *supervisor) ours(rec *Record) bool {
	if filepath.Clean(rec.Executable) == filepath.Clean(s.o.Executable) {
		return true
	}
	s.log.Warn("the self-update record is about another binary; ignoring it", "record", rec.Executable, "executable", s.o.Executable)
	return false
}

func (s *supervisor) newBinaryInPlace(rec *Record) bool {
	sum, err := fileSHA256(s.o.Executable)
	return err == nil && sum == rec.SHA256
}

func (s *supervisor) confirmTimeout(rec *Record) time.Duration {
	switch {
	case s.o.ConfirmTimeout > 0:
		return s.o.ConfirmTimeout
	case rec.ConfirmWithin.Duration > 0:
		return rec.ConfirmWithin.Duration
	default:
		return DefaultConfirmWithin
	}
}

// beginTrial records that the new binary starts now and must confirm by
// the deadline. A failed write is logged, not fatal: the supervisor holds
// the deadline in memory, and at worst a restart retries the trial.
func (s *supervisor) beginTrial(rec *Record) {
	rec.State = StateTrial
	rec.TrialAttempts++
	rec.Deadline = time.Now().Add(s.confirmTimeout(rec)).UTC()
	if err := writeRecord(s.o.StateDir, rec); err != nil {
		s.log.Error("recording the trial", "err", err)
	}
	s.log.Info("starting the new agent binary on trial", "from", rec.FromVersion, "to", rec.ToVersion,
		"work", rec.WorkID, "mustCheckInBy", rec.Deadline.Format(time.RFC3339))
}

// confirmed reports whether the daemon on trial confirmed.
func (s *supervisor) confirmed(trial *Record) bool {
	rec, err := ReadRecord(s.o.StateDir)
	return err == nil && rec != nil && rec.WorkID == trial.WorkID && rec.State == StateConfirmed
}

// rollback puts the previous binary back and records why. The daemon on
// trial must already be stopped.
func (s *supervisor) rollback(rec *Record, reason, what string) {
	exe := s.o.Executable
	now := time.Now()
	switch {
	case rec.SHA256 != "" && !s.newBinaryInPlace(rec) && fileExists(exe):
		// An earlier rollback (interrupted before it wrote the record) or
		// an operator already put another binary there.
		rec.finish(StateRolledBack, reason, what+"; "+rec.FromVersion+" was already back in place", now)
	default:
		if err := restore(exe, PreviousPath(exe)); err != nil {
			rec.finish(StateFailed, ReasonRollbackFailed, what+"; putting "+rec.FromVersion+" back failed: "+err.Error(), now)
			s.log.Error("rolling back the update failed", "to", rec.ToVersion, "err", err)
			break
		}
		rec.finish(StateRolledBack, reason, what+"; rolled back to "+rec.FromVersion, now)
	}
	if err := writeRecord(s.o.StateDir, rec); err != nil {
		s.log.Error("recording the rollback", "err", err)
	}
	s.log.Warn("update rolled back", "from", rec.FromVersion, "to", rec.ToVersion, "reason", rec.Reason, "message", rec.Message)
}
