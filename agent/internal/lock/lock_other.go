//go:build !(linux || darwin || freebsd || openbsd || netbsd || dragonfly || windows)

package lock

import (
	"errors"
	"os"
)

// tryLock is unsupported here: this platform has no flock in package
// syscall, and the agent is not built for it.
func tryLock(*os.File) (bool, error) { return false, errors.ErrUnsupported }

func unlock(*os.File) error { return errors.ErrUnsupported }
