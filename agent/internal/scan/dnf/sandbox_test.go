package dnf

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redflag-io/redflag/agent/internal/scan"
	"github.com/redflag-io/redflag/internal/protocol"
	"github.com/redflag-io/redflag/test/dnftest"
)

// These tests run the real dnf and rpm against a sandbox root
// (test/dnftest) through RootEnv, never the machine's own packages.

// sandboxOptions: four installed packages, three with newer versions in
// the repository (one of them fixed by a security advisory, one with an
// epoch), one current; and a repository-only package that is not
// installed and so no upgrade.
var sandboxOptions = dnftest.Options{
	Installed: []dnftest.Package{
		{Name: "redflag-sec", Version: "1.0"},
		{Name: "redflag-plain", Version: "1.0"},
		{Name: "redflag-epoch", Version: "1.0", Epoch: 1},
		{Name: "redflag-current", Version: "3.0"},
	},
	Repo: []dnftest.Package{
		{Name: "redflag-sec", Version: "1.1"},
		{Name: "redflag-plain", Version: "2.0", Release: "2"},
		{Name: "redflag-epoch", Version: "1.5", Epoch: 1},
		{Name: "redflag-current", Version: "3.0"},
		{Name: "redflag-new", Version: "1.0"},
	},
	Advisories: []dnftest.Advisory{
		{ID: "RFSA-2026:0001", Severity: "Important", Packages: []dnftest.Package{{Name: "redflag-sec", Version: "1.1"}}},
		{ID: "RFBA-2026:0002", Type: "bugfix", Packages: []dnftest.Package{{Name: "redflag-plain", Version: "2.0", Release: "2"}}},
	},
}

func TestRootEnvMatchesDnftest(t *testing.T) {
	if RootEnv != dnftest.RootEnv {
		t.Fatalf("RootEnv %q, dnftest.RootEnv %q: the sandbox would not reach the scanner", RootEnv, dnftest.RootEnv)
	}
}

func TestSandboxScanListsUpdates(t *testing.T) {
	s := dnftest.New(t, sandboxOptions)
	s.Setenv(t)
	for _, opts := range []struct {
		name string
		ttl  time.Duration
	}{{"dnf's own expiry", 0}, {"RefreshListsAfter", time.Hour}} {
		t.Run(opts.name, func(t *testing.T) {
			got, err := Runner{}.ScanWith(context.Background(), scan.Options{RefreshListsAfter: opts.ttl})
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]protocol.PendingUpdate{
				"redflag-sec":   {Manager: protocol.ManagerDnf, Name: "redflag-sec", CurrentVersion: "1.0-1", AvailableVersion: "1.1-1", Security: true, Source: "redflag-test"},
				"redflag-plain": {Manager: protocol.ManagerDnf, Name: "redflag-plain", CurrentVersion: "1.0-1", AvailableVersion: "2.0-2", Source: "redflag-test"},
				"redflag-epoch": {Manager: protocol.ManagerDnf, Name: "redflag-epoch", CurrentVersion: "1:1.0-1", AvailableVersion: "1:1.5-1", Source: "redflag-test"},
			}
			if len(got) != len(want) {
				t.Fatalf("got %d updates, want %d: %+v", len(got), len(want), got)
			}
			for _, u := range got {
				if w, ok := want[u.Name]; !ok || u != w {
					t.Errorf("update %+v, want %+v", u, w)
				}
			}
		})
	}
}

func TestSandboxScanNothingPending(t *testing.T) {
	s := dnftest.New(t, dnftest.Options{
		Installed: []dnftest.Package{{Name: "redflag-current", Version: "3.0"}},
		Repo:      []dnftest.Package{{Name: "redflag-current", Version: "3.0"}},
	})
	s.Setenv(t)
	got, err := Runner{}.Scan(context.Background())
	if err != nil || len(got) != 0 {
		t.Fatalf("Scan = %+v, %v; want nothing pending", got, err)
	}
}

// TestSandboxEmptyRPMDatabase: a root whose rpm database is empty (a
// Debian host with the dnf package) scans as a host without dnf, so it
// neither fails every scan nor every rollout that names no manager.
func TestSandboxEmptyRPMDatabase(t *testing.T) {
	t.Setenv(RootEnv, dnftest.EmptyRoot(t))
	got, err := Runner{}.Scan(context.Background())
	if !errors.Is(err, scan.ErrNotInstalled) {
		t.Fatalf("Scan of an empty rpm database = %+v, %v; want ErrNotInstalled", got, err)
	}
}

// TestSandboxScanBrokenRepo: a repository whose metadata is garbage makes
// the scan fail with dnf's reason, not report "no updates".
func TestSandboxScanBrokenRepo(t *testing.T) {
	s := dnftest.New(t, dnftest.Options{
		Installed: []dnftest.Package{{Name: "redflag-plain", Version: "1.0"}},
		Repo:      []dnftest.Package{{Name: "redflag-plain", Version: "2.0"}},
	})
	s.Setenv(t)
	s.BreakRepo(t)
	got, err := Runner{}.Scan(context.Background())
	if err == nil {
		t.Fatalf("Scan of a broken repository = %+v, nil; want an error", got)
	}
	t.Logf("error: %v", err)
	if !strings.Contains(err.Error(), "redflag-test") {
		t.Errorf("error %q does not name the broken repository", err)
	}
}

// TestSandboxBadRoot: a RootEnv that is not a clean absolute path to a
// directory is refused before dnf runs, and nothing is created.
func TestSandboxBadRoot(t *testing.T) {
	dnftest.Require(t)
	missing := filepath.Join(t.TempDir(), "no-such-root")
	for _, root := range []string{"relative/root", "/tmp/../tmp/x/", missing} {
		t.Setenv(RootEnv, root)
		got, err := Runner{}.Scan(context.Background())
		if err == nil || !strings.Contains(err.Error(), RootEnv) {
			t.Errorf("%s=%q: Scan = %+v, %v; want an error naming %s", RootEnv, root, got, err, RootEnv)
		}
		if _, statErr := os.Stat(missing); !errors.Is(statErr, os.ErrNotExist) {
			t.Errorf("%s=%q: the missing root was created (%v)", RootEnv, root, statErr)
		}
	}
}

// TestSandboxScanVersionLocked: a package locked with `dnf versionlock
// add` whose repository has a newer version (which the lock hides from
// check-update) is listed as held with its installed and newest versions;
// the unlocked package is listed as usual, not held.
func TestSandboxScanVersionLocked(t *testing.T) {
	s := dnftest.New(t, dnftest.Options{
		Installed: []dnftest.Package{{Name: "redflag-app", Version: "1.0"}, {Name: "redflag-other", Version: "1.0"}},
		Repo:      []dnftest.Package{{Name: "redflag-app", Version: "2.0"}, {Name: "redflag-other", Version: "1.5"}},
		Advisories: []dnftest.Advisory{
			{ID: "RFSA-2026:0003", Severity: "Important", Packages: []dnftest.Package{{Name: "redflag-app", Version: "2.0"}}},
		},
		VersionLock: true,
	})
	s.Setenv(t)
	s.Run(t, "dnf", "versionlock", "add", "redflag-app")

	got, err := Runner{}.Scan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []protocol.PendingUpdate{
		{Manager: protocol.ManagerDnf, Name: "redflag-other", CurrentVersion: "1.0-1", AvailableVersion: "1.5-1", Source: "redflag-test"},
		{Manager: protocol.ManagerDnf, Name: "redflag-app", CurrentVersion: "1.0-1", AvailableVersion: "2.0-1", Security: true, Source: "redflag-test", Held: true},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Scan = %+v\nwant %+v", got, want)
	}

	// Unlocked, the same package is an ordinary upgrade again.
	s.Run(t, "dnf", "versionlock", "delete", "redflag-app")
	got, err = Runner{}.Scan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range got {
		if u.Held {
			t.Errorf("%s still held after versionlock delete: %+v", u.Name, u)
		}
	}
	if len(got) != 2 {
		t.Errorf("after versionlock delete: %+v, want both upgrades", got)
	}
}

// TestSandboxScanEverythingLocked: when every upgrade is locked,
// check-update lists nothing (exit 0), and the scan still reports the
// locked one as held rather than "nothing pending".
func TestSandboxScanEverythingLocked(t *testing.T) {
	s := dnftest.New(t, dnftest.Options{
		Installed:   []dnftest.Package{{Name: "redflag-app", Version: "1.0"}},
		Repo:        []dnftest.Package{{Name: "redflag-app", Version: "2.0"}},
		VersionLock: true,
	})
	s.Setenv(t)
	s.Run(t, "dnf", "versionlock", "add", "redflag-app")
	got, err := Runner{}.Scan(context.Background())
	want := []protocol.PendingUpdate{{Manager: protocol.ManagerDnf, Name: "redflag-app", CurrentVersion: "1.0-1", AvailableVersion: "2.0-1", Source: "redflag-test", Held: true}}
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("Scan = %+v, %v; want %+v", got, err, want)
	}
}
