//go:build windows

package config

import "path/filepath"

// DefaultPaths returns the platform's default locations: both under
// %ProgramData%\RedFlag, the machine-wide data folder services use.
func DefaultPaths(lookupEnv func(string) (string, bool)) Paths {
	root := `C:\ProgramData`
	if lookupEnv != nil {
		if v, ok := lookupEnv("ProgramData"); ok && v != "" {
			root = v
		}
	}
	dir := filepath.Join(root, "RedFlag")
	return Paths{ConfigFile: filepath.Join(dir, "agent.json"), StateDir: filepath.Join(dir, "state")}
}
