package install

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redflag-io/redflag/agent/internal/install/installer"
	"github.com/redflag-io/redflag/agent/internal/scan"
	"github.com/redflag-io/redflag/internal/protocol"
)

const mApt, mDnf, mDocker = protocol.ManagerApt, protocol.ManagerDnf, protocol.ManagerDocker

func aptFake() *fake {
	return &fake{m: mApt, pending: []protocol.PendingUpdate{
		pu(mApt, "openssl", "3.0.14", "3.0.15", true),
		pu(mApt, "curl", "7.88.1-10", "7.88.1-11", false),
		pu(mApt, "linux-image-amd64", "6.1.112-1", "6.1.115-1", true),
	}}
}

func reason(t *testing.T, err error) string {
	t.Helper()
	var f *Failure
	if !errors.As(err, &f) {
		t.Fatalf("err = %v (%T), want *Failure", err, err)
	}
	return f.Reason
}

func TestSelection(t *testing.T) {
	tests := []struct {
		name string
		req  protocol.PackageWork
		want []string
	}{
		{"all", protocol.PackageWork{Scope: protocol.ScopeAll}, []string{"openssl", "curl", "linux-image-amd64"}},
		{"security", protocol.PackageWork{Scope: protocol.ScopeSecurity}, []string{"openssl", "linux-image-amd64"}},
		{"named", protocol.PackageWork{Scope: protocol.ScopeNamed, Names: []string{"curl", "not-here"}}, []string{"curl"}},
		{"exclude glob", protocol.PackageWork{Scope: protocol.ScopeSecurity, Exclude: []string{"linux-image-*"}}, []string{"openssl"}},
		{"exclude beats a name", protocol.PackageWork{Scope: protocol.ScopeNamed, Names: []string{"curl", "openssl"}, Exclude: []string{"curl"}}, []string{"openssl"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := aptFake()
			out, err := run(context.Background(), tt.req, false, quiet(), asInstallers(f))
			if err != nil {
				t.Fatal(err)
			}
			if len(f.installed) != 1 || !slices.Equal(f.installed[0], tt.want) {
				t.Fatalf("installed %q, want %q", f.installed, tt.want)
			}
			if len(out.Changes) != len(tt.want) || out.Changes[0].Manager != mApt || out.Changes[0].Name != tt.want[0] {
				t.Fatalf("changes = %+v", out.Changes)
			}
		})
	}
}

func TestNothingMatchedIsSuccess(t *testing.T) {
	f := aptFake()
	out, err := run(context.Background(), protocol.PackageWork{Scope: protocol.ScopeNamed, Names: []string{"nginx"}}, false, quiet(), asInstallers(f))
	if err != nil || len(out.Changes) != 0 || out.Message != "no pending update matched the rollout" {
		t.Fatalf("got %+v, %v", out, err)
	}
	if len(f.planned)+len(f.installed) != 0 {
		t.Fatal("a manager with nothing selected was planned or installed")
	}
}

func TestDryRunInstallsNothing(t *testing.T) {
	f := aptFake()
	d := &fake{m: mDocker, pending: []protocol.PendingUpdate{pu(mDocker, "nginx:1.27", "sha256:a", "sha256:b", false)}}
	out, err := run(context.Background(), protocol.PackageWork{Scope: protocol.ScopeAll}, true, quiet(), asInstallers(f, d))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.installed)+len(d.installed) != 0 {
		t.Fatal("a dry run installed")
	}
	if len(out.Changes) != 4 || out.Changes[3] != (protocol.PackageChange{Manager: mDocker, Name: "nginx:1.27", From: "sha256:a", To: "sha256:b"}) {
		t.Fatalf("planned changes = %+v", out.Changes)
	}
	if want := "dry run: would upgrade 3 packages with apt; would update 1 image with docker"; out.Message != want {
		t.Fatalf("message = %q, want %q", out.Message, want)
	}
}

func TestPlanJudgement(t *testing.T) {
	newDep := installer.Change{Name: "libssl4", To: "3.1", Kind: installer.Install}
	tests := []struct {
		name   string
		extra  []installer.Change
		allow  bool
		reason string // "" for success
	}{
		{"new dependency refused", []installer.Change{newDep}, false, ReasonNewDependencies},
		{"new dependency allowed", []installer.Change{newDep}, true, ""},
		{"extra upgrade refused", []installer.Change{{Name: "libc6", From: "2.36-8", To: "2.36-9", Kind: installer.Upgrade}}, false, ReasonNewDependencies},
		{"multi-arch twin of a selected package is no extra", []installer.Change{{Name: "curl:i386", Key: "curl", From: "1", To: "2", Kind: installer.Upgrade}}, false, ""},
		{"removal refused even when allowed", []installer.Change{{Name: "oldlib", From: "1.0", Kind: installer.Remove}}, true, ReasonPackageRemovals},
		{"excluded dependency refused even when allowed", []installer.Change{{Name: "linux-headers-6.1", To: "6.1", Kind: installer.Install}}, true, ReasonExcludedPackage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := aptFake()
			f.extra = tt.extra
			req := protocol.PackageWork{Scope: protocol.ScopeNamed, Names: []string{"curl"}, Exclude: []string{"linux-*"}, AllowNewDependencies: tt.allow}
			out, err := run(context.Background(), req, false, quiet(), asInstallers(f))
			if tt.reason == "" {
				if err != nil || len(f.installed) != 1 {
					t.Fatalf("err = %v, installed %q", err, f.installed)
				}
				return
			}
			if got := reason(t, err); got != tt.reason {
				t.Fatalf("reason = %s, want %s (%v)", got, tt.reason, err)
			}
			if len(f.installed) != 0 {
				t.Fatal("a refused plan was installed")
			}
			if !strings.Contains(out.Message, tt.extra[0].Name) || !strings.Contains(out.Message, "nothing was installed") {
				t.Fatalf("message %q does not name %s", out.Message, tt.extra[0].Name)
			}
		})
	}
}

// TestRefusalAnywhereInstallsNothing: every manager is planned before
// any installs, so a refusal from the second leaves the first untouched.
func TestRefusalAnywhereInstallsNothing(t *testing.T) {
	a := aptFake()
	d := &fake{m: mDocker, pending: []protocol.PendingUpdate{pu(mDocker, "nginx:1.27", "a", "b", false)}, planErr: fmt.Errorf("%w: container web runs with --rm", installer.ErrUnsupported)}
	_, err := run(context.Background(), protocol.PackageWork{Scope: protocol.ScopeAll}, false, quiet(), asInstallers(a, d))
	if reason(t, err) != ReasonUnsupported || len(a.installed) != 0 {
		t.Fatalf("err = %v, apt installed %q", err, a.installed)
	}
}

func TestFailureReportsWhatWasDone(t *testing.T) {
	a := aptFake()
	d := &fake{m: mDocker, pending: []protocol.PendingUpdate{pu(mDocker, "nginx:1.27", "a", "b", false), pu(mDocker, "redis:7", "c", "d", false)}, installErr: errors.New("container web would not start")}
	w := &fake{m: mDnf, pending: []protocol.PendingUpdate{pu(mDnf, "bash", "1", "2", false)}}
	out, err := run(context.Background(), protocol.PackageWork{Scope: protocol.ScopeAll}, false, quiet(), asInstallers(a, d, w))
	var f *Failure
	if !errors.As(err, &f) || f.Reason != ReasonInstallFailed || f.Manager != mDocker {
		t.Fatalf("err = %v", err)
	}
	if len(w.installed) != 0 {
		t.Fatal("a manager after the failing one was installed")
	}
	// apt's 3 and docker's one image changed before the failure.
	if len(out.Changes) != 4 || out.Changes[3].Name != "nginx:1.27" {
		t.Fatalf("changes = %+v", out.Changes)
	}
	for _, want := range []string{"docker: InstallFailed: container web would not start", "before failing updated 1 image with docker", "done: upgraded 3 packages with apt", "not attempted: dnf"} {
		if !strings.Contains(out.Message, want) {
			t.Errorf("message %q lacks %q", out.Message, want)
		}
	}
}

func TestAbsentManagers(t *testing.T) {
	named := protocol.PackageWork{Scope: protocol.ScopeNamed, Names: []string{"openssl"}}

	// Not named by the rollout: skipped.
	a := aptFake()
	if _, err := run(context.Background(), named, false, quiet(), asInstallers(a, absentFake(mDocker))); err != nil || len(a.installed) != 1 {
		t.Fatalf("absent docker beside apt: err = %v, installed %q", err, a.installed)
	}
	// Named among others that are present: skipped too.
	a = aptFake()
	req := named
	req.Managers = []protocol.PackageManager{mApt, mDnf}
	out, err := run(context.Background(), req, false, quiet(), asInstallers(a, absentFake(mDnf)))
	if err != nil || len(a.installed) != 1 || out.Message != "upgraded 1 package with apt; not present on this host: dnf" {
		t.Fatalf("absent dnf named beside apt: %+v, %v", out, err)
	}
	// A Named rollout for managers none of which is here fails.
	req.Managers = []protocol.PackageManager{mDnf}
	out, err = run(context.Background(), req, false, quiet(), asInstallers(aptFake(), absentFake(mDnf)))
	if reason(t, err) != ReasonManagerUnavailable || !strings.Contains(out.Message, "none is present") {
		t.Fatalf("err = %v, message %q", err, out.Message)
	}
	// A manager this platform does not have at all counts as absent.
	req.Managers = []protocol.PackageManager{protocol.ManagerWinget}
	if _, err := run(context.Background(), req, false, quiet(), asInstallers(aptFake())); reason(t, err) != ReasonManagerUnavailable {
		t.Fatalf("winget on a Linux host: err = %v", err)
	}
	// The same with scope All is nothing to do.
	req.Scope, req.Names = protocol.ScopeAll, nil
	if out, err := run(context.Background(), req, false, quiet(), asInstallers(absentFake(mDnf))); err != nil || out.Message != noneMatched {
		t.Fatalf("scope All, dnf absent: %+v, %v", out, err)
	}
}

func TestListingFailureIsManagerUnavailable(t *testing.T) {
	d := &fake{m: mDocker, pendingErr: errors.New("docker engine at unix:///run/docker.sock: connection refused")}
	_, err := run(context.Background(), protocol.PackageWork{Scope: protocol.ScopeAll}, false, quiet(), asInstallers(aptFake(), d))
	if reason(t, err) != ReasonManagerUnavailable {
		t.Fatalf("err = %v", err)
	}
	// A listing partly read is used.
	a := aptFake()
	a.pendingErr = fmt.Errorf("apt scan: %w: 1 unreadable line", scan.ErrMalformed)
	if _, err := run(context.Background(), protocol.PackageWork{Scope: protocol.ScopeAll}, false, quiet(), asInstallers(a)); err != nil || len(a.installed) != 1 {
		t.Fatalf("partial listing: err = %v", err)
	}
}

func TestTimeoutsAndInterruptions(t *testing.T) {
	opts := quiet()
	opts.Timeout = 50 * time.Millisecond
	for _, phase := range []string{"pending", "plan", "install"} {
		f := aptFake()
		f.hang = phase
		start := time.Now()
		_, err := run(context.Background(), protocol.PackageWork{Scope: protocol.ScopeAll}, false, opts, asInstallers(f))
		if reason(t, err) != ReasonTimeout || !strings.Contains(err.Error(), "no result within 50ms") {
			t.Errorf("%s hangs: err = %v", phase, err)
		}
		if time.Since(start) > 5*time.Second {
			t.Errorf("%s: the timeout did not stop it", phase)
		}
	}
	// The caller's context ending is not the manager's timeout.
	f := aptFake()
	f.hang = "install"
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	if _, err := run(ctx, protocol.PackageWork{Scope: protocol.ScopeAll}, false, quiet(), asInstallers(f)); reason(t, err) != ReasonInterrupted {
		t.Fatalf("cancelled: err = %v", err)
	}
}

func TestInstallerPanicIsAFailure(t *testing.T) {
	f := aptFake()
	f.panicIn = "install"
	_, err := run(context.Background(), protocol.PackageWork{Scope: protocol.ScopeAll}, false, quiet(), asInstallers(f))
	if reason(t, err) != ReasonInstallFailed || !errors.Is(err, errPanicked) {
		t.Fatalf("err = %v", err)
	}
}

func TestInvalidRequests(t *testing.T) {
	for _, req := range []protocol.PackageWork{
		{Scope: "Everything"},
		{Scope: protocol.ScopeNamed},
		{Scope: protocol.ScopeNamed, Names: []string{" "}},
		{Scope: protocol.ScopeAll, Exclude: []string{"linux-[image"}},
		{Scope: protocol.ScopeAll, Managers: []protocol.PackageManager{"pip"}},
	} {
		f := aptFake()
		if _, err := run(context.Background(), req, false, quiet(), asInstallers(f)); reason(t, err) != ReasonInvalidRequest {
			t.Errorf("%+v: err = %v", req, err)
		}
		if len(f.planned) != 0 {
			t.Errorf("%+v: planned before validating", req)
		}
	}
}

func TestRebootRequiredAndBounds(t *testing.T) {
	long := strings.Repeat("x", 300)
	f := &fake{m: protocol.ManagerWindowsUpdate, reboot: true, pending: []protocol.PendingUpdate{pu(protocol.ManagerWindowsUpdate, long, "", strings.Repeat("KB1,", 40), true)}}
	out, err := run(context.Background(), protocol.PackageWork{Scope: protocol.ScopeSecurity}, false, quiet(), asInstallers(f))
	if err != nil || !out.RebootRequired {
		t.Fatalf("got %+v, %v", out, err)
	}
	c := out.Changes[0]
	if len(c.Name) > scan.MaxNameLen || len(c.To) > scan.MaxVersionLen || len(out.Message) > MaxMessageLen {
		t.Fatalf("unbounded result: name %d, to %d, message %d bytes", len(c.Name), len(c.To), len(out.Message))
	}
	if out.Message != "installed 1 update with windows-update" {
		t.Fatalf("message = %q", out.Message)
	}
}

// TestPlannedIsToldBeforeAnyInstall: the versions before are handed out
// once every manager has planned and before any installs, for every
// manager's changes; a dry run, or nothing to change, hands out nothing.
func TestPlannedIsToldBeforeAnyInstall(t *testing.T) {
	apt := aptFake()
	dnf := &fake{m: mDnf, pending: []protocol.PendingUpdate{pu(mDnf, "bash", "5.1.8-6", "5.1.8-9", false)}}
	var planned []protocol.PackageChange
	installsThen := -1
	opts := quiet()
	opts.Planned = func(cs []protocol.PackageChange) {
		planned = append(planned, cs...)
		installsThen = len(apt.installed) + len(dnf.installed)
	}
	if _, err := run(context.Background(), protocol.PackageWork{Scope: protocol.ScopeAll}, false, opts, asInstallers(apt, dnf)); err != nil {
		t.Fatal(err)
	}
	if installsThen != 0 {
		t.Errorf("Planned was called after %d installs, want before any (-1: never)", installsThen)
	}
	want := []protocol.PackageChange{
		{Manager: mApt, Name: "openssl", From: "3.0.14", To: "3.0.15"},
		{Manager: mApt, Name: "curl", From: "7.88.1-10", To: "7.88.1-11"},
		{Manager: mApt, Name: "linux-image-amd64", From: "6.1.112-1", To: "6.1.115-1"},
		{Manager: mDnf, Name: "bash", From: "5.1.8-6", To: "5.1.8-9"},
	}
	if !slices.Equal(planned, want) {
		t.Errorf("Planned got %+v, want %+v", planned, want)
	}

	for name, tc := range map[string]struct {
		req protocol.PackageWork
		dry bool
	}{
		"dry run":       {protocol.PackageWork{Scope: protocol.ScopeAll}, true},
		"nothing to do": {protocol.PackageWork{Scope: protocol.ScopeNamed, Names: []string{"not-here"}}, false},
	} {
		called := false
		opts.Planned = func([]protocol.PackageChange) { called = true }
		if _, err := run(context.Background(), tc.req, tc.dry, opts, asInstallers(aptFake())); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if called {
			t.Errorf("%s: Planned was called", name)
		}
	}
}
