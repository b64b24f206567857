package install

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redflag-io/redflag/internal/protocol"
	"github.com/redflag-io/redflag/test/apttest"
)

// These tests run Run itself against the real apt-get and dpkg acting on
// an apttest sandbox, reached only through APT_CONFIG as on a host.

func aptWork(scope protocol.PackageScope, names ...string) protocol.PackageWork {
	return protocol.PackageWork{Scope: scope, Names: names, Managers: []protocol.PackageManager{protocol.ManagerApt}}
}

func runApt(t *testing.T, req protocol.PackageWork, dryRun bool) (Outcome, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	return Run(ctx, req, dryRun, quiet())
}

func change(name, from, to string) protocol.PackageChange {
	return protocol.PackageChange{Manager: protocol.ManagerApt, Name: name, From: from, To: to}
}

func TestAptDryRunThenUpgrade(t *testing.T) {
	sb := apttest.New(t, apttest.Options{
		Installed: []apttest.Package{{Name: "redflag-app", Version: "1.0"}, {Name: "redflag-other", Version: "1.0"}},
		Repos: []apttest.Repo{{Packages: []apttest.Package{
			{Name: "redflag-app", Version: "2.0"}, {Name: "redflag-other", Version: "1.5"},
		}}},
	})
	sb.Setenv(t)
	req := aptWork(protocol.ScopeNamed, "redflag-app")

	out, err := runApt(t, req, true)
	if err != nil {
		t.Fatal(err)
	}
	if want := []protocol.PackageChange{change("redflag-app", "1.0", "2.0")}; !slices.Equal(out.Changes, want) {
		t.Fatalf("dry run changes = %+v, want %+v", out.Changes, want)
	}
	if out.Message != "dry run: would upgrade 1 package with apt" {
		t.Errorf("dry run message = %q", out.Message)
	}
	if got := sb.InstalledVersion(t, "redflag-app"); got != "1.0" {
		t.Fatalf("the dry run installed: redflag-app is at %q", got)
	}

	out, err = runApt(t, req, false)
	if err != nil {
		t.Fatal(err)
	}
	if want := []protocol.PackageChange{change("redflag-app", "1.0", "2.0")}; !slices.Equal(out.Changes, want) {
		t.Fatalf("changes = %+v, want %+v", out.Changes, want)
	}
	if out.Message != "upgraded 1 package with apt" {
		t.Errorf("message = %q", out.Message)
	}
	if got := sb.InstalledVersion(t, "redflag-app"); got != "2.0" {
		t.Fatalf("redflag-app is at %q after the upgrade, want 2.0", got)
	}
	if got := sb.InstalledVersion(t, "redflag-other"); got != "1.0" {
		t.Fatalf("redflag-other, not selected, is at %q", got)
	}
	payload, err := os.ReadFile(filepath.Join(sb.Root, apttest.PayloadPath("redflag-app")))
	if err != nil || strings.TrimSpace(string(payload)) != "2.0" {
		t.Fatalf("the new version's files are not in the sandbox: %q, %v", payload, err)
	}

	// Run again: nothing is pending for that name any more.
	out, err = runApt(t, req, false)
	if err != nil || len(out.Changes) != 0 || out.Message != noneMatched {
		t.Fatalf("second run: %+v, %v", out, err)
	}
}

func TestAptNewDependencies(t *testing.T) {
	sb := apttest.New(t, apttest.Options{
		Installed: []apttest.Package{{Name: "redflag-app", Version: "1.0"}, {Name: "redflag-lib", Version: "1.0"}},
		Repos: []apttest.Repo{{Packages: []apttest.Package{
			{Name: "redflag-app", Version: "2.0", Depends: "redflag-newdep, redflag-lib (>= 2.0)"},
			{Name: "redflag-newdep", Version: "1.0"},
			{Name: "redflag-lib", Version: "2.0"},
		}}},
	})
	sb.Setenv(t)
	req := aptWork(protocol.ScopeNamed, "redflag-app")

	out, err := runApt(t, req, false)
	if reason(t, err) != ReasonNewDependencies {
		t.Fatalf("err = %v, want NewDependencies", err)
	}
	for _, want := range []string{"redflag-newdep (new, 1.0)", "redflag-lib (1.0 -> 2.0)", "allowNewDependencies"} {
		if !strings.Contains(out.Message, want) {
			t.Errorf("message %q does not name %q", out.Message, want)
		}
	}
	if got := sb.InstalledVersion(t, "redflag-app"); got != "1.0" {
		t.Fatalf("refused, yet redflag-app is at %q", got)
	}
	if got := sb.InstalledVersion(t, "redflag-newdep"); got != "" {
		t.Fatalf("refused, yet redflag-newdep is installed (%s)", got)
	}

	// An excluded package pulled in as a dependency is refused even with
	// the flag.
	req.AllowNewDependencies = true
	req.Exclude = []string{"redflag-new*"}
	if _, err := runApt(t, req, false); reason(t, err) != ReasonExcludedPackage {
		t.Fatalf("excluded dependency: err = %v", err)
	}

	req.Exclude = nil
	out, err = runApt(t, req, false)
	if err != nil {
		t.Fatal(err)
	}
	want := []protocol.PackageChange{change("redflag-newdep", "", "1.0"), change("redflag-lib", "1.0", "2.0"), change("redflag-app", "1.0", "2.0")}
	if !slices.Equal(out.Changes, want) {
		t.Fatalf("changes = %+v\nwant %+v", out.Changes, want)
	}
	if out.Message != "upgraded 2 packages and installed 1 new package with apt" {
		t.Errorf("message = %q", out.Message)
	}
	for name, version := range map[string]string{"redflag-app": "2.0", "redflag-lib": "2.0", "redflag-newdep": "1.0"} {
		if got := sb.InstalledVersion(t, name); got != version {
			t.Errorf("%s is at %q, want %s", name, got, version)
		}
	}
}

func TestAptRemovalsAreRefused(t *testing.T) {
	sb := apttest.New(t, apttest.Options{
		Installed: []apttest.Package{{Name: "redflag-tool", Version: "1.0"}, {Name: "redflag-libold", Version: "1.0"}},
		Repos: []apttest.Repo{{Packages: []apttest.Package{
			{Name: "redflag-tool", Version: "2.0", Conflicts: "redflag-libold"},
		}}},
	})
	sb.Setenv(t)
	req := aptWork(protocol.ScopeAll)
	req.AllowNewDependencies = true
	out, err := runApt(t, req, false)
	if reason(t, err) != ReasonPackageRemovals || !strings.Contains(out.Message, "redflag-libold (1.0)") {
		t.Fatalf("err = %v, message %q", err, out.Message)
	}
	if got := sb.InstalledVersion(t, "redflag-libold"); got != "1.0" {
		t.Fatalf("redflag-libold is at %q after a refused plan", got)
	}
}

func TestAptExcludeAndSecurity(t *testing.T) {
	sb := apttest.New(t, apttest.Options{
		Installed: []apttest.Package{
			{Name: "redflag-app", Version: "1.0"}, {Name: "redflag-kernel", Version: "1.0"}, {Name: "redflag-sec", Version: "1.0"},
		},
		Repos: []apttest.Repo{
			{Suite: "redflag-stable", Packages: []apttest.Package{{Name: "redflag-app", Version: "2.0"}, {Name: "redflag-kernel", Version: "2.0"}}},
			// The apt scanner marks an update security when its archive
			// ends in -security, as Debian's and Ubuntu's pockets do.
			{Suite: "redflag-stable-security", Packages: []apttest.Package{{Name: "redflag-sec", Version: "1.1"}}},
		},
	})
	sb.Setenv(t)

	out, err := runApt(t, aptWork(protocol.ScopeSecurity), false)
	if err != nil {
		t.Fatal(err)
	}
	if want := []protocol.PackageChange{change("redflag-sec", "1.0", "1.1")}; !slices.Equal(out.Changes, want) {
		t.Fatalf("security scope changed %+v, want %+v", out.Changes, want)
	}
	if sb.InstalledVersion(t, "redflag-app") != "1.0" || sb.InstalledVersion(t, "redflag-kernel") != "1.0" {
		t.Fatal("the security scope upgraded a non-security update")
	}

	req := aptWork(protocol.ScopeAll)
	req.Exclude = []string{"redflag-kern*"}
	if out, err = runApt(t, req, false); err != nil {
		t.Fatal(err)
	}
	if want := []protocol.PackageChange{change("redflag-app", "1.0", "2.0")}; !slices.Equal(out.Changes, want) {
		t.Fatalf("with exclude: changed %+v, want %+v", out.Changes, want)
	}
	if got := sb.InstalledVersion(t, "redflag-kernel"); got != "1.0" {
		t.Fatalf("the excluded package is at %q", got)
	}
}

// TestAptWithEveryManager runs with no manager filter, as most rollouts
// do: dnf is not on this machine and Docker's socket is pointed nowhere,
// so both are skipped as absent.
func TestAptWithEveryManager(t *testing.T) {
	sb := apttest.New(t, apttest.Options{
		Installed: []apttest.Package{{Name: "redflag-app", Version: "1.0"}},
		Repos:     []apttest.Repo{{Packages: []apttest.Package{{Name: "redflag-app", Version: "2.0"}}}},
	})
	sb.Setenv(t)
	t.Setenv("DOCKER_HOST", "unix://"+filepath.Join(t.TempDir(), "no-docker.sock"))
	out, err := runApt(t, protocol.PackageWork{Scope: protocol.ScopeAll}, false)
	if err != nil {
		t.Fatal(err)
	}
	if want := []protocol.PackageChange{change("redflag-app", "1.0", "2.0")}; !slices.Equal(out.Changes, want) {
		t.Fatalf("changes = %+v", out.Changes)
	}
}

// TestAptInstallFailure: a package whose postinst fails stops dpkg. The
// install fails with apt's own words, and what the report says changed
// is exactly what dpkg now records.
func TestAptInstallFailure(t *testing.T) {
	sb := apttest.New(t, apttest.Options{
		Installed: []apttest.Package{{Name: "redflag-good", Version: "1.0"}, {Name: "redflag-bad", Version: "1.0"}},
		Repos: []apttest.Repo{{Packages: []apttest.Package{
			{Name: "redflag-good", Version: "2.0"},
			{Name: "redflag-bad", Version: "2.0", Postinst: "echo 'redflag-bad: configuration failed' >&2; exit 1"},
		}}},
	})
	sb.Setenv(t)
	out, err := runApt(t, aptWork(protocol.ScopeAll), false)
	var f *Failure
	if !errors.As(err, &f) || f.Reason != ReasonInstallFailed || f.Manager != protocol.ManagerApt {
		t.Fatalf("err = %v, want apt InstallFailed", err)
	}
	t.Logf("reported as: %s", out.Message)
	if !strings.Contains(out.Message, "redflag-bad left half-configured at 2.0") {
		t.Errorf("message %q does not say what state redflag-bad is in", out.Message)
	}
	for _, c := range out.Changes {
		if got := sb.InstalledVersion(t, c.Name); got != c.To {
			t.Errorf("reported %s -> %s, dpkg has %q", c.Name, c.To, got)
		}
		if c.Name == "redflag-bad" {
			t.Error("the half-configured package was reported as upgraded")
		}
	}
}

// TestAptHostHoldIsRespected: a package the host holds (apt-mark hold) is
// reported as held by the scan and left alone by an install of every
// pending update, while the other package upgrades.
func TestAptHostHoldIsRespected(t *testing.T) {
	sb := apttest.New(t, apttest.Options{
		Installed: []apttest.Package{{Name: "redflag-app", Version: "1.0"}, {Name: "redflag-other", Version: "1.0"}},
		Repos: []apttest.Repo{{Packages: []apttest.Package{
			{Name: "redflag-app", Version: "2.0"}, {Name: "redflag-other", Version: "1.5"},
		}}},
	})
	sb.Setenv(t)
	sb.Run(t, "apt-mark", "hold", "redflag-app")

	out, err := runApt(t, aptWork(protocol.ScopeAll), false)
	if err != nil {
		t.Fatal(err)
	}
	if want := []protocol.PackageChange{change("redflag-other", "1.0", "1.5")}; !slices.Equal(out.Changes, want) {
		t.Fatalf("changes = %+v, want only %+v", out.Changes, want)
	}
	if got := sb.InstalledVersion(t, "redflag-app"); got != "1.0" {
		t.Fatalf("the held redflag-app is at %q, want 1.0", got)
	}
}
