//go:build linux

package dockertest

import (
	"debug/elf"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// busyboxPath is where busybox-static installs its binary.
const busyboxPath = "/bin/busybox"

// StaticBusybox returns the path of a statically linked busybox, failing t
// when there is none: a dynamic one cannot run in an image FROM scratch.
func StaticBusybox(t testing.TB) string {
	t.Helper()
	f, err := elf.Open(busyboxPath)
	if err != nil {
		t.Fatalf("busybox: %v (install busybox-static with %s)", err, depsScript)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Fatalf("%s is dynamically linked; install busybox-static with %s", busyboxPath, depsScript)
		}
	}
	return busyboxPath
}

// BuildScratch builds, with `docker build`, an image FROM scratch holding
// only a static busybox whose command sleeps, tagged tag. variant goes
// into a label so that images built with different variants differ. It
// returns the image ID.
func (d *Daemon) BuildScratch(t testing.TB, tag, variant string) string {
	t.Helper()
	return d.BuildScratchCmd(t, tag, variant, "/bin/busybox", "sleep", "3600")
}

// BuildScratchCmd is BuildScratch with cmd as the image's CMD: a program
// the image lacks ("/bin/missing") makes an image whose containers cannot
// start, "/bin/busybox false" one whose containers exit at once. It
// returns the image ID.
func (d *Daemon) BuildScratchCmd(t testing.TB, tag, variant string, cmd ...string) string {
	t.Helper()
	ctxDir := t.TempDir()
	bb, err := os.ReadFile(StaticBusybox(t))
	if err != nil {
		t.Fatalf("reading busybox: %v", err)
	}
	if err := os.WriteFile(filepath.Join(ctxDir, "busybox"), bb, 0o755); err != nil {
		t.Fatalf("build context: %v", err)
	}
	cmdJSON, err := json.Marshal(cmd)
	if err != nil {
		t.Fatalf("image command: %v", err)
	}
	dockerfile := fmt.Sprintf("FROM scratch\nCOPY busybox /bin/busybox\nLABEL io.redflag.test.variant=%q\nCMD %s\n", variant, cmdJSON)
	if err := os.WriteFile(filepath.Join(ctxDir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		t.Fatalf("build context: %v", err)
	}
	d.Docker(t, "build", "-q", "-t", tag, ctxDir)
	return d.Docker(t, "image", "inspect", "--format", "{{.Id}}", tag)
}

// RepoDigest returns the digest image is known under in the registry
// repository repo ("host:port/name"), failing t when there is none.
func (d *Daemon) RepoDigest(t testing.TB, image, repo string) string {
	t.Helper()
	out := d.Docker(t, "image", "inspect", "--format", "{{range .RepoDigests}}{{println .}}{{end}}", image)
	for _, line := range strings.Fields(out) {
		if name, digest, ok := strings.Cut(line, "@"); ok && name == repo {
			return digest
		}
	}
	t.Fatalf("image %s has no repo digest for %s (has %q)", image, repo, out)
	return ""
}
