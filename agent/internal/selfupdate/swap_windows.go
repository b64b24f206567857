//go:build windows

package selfupdate

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// swap keeps exe as previous and puts next at exe: the supervisor's
// promotion of a confirmed update (or an in-place update without a
// supervisor). Windows refuses to overwrite or delete a running image but
// lets it be renamed, and at promotion both files are running (exe is the
// supervisor's image, next the confirmed daemon's), so exe is renamed away
// first; for that moment exe does not exist, and a failure of the second
// rename puts it back.
func swap(exe, next, previous string) error {
	if err := clearPrevious(previous); err != nil {
		return err
	}
	if err := os.Rename(exe, previous); err != nil {
		return fmt.Errorf("moving the running binary to %s: %w", previous, err)
	}
	if err := os.Rename(next, exe); err != nil {
		if back := os.Rename(previous, exe); back != nil {
			return fmt.Errorf("renaming the new binary into place: %w (and putting the old one back: %v)", err, back)
		}
		return fmt.Errorf("renaming the new binary into place: %w", err)
	}
	return nil
}

// clearPrevious removes an older previous binary. It may still be running
// (a supervisor started from it before the last update), and then cannot
// be deleted, only renamed aside; it is deleted by a later update.
func clearPrevious(previous string) error {
	if old, _ := filepath.Glob(previous + ".old-*"); len(old) > 0 {
		for _, o := range old {
			_ = os.Remove(o) // fails while that binary still runs
		}
	}
	err := os.Remove(previous)
	if err == nil || errors.Is(err, os.ErrNotExist) {
		return nil
	}
	aside := previous + ".old-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	if rerr := os.Rename(previous, aside); rerr != nil {
		return fmt.Errorf("removing the old %s: %w (renaming it aside: %v)", previous, err, rerr)
	}
	return nil
}

// syncParent is a no-op on Windows: NTFS journals renames.
func syncParent(string) error { return nil }
