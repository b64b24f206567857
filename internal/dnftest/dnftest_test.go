package dnftest

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestSandboxUpgrade proves a sandbox is good enough for scan and install
// tests: dnf sees the repository and its advisory, upgrades through the
// root's rpm database, and the new files land inside the root, not on the
// host.
func TestSandboxUpgrade(t *testing.T) {
	s := New(t, Options{
		Installed:  []Package{{Name: "redflag-testpkg", Version: "1.0"}, {Name: "redflag-other", Version: "1.0"}},
		Repo:       []Package{{Name: "redflag-testpkg", Version: "2.0"}},
		Advisories: []Advisory{{ID: "RFSA-2026:0001", Severity: "Important", Packages: []Package{{Name: "redflag-testpkg", Version: "2.0"}}}},
	})
	if got := s.InstalledVersion(t, "redflag-testpkg"); got != "1.0-1" {
		t.Fatalf("installed version before upgrade = %q, want 1.0-1", got)
	}
	if got := s.Installed(t); !slices.Equal(got, []string{"redflag-other", "redflag-testpkg"}) {
		t.Fatalf("installed packages = %q", got)
	}
	list := s.Run(t, "dnf", "updateinfo", "list", "--security")
	if !strings.Contains(list, "RFSA-2026:0001") || !strings.Contains(list, "redflag-testpkg-2.0-1.noarch") {
		t.Fatalf("dnf updateinfo list --security in sandbox:\n%s", list)
	}
	s.Run(t, "dnf", "-y", "upgrade", "redflag-testpkg")
	if got := s.InstalledVersion(t, "redflag-testpkg"); got != "2.0-1" {
		t.Fatalf("installed version after upgrade = %q, want 2.0-1", got)
	}
	payload, err := os.ReadFile(filepath.Join(s.Root, PayloadPath("redflag-testpkg")))
	if err != nil || strings.TrimSpace(string(payload)) != "2.0-1" {
		t.Fatalf("payload in sandbox root: %q, %v", payload, err)
	}
	if _, err := os.Stat(filepath.Join("/", PayloadPath("redflag-testpkg"))); err == nil {
		t.Fatal("package payload landed on the host")
	}
}
