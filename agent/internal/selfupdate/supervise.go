package selfupdate

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/redflag-io/redflag/agent/internal/lock"
)

// supervisorLockDir holds the supervisor's own lock (<state>/supervisor/
// agent.lock). The daemon's lock (<state>/agent.lock) is the daemon's: a
// supervisor holding it would keep its own child from starting.
const supervisorLockDir = "supervisor"

// maxTrialAttempts bounds how often a trial cut short by a supervisor
// restart (reboot, service restart) is started again before the update
// is rolled back.
const maxTrialAttempts = 3

// SupervisorOptions configure Supervise.
type SupervisorOptions struct {
	// Executable is the agent binary's canonical path (symlinks resolved).
	// The daemon is started from it, except on trial, when it is started
	// from the staged NextPath(Executable); a confirmed update is promoted
	// to it. Daemons get it as EnvExecutable.
	Executable string
	// Args are the daemon's arguments ("run", "--config", ...).
	Args []string
	// Env is the daemon's environment (os.Environ()); EnvSupervised=1 and
	// EnvExecutable are added.
	Env []string
	// StateDir holds the update record and the supervisor's lock.
	StateDir string
	// Stdout and Stderr receive the daemon's output (os.Stdout/os.Stderr
	// when nil: then the daemon writes to them directly).
	Stdout, Stderr io.Writer
	// Log receives the supervisor's own messages (text to Stderr when nil).
	Log *slog.Logger
	// ConfirmTimeout, when set, replaces the record's ConfirmWithin: how
	// long a new binary has to Confirm before it is rolled back.
	ConfirmTimeout time.Duration
	// StopTimeout is how long a daemon has to stop before it is killed
	// (60 s when 0; the daemon waits for running scans).
	StopTimeout time.Duration
	// MinBackoff and MaxBackoff bound the delay before restarting a daemon
	// that crashed (1 s and 1 min when 0); it doubles per crash and resets
	// after a daemon ran for MaxBackoff.
	MinBackoff, MaxBackoff time.Duration
	// PollInterval is how often the record is read during a trial (250 ms
	// when 0).
	PollInterval time.Duration
	// Reexec, when set, is called once a new binary is confirmed, promoted
	// and its daemon stopped, to run the new code (now at Executable) in
	// the supervisor too (see ReexecSelf); it returns only on failure, and
	// the supervisor then carries on. When nil the supervisor keeps the
	// promoted daemon running.
	Reexec func() error
}

func (o SupervisorOptions) withDefaults() SupervisorOptions {
	if o.Stdout == nil {
		o.Stdout = os.Stdout
	}
	if o.Stderr == nil {
		o.Stderr = os.Stderr
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(o.Stderr, nil))
	}
	o.Log = o.Log.With("component", "supervisor")
	if o.StopTimeout <= 0 {
		o.StopTimeout = time.Minute
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = time.Second
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = max(time.Minute, o.MinBackoff)
	}
	if o.PollInterval <= 0 {
		o.PollInterval = 250 * time.Millisecond
	}
	return o
}

// Supervise runs the agent daemon as a child process until ctx ends, and
// is where a self-update is kept or reverted.
//
// It starts `<Executable> <Args>`. When ctx ends it stops the daemon
// (SIGTERM, then SIGKILL after StopTimeout) and returns nil. When the
// daemon exits on its own:
//
//   - status 0: Supervise returns nil (it was stopped on purpose);
//   - status 1: the daemon refused to start (not enrolled, another agent
//     running): restarting cannot help, so Supervise returns *ExitError;
//   - RestartExitCode: Apply staged a new binary at <exe>.next; it is
//     started from there on trial (below);
//   - anything else (a crash, a signal): it is restarted after a backoff.
//
// On trial the new daemon must Confirm within the record's ConfirmWithin
// (or ConfirmTimeout). If it exits first (CrashedAtStart) or the time
// passes (NoCheckIn), Supervise stops it, deletes <exe>.next, marks the
// record RolledBack and starts <exe> again (never changed: the old
// binary), which reports the outcome. Once it confirms, Supervise promotes
// it: <exe> is kept as <exe>.previous and <exe>.next renamed over <exe>;
// then it calls Reexec. Until that rename <exe> is the old binary, so if
// the whole agent is killed mid-trial the service manager starts the old
// supervisor again, which resumes or ends the trial (see recoverRecord).
//
// A second Supervise on the same state directory is refused (lock.ErrHeld).
func Supervise(ctx context.Context, o SupervisorOptions) error {
	o = o.withDefaults()
	if o.Executable == "" || o.StateDir == "" {
		return errors.New("supervise: Executable and StateDir are required")
	}
	held, err := lock.Acquire(filepath.Join(o.StateDir, supervisorLockDir))
	if err != nil {
		return err
	}
	defer func() { _ = held.Release() }()
	if w := held.PIDWarning(); w != nil {
		// Held all the same; a full disk must not keep the agent down.
		o.Log.Warn("supervising without a pid in the lock file", "err", w)
	}

	s := &supervisor{o: o, log: o.Log, backoff: o.MinBackoff}
	trial := s.recoverRecord()
	for ctx.Err() == nil {
		c, err := s.start(trial)
		if err != nil {
			if trial != nil {
				s.rollback(trial, ReasonCrashedAtStart, trial.ToVersion+" could not be started: "+err.Error())
				trial = nil
				continue
			}
			s.log.Error("starting the agent daemon; retrying", "err", err, "retryIn", s.backoff)
			if !s.pause(ctx) {
				return nil
			}
			continue
		}
		var done bool
		if trial, done, err = s.follow(ctx, c, trial); done {
			return err
		}
	}
	return nil
}

// start starts a daemon: the staged binary when trial is set, <exe>
// otherwise. A staged binary outside a trial is left over from an update
// that ended (or from a crash), and is deleted so it cannot pile up.
func (s *supervisor) start(trial *Record) (*child, error) {
	path := s.o.Executable
	if trial != nil {
		s.beginTrial(trial)
		path = NextPath(path)
	} else {
		s.dropStaged()
	}
	c, err := startChild(s.o, path)
	if err == nil {
		s.log.Info("agent daemon started", "pid", c.cmd.Process.Pid, "path", path, "onTrial", trial != nil)
	}
	return c, err
}

// follow watches one daemon until it has ended. It returns the update to
// put on trial next, and done when Supervise must return err.
func (s *supervisor) follow(ctx context.Context, c *child, trial *Record) (next *Record, done bool, err error) {
	for {
		ev, confirmed := s.wait(ctx, c, trial)
		switch ev {
		case evStop:
			c.stop(s.o.StopTimeout)
			return nil, true, nil
		case evConfirmed:
			promoted := s.promote(confirmed)
			trial = nil
			if promoted && s.o.Reexec == nil {
				continue // the promoted daemon keeps running
			}
			// Either way it stops: to re-execute the supervisor as the
			// new binary, or, when <exe> is still the old one, so that
			// the old binary runs again.
			c.stop(s.o.StopTimeout)
			if promoted {
				s.reexec()
			}
			return nil, false, nil
		case evDeadline:
			c.stop(s.o.StopTimeout)
			s.endTrial(trial, ReasonNoCheckIn, trial.ToVersion+" did not check in within "+s.confirmTimeout(trial).String())
			return nil, false, nil
		case evExited:
			return s.exited(ctx, c, trial)
		}
	}
}

// endTrial settles a trial whose daemon has stopped: it may have confirmed
// at the last moment (then it is promoted) or not (then it is rolled back
// for reason). The caller then starts <exe>.
func (s *supervisor) endTrial(trial *Record, reason, what string) {
	if rec := s.confirmed(trial); rec != nil {
		if s.promote(rec) {
			s.reexec()
		}
		return
	}
	s.rollback(trial, reason, what)
}

// reexec runs the promoted code in the supervisor too, when it can.
func (s *supervisor) reexec() {
	if s.o.Reexec == nil {
		return
	}
	s.log.Info("re-executing the supervisor as the new binary")
	err := s.o.Reexec()
	s.log.Warn("re-executing the supervisor failed; it carries on with its old code", "err", err)
}

// exited decides what follows a daemon's own exit.
func (s *supervisor) exited(ctx context.Context, c *child, trial *Record) (next *Record, done bool, err error) {
	if trial != nil {
		s.endTrial(trial, ReasonCrashedAtStart, trial.ToVersion+" exited ("+c.describe()+") before its first check-in")
		return nil, false, nil
	}
	switch c.exitCode() {
	case 0:
		s.log.Info("agent daemon stopped")
		return nil, true, nil
	case 1:
		return nil, true, &ExitError{Code: 1}
	case RestartExitCode:
		if next = s.pendingTrial(); next == nil {
			s.log.Warn("the agent daemon asked for a restart, but no staged binary is pending; restarting it")
		}
		return next, false, nil
	default:
		if time.Since(c.started) > s.o.MaxBackoff {
			s.backoff = s.o.MinBackoff
		}
		s.log.Error("agent daemon ended unexpectedly; restarting it", "exit", c.describe(), "retryIn", s.backoff)
		return nil, !s.pause(ctx), nil
	}
}

// pause waits out the crash backoff and doubles it; false if ctx ended.
func (s *supervisor) pause(ctx context.Context) bool {
	t := time.NewTimer(s.backoff)
	defer t.Stop()
	s.backoff = min(2*s.backoff, s.o.MaxBackoff)
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

type event int

const (
	evStop      event = iota // ctx ended
	evExited                 // the daemon exited
	evConfirmed              // the daemon on trial confirmed
	evDeadline               // the daemon on trial did not confirm in time
)

// wait returns the next thing that needs the supervisor's attention, and
// with evConfirmed the confirmed record.
func (s *supervisor) wait(ctx context.Context, c *child, trial *Record) (event, *Record) {
	var deadline, poll <-chan time.Time
	if trial != nil {
		t := time.NewTimer(time.Until(trial.Deadline))
		defer t.Stop()
		tick := time.NewTicker(s.o.PollInterval)
		defer tick.Stop()
		deadline, poll = t.C, tick.C
	}
	for {
		select {
		case <-ctx.Done():
			return evStop, nil
		case <-c.done:
			return evExited, nil
		case <-deadline:
			return evDeadline, nil
		case <-poll:
			if rec := s.confirmed(trial); rec != nil {
				return evConfirmed, rec
			}
		}
	}
}
