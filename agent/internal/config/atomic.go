package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/redflag-io/redflag/internal/atomicfile"
)

// FileMode is the mode of the config file and its backups: they hold the
// host's private key.
const FileMode os.FileMode = 0o600

// writeFileAtomic replaces path with data so that a crash leaves either the
// old file or the new one, never a torn mix (see atomicfile.Write).
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	return atomicfile.Write(path, data, perm)
}

// resolveTarget follows a symlinked config file to the file it names, so
// an atomic write replaces that file instead of the link.
func resolveTarget(path string) (string, error) {
	target, err := filepath.EvalSymlinks(path)
	if errors.Is(err, os.ErrNotExist) {
		return path, nil
	}
	if err != nil {
		return "", fmt.Errorf("resolve %s: %w", path, err)
	}
	return target, nil
}
