package dnf

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redflag-io/redflag/agent/internal/scan"
)

// fakeTools writes stand-ins for dnf and rpm that replay the recorded
// RHEL 9 fixtures, but only for the exact argument lists and the C locale
// the runner must use. checkExit is check-update's exit code. Its
// versionlock command is missing, as on a host without the plugin.
func fakeTools(t *testing.T, checkExit string) Runner {
	t.Helper()
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh to stand in for dnf and rpm")
	}
	td, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	dnf := `#!/bin/sh
[ "$LC_ALL" = C ] && [ "$LANG" = C ] || { echo "not the C locale" >&2; exit 1; }
case "$*" in
"--setopt=metadata_expire=14400 check-update") cat '` + td + `/dnf4-rhel9-check-update.txt'; exit ` + checkExit + ` ;;
"--setopt=metadata_expire=14400 updateinfo list --security") cat '` + td + `/dnf4-rhel9-updateinfo-security.txt' ;;
"check-update") cat '` + td + `/dnf4-rhel9-check-update.txt'; exit ` + checkExit + ` ;;
"updateinfo list --security") cat '` + td + `/dnf4-rhel9-updateinfo-security.txt' ;;
"-q versionlock list") echo "No such command: versionlock. Please use /usr/bin/dnf --help" >&2; exit 1 ;;
*) echo "Error: unexpected arguments: $*" >&2; exit 2 ;;
esac
`
	rpm := `#!/bin/sh
[ "$1" = -qa ] && [ "$2" = --qf ] && [ "$3" = '` + InstalledQueryFormat + `' ] && [ $# = 3 ] || { echo "bad rpm args: $*" >&2; exit 2; }
cat '` + td + `/rpm-qa-rhel9.txt'
`
	for name, body := range map[string]string{"dnf": dnf, "rpm": rpm} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return Runner{DNF: filepath.Join(dir, "dnf"), RPM: filepath.Join(dir, "rpm")}
}

func TestRunnerUpdates(t *testing.T) {
	t.Setenv("LANG", "de_DE.UTF-8")
	got, err := fakeTools(t, "100").Scan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	checkAll(t, got)
	if len(got) != 14 {
		t.Fatalf("got %d updates, want 14: %+v", len(got), got)
	}
	if k := got[5]; k.Name != "kernel" || k.CurrentVersion != "5.14.0-427.13.1.el9_4" || !k.Security {
		t.Errorf("kernel = %+v", k)
	}
}

func TestRunnerNoUpdates(t *testing.T) {
	got, err := fakeTools(t, "0").Scan(context.Background())
	if err != nil || got != nil {
		t.Fatalf("Scan() = %+v, %v; want nothing", got, err)
	}
}

func TestRunnerDNFError(t *testing.T) {
	_, err := fakeTools(t, "1").Scan(context.Background())
	var ee *scan.ExitError
	if !errors.As(err, &ee) || ee.ExitCode != 1 {
		t.Fatalf("err = %v, want exit status 1", err)
	}
}

func TestRunnerNotInstalled(t *testing.T) {
	r := fakeTools(t, "0")
	r.DNF = "/nonexistent/dnf"
	_, err := r.Scan(context.Background())
	if !errors.Is(err, scan.ErrNotInstalled) {
		t.Fatalf("err = %v, want ErrNotInstalled", err)
	}
}

// TestRunnerEmptyRPMDatabase: dnf and rpm present but no package installed
// through rpm (a Debian host with the dnf package) is a host without dnf,
// not a failing dnf; check-update is never run.
func TestRunnerEmptyRPMDatabase(t *testing.T) {
	r := fakeTools(t, "1") // check-update would fail, were it run
	if err := os.WriteFile(r.RPM, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := r.Scan(context.Background())
	if !errors.Is(err, scan.ErrNotInstalled) || !strings.Contains(err.Error(), "rpm's database lists no installed package") {
		t.Fatalf("Scan() = %+v, %v; want ErrNotInstalled for the empty database", got, err)
	}
}

// TestRunnerPassesTheRefreshBound: the bound reaches dnf as its metadata
// expiry on both metadata reads (the fake refuses anything else); 0 leaves
// dnf's own setting.
func TestRunnerPassesTheRefreshBound(t *testing.T) {
	got, err := fakeTools(t, "100").ScanWith(context.Background(), scan.Options{RefreshListsAfter: 4 * time.Hour})
	if err != nil || len(got) != 14 {
		t.Fatalf("ScanWith(4h) = %d updates, %v", len(got), err)
	}
	if got := withExpiry(checkUpdateArgs, 0); !slices.Equal(got, checkUpdateArgs) {
		t.Errorf("withExpiry(0) = %v", got)
	}
	if got := withExpiry(checkUpdateArgs, time.Millisecond); got[0] != "--setopt=metadata_expire=1" {
		t.Errorf("withExpiry(1ms) = %v: 0 would mean always expired", got)
	}
}
