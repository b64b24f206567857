package config

import (
	"fmt"
	"path/filepath"
)

// Environment variables that move the config file and state directory
// when no flag does.
const (
	EnvConfig   = "REDFLAG_CONFIG"
	EnvStateDir = "REDFLAG_STATE_DIR"
)

// Paths are where the agent keeps its files.
type Paths struct {
	// ConfigFile is the agent.json path.
	ConfigFile string
	// StateDir holds the lock file, outbox and downloads.
	StateDir string
}

// ResolvePaths picks each path from, in order, its flag value, its
// environment variable (read through lookupEnv, normally os.LookupEnv) and
// the platform default. Empty values count as unset. The results are
// absolute: the service's working directory is not the shell's.
func ResolvePaths(configFlag, stateDirFlag string, lookupEnv func(string) (string, bool)) (Paths, error) {
	def := DefaultPaths(lookupEnv)
	p := Paths{
		ConfigFile: pick(configFlag, EnvConfig, def.ConfigFile, lookupEnv),
		StateDir:   pick(stateDirFlag, EnvStateDir, def.StateDir, lookupEnv),
	}
	var err error
	if p.ConfigFile, err = filepath.Abs(p.ConfigFile); err != nil {
		return Paths{}, fmt.Errorf("config file path: %w", err)
	}
	if p.StateDir, err = filepath.Abs(p.StateDir); err != nil {
		return Paths{}, fmt.Errorf("state directory path: %w", err)
	}
	return p, nil
}

func pick(flag, env, def string, lookupEnv func(string) (string, bool)) string {
	if flag != "" {
		return flag
	}
	if lookupEnv != nil {
		if v, ok := lookupEnv(env); ok && v != "" {
			return v
		}
	}
	return def
}
