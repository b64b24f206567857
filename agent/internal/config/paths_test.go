package config

import (
	"os"
	"path/filepath"
	"testing"
)

func TestResolvePaths(t *testing.T) {
	cwd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	env := func(vars map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
	}
	def := DefaultPaths(nil)
	tests := []struct {
		name            string
		configFlag      string
		stateFlag       string
		env             map[string]string
		wantCfg, wantSt string
	}{
		{"defaults", "", "", nil, def.ConfigFile, def.StateDir},
		{"environment", "", "", map[string]string{EnvConfig: "/opt/rf/agent.json", EnvStateDir: "/opt/rf/state"}, "/opt/rf/agent.json", "/opt/rf/state"},
		{"flags beat environment", "/srv/a.json", "/srv/state", map[string]string{EnvConfig: "/opt/x.json", EnvStateDir: "/opt/s"}, "/srv/a.json", "/srv/state"},
		{"empty variable is unset", "", "", map[string]string{EnvConfig: "", EnvStateDir: ""}, def.ConfigFile, def.StateDir},
		{"relative made absolute", "conf/agent.json", "", map[string]string{EnvStateDir: "state"}, filepath.Join(cwd, "conf/agent.json"), filepath.Join(cwd, "state")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ResolvePaths(tt.configFlag, tt.stateFlag, env(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			want := Paths{ConfigFile: filepath.Clean(tt.wantCfg), StateDir: filepath.Clean(tt.wantSt)}
			if got != want {
				t.Errorf("got %+v, want %+v", got, want)
			}
		})
	}
}

func TestDefaultPathsOnLinux(t *testing.T) {
	if p := DefaultPaths(os.LookupEnv); p.ConfigFile != "/etc/redflag/agent.json" || p.StateDir != "/var/lib/redflag" {
		t.Errorf("defaults %+v", p)
	}
}
