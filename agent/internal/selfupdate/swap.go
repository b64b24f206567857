package selfupdate

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// NextPath is where Apply stages a verified new binary. The supervisor
// runs it from there on trial and renames it over exe only once it has
// confirmed: until then exe, the path the service manager starts, holds
// the old binary, so a kill of the whole agent mid-trial comes back as
// the old version.
func NextPath(exe string) string { return exe + ".next" }

// PreviousPath is where the binary a promotion (or an in-place update)
// replaced is kept, for an operator to go back to by hand. The supervisor
// never needs it: a rollback only drops the staged binary.
func PreviousPath(exe string) string { return exe + ".previous" }

// Executable returns the agent binary's canonical path, symlinks resolved:
// the file an update replaces, not a link to it. A supervised daemon gets
// it from its supervisor (EnvExecutable), because on trial it runs from
// NextPath and an update it applies must still target the canonical path.
func Executable() (string, error) {
	if Supervised() {
		if p := os.Getenv(EnvExecutable); p != "" {
			if !filepath.IsAbs(p) {
				return "", fmt.Errorf("finding the agent's binary: %s=%q is not an absolute path", EnvExecutable, p)
			}
			return filepath.Clean(p), nil
		}
	}
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("finding the agent's binary: %w", err)
	}
	resolved, err := filepath.EvalSymlinks(exe)
	if err != nil {
		return "", fmt.Errorf("finding the agent's binary: %w", err)
	}
	return resolved, nil
}

// stage renames the verified download to next, replacing a stale one, and
// makes the rename durable: the record written before it says it is there.
func stage(download, next string) error {
	if err := os.Rename(download, next); err != nil {
		return fmt.Errorf("staging the new binary as %s: %w", next, err)
	}
	return syncParent(next)
}

// removeStaged deletes the staged binary beside exe, if there is one.
func removeStaged(exe string) error {
	if err := os.Remove(NextPath(exe)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing the staged binary: %w", err)
	}
	return nil
}

// fileSHA256 hashes a file; the supervisor uses it to tell which binary is
// at a path.
func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hashing %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// hasSHA256 reports whether the file at path exists and hashes to sum.
func hasSHA256(path, sum string) bool {
	if sum == "" {
		return false
	}
	got, err := fileSHA256(path)
	return err == nil && got == sum
}
