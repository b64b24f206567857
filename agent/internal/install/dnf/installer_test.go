package dnf

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/redflag-io/redflag/agent/internal/install/installer"
	"github.com/redflag-io/redflag/internal/protocol"
)

// stub stands in for dnf and rpm: two small sh programs that log their
// arguments, print the fixtures of a directory and exit as told. It
// tests the argument lists and exit statuses a sandbox cannot produce
// (dnf5's output, a transaction that fails half-way); sandbox_test.go
// runs the real dnf.
type stub struct {
	dir string
	i   Installer
}

const stubDNF = `#!/bin/sh
printf '%s\n' "$*" >> "$STUB_DIR/log"
case "$1" in
check-update) cat "$STUB_DIR/check-update"; exit 100 ;;
updateinfo) exit 0 ;;
upgrade) cat "$STUB_DIR/plan"; exit "$(cat "$STUB_DIR/plan-exit")" ;;
-y) cp "$STUB_DIR/rpm-after" "$STUB_DIR/rpm-now"; echo Complete!; exit "$(cat "$STUB_DIR/install-exit")" ;;
esac
exit 2
`

const stubRPM = `#!/bin/sh
cat "$STUB_DIR/rpm-now"
`

func newStub(t *testing.T) *stub {
	t.Helper()
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh to stand in for dnf")
	}
	s := &stub{dir: t.TempDir()}
	s.write(t, "dnf", stubDNF, 0o755)
	s.write(t, "rpm", stubRPM, 0o755)
	s.write(t, "plan-exit", "1", 0o644)
	s.write(t, "install-exit", "0", 0o644)
	t.Setenv("STUB_DIR", s.dir)
	s.i = Installer{DNF: filepath.Join(s.dir, "dnf"), RPM: filepath.Join(s.dir, "rpm")}
	return s
}

func (s *stub) write(t *testing.T, name, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(s.dir, name), []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

func (s *stub) fixture(t *testing.T, name, file string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	s.write(t, name, string(b), 0o644)
}

func (s *stub) calls(t *testing.T) []string {
	t.Helper()
	b, _ := os.ReadFile(filepath.Join(s.dir, "log"))
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

func request(names ...string) installer.Request {
	r := installer.Request{Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, n := range names {
		r.Updates = append(r.Updates, protocol.PendingUpdate{Manager: protocol.ManagerDnf, Name: n})
	}
	return r
}

func TestInstallerPlanAndInstall(t *testing.T) {
	s := newStub(t)
	s.fixture(t, "plan", "dnf5-fedora41-upgrade.txt")
	s.write(t, "rpm-now", "curl.x86_64 8.9.1-2.fc41\nlibcurl.x86_64 8.9.1-2.fc41\nbash.x86_64 5.2.32-1.fc41\n", 0o644)
	s.write(t, "rpm-after", "curl.x86_64 8.9.1-3.fc41\nlibcurl.x86_64 8.9.1-3.fc41\nlibngtcp2-crypto-ossl.x86_64 1.11.0-1.fc41\nbash.x86_64 5.2.32-1.fc41\n", 0o644)
	ctx := context.Background()
	req := request("curl", "libcurl")

	plan, err := s.i.Plan(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	want := []installer.Change{
		{Name: "curl.x86_64", Key: "curl", From: "8.9.1-2.fc41", To: "8.9.1-3.fc41", Kind: installer.Upgrade},
		{Name: "libcurl.x86_64", Key: "libcurl", From: "8.9.1-2.fc41", To: "8.9.1-3.fc41", Kind: installer.Upgrade},
		{Name: "libngtcp2-crypto-ossl.x86_64", Key: "libngtcp2-crypto-ossl", To: "1.11.0-1.fc41", Kind: installer.Install},
	}
	if !slices.Equal(plan.Changes, want) {
		t.Fatalf("plan\n%+v\nwant\n%+v", plan.Changes, want)
	}
	if got, _ := os.ReadFile(filepath.Join(s.dir, "rpm-now")); !strings.Contains(string(got), "8.9.1-2") {
		t.Fatal("the dry run changed the installed packages")
	}

	res, err := s.i.Install(ctx, req, plan)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Changes, want) || len(res.Notes) != 0 {
		t.Fatalf("installed\n%+v (notes %q)\nwant\n%+v", res.Changes, res.Notes, want)
	}
	if got, wantCalls := s.calls(t), []string{"upgrade --assumeno curl libcurl", "-y upgrade curl libcurl"}; !slices.Equal(got, wantCalls) {
		t.Fatalf("dnf called with %q, want %q", got, wantCalls)
	}
}

func TestInstallerPlanErrors(t *testing.T) {
	s := newStub(t)
	s.write(t, "rpm-now", "", 0o644)
	ctx := context.Background()

	// Exit 1 without "Operation aborted" is dnf failing, not a dry run.
	s.write(t, "plan", "No match for argument: curl\nError: No packages marked for upgrade.\n", 0o644)
	if _, err := s.i.Plan(ctx, request("curl")); err == nil || !strings.Contains(err.Error(), "No packages marked for upgrade") {
		t.Fatalf("dnf exit 1 without abort: err = %v", err)
	}
	// "Nothing to do." is an empty plan.
	s.fixture(t, "plan", "dnf4-nothing.txt")
	s.write(t, "plan-exit", "0", 0o644)
	if plan, err := s.i.Plan(ctx, request("curl")); err != nil || len(plan.Changes) != 0 {
		t.Fatalf("nothing to do: plan %+v, err %v", plan, err)
	}
	// A name dnf could take for an option is never passed.
	if _, err := s.i.Plan(ctx, request("--setopt=x")); err == nil {
		t.Fatal("an option-like name was accepted")
	}
}

func TestInstallerInstallFailureReportsWhatChanged(t *testing.T) {
	s := newStub(t)
	s.fixture(t, "plan", "dnf4-rhel9-upgrade.txt")
	s.write(t, "rpm-now", "openssl.x86_64 1:3.0.7-25.el9\nopenssl-libs.x86_64 1:3.0.7-25.el9\npython3-cryptography.x86_64 36.0.1-3.el9\n", 0o644)
	// The transaction stopped half-way: only openssl-libs was upgraded.
	s.write(t, "rpm-after", "openssl.x86_64 1:3.0.7-25.el9\nopenssl-libs.x86_64 1:3.0.7-27.el9\npython3-cryptography.x86_64 36.0.1-3.el9\n", 0o644)
	s.write(t, "install-exit", "1", 0o644)
	ctx := context.Background()
	req := request("openssl", "openssl-libs", "python3-cryptography")
	plan, err := s.i.Plan(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.i.Install(ctx, req, plan)
	if err == nil {
		t.Fatal("a failed dnf upgrade reported success")
	}
	want := []installer.Change{{Name: "openssl-libs.x86_64", Key: "openssl-libs", From: "1:3.0.7-25.el9", To: "1:3.0.7-27.el9", Kind: installer.Upgrade}}
	if !slices.Equal(res.Changes, want) {
		t.Fatalf("changes after a failure = %+v, want %+v", res.Changes, want)
	}
	if !slices.Contains(res.Notes, "openssl.x86_64 still at 1:3.0.7-25.el9") {
		t.Fatalf("notes = %q", res.Notes)
	}
}

func TestSelects(t *testing.T) {
	u := protocol.PendingUpdate{Name: "openssl-libs"}
	for name, want := range map[string]bool{"openssl-libs": true, "openssl-libs.x86_64": true, "openssl": false, "openssl-libs.X": false, "openssl-libs-devel": false} {
		if got := (Installer{}).Selects(name, u); got != want {
			t.Errorf("Selects(%q) = %v, want %v", name, got, want)
		}
	}
}
