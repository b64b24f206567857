//go:build windows

package atomicfile

// SyncDir is a no-op on Windows: NTFS journals the rename (MoveFileEx with
// MOVEFILE_REPLACE_EXISTING, which os.Rename uses), and a directory handle
// cannot be flushed there.
func SyncDir(string) error { return nil }
