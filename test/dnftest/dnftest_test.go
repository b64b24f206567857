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

// TestSandboxVersionLock: in a VersionLock sandbox `dnf versionlock add`
// writes the root's own locklist, not the test machine's, and the lock
// holds: dnf upgrades the other package and leaves the locked one.
func TestSandboxVersionLock(t *testing.T) {
	hostList, hostErr := os.ReadFile("/etc/dnf/plugins/versionlock.list")
	s := New(t, Options{
		Installed:   []Package{{Name: "redflag-app", Version: "1.0"}, {Name: "redflag-other", Version: "1.0"}},
		Repo:        []Package{{Name: "redflag-app", Version: "2.0"}, {Name: "redflag-other", Version: "2.0"}},
		VersionLock: true,
	})
	s.Run(t, "dnf", "versionlock", "add", "redflag-app")
	if got := s.LockList(t); !strings.Contains(got, "redflag-app-0:1.0-1.*") {
		t.Fatalf("root's locklist after versionlock add:\n%s", got)
	}
	after, afterErr := os.ReadFile("/etc/dnf/plugins/versionlock.list")
	if string(after) != string(hostList) || (hostErr == nil) != (afterErr == nil) {
		t.Fatal("versionlock add changed the test machine's /etc/dnf/plugins/versionlock.list")
	}
	s.Run(t, "dnf", "-y", "upgrade")
	if got := s.InstalledVersion(t, "redflag-app"); got != "1.0-1" {
		t.Errorf("locked redflag-app is %q after dnf upgrade, want 1.0-1", got)
	}
	if got := s.InstalledVersion(t, "redflag-other"); got != "2.0-1" {
		t.Errorf("redflag-other is %q after dnf upgrade, want 2.0-1", got)
	}
}
