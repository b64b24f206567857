package dnf

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/redflag-io/redflag/agent/internal/install/installer"
	"github.com/redflag-io/redflag/internal/protocol"
	"github.com/redflag-io/redflag/test/dnftest"
)

// These tests run the real dnf and rpm against a sandbox root
// (test/dnftest) through REDFLAG_DNF_ROOT, never the machine's own
// packages.

func sandboxRequest(names ...string) installer.Request {
	req := installer.Request{Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, n := range names {
		req.Updates = append(req.Updates, protocol.PendingUpdate{Manager: protocol.ManagerDnf, Name: n})
	}
	return req
}

// TestSandboxInstallsOnlyTheChosenPackage: of two pending upgrades, the
// rollout picks one; dnf plans and installs that one, the other stays
// where it was, and the root's rpm database and files show the new
// version.
func TestSandboxInstallsOnlyTheChosenPackage(t *testing.T) {
	s := dnftest.New(t, dnftest.Options{
		Installed: []dnftest.Package{{Name: "redflag-pick", Version: "1.0"}, {Name: "redflag-leave", Version: "1.0"}},
		Repo:      []dnftest.Package{{Name: "redflag-pick", Version: "2.0"}, {Name: "redflag-leave", Version: "2.0"}},
	})
	s.Setenv(t)
	ctx := context.Background()
	var i Installer

	pending, err := i.Pending(ctx, nil)
	if err != nil || len(pending) != 2 {
		t.Fatalf("Pending = %+v, %v; want the two upgrades", pending, err)
	}
	req := sandboxRequest("redflag-pick")
	plan, err := i.Plan(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	wantChange := installer.Change{Name: "redflag-pick.noarch", Key: "redflag-pick", From: "1.0-1", To: "2.0-1", Kind: installer.Upgrade}
	if !slices.Equal(plan.Changes, []installer.Change{wantChange}) {
		t.Fatalf("plan %+v, want only %+v", plan.Changes, wantChange)
	}
	if got := s.InstalledVersion(t, "redflag-pick"); got != "1.0-1" {
		t.Fatalf("the plan (dnf --assumeno) changed the root: redflag-pick is %q", got)
	}

	res, err := i.Install(ctx, req, plan)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Changes, []installer.Change{wantChange}) || len(res.Notes) != 0 {
		t.Errorf("result %+v, want only %+v and no notes", res, wantChange)
	}
	if got := s.InstalledVersion(t, "redflag-pick"); got != "2.0-1" {
		t.Errorf("rpm in the root: redflag-pick %q, want 2.0-1", got)
	}
	if got := s.InstalledVersion(t, "redflag-leave"); got != "1.0-1" {
		t.Errorf("rpm in the root: redflag-leave %q, want it left at 1.0-1", got)
	}
	payload, err := os.ReadFile(filepath.Join(s.Root, dnftest.PayloadPath("redflag-pick")))
	if err != nil || strings.TrimSpace(string(payload)) != "2.0-1" {
		t.Errorf("redflag-pick's file in the root: %q, %v", payload, err)
	}
	if got := s.Installed(t); !slices.Equal(got, []string{"redflag-leave", "redflag-pick"}) {
		t.Errorf("installed packages %q: the install added or removed some", got)
	}
}

// TestSandboxNewDependencyIsPlanned: an upgrade that requires a package
// not installed shows it in the plan as an Install, so the orchestrator
// can refuse it.
func TestSandboxNewDependencyIsPlanned(t *testing.T) {
	s := dnftest.New(t, dnftest.Options{
		Installed: []dnftest.Package{{Name: "redflag-app", Version: "1.0"}},
		Repo: []dnftest.Package{
			{Name: "redflag-app", Version: "2.0", Requires: "redflag-lib >= 2"},
			{Name: "redflag-lib", Version: "2.0"},
		},
	})
	s.Setenv(t)
	plan, err := Installer{}.Plan(context.Background(), sandboxRequest("redflag-app"))
	if err != nil {
		t.Fatal(err)
	}
	want := []installer.Change{
		{Name: "redflag-app.noarch", Key: "redflag-app", From: "1.0-1", To: "2.0-1", Kind: installer.Upgrade},
		{Name: "redflag-lib.noarch", Key: "redflag-lib", To: "2.0-1", Kind: installer.Install},
	}
	slices.SortFunc(plan.Changes, func(a, b installer.Change) int { return strings.Compare(a.Name, b.Name) })
	if !slices.Equal(plan.Changes, want) {
		t.Fatalf("plan %+v, want %+v", plan.Changes, want)
	}
	if got := s.Installed(t); !slices.Equal(got, []string{"redflag-app"}) {
		t.Fatalf("the plan changed the root: %q", got)
	}
}

// TestSandboxErrors: a package the repository does not have and a broken
// repository each give an error saying so, and change nothing.
func TestSandboxErrors(t *testing.T) {
	s := dnftest.New(t, dnftest.Options{
		Installed: []dnftest.Package{{Name: "redflag-pick", Version: "1.0"}},
		Repo:      []dnftest.Package{{Name: "redflag-pick", Version: "2.0"}},
	})
	s.Setenv(t)
	ctx := context.Background()
	var i Installer

	_, err := i.Plan(ctx, sandboxRequest("redflag-nosuch"))
	if err == nil || !strings.Contains(err.Error(), "redflag-nosuch") {
		t.Errorf("Plan of a package not in the repository: %v; want an error naming it", err)
	}
	t.Logf("not in the repository: %v", err)
	_, err = i.Install(ctx, sandboxRequest("redflag-nosuch"), installer.Plan{})
	if err == nil || !strings.Contains(err.Error(), "No packages marked for upgrade") {
		t.Errorf("Install of a package not in the repository: %v; want dnf's refusal", err)
	}
	t.Logf("install, not in the repository: %v", err)

	s.BreakRepo(t)
	_, err = i.Plan(ctx, sandboxRequest("redflag-pick"))
	if err == nil || !strings.Contains(err.Error(), "redflag-test") {
		t.Errorf("Plan with a broken repository: %v; want an error naming the repository", err)
	}
	t.Logf("broken repository: %v", err)
	if got := s.InstalledVersion(t, "redflag-pick"); got != "1.0-1" {
		t.Errorf("redflag-pick is %q after the failures, want 1.0-1", got)
	}
}
