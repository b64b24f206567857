package apt

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redflag-io/redflag/agent/internal/scan"
	"github.com/redflag-io/redflag/internal/protocol"
	"github.com/redflag-io/redflag/test/apttest"
)

func TestStale(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		updated time.Time
		maxAge  time.Duration
		want    bool
	}{
		{"bound 0 never refreshes", now.Add(-1000 * time.Hour), 0, false},
		{"bound 0 never refreshes unknown age", time.Time{}, 0, false},
		{"unknown age", time.Time{}, 4 * time.Hour, true},
		{"younger than the bound", now.Add(-3 * time.Hour), 4 * time.Hour, false},
		{"exactly the bound", now.Add(-4 * time.Hour), 4 * time.Hour, false},
		{"older than the bound", now.Add(-4*time.Hour - time.Second), 4 * time.Hour, true},
		{"in the future", now.Add(time.Hour), 4 * time.Hour, false},
	}
	for _, tt := range tests {
		if got := Stale(tt.updated, now, tt.maxAge); got != tt.want {
			t.Errorf("%s: Stale = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestParseShell(t *testing.T) {
	tests := []struct {
		out, want string
		err       bool
	}{
		{out: "LISTS='/var/lib/apt/lists/'\n", want: "/var/lib/apt/lists/"},
		{out: "OTHER='x'\nLISTS='/tmp/a b/lists/'\n", want: "/tmp/a b/lists/"},
		{out: "", err: true},
		{out: "LISTS=''\n", err: true},
		{out: "LISTS='/a'\"'\"'b/'\n", err: true},
		{out: "LISTS='/unterminated\n", err: true},
	}
	for _, tt := range tests {
		got, err := parseShell(tt.out, "LISTS")
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("parseShell(%q) = %q, %v; want %q (error %v)", tt.out, got, err, tt.want, tt.err)
		}
	}
}

// staleSandbox is an apt root whose lists knew redflag-old at 2.0 and
// redflag-current at 1.0 (both installed at 1.0), after which the archive
// published redflag-current 1.1 and redflag-new 1.5 (installed 1.0)
// without the lists being refreshed, and whose lists are dated 10 hours
// back: a host without an apt timer.
func staleSandbox(t *testing.T) *apttest.Sandbox {
	t.Helper()
	sb := apttest.New(t, apttest.Options{
		Installed: []apttest.Package{
			{Name: "redflag-old", Version: "1.0"},
			{Name: "redflag-current", Version: "1.0"},
			{Name: "redflag-new", Version: "1.0"},
		},
		Repos: []apttest.Repo{{Suite: "redflag-stable", Packages: []apttest.Package{
			{Name: "redflag-old", Version: "2.0"},
			{Name: "redflag-current", Version: "1.0"},
		}}},
		CopyLists: true,
	})
	sb.PublishStale(t, 0,
		apttest.Package{Name: "redflag-current", Version: "1.1"},
		apttest.Package{Name: "redflag-new", Version: "1.5"},
	)
	ageLists(t, sb, 10*time.Hour)
	sb.Setenv(t)
	return sb
}

// ageLists dates the sandbox's lists (and partial/) back by age.
func ageLists(t *testing.T, sb *apttest.Sandbox, age time.Duration) {
	t.Helper()
	past := time.Now().Add(-age)
	for _, p := range []string{sb.ListsDir() + "/partial", sb.ListsDir()} {
		if err := os.Chtimes(p, past, past); err != nil {
			t.Fatal(err)
		}
	}
}

// upgradable is what `apt list --upgradable` prints for the sandbox, read
// with a plain field split independent of the scanner's parser:
// "name current→available" entries, sorted.
func upgradable(t *testing.T, sb *apttest.Sandbox) []string {
	t.Helper()
	var out []string
	for line := range strings.Lines(sb.Run(t, "apt", "list", "--upgradable")) {
		f := strings.Fields(line)
		if len(f) != 6 || f[3] != "[upgradable" {
			continue
		}
		name, _, _ := strings.Cut(f[0], "/")
		out = append(out, name+" "+strings.TrimSuffix(f[5], "]")+"→"+f[1])
	}
	slices.Sort(out)
	return out
}

func entries(updates []protocol.PendingUpdate) []string {
	var out []string
	for _, u := range updates {
		out = append(out, u.Name+" "+u.CurrentVersion+"→"+u.AvailableVersion)
	}
	slices.Sort(out)
	return out
}

// TestScanRefreshesStaleLists: with lists older than the bound, the
// scan's updates are what apt itself lists after apt-get update, not the
// stale view; with lists younger than the bound nothing is refreshed.
func TestScanRefreshesStaleLists(t *testing.T) {
	sb := staleSandbox(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r := Runner{}

	stale := upgradable(t, sb)
	updated, err := r.ListsUpdated(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if age := time.Since(updated); age < 9*time.Hour {
		t.Fatalf("lists read as %s old, want about 10h: the age is not read from Dir::State::Lists", age)
	}

	// A bound larger than the lists' age: the old view, lists untouched.
	got, err := r.ScanWith(ctx, scan.Options{RefreshListsAfter: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(entries(got), stale) {
		t.Fatalf("with a 24h bound the scan saw %v, want the lists' own %v", entries(got), stale)
	}
	if again, err := r.ListsUpdated(ctx); err != nil || !again.Equal(updated) {
		t.Fatalf("with a 24h bound the lists were refreshed: updated %v, was %v (%v)", again, updated, err)
	}

	// A bound smaller than their age: refreshed first.
	got, err = r.ScanWith(ctx, scan.Options{RefreshListsAfter: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	after, afterErr := r.ListsUpdated(ctx)
	sb.Update(t)
	truth := upgradable(t, sb)
	if slices.Equal(truth, stale) {
		t.Fatalf("the sandbox is not stale: %v before and after apt-get update", truth)
	}
	if !slices.Equal(entries(got), truth) {
		t.Fatalf("with a 1h bound the scan saw %v, want what apt lists after apt-get update: %v (stale: %v)",
			entries(got), truth, stale)
	}
	if afterErr != nil || time.Since(after) > time.Minute {
		t.Fatalf("after a refresh the lists read as updated at %v (%v)", after, afterErr)
	}
	t.Logf("stale view %v, refreshed %v", stale, truth)
}

// TestScanRefreshFails: a refresh that fails leaves the scan with the
// lists on disk and says so, as a usable result.
func TestScanRefreshFails(t *testing.T) {
	sb := staleSandbox(t)
	stale := upgradable(t, sb)
	// The mirror is gone.
	if err := os.RemoveAll(sb.RepoDirs[0]); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	got, err := Runner{}.ScanWith(ctx, scan.Options{RefreshListsAfter: time.Hour})
	if !errors.Is(err, scan.ErrNotRefreshed) || errors.Is(err, scan.ErrMalformed) {
		t.Fatalf("err = %v, want ErrNotRefreshed alone", err)
	}
	if !scan.Usable(err, len(got)) {
		t.Fatalf("a scan of the old lists is not usable: %v", err)
	}
	if !slices.Equal(entries(got), stale) {
		t.Fatalf("scan saw %v, want the lists on disk %v", entries(got), stale)
	}
	t.Logf("reported as: %v", err)
}

// TestScanRefreshTimesOut: a refresh that outlasts RefreshTimeout is cut
// short and reported; the scan itself still runs.
func TestScanRefreshTimesOut(t *testing.T) {
	sb := staleSandbox(t)
	stale := upgradable(t, sb)
	dir := t.TempDir()
	slow := dir + "/apt-get"
	if err := os.WriteFile(slow, []byte("#!/bin/sh\nexec sleep 60\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	got, err := Runner{AptGet: slow, RefreshTimeout: time.Second}.ScanWith(context.Background(), scan.Options{RefreshListsAfter: time.Hour})
	if !errors.Is(err, scan.ErrNotRefreshed) || !strings.Contains(err.Error(), "no result within 1s") {
		t.Fatalf("err = %v, want ErrNotRefreshed naming the timeout", err)
	}
	if took := time.Since(start); took > 20*time.Second {
		t.Fatalf("scan took %s", took)
	}
	if !slices.Equal(entries(got), stale) {
		t.Fatalf("scan saw %v, want the lists on disk %v", entries(got), stale)
	}
}
