//go:build linux || darwin || freebsd || openbsd || netbsd || dragonfly

package lock

import (
	"errors"
	"os"
	"syscall"
)

// tryLock takes an exclusive flock without blocking. flock (unlike fcntl
// record locks) belongs to the open file description, so a second open in
// the same process is refused too, and it is not released when some other
// descriptor for the file is closed.
func tryLock(f *os.File) (held bool, err error) {
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return true, nil
	}
	if err != nil {
		return false, &os.PathError{Op: "flock", Path: f.Name(), Err: err}
	}
	return false, nil
}

func unlock(f *os.File) error {
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_UN); err != nil {
		return &os.PathError{Op: "flock", Path: f.Name(), Err: err}
	}
	return nil
}
