package main

import (
	"bytes"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/redflag-io/redflag/internal/protocol"
	"github.com/redflag-io/redflag/internal/release"
)

// TestArm64ImageRuns builds the image for linux/arm64 (one of `make
// image`'s default platforms) and runs what a user on an arm64 node gets:
// the image's manager and the arm64 agent bundled in it, both static
// AArch64 executables, under qemu-aarch64-static (from Debian's
// qemu-user-static, which hack/test-deps.sh installs), since this machine
// is amd64. Emulation proves the binaries start and print their version;
// it is not a run on arm64 hardware.
func TestArm64ImageRuns(t *testing.T) {
	qemu, err := exec.LookPath("qemu-aarch64-static")
	if err != nil {
		t.Fatalf("qemu-aarch64-static is not installed (hack/test-deps.sh installs qemu-user-static): %v", err)
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(root)
	tmp := t.TempDir()
	keyFile := filepath.Join(tmp, "release.key")
	pub, err := release.WriteNewKey(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	var stdout, log bytes.Buffer
	if err := run([]string{
		"--version", "v0.1.0-arm.1", "--repository", "example.test/redflag-manager",
		"--release-key", keyFile, "--out", filepath.Join(tmp, "dist"),
		"--platforms", "linux/arm64", "--agent-platforms", "linux/arm64",
	}, &stdout, &log); err != nil {
		t.Fatalf("building the arm64 image: %v\n%s", err, log.String())
	}
	dir := filepath.Join(tmp, "unpacked")
	untar(t, filepath.Join(tmp, "dist", "redflag-manager-v0.1.0-arm.1.oci.tar"), dir)
	index, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	top, err := index.IndexManifest()
	if err != nil || len(top.Manifests) != 1 {
		t.Fatalf("index.json: %v", err)
	}
	managerIndex, err := index.ImageIndex(top.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	images, err := managerIndex.IndexManifest()
	if err != nil || len(images.Manifests) != 1 || images.Manifests[0].Platform == nil || images.Manifests[0].Platform.Architecture != "arm64" {
		t.Fatalf("the manager index: %v %+v; want one linux/arm64 image", err, images)
	}
	img, err := managerIndex.Image(images.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	files := flatten(t, img)

	platformDir := release.BundledDir + "/v0.1.0-arm.1/" + release.Platform("linux", "arm64")
	manifest := files[strings.TrimPrefix(platformDir, "/")+"/"+protocol.ReleaseManifestFile]
	if manifest == nil {
		t.Fatal("the arm64 image bundles no linux/arm64 agent release")
	}
	m, err := release.Verify(manifest.data, pub)
	if err != nil {
		t.Fatalf("the arm64 agent's manifest does not verify: %v", err)
	}
	agent := files[strings.TrimPrefix(platformDir, "/")+"/"+m.File]
	for name, f := range map[string]*file{"manager": files["redflag-manager"], "agent": agent} {
		if f == nil {
			t.Fatalf("no %s binary in the arm64 image", name)
		}
		bin := filepath.Join(tmp, name)
		if err := os.WriteFile(bin, f.data, 0o755); err != nil {
			t.Fatal(err)
		}
		e, err := elf.Open(bin)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if e.Machine != elf.EM_AARCH64 {
			t.Errorf("%s is built for %s, not AArch64", name, e.Machine)
		}
		for _, p := range e.Progs {
			if p.Type == elf.PT_INTERP {
				t.Errorf("%s is dynamically linked; the image has no libc", name)
			}
		}
		e.Close()
		out, err := exec.Command(qemu, bin, "--version").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "v0.1.0-arm.1") {
			t.Errorf("qemu-aarch64-static %s --version: %v %q; want v0.1.0-arm.1", name, err, out)
		}
	}
}
