package lock

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// FileName is the lock file's name inside the state directory.
const FileName = "agent.lock"

// ErrHeld matches the error Acquire returns when another process (or
// another Acquire in this one) holds the lock.
var ErrHeld = errors.New("agent lock is held")

// HeldError says who holds the lock. PID is 0 when the holder had not yet
// written it.
type HeldError struct {
	Path string
	PID  int
}

func (e *HeldError) Error() string {
	who := "another process"
	if e.PID > 0 {
		who = "process " + strconv.Itoa(e.PID)
	}
	return fmt.Sprintf("%s holds %s: another redflag-agent is already running with this state directory", who, e.Path)
}

// Is makes errors.Is(err, ErrHeld) true.
func (e *HeldError) Is(target error) bool { return target == ErrHeld }

// Lock is a held agent lock.
type Lock struct {
	f      *os.File
	path   string
	pidErr error
}

// pidFile is the part of the lock file that recording the pid uses; tests
// put a failing one in its place, since filling a real disk in a unit test
// is neither portable nor safe.
type pidFile interface {
	Truncate(size int64) error
	WriteAt(b []byte, off int64) (int, error)
}

// Acquire takes the lock in stateDir without waiting, creating the
// directory (mode 0700) if needed. It returns a *HeldError if the lock is
// taken.
//
// Recording the pid is best effort: the kernel lock is what keeps a second
// agent out, the pid only names the holder in a refusal. An agent whose
// state directory's disk is full must still run (to install the updates
// that free space, among other things), so a failed pid write leaves the
// lock held and is reported by PIDWarning instead of failing Acquire.
func Acquire(stateDir string) (*Lock, error) {
	return acquire(stateDir, func(f *os.File) pidFile { return f })
}

func acquire(stateDir string, pidOf func(*os.File) pidFile) (*Lock, error) {
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return nil, fmt.Errorf("lock: create state directory: %w", err)
	}
	path := filepath.Join(stateDir, FileName)
	// The file is never removed: unlinking a lock file lets a process that
	// opened the old inode and one that creates a new one both "hold" it.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock: open %s: %w", path, err)
	}
	held, err := tryLock(f)
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if held {
		pid := readPID(f)
		_ = f.Close()
		return nil, &HeldError{Path: path, PID: pid}
	}
	l := &Lock{f: f, path: path}
	if err := writePID(pidOf(f)); err != nil {
		l.pidErr = fmt.Errorf("lock %s held, but its pid could not be recorded (a second agent will not be told who holds it): %w", path, err)
	}
	return l, nil
}

// Path is the lock file's path.
func (l *Lock) Path() string { return l.path }

// PIDWarning is why the holder's pid is not in the lock file (a full disk,
// typically), or nil when it is. The lock is held either way; callers log
// it and go on.
func (l *Lock) PIDWarning() error {
	if l == nil {
		return nil
	}
	return l.pidErr
}

// Release clears the pid and gives up the lock. Calling it again is a
// no-op.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	f := l.f
	l.f = nil
	// Truncate while still holding the lock, so no one reads a stale pid
	// written by us after a new holder wrote theirs.
	truncErr := f.Truncate(0)
	unlockErr := unlock(f)
	closeErr := f.Close()
	if err := errors.Join(truncErr, unlockErr, closeErr); err != nil {
		return fmt.Errorf("release %s: %w", l.path, err)
	}
	return nil
}

func writePID(f pidFile) error {
	if err := f.Truncate(0); err != nil {
		return fmt.Errorf("truncate: %w", err)
	}
	if _, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0); err != nil {
		// Leave no partial pid behind: a refused agent reads an empty
		// file as "another process", a cut-off one as a wrong pid.
		_ = f.Truncate(0)
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

// readPID is best effort: the holder may not have written its pid yet.
func readPID(f *os.File) int {
	buf := make([]byte, 32)
	n, _ := f.ReadAt(buf, 0)
	pid, err := strconv.Atoi(strings.TrimSpace(string(buf[:n])))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}
