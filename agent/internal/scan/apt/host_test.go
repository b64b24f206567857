package apt

import (
	"context"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestRunnerMatchesAptOnThisHost runs the scanner on this Debian machine,
// after refreshing its package lists, and compares it with what
// `apt list --upgradable` itself lists, read with a plain field split
// independent of the scanner's parser.
func TestRunnerMatchesAptOnThisHost(t *testing.T) {
	if _, err := exec.LookPath("apt-get"); err != nil {
		t.Fatalf("this test needs a Debian host with apt: %v", err)
	}
	// The host's own configuration, not a sandbox a caller may have set.
	t.Setenv("APT_CONFIG", "")
	_ = os.Unsetenv("APT_CONFIG")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "apt-get", "update", "-qq").CombinedOutput(); err != nil {
		// No mirror reachable: the lists on disk are still what both
		// sides read, so the comparison stands; say so.
		t.Logf("apt-get update failed, comparing against the lists on disk: %v\n%s", err, out)
	}
	updates, err := Runner{}.Scan(ctx)
	if err != nil {
		t.Fatalf("scanning this host: %v", err)
	}
	var got []string
	for _, u := range updates {
		got = append(got, u.Name)
	}

	cmd := exec.CommandContext(ctx, "apt", "list", "--upgradable")
	cmd.Env = append(os.Environ(), "LANG=C", "LC_ALL=C")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("apt list --upgradable: %v", err)
	}
	var want []string
	for _, line := range strings.Split(string(out), "\n") {
		name, _, ok := strings.Cut(line, "/")
		if !ok || !strings.Contains(line, "[upgradable from:") {
			continue
		}
		if !slices.Contains(want, name) { // multi-arch twins are one entry
			want = append(want, name)
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("scanner found %d packages, apt lists %d:\nscanner: %v\napt:     %v", len(got), len(want), got, want)
	}
	t.Logf("%d upgradable packages on this host", len(got))
}
