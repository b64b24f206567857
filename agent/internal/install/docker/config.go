package docker

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// shortIDLen is the length of the short container ID the engine uses as
// default hostname and alias.
const shortIDLen = 12

// spec is how to create a container's replacement.
type spec struct {
	// body is the POST /containers/create body: the Config fields at the
	// top level, then HostConfig and NetworkingConfig.
	body map[string]json.RawMessage
	// connect are the networks to connect before the first start; only
	// one can be given at creation on engines before API 1.44.
	connect []networkConnect
}

type networkConnect struct {
	network  string
	endpoint endpointSettings
}

// buildSpec derives the replacement of old: its own Config without the
// defaults oldImage supplied, its HostConfig with its anonymous volumes
// mounted by name, and its networks. covered lists mount destinations
// that come from elsewhere (--volumes-from) and must not be mounted
// again.
func buildSpec(old containerJSON, oldImage containerConfig, covered []string) (spec, error) {
	cfg, err := ownConfig(old, oldImage)
	if err != nil {
		return spec{}, err
	}
	var hraw map[string]json.RawMessage
	var hc hostConfig
	if err := json.Unmarshal(old.HostConfig, &hraw); err != nil {
		return spec{}, fmt.Errorf("container %s: reading HostConfig: %w", old.ID, err)
	}
	if err := json.Unmarshal(old.HostConfig, &hc); err != nil {
		return spec{}, fmt.Errorf("container %s: reading HostConfig: %w", old.ID, err)
	}
	if hraw == nil { // "null"
		hraw = map[string]json.RawMessage{}
	}
	if err := keepAnonymousVolumes(hraw, hc, old.Mounts, covered); err != nil {
		return spec{}, err
	}
	cfg["HostConfig"] = mustJSON(hraw)
	endpoints, connect := networks(old, hc)
	if len(endpoints) > 0 {
		cfg["NetworkingConfig"] = mustJSON(map[string]any{"EndpointsConfig": endpoints})
	}
	return spec{body: cfg, connect: connect}, nil
}

// ownConfig returns old's Config as the user created it: an environment
// entry, label, exposed port, volume, working directory, user, stop
// signal or health check equal to the old image's is the image's
// default, so it is dropped for the new image's own. The entrypoint is
// dropped when it is the image's, and the command too when both are:
// an entrypoint given at creation makes the engine ignore the image's
// command, so a kept entrypoint keeps its command. A hostname that is
// the old container's short ID (the engine's default) is dropped too.
func ownConfig(old containerJSON, img containerConfig) (map[string]json.RawMessage, error) {
	var raw map[string]json.RawMessage
	var cfg containerConfig
	if err := json.Unmarshal(old.Config, &raw); err != nil {
		return nil, fmt.Errorf("container %s: reading Config: %w", old.ID, err)
	}
	if err := json.Unmarshal(old.Config, &cfg); err != nil {
		return nil, fmt.Errorf("container %s: reading Config: %w", old.ID, err)
	}
	if raw == nil { // "null"
		raw = map[string]json.RawMessage{}
	}
	if len(cfg.Hostname) == shortIDLen && strings.HasPrefix(old.ID, cfg.Hostname) {
		delete(raw, "Hostname")
	}
	setOrDelete(raw, "Env", without(cfg.Env, img.Env))
	labels := maps.Clone(cfg.Labels)
	maps.DeleteFunc(labels, func(k, v string) bool { iv, ok := img.Labels[k]; return ok && iv == v })
	setOrDelete(raw, "Labels", labels)
	if slices.Equal(cfg.Entrypoint, img.Entrypoint) {
		delete(raw, "Entrypoint")
		if slices.Equal(cfg.Cmd, img.Cmd) {
			delete(raw, "Cmd")
		}
	}
	setOrDelete(raw, "ExposedPorts", withoutKeys(cfg.ExposedPorts, img.ExposedPorts))
	setOrDelete(raw, "Volumes", withoutKeys(cfg.Volumes, img.Volumes))
	for key, same := range map[string]bool{
		"WorkingDir":  cfg.WorkingDir == img.WorkingDir,
		"User":        cfg.User == img.User,
		"StopSignal":  cfg.StopSignal == img.StopSignal,
		"Healthcheck": sameJSON(cfg.Healthcheck, img.Healthcheck),
	} {
		if same {
			delete(raw, key)
		}
	}
	return raw, nil
}

// keepAnonymousVolumes mounts each volume old used but did not name in
// its Binds or Mounts (an anonymous volume, from -v /path or the image's
// VOLUME) explicitly by name, so the replacement gets the same data
// instead of a fresh empty volume.
func keepAnonymousVolumes(hraw map[string]json.RawMessage, hc hostConfig, mounts []mountPoint, covered []string) error {
	done := map[string]bool{}
	for _, d := range covered {
		done[d] = true
	}
	for _, b := range hc.Binds {
		if parts := strings.Split(b, ":"); len(parts) >= 2 {
			done[parts[1]] = true
		}
	}
	for _, m := range hc.Mounts {
		done[m.Target] = true
	}
	var extra []map[string]any
	for _, m := range mounts {
		if m.Type != "volume" || m.Name == "" || done[m.Destination] {
			continue
		}
		extra = append(extra, map[string]any{"Type": "volume", "Source": m.Name, "Target": m.Destination, "ReadOnly": !m.RW})
		done[m.Destination] = true
	}
	if len(extra) == 0 {
		return nil
	}
	var all []json.RawMessage
	if b, ok := hraw["Mounts"]; ok && !bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		if err := json.Unmarshal(b, &all); err != nil {
			return fmt.Errorf("reading HostConfig.Mounts: %w", err)
		}
	}
	for _, e := range extra {
		all = append(all, mustJSON(e))
	}
	hraw["Mounts"] = mustJSON(all)
	return nil
}

// networks splits old's networks into the one given at creation (its
// network mode's) and the others, to connect before the first start.
// Host, none and container:<id> modes take no endpoint. The alias the
// engine gave the old container (its short ID) is not carried over.
func networks(old containerJSON, hc hostConfig) (map[string]endpointSettings, []networkConnect) {
	mode := hc.NetworkMode
	if mode == "" || mode == "default" {
		mode = "bridge"
	}
	if mode == "host" || mode == "none" || strings.HasPrefix(mode, "container:") {
		return nil, nil
	}
	names := slices.Sorted(maps.Keys(old.NetworkSettings.Networks))
	primary := ""
	for _, n := range names {
		ep := old.NetworkSettings.Networks[n]
		if n == mode || ep.NetworkID != "" && strings.HasPrefix(ep.NetworkID, mode) {
			primary = n
			break
		}
	}
	endpoints := map[string]endpointSettings{}
	var connect []networkConnect
	for _, n := range names {
		ep := old.NetworkSettings.Networks[n]
		ep.NetworkID = ""
		ep.Aliases = slices.DeleteFunc(slices.Clone(ep.Aliases), func(a string) bool {
			return len(a) >= shortIDLen && strings.HasPrefix(old.ID, a)
		})
		if n == primary {
			endpoints[n] = ep
		} else {
			connect = append(connect, networkConnect{network: n, endpoint: ep})
		}
	}
	return endpoints, connect
}

func without(list, drop []string) []string {
	var out []string
	for _, s := range list {
		if !slices.Contains(drop, s) {
			out = append(out, s)
		}
	}
	return out
}

func withoutKeys(m, drop map[string]json.RawMessage) map[string]json.RawMessage {
	out := maps.Clone(m)
	maps.DeleteFunc(out, func(k string, _ json.RawMessage) bool { _, ok := drop[k]; return ok })
	return out
}

// setOrDelete sets raw[key] to v, or removes key when v is empty, so the
// image's value applies.
func setOrDelete[T any](raw map[string]json.RawMessage, key string, v T) {
	b := mustJSON(v)
	switch string(b) {
	case "null", "[]", "{}":
		delete(raw, key)
	default:
		raw[key] = b
	}
}

// sameJSON compares two JSON values, absent and null being the same.
func sameJSON(a, b json.RawMessage) bool {
	norm := func(r json.RawMessage) string {
		var v any
		if len(bytes.TrimSpace(r)) == 0 || json.Unmarshal(r, &v) != nil || v == nil {
			return "null"
		}
		out, _ := json.Marshal(v) // re-encoding a decoded value cannot fail
		return string(out)
	}
	return norm(a) == norm(b)
}

// mustJSON encodes values built from decoded JSON, which always encode.
func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage("null")
	}
	return b
}
