package install

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/redflag-io/redflag/internal/protocol"
	"github.com/redflag-io/redflag/test/dnftest"
)

// These tests run Run itself against the real dnf and rpm acting on a
// dnftest sandbox, reached only through REDFLAG_DNF_ROOT.

func runDnf(t *testing.T, req protocol.PackageWork) (Outcome, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	return Run(ctx, req, false, quiet())
}

// TestDnfHostVersionLockIsRespected: a package the host locks with `dnf
// versionlock add` is left at its locked version by an install of every
// pending update, and by one naming it, while the other package upgrades.
func TestDnfHostVersionLockIsRespected(t *testing.T) {
	s := dnftest.New(t, dnftest.Options{
		Installed:   []dnftest.Package{{Name: "redflag-app", Version: "1.0"}, {Name: "redflag-other", Version: "1.0"}},
		Repo:        []dnftest.Package{{Name: "redflag-app", Version: "2.0"}, {Name: "redflag-other", Version: "1.5"}},
		VersionLock: true,
	})
	s.Setenv(t)
	s.Run(t, "dnf", "versionlock", "add", "redflag-app")
	dnfWork := func(scope protocol.PackageScope, names ...string) protocol.PackageWork {
		return protocol.PackageWork{Scope: scope, Names: names, Managers: []protocol.PackageManager{protocol.ManagerDnf}}
	}

	out, err := runDnf(t, dnfWork(protocol.ScopeNamed, "redflag-app"))
	if err != nil {
		t.Fatal(err)
	}
	// The selection skipped it: dnf was never asked to upgrade it.
	if len(out.Changes) != 0 || out.Message != "no pending update matched the rollout" {
		t.Fatalf("an install naming the locked redflag-app: %q, changes %+v; want nothing matched", out.Message, out.Changes)
	}
	if got := s.InstalledVersion(t, "redflag-app"); got != "1.0-1" {
		t.Fatalf("the locked redflag-app is at %q after an install naming it, want 1.0-1", got)
	}

	out, err = runDnf(t, dnfWork(protocol.ScopeAll))
	if err != nil {
		t.Fatal(err)
	}
	want := []protocol.PackageChange{{Manager: protocol.ManagerDnf, Name: "redflag-other.noarch", From: "1.0-1", To: "1.5-1"}}
	if !slices.Equal(out.Changes, want) {
		t.Fatalf("changes = %+v, want only %+v", out.Changes, want)
	}
	if got := s.InstalledVersion(t, "redflag-app"); got != "1.0-1" {
		t.Fatalf("the locked redflag-app is at %q, want 1.0-1", got)
	}
	if got := s.InstalledVersion(t, "redflag-other"); got != "1.5-1" {
		t.Fatalf("redflag-other is at %q, want 1.5-1", got)
	}
}
