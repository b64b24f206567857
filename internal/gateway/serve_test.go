package gateway

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/redflag-io/redflag/internal/protocol"
	"github.com/redflag-io/redflag/internal/release"
)

// TestGatewayServesReleasesAndTheInstallScript: with --release-dir and a
// public URL, the gateway serves signed releases (also as "latest") and
// the install script carrying its URL, CA and release key, to anyone:
// both hold only public material.
func TestGatewayServesReleasesAndTheInstallScript(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bin := filepath.Join(t.TempDir(), "agent")
	if err := os.WriteFile(bin, []byte("an agent build"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := release.Publish(release.PublishOptions{Dir: dir, Binary: bin, Version: "v1.2.3", OS: runtime.GOOS, Arch: runtime.GOARCH, Key: key}); err != nil {
		t.Fatal(err)
	}
	releaseKey := base64.StdEncoding.EncodeToString(pub)
	g, c, err := startGateway(ctx, env, Options{
		BindAddress: "127.0.0.1:0", PublicURL: "https://gateway.example:9443", ReleaseDir: dir, ReleasePublicKey: releaseKey,
		TLSSecretName: "serve-test-tls", SigningSecretName: "serve-test-signing",
	})
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := c.HTTP.Get("https://" + g.Addr().String() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}

	status, manifest := get(protocol.ReleasePath("latest", runtime.GOOS, runtime.GOARCH, protocol.ReleaseManifestFile))
	if status != http.StatusOK {
		t.Fatalf("latest manifest: %d %s", status, manifest)
	}
	m, err := release.Verify([]byte(manifest), pub)
	if err != nil || m.Version != "v1.2.3" {
		t.Fatalf("the served manifest does not verify as v1.2.3: %+v %v", m, err)
	}
	if status, body := get(protocol.ReleasePath("v1.2.3", runtime.GOOS, runtime.GOARCH, release.BinaryName(runtime.GOOS))); status != http.StatusOK || body != "an agent build" {
		t.Errorf("binary: %d %q", status, body)
	}
	if status, _ := get(protocol.ReleasesPrefix + "v1.2.3/" + runtime.GOOS + "-" + runtime.GOARCH + "/../../../etc/passwd"); status == http.StatusOK {
		t.Error("a path outside the release store was served")
	}

	status, script := get("/install.sh")
	if status != http.StatusOK {
		t.Fatalf("/install.sh: %d %s", status, script)
	}
	for _, want := range []string{"https://gateway.example:9443", releaseKey, strings.TrimSpace(strings.Split(string(g.CAPEM()), "\n")[1])} {
		if !strings.Contains(script, want) {
			t.Errorf("the install script lacks %q", want)
		}
	}
}
