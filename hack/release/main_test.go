package main

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/redflag-io/redflag/internal/release"
)

func runTool(args ...string) (string, string, int) {
	var stdout, stderr bytes.Buffer
	code := run(args, &stdout, &stderr)
	return stdout.String(), stderr.String(), code
}

func TestKeygenSignVerify(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "release.key")
	out, errOut, code := runTool("keygen", "--private-key", keyFile)
	if code != 0 {
		t.Fatalf("keygen exit %d: %s", code, errOut)
	}
	pub, err := base64.StdEncoding.DecodeString(strings.TrimSpace(out))
	if err != nil || len(pub) != ed25519.PublicKeySize {
		t.Fatalf("keygen printed %q, want a base64 public key", out)
	}
	if fi, err := os.Stat(keyFile); err != nil || (runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600) {
		t.Fatalf("key file: %v, %v; want mode 0600", fi, err)
	}
	// A second keygen must not overwrite the key.
	before, _ := os.ReadFile(keyFile)
	if _, _, code := runTool("keygen", "--private-key", keyFile); code != 1 {
		t.Errorf("keygen over an existing key: exit %d, want 1", code)
	}
	if after, _ := os.ReadFile(keyFile); !bytes.Equal(before, after) {
		t.Error("keygen overwrote an existing key")
	}

	bin := filepath.Join(dir, "redflag-agent")
	if err := os.WriteFile(bin, []byte("agent v1.2.3"), 0o755); err != nil {
		t.Fatal(err)
	}
	store := filepath.Join(dir, "releases")
	out, errOut, code = runTool("sign", "--private-key", keyFile, "--binary", bin, "--version", "1.2.3", "--os", "linux", "--arch", "amd64", "--dir", store)
	if code != 0 || !strings.Contains(out, "published v1.2.3 for linux-amd64") {
		t.Fatalf("sign exit %d: %s %s", code, out, errOut)
	}
	// What the tool wrote verifies with the printed key, as an agent checks it.
	data, err := os.ReadFile(filepath.Join(store, "v1.2.3", "linux-amd64", "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := release.Verify(data, pub)
	if err != nil || m.Version != "v1.2.3" || m.Size != int64(len("agent v1.2.3")) {
		t.Fatalf("manifest %+v, %v", m, err)
	}
	if b, _ := os.ReadFile(filepath.Join(store, "v1.2.3", "linux-amd64", "redflag-agent")); string(b) != "agent v1.2.3" {
		t.Errorf("stored binary %q", b)
	}
	pubB64 := strings.TrimSpace(base64.StdEncoding.EncodeToString(pub))
	if out, errOut, code := runTool("verify", "--public-key", pubB64, "--dir", store, "--version", "latest", "--os", "linux", "--arch", "amd64"); code != 0 || !strings.Contains(out, "ok: v1.2.3") {
		t.Errorf("verify exit %d: %s %s", code, out, errOut)
	}

	// Signing the same version again is refused; the store is unchanged.
	if _, errOut, code := runTool("sign", "--private-key", keyFile, "--binary", keyFile, "--version", "v1.2.3", "--os", "linux", "--arch", "amd64", "--dir", store); code != 1 || !strings.Contains(errOut, "already published") {
		t.Errorf("re-sign: exit %d, %s", code, errOut)
	}

	// A binary changed after signing fails verify.
	if err := os.WriteFile(filepath.Join(store, "v1.2.3", "linux-amd64", "redflag-agent"), []byte("agent v1.2.4"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := runTool("verify", "--public-key", pubB64, "--dir", store, "--version", "v1.2.3", "--os", "linux", "--arch", "amd64"); code != 1 || !strings.Contains(errOut, "sha256") {
		t.Errorf("verify of a changed binary: exit %d, %s", code, errOut)
	}
	// Another key does not verify.
	other, _, _ := ed25519.GenerateKey(nil)
	if _, errOut, code := runTool("verify", "--public-key", base64.StdEncoding.EncodeToString(other), "--dir", store, "--version", "v1.2.3", "--os", "linux", "--arch", "amd64"); code != 1 || !strings.Contains(errOut, "does not verify") {
		t.Errorf("verify with another key: exit %d, %s", code, errOut)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{nil, "Usage:"},
		{[]string{"publish"}, `unknown command "publish"`},
		{[]string{"keygen"}, "--private-key is required"},
		{[]string{"sign", "--private-key", "k", "--binary", "b"}, "--version is required"},
		{[]string{"sign", "--bogus"}, "flag provided but not defined"},
		{[]string{"verify", "--public-key", "abc", "--dir", "d", "--version", "v1.0.0", "--os", "linux", "--arch", "amd64"}, "--public-key must be"},
	} {
		_, errOut, code := runTool(tt.args...)
		if code != 2 || !strings.Contains(errOut, tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tt.args, code, errOut, tt.want)
		}
	}
}

func TestSignRefusesBadKeyFile(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key")
	_ = os.WriteFile(keyFile, []byte("not base64!\n"), 0o600)
	bin := filepath.Join(dir, "bin")
	_ = os.WriteFile(bin, []byte("x"), 0o755)
	_, errOut, code := runTool("sign", "--private-key", keyFile, "--binary", bin, "--version", "v1.0.0", "--os", "linux", "--arch", "amd64", "--dir", filepath.Join(dir, "store"))
	if code != 1 || !strings.Contains(errOut, "not a base64 key") {
		t.Errorf("exit %d, %s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "store")); err == nil {
		t.Error("a store was written with a bad key")
	}
}
