package docker

import "encoding/json"

// The parts of the engine's JSON the installer reads. Config and
// HostConfig are also kept raw, so fields this file does not name (and
// fields of engines newer than it) pass through a recreation untouched.

// containerSummary is an entry of GET /containers/json.
type containerSummary struct {
	ID string `json:"Id"`
}

// containerJSON is GET /containers/{id}/json.
type containerJSON struct {
	ID    string `json:"Id"`
	Name  string
	Image string // the image ID
	State struct {
		Status     string
		Running    bool
		Restarting bool
		ExitCode   int
		Error      string
		Health     *struct{ Status string }
	}
	// RestartCount grows when the engine restarts a crashing container.
	RestartCount    int
	Config          json.RawMessage
	HostConfig      json.RawMessage
	NetworkSettings struct {
		Networks map[string]endpointSettings
	}
	Mounts []mountPoint
}

// containerConfig is the typed view of a Config (a container's or an
// image's) the installer compares.
type containerConfig struct {
	Hostname     string
	Image        string
	Env          []string
	Cmd          []string
	Entrypoint   []string
	Labels       map[string]string
	ExposedPorts map[string]json.RawMessage
	Volumes      map[string]json.RawMessage
	WorkingDir   string
	User         string
	StopSignal   string
	StopTimeout  *int
	Healthcheck  json.RawMessage
}

// hostConfig is the typed view of a HostConfig.
type hostConfig struct {
	NetworkMode string
	AutoRemove  bool
	Binds       []string
	Mounts      []struct{ Target string }
	VolumesFrom []string
}

// endpointSettings is one network of a container.
type endpointSettings struct {
	IPAMConfig json.RawMessage   `json:",omitempty"`
	Links      []string          `json:",omitempty"`
	Aliases    []string          `json:",omitempty"`
	NetworkID  string            `json:",omitempty"`
	DriverOpts map[string]string `json:",omitempty"`
}

// mountPoint is an entry of a container's Mounts.
type mountPoint struct {
	Type        string
	Name        string
	Destination string
	RW          bool
}

// imageJSON is GET /images/{name}/json.
type imageJSON struct {
	ID          string `json:"Id"`
	RepoDigests []string
	Config      containerConfig
}
