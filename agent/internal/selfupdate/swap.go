package selfupdate

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// PreviousPath is where the binary an update replaced is kept: the
// supervisor restores it from there, and an operator can too.
func PreviousPath(exe string) string { return exe + ".previous" }

// Executable returns the running binary's path with symlinks resolved: a
// swap must replace the file, not a link to it.
func Executable() (string, error) {
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

// restore puts the previous binary back at exe. A rename works on every
// platform here: the binary at exe is not running (the supervisor stopped
// it), and Windows lets a running image (the supervisor's own, which may
// be previous) be renamed.
func restore(exe, previous string) error {
	if _, err := os.Stat(previous); err != nil {
		return fmt.Errorf("no previous binary to restore: %w", err)
	}
	if err := os.Rename(previous, exe); err != nil {
		return fmt.Errorf("restoring %s: %w", previous, err)
	}
	return syncParent(exe)
}

// fileSHA256 hashes a file; the supervisor uses it to tell which binary is
// at the executable's path.
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

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
