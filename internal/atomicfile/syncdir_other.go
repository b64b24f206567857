//go:build !windows

package atomicfile

import (
	"fmt"
	"os"
)

// SyncDir flushes a directory's entries (a rename) to disk.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	if err := d.Sync(); err != nil {
		_ = d.Close()
		return fmt.Errorf("sync: %w", err)
	}
	if err := d.Close(); err != nil {
		return fmt.Errorf("close: %w", err)
	}
	return nil
}
