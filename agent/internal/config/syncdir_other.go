//go:build !windows

package config

import (
	"fmt"
	"os"
)

// syncDir flushes a directory's entries (a rename) to disk.
func syncDir(dir string) error {
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
