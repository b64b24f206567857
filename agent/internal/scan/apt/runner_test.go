package apt

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/redflag-io/redflag/agent/internal/scan"
	"github.com/redflag-io/redflag/internal/protocol"
	"github.com/redflag-io/redflag/test/apttest"
)

// TestRunnerSandbox runs the real apt against a sandbox root reached only
// through an inherited APT_CONFIG, as the agent would on a host.
func TestRunnerSandbox(t *testing.T) {
	sb := apttest.New(t, apttest.Options{
		Installed: []apttest.Package{
			{Name: "redflag-testpkg", Version: "1.0"},
			{Name: "redflag-secpkg", Version: "1.0"},
			{Name: "redflag-current", Version: "1.0"},
		},
		Repos: []apttest.Repo{
			{Suite: "redflag-stable", Packages: []apttest.Package{
				{Name: "redflag-testpkg", Version: "2.0"},
				{Name: "redflag-current", Version: "1.0"},
				{Name: "redflag-notinstalled", Version: "3.0"},
			}},
			{Suite: "redflag-stable-security", Packages: []apttest.Package{
				{Name: "redflag-secpkg", Version: "1.1"},
			}},
		},
	})
	sb.Setenv(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	got, err := Runner{}.Scan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []protocol.PendingUpdate{
		up("redflag-secpkg", "1.0", "1.1", "redflag-stable-security", true),
		up("redflag-testpkg", "1.0", "2.0", "redflag-stable", false),
	}
	if len(got) != len(want) {
		t.Fatalf("Scan() = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("update %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestRunnerAptFails(t *testing.T) {
	apttest.Require(t)
	bad := filepath.Join(t.TempDir(), "apt.conf")
	if err := os.WriteFile(bad, []byte("Dir::Etc::parts \"/nonexistent\"\nthis is { not apt.conf\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("APT_CONFIG", bad)
	_, err := Runner{}.Scan(context.Background())
	var ee *scan.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("Scan with a broken apt.conf: err = %v, want *scan.ExitError", err)
	}
	t.Logf("reported as: %v", err)
}

func TestRunnerNotInstalled(t *testing.T) {
	_, err := Runner{Apt: "/nonexistent/apt"}.Scan(context.Background())
	if !errors.Is(err, scan.ErrNotInstalled) {
		t.Fatalf("err = %v, want ErrNotInstalled", err)
	}
}
