package facts

import (
	"context"
	"path/filepath"
)

// Source says where Collect reads from. The zero value reads the real
// host but runs no commands.
type Source struct {
	// Root is the directory holding etc/, proc/ and run/; "" means "/".
	Root string
	// Statfs returns a filesystem's size and used bytes. Nil calls
	// statfs(2) on Root joined with the mount point.
	Statfs func(mountPoint string) (size, used int64, err error)
	// Exec runs a command and returns its stdout and exit code (a non-zero
	// exit is not an error). Nil runs nothing; Collect uses RunCommand.
	Exec func(ctx context.Context, name string, args ...string) (stdout []byte, exitCode int, err error)
}

// Collect gathers the facts of the host this process runs on.
func Collect(ctx context.Context) (Facts, error) {
	return Source{Exec: RunCommand}.Collect(ctx)
}

func (s Source) root() string {
	if s.Root == "" {
		return "/"
	}
	return s.Root
}

// isHost is true when reading the real root, where system calls may fill
// gaps the files leave.
func (s Source) isHost() bool {
	return filepath.Clean(s.root()) == "/"
}

func (s Source) path(rel string) string {
	return filepath.Join(s.root(), filepath.FromSlash(rel))
}
