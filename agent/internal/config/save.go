package config

import (
	"fmt"
	"os"
	"path/filepath"
)

// Save validates c and writes it to path atomically with mode 0600, in the
// current schema whatever version c was read as. It creates the parent
// directory (mode 0700) if needed. It never writes a config that Load
// would refuse.
func (c *Config) Save(path string) error {
	out := *c
	out.SchemaVersion = CurrentSchemaVersion
	if err := out.Validate(); err != nil {
		return fmt.Errorf("config %s: not saved: %w", path, err)
	}
	data, err := out.encode()
	if err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	target, err := resolveTarget(path)
	if err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
		return fmt.Errorf("config %s: create directory: %w", path, err)
	}
	if err := writeFileAtomic(target, data, FileMode); err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	c.SchemaVersion = CurrentSchemaVersion
	return nil
}
