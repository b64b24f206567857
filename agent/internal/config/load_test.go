package config

import (
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Key material of testdata/v1-agent.json, as the old agent stored it.
const (
	v1PrivateHex = "5f34fc643010d3da937a096f4e8d66dcc5cf29197339c88a5882eeaa7365b964d9e08608607e6bb3317fafeb44d9c73d3f0354f1ce3f54654446d7c105496150"
	v1PublicHex  = "d9e08608607e6bb3317fafeb44d9c73d3f0354f1ce3f54654446d7c105496150"
)

func TestLoadCurrentVersion(t *testing.T) {
	path := installFixture(t, "v2-agent.json", 0o600)
	before := readBytes(t, path)

	cfg, mig, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if mig != nil {
		t.Errorf("migration %v reported for a current file", mig)
	}
	assertUnchanged(t, path, before)
	if cfg.AgentName != "web-01" || cfg.Namespace != "fleet-eu" || cfg.Labels["env"] != "prod" {
		t.Errorf("fields not read: %+v", cfg)
	}
	if got := cfg.CheckInDuration().String(); got != "1m0s" {
		t.Errorf("CheckInDuration = %s", got)
	}
	if u, err := cfg.ProxyURL(); err != nil || u.Scheme != "socks5" {
		t.Errorf("ProxyURL = %v, %v", u, err)
	}
	if k, err := cfg.ReleaseKey(); err != nil || len(k) != ed25519.PublicKeySize {
		t.Errorf("ReleaseKey = %x, %v", k, err)
	}
	if k, err := cfg.WorkKey(); err != nil || len(k) != ed25519.PublicKeySize {
		t.Errorf("WorkKey = %x, %v", k, err)
	}
	if err := cfg.Registered(); err != nil {
		t.Errorf("Registered: %v", err)
	}
}

func TestLoadMigratesV1InPlace(t *testing.T) {
	path := installFixture(t, "v1-agent.json", 0o644)
	original := readBytes(t, path)

	cfg, mig, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}

	// The caller's ConfigMigrated event needs these.
	if mig == nil || mig.FromVersion != 1 || mig.ToVersion != 2 {
		t.Fatalf("migration = %v, want 1 -> 2", mig)
	}
	if mig.BackupPath != path+".v1.bak" {
		t.Errorf("backup path %q", mig.BackupPath)
	}
	wantDropped := []string{"display_name", "metadata.owner team", "network", "organization",
		"proxy.no_proxy", "refresh_token", "tags", "token"}
	if !slices.Equal(mig.Dropped, wantDropped) {
		t.Errorf("dropped %q, want %q", mig.Dropped, wantDropped)
	}
	if s := mig.String(); strings.Contains(s, "s3cret") || strings.Contains(s, "eyJ") {
		t.Errorf("migration summary leaks a secret: %s", s)
	}

	// The backup holds the original bytes, private like the config.
	if got := readBytes(t, mig.BackupPath); string(got) != string(original) {
		t.Error("backup does not hold the original bytes")
	}
	assertMode(t, mig.BackupPath, 0o600)
	assertMode(t, path, 0o600)

	// Identity is unchanged.
	if cfg.AgentName != "6f1c2a7e-3b4d-4e5f-9a8b-7c6d5e4f3a2b" {
		t.Errorf("agent name %q", cfg.AgentName)
	}
	if cfg.MachineID != "4c4c4544004a3510804cb4c04f4d3732" {
		t.Errorf("machine ID %q", cfg.MachineID)
	}
	oldKey, _ := hex.DecodeString(v1PrivateHex)
	key, err := cfg.Ed25519PrivateKey()
	if err != nil || !key.Equal(ed25519.PrivateKey(oldKey)) {
		t.Errorf("private key changed: %x, %v", key, err)
	}
	oldPub, _ := hex.DecodeString(v1PublicHex)
	pub, err := cfg.Ed25519PublicKey()
	if err != nil || !pub.Equal(ed25519.PublicKey(oldPub)) {
		t.Errorf("public key changed: %x, %v", pub, err)
	}
	// What the server knows (the old public key) still verifies.
	msg := []byte("POST /api/v1/checkin")
	if !ed25519.Verify(oldPub, msg, ed25519.Sign(key, msg)) {
		t.Error("signature with the migrated key does not verify with the old public key")
	}

	// Settings carried over.
	for _, c := range []struct{ field, got, want string }{
		{"serverURL", cfg.ServerURL, "https://redflag.example.com:8443"},
		{"caFile", cfg.CAFile, "/etc/redflag/ca.pem"},
		{"checkInInterval", cfg.CheckInInterval, "5m0s"},
		{"proxy", cfg.Proxy, "http://svc-redflag:s3cret@proxy.corp.example:3128"},
		{"logLevel", cfg.LogLevel, "info"},
		{"labels.rack", cfg.Labels["rack"], "b12"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.field, c.got, c.want)
		}
	}

	// The file on disk is now the current layout and loads as such.
	migrated := readBytes(t, path)
	if !strings.Contains(string(migrated), `"schemaVersion": 2`) {
		t.Errorf("file not rewritten in schema 2:\n%s", migrated)
	}
	again, mig2, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if mig2 != nil {
		t.Errorf("second Load migrated again: %v", mig2)
	}
	if again.AgentName != cfg.AgentName || again.PrivateKey != cfg.PrivateKey || again.MachineID != cfg.MachineID {
		t.Error("second Load read a different identity")
	}
	assertUnchanged(t, path, migrated)
	assertUnchanged(t, mig.BackupPath, original)
	if names := dirNames(t, filepath.Dir(path)); !slices.Equal(names, []string{"agent.json", "agent.json.v1.bak"}) {
		t.Errorf("directory holds %q, want only the config and one backup", names)
	}
}

func TestLoadMigratesOddV1Values(t *testing.T) {
	path := installFixture(t, "v1-seed-only.json", 0o600)
	cfg, mig, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.AgentName != "2c0b5a1e-8f3d-4a6b-9c7e-1d2f3a4b5c6d" {
		t.Errorf("agent name %q, want the UUID in lower case", cfg.AgentName)
	}
	if cfg.MachineID != "0f3e5b8a9c2d4e6f8a1b3c5d7e9f1a2b" {
		t.Errorf("machine ID %q, want it trimmed", cfg.MachineID)
	}
	if cfg.CheckInInterval != "1h0m0s" {
		t.Errorf("interval %q, want it clamped to 1h", cfg.CheckInInterval)
	}
	if cfg.LogLevel != "warn" {
		t.Errorf("log level %q", cfg.LogLevel)
	}
	// The old default http://localhost:8080 cannot be used; the identity
	// must survive anyway.
	if cfg.ServerURL != "" || !slices.Contains(mig.Dropped, "server_url") {
		t.Errorf("serverURL %q, dropped %q", cfg.ServerURL, mig.Dropped)
	}
	// A seed-only file gets its public key derived.
	oldPub, _ := hex.DecodeString(v1PublicHex)
	if pub, err := cfg.Ed25519PublicKey(); err != nil || !pub.Equal(ed25519.PublicKey(oldPub)) {
		t.Errorf("public key %x, %v", pub, err)
	}
}

func TestLoadRefusesBadFilesWithoutTouchingThem(t *testing.T) {
	tests := []struct {
		name    string
		fixture string // from testdata, or
		content string // written as is
		want    []string
		is      error
	}{
		{name: "not JSON", fixture: "garbage.conf", want: []string{"invalid JSON at line 1, column 1"}},
		{name: "truncated", content: `{"schemaVersion": 2, "agentName": "web-01"`, want: []string{"invalid JSON at line 1, column 42"}},
		{name: "newer agent", fixture: "newer-schema.json", want: []string{"schemaVersion 3", "written by a newer agent", "up to 2"}, is: ErrNewerSchema},
		{name: "v1 with bad key", fixture: "v1-bad-key.json", want: []string{`field "private_key"`, "decodes to 31 bytes"}},
		{name: "empty", content: "  \n", want: []string{"file is empty"}},
		{name: "array", content: `[1,2]`, want: []string{"want a JSON object"}},
		{name: "null", content: `null`, want: []string{"want a JSON object"}},
		{name: "unrelated JSON", content: `{"name": "x"}`, want: []string{`field "schemaVersion"`, "missing"}},
		{name: "version not a number", content: `{"schemaVersion": "two"}`, want: []string{`field "schemaVersion"`, "not an integer"}},
		{name: "version zero", content: `{"schemaVersion": 0}`, want: []string{`field "schemaVersion"`}},
		{name: "wrong type", content: `{"schemaVersion": 2, "labels": "web"}`, want: []string{`field "labels"`, "want map[string]string"}},
		{name: "short public key", content: `{"schemaVersion": 2, "privateKey": "1BOPIUXc/dsdKVELmm7DN8L3hv25hq63eVD66DbU2Jk=", "publicKey": "k7QP3pt6S/Cadi3VnYA3k+7suQyQTbKUrF/uroj1+A=="}`,
			want: []string{`field "publicKey"`, "decodes to 31 bytes, want 32"}},
		{name: "plain http server", content: `{"schemaVersion": 2, "serverURL": "http://gw.example.com"}`, want: []string{`field "serverURL"`, "https://"}},
		{name: "too large", content: `{"schemaVersion": 2, "x": "` + strings.Repeat("a", maxFileSize) + `"}`, want: []string{"larger than"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var path string
			if tt.fixture != "" {
				path = installFixture(t, tt.fixture, 0o640)
			} else {
				path = filepath.Join(t.TempDir(), "agent.json")
				if err := os.WriteFile(path, []byte(tt.content), 0o640); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(path, 0o640); err != nil {
					t.Fatal(err)
				}
			}
			before := readBytes(t, path)

			cfg, mig, err := Load(path)
			if err == nil {
				t.Fatalf("Load succeeded: %+v %v", cfg, mig)
			}
			msg := err.Error()
			if !strings.Contains(msg, path) {
				t.Errorf("error does not name the file: %s", msg)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not contain %q", msg, w)
				}
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error is not %v", tt.is)
			}
			assertUnchanged(t, path, before)
			assertMode(t, path, 0o640)
			if names := dirNames(t, filepath.Dir(path)); !slices.Equal(names, []string{"agent.json"}) {
				t.Errorf("directory holds %q after a refused load", names)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, _, err := Load(filepath.Join(t.TempDir(), "agent.json"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("error %v does not match os.ErrNotExist", err)
	}
}

func TestMigrationNeverOverwritesAnotherBackup(t *testing.T) {
	path := installFixture(t, "v1-agent.json", 0o600)
	older := []byte(`{"agent_id": "some-earlier-file"}`)
	if err := os.WriteFile(path+".v1.bak", older, 0o600); err != nil {
		t.Fatal(err)
	}
	_, mig, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if mig.BackupPath != path+".v1.bak.1" {
		t.Errorf("backup written to %s", mig.BackupPath)
	}
	assertUnchanged(t, path+".v1.bak", older)
}

func TestMigrationResumesAfterCrashBeforeRename(t *testing.T) {
	// A crash after the backup but before the rename leaves the old file
	// and an identical backup; the next start must finish the job without
	// piling up backups.
	path := installFixture(t, "v1-agent.json", 0o600)
	original := readBytes(t, path)
	if err := os.WriteFile(path+".v1.bak", original, 0o600); err != nil {
		t.Fatal(err)
	}
	_, mig, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if mig.BackupPath != path+".v1.bak" {
		t.Errorf("backup written to %s", mig.BackupPath)
	}
	if names := dirNames(t, filepath.Dir(path)); !slices.Equal(names, []string{"agent.json", "agent.json.v1.bak"}) {
		t.Errorf("directory holds %q", names)
	}
}

func TestMigrationFollowsSymlink(t *testing.T) {
	real := installFixture(t, "v1-agent.json", 0o600)
	link := filepath.Join(t.TempDir(), "agent.json")
	if err := os.Symlink(real, link); err != nil {
		t.Skip("symlinks unavailable:", err)
	}
	if _, _, err := Load(link); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Lstat(link); err != nil || st.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the link was replaced by a file")
	}
	if !strings.Contains(string(readBytes(t, real)), `"schemaVersion": 2`) {
		t.Error("the link's target was not migrated")
	}
	if _, err := os.Stat(real + ".v1.bak"); err != nil {
		t.Errorf("backup not beside the target: %v", err)
	}
}
