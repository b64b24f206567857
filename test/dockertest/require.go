package dockertest

import (
	"os"
	"os/exec"
	"testing"
)

// depsScript installs the engine and busybox; named in every message.
const depsScript = "hack/test-deps.sh"

// sbinDirs hold dockerd on Debian, and may be missing from a user's PATH.
var sbinDirs = []string{"/usr/sbin/dockerd", "/usr/local/sbin/dockerd", "/sbin/dockerd"}

// Dockerd returns the dockerd program, or "" when none is installed.
func Dockerd() string {
	if p, err := exec.LookPath("dockerd"); err == nil {
		return p
	}
	for _, p := range sbinDirs {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// Require makes t skip, with a banner no one can miss, when dockerd or the
// docker CLI is not installed; under CI (CI set) it fails t instead, so a
// missing install step cannot turn into a green run. It returns dockerd's
// path.
func Require(t testing.TB) string {
	t.Helper()
	dockerd := Dockerd()
	_, cliErr := exec.LookPath("docker")
	if dockerd != "" && cliErr == nil {
		return dockerd
	}
	msg := "dockerd and the docker CLI are needed for this REAL Docker engine test; install them with " + depsScript
	if os.Getenv("CI") != "" {
		t.Fatalf("%s (CI is set: this test may not be skipped)", msg)
	}
	t.Skipf("\n%s\n!!! SKIPPED: %s\n%s", banner, msg, banner)
	return ""
}

const banner = "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
