//go:build windows

package config

// syncDir is a no-op on Windows: NTFS journals the rename (MoveFileEx with
// MOVEFILE_REPLACE_EXISTING, which os.Rename uses), and a directory handle
// cannot be flushed there.
func syncDir(string) error { return nil }
