package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
)

// maxFileSize bounds what Load reads; a real file is about a kilobyte.
const maxFileSize = 1 << 20

// Load reads, validates and, if it is in an older layout, migrates the
// config file at path. A migration first writes the original bytes to
// <path>.v<N>.bak (mode 0600, fsynced), then replaces path atomically;
// the returned Migration says so, and is nil when nothing was migrated,
// so calling Load again after a migration changes nothing.
//
// Hold the agent lock (package lock) while calling Load, so two processes
// never migrate the same file at once. A missing file gives an error
// matching os.ErrNotExist. An invalid file is never modified.
func Load(path string) (*Config, *Migration, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("config %s: %w", path, err)
	}
	cfg, mig, err := Parse(data)
	if err != nil {
		return nil, nil, fmt.Errorf("config %s: %w", path, err)
	}
	if mig == nil {
		return cfg, nil, nil
	}
	target, err := resolveTarget(path)
	if err != nil {
		return nil, nil, fmt.Errorf("config %s: %w", path, err)
	}
	backup, err := writeBackup(target, mig.FromVersion, data)
	if err != nil {
		return nil, nil, fmt.Errorf("config %s: migration not started: %w", path, err)
	}
	mig.BackupPath = backup
	if err := cfg.Save(target); err != nil {
		return nil, nil, fmt.Errorf("config %s: migration from schema %d failed, original kept (backup %s): %w",
			path, mig.FromVersion, backup, err)
	}
	return cfg, mig, nil
}

func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	defer func() { _ = f.Close() }()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("larger than %d bytes, not an agent config", maxFileSize)
	}
	return data, nil
}

// writeBackup stores the original bytes at <path>.v<N>.bak. If that name
// holds the same bytes (a migration that crashed before its rename) it is
// reused; if it holds other bytes (an earlier, different file) it is left
// alone and .bak.1, .bak.2, ... is used, so no backup is ever overwritten.
func writeBackup(path string, version int, data []byte) (string, error) {
	base := path + ".v" + strconv.Itoa(version) + ".bak"
	for i := 0; i < 100; i++ {
		name := base
		if i > 0 {
			name = base + "." + strconv.Itoa(i)
		}
		existing, err := os.ReadFile(name)
		switch {
		case err == nil && bytes.Equal(existing, data):
			return name, nil
		case err == nil:
			continue
		case !errors.Is(err, os.ErrNotExist):
			return "", fmt.Errorf("check backup %s: %w", name, err)
		}
		if err := writeFileAtomic(name, data, FileMode); err != nil {
			return "", fmt.Errorf("write backup %s: %w", name, err)
		}
		return name, nil
	}
	return "", fmt.Errorf("too many backups named %s.*", base)
}
