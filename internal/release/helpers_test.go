package release

import (
	"crypto/ed25519"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"
)

func newKey(t testing.TB) (ed25519.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return pub, priv
}

// publish puts a release with the given binary content into the store.
func publish(t *testing.T, dir string, key ed25519.PrivateKey, version, goos, arch, content string) Manifest {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "bin")
	if err := os.WriteFile(bin, []byte(content), 0o755); err != nil {
		t.Fatal(err)
	}
	m, err := Publish(PublishOptions{Dir: dir, Binary: bin, Version: version, OS: goos, Arch: arch, Key: key})
	if err != nil {
		t.Fatalf("publishing %s %s/%s: %v", version, goos, arch, err)
	}
	return m
}

func validManifest() Manifest {
	return Manifest{Version: "v1.2.3", OS: "linux", Arch: "amd64", Size: 10, SHA256: "a3f0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0", File: "redflag-agent"}
}
