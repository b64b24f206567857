package apttest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSandboxUpgrade proves a sandbox is good enough for install tests:
// apt sees the repository, apt-get upgrades through dpkg --root, and the
// new files land inside the root, not on the host.
func TestSandboxUpgrade(t *testing.T) {
	s := New(t, Options{
		Installed: []Package{{Name: "redflag-testpkg", Version: "1.0"}},
		Repos:     []Repo{{Packages: []Package{{Name: "redflag-testpkg", Version: "2.0"}}}},
	})
	if got := s.InstalledVersion(t, "redflag-testpkg"); got != "1.0" {
		t.Fatalf("installed version before upgrade = %q, want 1.0", got)
	}
	policy := s.Run(t, "apt-cache", "policy", "redflag-testpkg")
	if !strings.Contains(policy, "Candidate: 2.0") {
		t.Fatalf("apt-cache policy in sandbox:\n%s", policy)
	}
	s.Run(t, "apt-get", "install", "-y", "--only-upgrade", "redflag-testpkg")
	if got := s.InstalledVersion(t, "redflag-testpkg"); got != "2.0" {
		t.Fatalf("installed version after upgrade = %q, want 2.0", got)
	}
	payload, err := os.ReadFile(filepath.Join(s.Root, PayloadPath("redflag-testpkg")))
	if err != nil || strings.TrimSpace(string(payload)) != "2.0" {
		t.Fatalf("payload in sandbox root: %q, %v", payload, err)
	}
	if _, err := os.Stat(filepath.Join("/", PayloadPath("redflag-testpkg"))); err == nil {
		t.Fatal("package payload landed on the host")
	}

	s.Publish(t, 0, Package{Name: "redflag-testpkg", Version: "2.1"})
	if policy := s.Run(t, "apt-cache", "policy", "redflag-testpkg"); !strings.Contains(policy, "Candidate: 2.1") {
		t.Fatalf("after Publish, apt-cache policy:\n%s", policy)
	}
}
