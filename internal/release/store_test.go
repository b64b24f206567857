package release

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

func TestPublishWritesBinaryAndSignedManifest(t *testing.T) {
	pub, priv := newKey(t)
	dir := t.TempDir()
	m := publish(t, dir, priv, "1.4.0", "linux", "arm64", "agent bytes")

	bin, err := os.ReadFile(filepath.Join(dir, "v1.4.0", "linux-arm64", "redflag-agent"))
	if err != nil || string(bin) != "agent bytes" {
		t.Fatalf("published binary: %q, %v", bin, err)
	}
	sum := sha256.Sum256(bin)
	data, err := os.ReadFile(filepath.Join(dir, "v1.4.0", "linux-arm64", "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := Verify(data, pub)
	if err != nil {
		t.Fatalf("the published manifest does not verify: %v", err)
	}
	want := Manifest{Version: "v1.4.0", OS: "linux", Arch: "arm64", Size: int64(len(bin)), SHA256: hex.EncodeToString(sum[:]), File: "redflag-agent"}
	if got != want || m != want {
		t.Errorf("manifest %+v (returned %+v), want %+v", got, m, want)
	}
	if fi, err := os.Stat(filepath.Join(dir, "v1.4.0", "linux-arm64", "redflag-agent")); err == nil && runtime.GOOS != "windows" && fi.Mode().Perm()&0o111 == 0 {
		t.Errorf("published binary mode %v is not executable", fi.Mode())
	}
}

func TestPublishWindowsUsesExe(t *testing.T) {
	_, priv := newKey(t)
	dir := t.TempDir()
	m := publish(t, dir, priv, "v1.0.0", "windows", "amd64", "MZ")
	if m.File != "redflag-agent.exe" {
		t.Errorf("file %q", m.File)
	}
	if _, err := os.Stat(filepath.Join(dir, "v1.0.0", "windows-amd64", "redflag-agent.exe")); err != nil {
		t.Error(err)
	}
}

func TestPublishRefusesToReplaceUnlessAsked(t *testing.T) {
	_, priv := newKey(t)
	dir := t.TempDir()
	publish(t, dir, priv, "v1.0.0", "linux", "amd64", "first")
	bin := filepath.Join(t.TempDir(), "bin")
	_ = os.WriteFile(bin, []byte("second"), 0o755)
	o := PublishOptions{Dir: dir, Binary: bin, Version: "v1.0.0", OS: "linux", Arch: "amd64", Key: priv}
	if _, err := Publish(o); !errors.Is(err, ErrExists) {
		t.Fatalf("second publish: %v, want ErrExists", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "v1.0.0", "linux-amd64", "redflag-agent")); string(b) != "first" {
		t.Errorf("refused publish still changed the binary to %q", b)
	}
	o.Replace = true
	if _, err := Publish(o); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "v1.0.0", "linux-amd64", "redflag-agent")); string(b) != "second" {
		t.Errorf("replace left %q", b)
	}
}

func TestPublishRefusals(t *testing.T) {
	_, priv := newKey(t)
	empty := filepath.Join(t.TempDir(), "empty")
	_ = os.WriteFile(empty, nil, 0o755)
	good := filepath.Join(t.TempDir(), "good")
	_ = os.WriteFile(good, []byte("x"), 0o755)
	for name, o := range map[string]PublishOptions{
		"bad version":    {Binary: good, Version: "latest", OS: "linux", Arch: "amd64", Key: priv},
		"bad os":         {Binary: good, Version: "v1.0.0", OS: "../x", Arch: "amd64", Key: priv},
		"no key":         {Binary: good, Version: "v1.0.0", OS: "linux", Arch: "amd64"},
		"empty binary":   {Binary: empty, Version: "v1.0.0", OS: "linux", Arch: "amd64", Key: priv},
		"missing binary": {Binary: empty + "-missing", Version: "v1.0.0", OS: "linux", Arch: "amd64", Key: priv},
	} {
		o.Dir = t.TempDir()
		if _, err := Publish(o); err == nil {
			t.Errorf("%s: Publish succeeded", name)
		}
		if _, err := os.Stat(filepath.Join(o.Dir, "v1.0.0", "linux-amd64", "manifest.json")); err == nil {
			t.Errorf("%s: a manifest was written", name)
		}
	}
}

func TestLatest(t *testing.T) {
	_, priv := newKey(t)
	dir := t.TempDir()
	if _, err := Latest(dir, "linux", "amd64"); !errors.Is(err, ErrNotFound) {
		t.Errorf("empty store: %v, want ErrNotFound", err)
	}
	publish(t, dir, priv, "v1.2.0", "linux", "amd64", "1.2.0")
	publish(t, dir, priv, "v1.10.0", "linux", "amd64", "1.10.0") // 1.10 > 1.9 > 1.2: semver, not string order
	publish(t, dir, priv, "v1.9.0", "linux", "amd64", "1.9.0")
	publish(t, dir, priv, "v2.0.0-rc.1", "linux", "amd64", "rc")  // prereleases are not latest
	publish(t, dir, priv, "v3.0.0", "linux", "arm64", "other")    // other platform
	publish(t, dir, priv, "v4.0.0", "linux", "amd64", "no-manif") // incomplete: manifest removed below
	_ = os.Remove(filepath.Join(dir, "v4.0.0", "linux-amd64", "manifest.json"))
	_ = os.MkdirAll(filepath.Join(dir, "not-a-version", "linux-amd64"), 0o755)

	if v, err := Latest(dir, "linux", "amd64"); err != nil || v != "v1.10.0" {
		t.Errorf("Latest = %q, %v; want v1.10.0", v, err)
	}
	if v, err := Latest(dir, "linux", "arm64"); err != nil || v != "v3.0.0" {
		t.Errorf("Latest arm64 = %q, %v; want v3.0.0", v, err)
	}
	if _, err := Latest(dir, "darwin", "arm64"); !errors.Is(err, ErrNotFound) {
		t.Errorf("no darwin release: %v, want ErrNotFound", err)
	}
	if _, err := Latest(filepath.Join(dir, "missing"), "linux", "amd64"); err == nil {
		t.Error("a missing store has a latest release")
	}
}
