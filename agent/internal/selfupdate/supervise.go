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
	// Executable is the agent binary's path (symlinks resolved); the
	// daemon is always started from this path, so after a swap it is the
	// new binary.
	Executable string
	// Args are the daemon's arguments ("run", "--config", ...).
	Args []string
	// Env is the daemon's environment (os.Environ()); EnvSupervised=1 is
	// added.
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
	// Reexec, when set, is called once a new binary is confirmed and its
	// daemon stopped, to run the new code in the supervisor too (see
	// ReexecSelf); it returns only on failure, and the supervisor then
	// carries on. When nil the supervisor keeps its daemon running.
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
//   - RestartExitCode: Apply swapped the binary; the new one is started
//     on trial (below);
//   - anything else (a crash, a signal): it is restarted after a backoff.
//
// On trial the new daemon must Confirm within the record's ConfirmWithin
// (or ConfirmTimeout). If it exits first (CrashedAtStart) or the time
// passes (NoCheckIn), Supervise stops it, moves <exe>.previous back to
// <exe>, marks the record RolledBack and starts the old binary, which
// reports the outcome. Once it confirms, Supervise calls Reexec.
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
		if trial != nil {
			s.beginTrial(trial)
		}
		c, err := startChild(o)
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
		s.log.Info("agent daemon started", "pid", c.cmd.Process.Pid, "onTrial", trial != nil)
		var done bool
		if trial, done, err = s.follow(ctx, c, trial); done {
			return err
		}
	}
	return nil
}

// follow watches one daemon until it has ended. It returns the update to
// put on trial next, and done when Supervise must return err.
func (s *supervisor) follow(ctx context.Context, c *child, trial *Record) (next *Record, done bool, err error) {
	for {
		switch s.wait(ctx, c, trial) {
		case evStop:
			c.stop(s.o.StopTimeout)
			return nil, true, nil
		case evConfirmed:
			s.log.Info("update confirmed: keeping the new binary", "version", trial.ToVersion, "work", trial.WorkID)
			trial = nil
			if s.o.Reexec == nil {
				continue // the confirmed daemon keeps running
			}
			c.stop(s.o.StopTimeout)
			s.log.Info("re-executing the supervisor as the new binary")
			err := s.o.Reexec()
			s.log.Warn("re-executing the supervisor failed; it carries on with its old code", "err", err)
			return nil, false, nil
		case evDeadline:
			c.stop(s.o.StopTimeout)
			if !s.confirmed(trial) { // it may have confirmed at the last moment
				s.rollback(trial, ReasonNoCheckIn, trial.ToVersion+" did not check in within "+s.confirmTimeout(trial).String())
			}
			return nil, false, nil
		case evExited:
			return s.exited(ctx, c, trial)
		}
	}
}

// exited decides what follows a daemon's own exit.
func (s *supervisor) exited(ctx context.Context, c *child, trial *Record) (next *Record, done bool, err error) {
	if trial != nil && !s.confirmed(trial) {
		s.rollback(trial, ReasonCrashedAtStart, trial.ToVersion+" exited ("+c.describe()+") before its first check-in")
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
			s.log.Warn("the agent daemon asked for a restart, but no swapped binary is pending; restarting it")
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

// wait returns the next thing that needs the supervisor's attention.
func (s *supervisor) wait(ctx context.Context, c *child, trial *Record) event {
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
			return evStop
		case <-c.done:
			return evExited
		case <-deadline:
			return evDeadline
		case <-poll:
			if s.confirmed(trial) {
				return evConfirmed
			}
		}
	}
}
