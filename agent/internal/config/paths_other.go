//go:build !windows

package config

// Default locations on Unix-like hosts.
const (
	DefaultConfigFile = "/etc/redflag/agent.json"
	DefaultStateDir   = "/var/lib/redflag"
)

// DefaultPaths returns the platform's default locations.
func DefaultPaths(func(string) (string, bool)) Paths {
	return Paths{ConfigFile: DefaultConfigFile, StateDir: DefaultStateDir}
}
