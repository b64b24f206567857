//go:build !windows

package selfupdate

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/redflag-io/redflag/internal/atomicfile"
)

// swap keeps exe as previous and renames next over exe: the supervisor's
// promotion of a confirmed update (or an in-place update without a
// supervisor). exe exists at every instant: previous is a hard link (a copy where links are not
// supported), and rename(2) replaces exe atomically. The running process
// keeps its old inode, so replacing its file under it is safe.
func swap(exe, next, previous string) error {
	if err := os.Remove(previous); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing the old %s: %w", previous, err)
	}
	if err := os.Link(exe, previous); err != nil {
		if err := copyFile(exe, previous); err != nil {
			return fmt.Errorf("keeping %s as %s: %w", exe, previous, err)
		}
	}
	if err := os.Rename(next, exe); err != nil {
		return fmt.Errorf("renaming the new binary into place: %w", err)
	}
	return syncParent(exe)
}

func syncParent(path string) error { return atomicfile.SyncDir(filepath.Dir(path)) }

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fi.Mode().Perm())
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(dst)
	}
	return err
}
