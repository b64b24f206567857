package apttest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// defaultSuite names a repository whose Suite is not given.
const defaultSuite = "redflag-test"

// PayloadPath is where a package built by BuildDeb installs a file holding
// its version, relative to the root it is installed into.
func PayloadPath(name string) string {
	return filepath.Join("usr/share/redflag-test", name, "version")
}

// BuildDeb builds p into a .deb inside dir with dpkg-deb and returns its
// path. The package ships one file, PayloadPath(p.Name), holding
// p.Version, and no maintainer script but p.Postinst when set.
func BuildDeb(t testing.TB, dir string, p Package) string {
	t.Helper()
	base := fmt.Sprintf("%s_%s_%s", p.Name, strings.ReplaceAll(p.Version, ":", "%3a"), p.arch())
	src := filepath.Join(t.TempDir(), base)
	writeFile(t, filepath.Join(src, "DEBIAN/control"), stanza(p, ""))
	writeFile(t, filepath.Join(src, PayloadPath(p.Name)), p.Version+"\n")
	if p.Postinst != "" {
		script := filepath.Join(src, "DEBIAN/postinst")
		writeFile(t, script, "#!/bin/sh\n"+p.Postinst+"\n")
		if err := os.Chmod(script, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	deb := filepath.Join(dir, base+".deb")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("dpkg-deb", "--root-owner-group", "-Zgzip", "--build", src, deb)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb --build %s: %v\n%s", p.Name, err, out)
	}
	return deb
}

// buildRepo builds repo's packages into dir and indexes them as a flat
// repository: Packages from dpkg-scanpackages, then a Release file.
func buildRepo(t testing.TB, dir string, repo Repo) {
	t.Helper()
	for _, p := range repo.Packages {
		BuildDeb(t, dir, p)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("dpkg-scanpackages", "--multiversion", ".", "/dev/null")
	cmd.Dir = dir
	packages, err := cmd.Output()
	if err != nil {
		t.Fatalf("dpkg-scanpackages in %s: %v", dir, err)
	}
	writeFile(t, filepath.Join(dir, "Packages"), string(packages))
	suite := repo.Suite
	if suite == "" {
		suite = defaultSuite
	}
	writeFile(t, filepath.Join(dir, "Release"), release(suite, packages))
}

// release renders an unsigned Release file; apt accepts it because the
// sources.list entry is [trusted=yes]. Date lies an hour back so clock
// skew never makes it "not valid yet".
func release(suite string, packages []byte) string {
	sum := sha256.Sum256(packages)
	return fmt.Sprintf("Origin: RedFlag\nLabel: RedFlag test\nSuite: %s\nCodename: %s\nDate: %s\nSHA256:\n %s %d Packages\n",
		suite, suite, time.Now().Add(-time.Hour).UTC().Format(time.RFC1123),
		hex.EncodeToString(sum[:]), len(packages))
}
