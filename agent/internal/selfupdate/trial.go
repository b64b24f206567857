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
// (it was stopped, killed, or the host rebooted) and returns the update to
// put on trial now, if any. The supervisor running this is started from
// <exe>, so after a kill mid-trial it is the old binary: <exe> changes
// only when a confirmed update is promoted.
func (s *supervisor) recoverRecord() *Record {
	rec, err := ReadRecord(s.o.StateDir)
	if err != nil {
		s.log.Warn("ignoring the self-update record", "err", err)
		return nil
	}
	if rec == nil || rec.finished() || !s.ours(rec) {
		return nil
	}
	switch {
	case rec.State == StateConfirmed:
		// Killed between the daemon's Confirm and the promotion.
		s.log.Info("promoting an update confirmed before a restart", "version", rec.ToVersion, "work", rec.WorkID)
		if s.promote(rec) {
			s.reexec()
		}
		return nil
	case rec.Promoted:
		// Swapped in place by a daemon without a supervisor: there is no
		// staged binary to try, and the new binary confirms by itself.
		return nil
	case rec.State == StatePending:
		// The daemon staged and exited, but this supervisor never saw it.
		return s.pendingTrial()
	case rec.State == StateTrial:
		return s.resumeTrial(rec)
	}
	return nil
}

// resumeTrial starts an interrupted trial again, if its staged binary is
// still there and it has not been interrupted too often.
func (s *supervisor) resumeTrial(rec *Record) *Record {
	if !s.stagedInPlace(rec) {
		s.rollback(rec, ReasonTrialInterrupted, "the trial of "+rec.ToVersion+" was interrupted, and its staged binary "+NextPath(s.o.Executable)+" is gone or changed")
		return nil
	}
	if rec.TrialAttempts >= maxTrialAttempts {
		s.rollback(rec, ReasonTrialInterrupted, fmt.Sprintf("the trial of %s was interrupted %d times (supervisor restarted) before it checked in", rec.ToVersion, rec.TrialAttempts))
		return nil
	}
	s.log.Info("resuming the trial of an update interrupted by a restart", "version", rec.ToVersion, "attempt", rec.TrialAttempts+1)
	return rec
}

// pendingTrial returns the Pending record whose new binary is staged: the
// update to start on trial. A Pending record without its staged binary
// (a crash between record and rename, or the file deleted by hand) is
// settled as NotApplied.
func (s *supervisor) pendingTrial() *Record {
	rec, err := ReadRecord(s.o.StateDir)
	if err != nil {
		s.log.Warn("reading the self-update record", "err", err)
		return nil
	}
	if rec == nil || rec.State != StatePending || rec.Promoted || !s.ours(rec) {
		return nil
	}
	if !s.stagedInPlace(rec) {
		rec.finish(StateFailed, ReasonNotApplied, fmt.Sprintf("the staged binary %s of %s is gone or changed: it never ran, %s stays", NextPath(s.o.Executable), rec.ToVersion, rec.FromVersion), time.Now())
		s.settled(rec)
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

// stagedInPlace reports whether the record's verified binary is at
// NextPath: only that file is ever started on trial.
func (s *supervisor) stagedInPlace(rec *Record) bool {
	return hasSHA256(NextPath(s.o.Executable), rec.SHA256)
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
	s.log.Info("starting the staged agent binary on trial", "from", rec.FromVersion, "to", rec.ToVersion,
		"work", rec.WorkID, "mustCheckInBy", rec.Deadline.Format(time.RFC3339))
}

// confirmed returns the record as the daemon on trial left it, if it has
// confirmed; nil otherwise.
func (s *supervisor) confirmed(trial *Record) *Record {
	rec, err := ReadRecord(s.o.StateDir)
	if err != nil || rec == nil || rec.WorkID != trial.WorkID || rec.State != StateConfirmed {
		return nil
	}
	return rec
}
