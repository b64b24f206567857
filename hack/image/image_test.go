package main

import (
	"archive/tar"
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/redflag-io/redflag/internal/protocol"
	"github.com/redflag-io/redflag/internal/release"
)

// TestImageHoldsTheManagerAndASignedAgentRelease builds the image as
// `make image` does (the manager for this machine's platform only, to keep
// the test short; the agents for all three platforms) and checks what a
// user and the chart rely on: an OCI layout whose index digest is the one
// printed, a docker-save manifest naming the same blobs, the non-root user,
// a static manager that runs, CA certificates, and an agent release for
// every platform whose signatures verify with the public key in the image.
func TestImageHoldsTheManagerAndASignedAgentRelease(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(root) // go build runs on the module's packages
	tmp := t.TempDir()
	keyFile := filepath.Join(tmp, "release.key")
	pub, err := release.WriteNewKey(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	host := platform{OS: "linux", Arch: runtime.GOARCH}
	var stdout, log bytes.Buffer
	err = run([]string{
		"--version", "v0.1.0-test.1", "--repository", "example.test/redflag-manager",
		"--release-key", keyFile, "--out", filepath.Join(tmp, "dist"),
		"--platforms", host.String(),
	}, &stdout, &log)
	if err != nil {
		t.Fatalf("building the image: %v\n%s", err, log.String())
	}
	archive := filepath.Join(tmp, "dist", "redflag-manager-v0.1.0-test.1.oci.tar")
	printed := strings.Fields(stdout.String())
	if len(printed) != 2 || printed[0] != archive || !strings.HasPrefix(printed[1], "example.test/redflag-manager:v0.1.0-test.1@sha256:") {
		t.Fatalf("printed %q; want the archive and the reference with its digest", stdout.String())
	}

	dir := filepath.Join(tmp, "unpacked")
	untar(t, archive, dir)
	index, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatalf("the archive is not an OCI layout: %v", err)
	}
	top, err := index.IndexManifest()
	if err != nil || len(top.Manifests) != 1 {
		t.Fatalf("index.json: %v, %d entries", err, len(top.Manifests))
	}
	if got := top.Manifests[0].Annotations["org.opencontainers.image.ref.name"]; got != "example.test/redflag-manager:v0.1.0-test.1" {
		t.Errorf("index.json names the image %q", got)
	}
	if want := strings.SplitN(printed[1], "@", 2)[1]; top.Manifests[0].Digest.String() != want {
		t.Errorf("index.json holds %s, but %s was printed", top.Manifests[0].Digest, want)
	}
	managerIndex, err := index.ImageIndex(top.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	images, err := managerIndex.IndexManifest()
	if err != nil || len(images.Manifests) != 1 || images.Manifests[0].Platform == nil ||
		images.Manifests[0].Platform.OS != host.OS || images.Manifests[0].Platform.Architecture != host.Arch {
		t.Fatalf("the manager index: %v %+v; want one image for %s", err, images, host)
	}
	img, err := managerIndex.Image(images.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Config.User != "65532:65532" || len(cfg.Config.Entrypoint) != 1 || cfg.Config.Entrypoint[0] != "/redflag-manager" {
		t.Errorf("user %q, entrypoint %q; the chart runs as 65532 with the image's entrypoint", cfg.Config.User, cfg.Config.Entrypoint)
	}
	checkDockerManifest(t, dir, img)

	files := flatten(t, img)
	manager := files["redflag-manager"]
	if manager == nil || manager.Mode&0o111 == 0 {
		t.Fatal("no executable /redflag-manager in the image")
	}
	if f, err := elf.NewFile(bytes.NewReader(manager.data)); err != nil {
		t.Errorf("/redflag-manager is not ELF: %v", err)
	} else {
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				t.Error("/redflag-manager is dynamically linked; the image has no libc")
			}
		}
	}
	if runtime.GOOS == host.OS {
		bin := filepath.Join(tmp, "redflag-manager")
		if err := os.WriteFile(bin, manager.data, 0o755); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(bin, "--version").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "v0.1.0-test.1") {
			t.Errorf("redflag-manager --version: %v %q; want v0.1.0-test.1", err, out)
		}
	}
	if p := files["etc/passwd"]; p == nil || !strings.Contains(string(p.data), "nonroot:x:65532:65532:") {
		t.Error("/etc/passwd does not name the non-root user 65532")
	}
	if ca := files["etc/ssl/certs/ca-certificates.crt"]; ca == nil || !bytes.Contains(ca.data, []byte("BEGIN CERTIFICATE")) {
		t.Error("no CA certificates in the image")
	}
	if tmpDir := files["tmp"]; tmpDir == nil || tmpDir.Mode&os.ModeSticky == 0 {
		t.Error("no sticky /tmp in the image")
	}

	// The bundled release, as the manager will find it.
	store := filepath.Join(tmp, "store")
	for name, f := range files {
		rel, ok := strings.CutPrefix("/"+name, release.BundledDir+"/")
		if !ok || f.data == nil {
			continue
		}
		p := filepath.Join(store, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, f.data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	served, err := release.Choose("", "", store)
	if err != nil || !served.Bundled || served.PublicKey != encodeKey(pub) {
		t.Fatalf("the manager would serve %+v (%v); want the bundled store with the build's public key", served, err)
	}
	for _, p := range []platform{{"linux", "amd64"}, {"linux", "arm64"}, {"windows", "amd64"}} {
		platformDir := filepath.Join(store, "v0.1.0-test.1", release.Platform(p.OS, p.Arch))
		data, err := os.ReadFile(filepath.Join(platformDir, protocol.ReleaseManifestFile))
		if err != nil {
			t.Errorf("no agent release for %s: %v", p, err)
			continue
		}
		m, err := release.Verify(data, pub)
		if err != nil {
			t.Errorf("%s: the manifest does not verify with the image's key: %v", p, err)
			continue
		}
		bin, err := os.ReadFile(filepath.Join(platformDir, m.File))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(bin)
		if m.OS != p.OS || m.Arch != p.Arch || m.Version != "v0.1.0-test.1" || hex.EncodeToString(sum[:]) != m.SHA256 || int64(len(bin)) != m.Size {
			t.Errorf("%s: manifest %+v does not describe the binary beside it", p, m)
		}
		if magic := map[string]string{"linux": "\x7fELF", "windows": "MZ"}[p.OS]; !bytes.HasPrefix(bin, []byte(magic)) {
			t.Errorf("%s: the agent binary is not a %s executable", p, p.OS)
		}
	}
	other, _, _ := ed25519.GenerateKey(nil)
	if served, _ := release.Choose("", encodeKey(other), store); served.Dir != "" {
		t.Errorf("a different pinned key still serves the bundled store: %+v", served)
	}
}

// checkDockerManifest checks manifest.json (what `docker load` reads) names
// img's config and layers, present in the archive.
func checkDockerManifest(t *testing.T, dir string, img v1.Image) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatalf("no manifest.json for docker load: %v", err)
	}
	var entries []struct {
		Config   string
		RepoTags []string
		Layers   []string
	}
	if err := json.Unmarshal(data, &entries); err != nil || len(entries) != 1 {
		t.Fatalf("manifest.json: %v %s", err, data)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	e := entries[0]
	if e.Config != "blobs/sha256/"+m.Config.Digest.Hex || len(e.Layers) != len(m.Layers) || len(e.RepoTags) != 1 || e.RepoTags[0] != "example.test/redflag-manager:v0.1.0-test.1" {
		t.Fatalf("manifest.json %+v does not match the image", e)
	}
	for _, l := range append([]string{e.Config}, e.Layers...) {
		if _, err := os.Stat(filepath.Join(dir, l)); err != nil {
			t.Errorf("manifest.json names %s: %v", l, err)
		}
	}
}

type file struct {
	Mode os.FileMode
	data []byte // nil for a directory
}

// flatten reads img's filesystem.
func flatten(t *testing.T, img v1.Image) map[string]*file {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	files := map[string]*file{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimSuffix(path.Clean(h.Name), "/")
		f := &file{Mode: h.FileInfo().Mode()}
		if h.Typeflag == tar.TypeReg {
			if f.data, err = io.ReadAll(tr); err != nil {
				t.Fatal(err)
			}
		}
		files[name] = f
	}
}

func untar(t *testing.T, archive, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("tar", "-xf", archive, "-C", dir).CombinedOutput(); err != nil {
		t.Fatalf("tar -xf: %v %s", err, out)
	}
}
