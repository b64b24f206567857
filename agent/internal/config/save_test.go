package config

import (
	"crypto/ed25519"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
)

func newRegistered(t *testing.T) *Config {
	t.Helper()
	cfg := New()
	cfg.ServerURL = "https://gw.example.com"
	cfg.AgentName = "db-02"
	cfg.Namespace = "fleet"
	cfg.MachineID = "0f3e5b8a9c2d4e6f8a1b3c5d7e9f1a2b"
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.SetKey(key); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestSaveWritesPrivateFileThatLoadsBack(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "etc", "redflag")
	path := filepath.Join(dir, "agent.json")
	cfg := newRegistered(t)
	cfg.Labels = map[string]string{"env": "prod"}

	if err := cfg.Save(path); err != nil {
		t.Fatal(err)
	}
	assertMode(t, path, 0o600)
	assertMode(t, dir, 0o700)

	got, mig, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if mig != nil || !reflect.DeepEqual(got, cfg) {
		t.Errorf("round trip changed the config:\n got %+v\nwant %+v", got, cfg)
	}
	key, _ := cfg.Ed25519PrivateKey()
	key2, _ := got.Ed25519PrivateKey()
	if !key.Equal(key2) {
		t.Error("key changed across Save/Load")
	}
}

func TestSaveReplacesLooseFileAndLeavesNoTemporaries(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agent.json")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := newRegistered(t).Save(path); err != nil {
		t.Fatal(err)
	}
	assertMode(t, path, 0o600)
	if names := dirNames(t, filepath.Dir(path)); !slices.Equal(names, []string{"agent.json"}) {
		t.Errorf("directory holds %q", names)
	}
}

func TestSaveRefusesInvalidConfig(t *testing.T) {
	path := installFixture(t, "v2-agent.json", 0o600)
	before := readBytes(t, path)
	cfg := newRegistered(t)
	cfg.ServerURL = "gw.example.com" // no scheme
	if err := cfg.Save(path); err == nil {
		t.Fatal("Save wrote an invalid config")
	}
	assertUnchanged(t, path, before)
}

func TestSaveAlwaysWritesCurrentSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agent.json")
	cfg := &Config{AgentName: "x"} // built without New
	if err := cfg.Save(path); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(readBytes(t, path), &m); err != nil {
		t.Fatal(err)
	}
	if m["schemaVersion"] != float64(CurrentSchemaVersion) {
		t.Errorf("schemaVersion %v written", m["schemaVersion"])
	}
}

func TestUnknownFieldsSurviveSave(t *testing.T) {
	// An agent rolled back to an older build of schema 2 must not strip
	// the fields the newer build added.
	path := installFixture(t, "v2-future-fields.json", 0o600)
	cfg, _, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg.LogLevel = "debug"
	if err := cfg.Save(path); err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(readBytes(t, path), &m); err != nil {
		t.Fatal(err)
	}
	if string(m["outboxMaxBytes"]) != "10485760" {
		t.Errorf("outboxMaxBytes = %s", m["outboxMaxBytes"])
	}
	var scanners map[string]map[string]bool
	if err := json.Unmarshal(m["scanners"], &scanners); err != nil || scanners["docker"]["enabled"] {
		t.Errorf("scanners = %s (%v)", m["scanners"], err)
	}
	if string(m["logLevel"]) != `"debug"` {
		t.Errorf("logLevel = %s", m["logLevel"])
	}
}
