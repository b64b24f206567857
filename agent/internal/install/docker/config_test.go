package docker

import (
	"encoding/json"
	"slices"
	"testing"
)

const oldID = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// imageCfg is the old image's config: what `docker build` put there.
var imageCfg = containerConfig{
	Env:          []string{"PATH=/usr/bin:/bin", "APP_VERSION=1"},
	Cmd:          []string{"/app", "serve"},
	Labels:       map[string]string{"org.opencontainers.image.version": "1", "tier": "base"},
	ExposedPorts: map[string]json.RawMessage{"80/tcp": json.RawMessage("{}")},
	Volumes:      map[string]json.RawMessage{"/var/lib/app": json.RawMessage("{}")},
	WorkingDir:   "/srv",
	User:         "app",
}

func container(config, hostConfig string, mounts []mountPoint, networks map[string]endpointSettings) containerJSON {
	c := containerJSON{ID: oldID, Name: "/web", Config: json.RawMessage(config), HostConfig: json.RawMessage(hostConfig), Mounts: mounts}
	c.NetworkSettings.Networks = networks
	return c
}

// created decodes a spec body the way the engine would read it.
func created(t *testing.T, sp spec) (containerConfig, map[string]json.RawMessage, map[string]json.RawMessage) {
	t.Helper()
	b, err := json.Marshal(sp.body)
	if err != nil {
		t.Fatal(err)
	}
	var cfg containerConfig
	var all, host map[string]json.RawMessage
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &all); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(all["HostConfig"], &host); err != nil {
		t.Fatal(err)
	}
	return cfg, all, host
}

func TestBuildSpecKeepsWhatTheUserSet(t *testing.T) {
	old := container(`{
		"Hostname": "0123456789ab", "Domainname": "example.org",
		"Env": ["PATH=/usr/bin:/bin", "APP_VERSION=1", "MODE=prod"],
		"Cmd": ["/app", "serve", "--verbose"],
		"Image": "registry.example/app:1",
		"Labels": {"org.opencontainers.image.version": "1", "tier": "frontend", "team": "blue"},
		"ExposedPorts": {"80/tcp": {}, "9090/tcp": {}},
		"Volumes": {"/var/lib/app": {}},
		"WorkingDir": "/srv", "User": "root", "Tty": true,
		"FutureField": {"kept": true}
	}`, `{"NetworkMode": "none", "RestartPolicy": {"Name": "unless-stopped"}, "PortBindings": {"80/tcp": [{"HostPort": "8080"}]}}`, nil, nil)
	sp, err := buildSpec(old, imageCfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg, all, host := created(t, sp)
	if cfg.Hostname != "" {
		t.Errorf("the engine's default hostname (the old short ID) was kept: %q", cfg.Hostname)
	}
	if !slices.Equal(cfg.Env, []string{"MODE=prod"}) {
		t.Errorf("env = %q, want only the user's entry (the image supplies the rest)", cfg.Env)
	}
	if !slices.Equal(cfg.Cmd, []string{"/app", "serve", "--verbose"}) || cfg.Entrypoint != nil {
		t.Errorf("cmd = %q, entrypoint = %q", cfg.Cmd, cfg.Entrypoint)
	}
	if len(cfg.Labels) != 2 || cfg.Labels["tier"] != "frontend" || cfg.Labels["team"] != "blue" {
		t.Errorf("labels = %v, want the user's overrides and additions only", cfg.Labels)
	}
	if _, ok := cfg.ExposedPorts["9090/tcp"]; !ok || len(cfg.ExposedPorts) != 1 {
		t.Errorf("exposed ports = %v", cfg.ExposedPorts)
	}
	if cfg.Volumes != nil || cfg.WorkingDir != "" || cfg.User != "root" {
		t.Errorf("volumes %v, working dir %q, user %q", cfg.Volumes, cfg.WorkingDir, cfg.User)
	}
	for _, key := range []string{"Domainname", "Tty", "FutureField", "Image"} {
		if _, ok := all[key]; !ok {
			t.Errorf("%s was not carried over", key)
		}
	}
	if !sameJSON(host["PortBindings"], json.RawMessage(`{"80/tcp": [{"HostPort": "8080"}]}`)) || !sameJSON(host["RestartPolicy"], json.RawMessage(`{"Name": "unless-stopped"}`)) {
		t.Errorf("HostConfig changed: %s", all["HostConfig"])
	}
	if _, ok := all["NetworkingConfig"]; ok || len(sp.connect) != 0 {
		t.Errorf("network mode none got endpoints: %s, %+v", all["NetworkingConfig"], sp.connect)
	}
}

func TestBuildSpecEntrypointAndCommand(t *testing.T) {
	img := containerConfig{Entrypoint: []string{"/entry"}, Cmd: []string{"run"}}
	tests := []struct {
		config          string
		entrypoint, cmd []string
	}{
		// Both the image's: both follow the new image.
		{`{"Entrypoint": ["/entry"], "Cmd": ["run"]}`, nil, nil},
		// A command of the user's is kept under the image's entrypoint.
		{`{"Entrypoint": ["/entry"], "Cmd": ["debug"]}`, nil, []string{"debug"}},
		// An entrypoint of the user's keeps its command, even the image's:
		// the engine ignores the image's command once an entrypoint is set.
		{`{"Entrypoint": ["/bin/sh"], "Cmd": ["run"]}`, []string{"/bin/sh"}, []string{"run"}},
	}
	for _, tt := range tests {
		sp, err := buildSpec(container(tt.config, `{}`, nil, nil), img, nil)
		if err != nil {
			t.Fatal(err)
		}
		cfg, _, _ := created(t, sp)
		if !slices.Equal(cfg.Entrypoint, tt.entrypoint) || !slices.Equal(cfg.Cmd, tt.cmd) {
			t.Errorf("%s: entrypoint %q cmd %q, want %q %q", tt.config, cfg.Entrypoint, cfg.Cmd, tt.entrypoint, tt.cmd)
		}
	}
}

func TestBuildSpecKeepsAnonymousVolumes(t *testing.T) {
	mounts := []mountPoint{
		{Type: "volume", Name: "data", Destination: "/data", RW: true},      // -v data:/data
		{Type: "volume", Name: "f00dcafe", Destination: "/cache", RW: true}, // -v /cache
		{Type: "volume", Name: "beefbeef", Destination: "/var/lib/app"},     // the image's VOLUME, read-only
		{Type: "volume", Name: "shared", Destination: "/shared", RW: true},  // --volumes-from
		{Type: "bind", Destination: "/etc/app", RW: false},                  // -v /etc/app:/etc/app:ro
		{Type: "volume", Name: "m", Destination: "/mounted", RW: true},      // --mount
	}
	host := `{"Binds": ["data:/data", "/etc/app:/etc/app:ro"], "Mounts": [{"Type": "volume", "Source": "m", "Target": "/mounted"}], "VolumesFrom": ["other"]}`
	sp, err := buildSpec(container(`{}`, host, mounts, nil), imageCfg, []string{"/shared"})
	if err != nil {
		t.Fatal(err)
	}
	_, _, h := created(t, sp)
	var got []struct {
		Type, Source, Target string
		ReadOnly             bool
	}
	if err := json.Unmarshal(h["Mounts"], &got); err != nil {
		t.Fatal(err)
	}
	want := []struct {
		Type, Source, Target string
		ReadOnly             bool
	}{
		{"volume", "m", "/mounted", false},
		{"volume", "f00dcafe", "/cache", false},
		{"volume", "beefbeef", "/var/lib/app", true},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("mounts = %+v\nwant %+v", got, want)
	}
}

func TestBuildSpecNetworks(t *testing.T) {
	nets := map[string]endpointSettings{
		"front": {NetworkID: "aaaa", Aliases: []string{"web-alias", "0123456789ab"}, IPAMConfig: json.RawMessage(`{"IPv4Address":"10.1.0.9"}`)},
		"back":  {NetworkID: "bbbb", Aliases: []string{"api"}, Links: []string{"db:db"}},
	}
	sp, err := buildSpec(container(`{}`, `{"NetworkMode": "front"}`, nil, nets), containerConfig{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, all, _ := created(t, sp)
	var nc struct{ EndpointsConfig map[string]endpointSettings }
	if err := json.Unmarshal(all["NetworkingConfig"], &nc); err != nil {
		t.Fatal(err)
	}
	front, ok := nc.EndpointsConfig["front"]
	if len(nc.EndpointsConfig) != 1 || !ok || !slices.Equal(front.Aliases, []string{"web-alias"}) || string(front.IPAMConfig) != `{"IPv4Address":"10.1.0.9"}` {
		t.Fatalf("created on %+v", nc.EndpointsConfig)
	}
	if len(sp.connect) != 1 || sp.connect[0].network != "back" || !slices.Equal(sp.connect[0].endpoint.Aliases, []string{"api"}) || !slices.Equal(sp.connect[0].endpoint.Links, []string{"db:db"}) {
		t.Fatalf("connected later: %+v", sp.connect)
	}

	// The default bridge, named "default" in the mode.
	sp, _ = buildSpec(container(`{}`, `{"NetworkMode": "default"}`, nil, map[string]endpointSettings{"bridge": {}}), containerConfig{}, nil)
	if _, all, _ := created(t, sp); string(all["NetworkingConfig"]) != `{"EndpointsConfig":{"bridge":{}}}` {
		t.Fatalf("default bridge: %s", all["NetworkingConfig"])
	}
}

func TestSelectsAndKeys(t *testing.T) {
	u := struct{ name string }{"nginx:1.27"}
	i := Installer{}
	pending := pendingNamed(u.name)
	for name, want := range map[string]bool{
		"nginx": true, "nginx:1.27": true, "docker.io/library/nginx:1.27": true, "docker.io/library/nginx": true,
		"nginx:1.26": false, "nginx:latest": false, "library/nginx:1.27": true, "ghcr.io/nginx": false, "Nginx": false,
	} {
		if got := i.Selects(name, pending); got != want {
			t.Errorf("Selects(%q, nginx:1.27) = %v, want %v", name, got, want)
		}
	}
	if keys := i.Keys(pending); !slices.Equal(keys, []string{"nginx:1.27", "nginx", "docker.io/library/nginx:1.27"}) {
		t.Errorf("Keys = %q", keys)
	}
	local := pendingNamed("127.0.0.1:5000/redflag/web:1")
	if !i.Selects("127.0.0.1:5000/redflag/web", local) || i.Selects("127.0.0.1:5000/redflag/web:2", local) {
		t.Error("a registry port was read as a tag")
	}
}
