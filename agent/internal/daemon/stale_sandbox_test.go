package daemon

import (
	"context"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redflag-io/redflag/agent/internal/scan/apt"
	"github.com/redflag-io/redflag/internal/protocol"
	"github.com/redflag-io/redflag/test/apttest"
)

// These tests run the agent's scans and work with the real apt against an
// apttest sandbox whose package lists are stale: the archive published
// versions after the last apt-get update, and the lists are dated 10 hours
// back, as on a host without an apt timer.

func staleHost(t *testing.T) *apttest.Sandbox {
	t.Helper()
	sb := apttest.New(t, apttest.Options{
		Installed: []apttest.Package{
			{Name: "redflag-old", Version: "1.0"},
			{Name: "redflag-new", Version: "1.0"},
		},
		Repos:     []apttest.Repo{{Packages: []apttest.Package{{Name: "redflag-old", Version: "2.0"}}}},
		CopyLists: true,
	})
	sb.PublishStale(t, 0, apttest.Package{Name: "redflag-new", Version: "1.5"})
	past := time.Now().Add(-10 * time.Hour)
	for _, p := range []string{sb.ListsDir() + "/partial", sb.ListsDir()} {
		if err := chtimes(p, past); err != nil {
			t.Fatal(err)
		}
	}
	sb.Setenv(t)
	return sb
}

// truth is what apt lists as upgradable after apt-get update, as
// "name current→available", sorted; read with a plain field split.
func truth(t *testing.T, sb *apttest.Sandbox) []string {
	t.Helper()
	sb.Update(t)
	var out []string
	for line := range strings.Lines(sb.Run(t, "apt", "list", "--upgradable")) {
		f := strings.Fields(line)
		if len(f) == 6 && f[3] == "[upgradable" {
			name, _, _ := strings.Cut(f[0], "/")
			out = append(out, name+" "+strings.TrimSuffix(f[5], "]")+"→"+f[1])
		}
	}
	slices.Sort(out)
	return out
}

// reported is the inventory of a scan report, in the form truth gives.
func reported(t *testing.T, r protocol.ScanResult) []string {
	t.Helper()
	if r.Updates == nil {
		t.Fatalf("scan %s reported no inventory: %s %s", r.ID, r.Result, r.Message)
	}
	var out []string
	for _, u := range r.Updates.Items {
		out = append(out, u.Name+" "+u.CurrentVersion+"→"+u.AvailableVersion)
	}
	slices.Sort(out)
	return out
}

// TestAScheduledScanRefreshesStaleLists: an updates scan whose request
// carries a bound shorter than the lists' age reports what apt lists after
// apt-get update; with the bound at 0 (never) it reports the stale view.
func TestAScheduledScanRefreshesStaleLists(t *testing.T) {
	sb := staleHost(t)
	s := scansWith(t, apt.Runner{})
	var got reports
	ctx := t.Context()

	s.start(ctx, []protocol.ScanRequest{{Subsystem: "updates", ID: "updates-1", RefreshListsAfter: &protocol.Duration{}}}, got.queue)
	s.wait()
	s.start(ctx, []protocol.ScanRequest{{Subsystem: "updates", ID: "updates-2", RefreshListsAfter: &protocol.Duration{Duration: time.Hour}}}, got.queue)
	s.wait()
	if len(got.scans) != 2 {
		t.Fatalf("%d scan reports, want 2", len(got.scans))
	}
	stale, fresh, want := reported(t, got.scans[0]), reported(t, got.scans[1]), truth(t, sb)
	if slices.Equal(stale, want) {
		t.Fatalf("with refreshing off the scan saw %v, what apt lists after a refresh: the lists were not stale", stale)
	}
	if !slices.Equal(fresh, want) {
		t.Fatalf("with a 1h bound over 10h-old lists the Agent's updates are %v, want what apt lists after apt-get update: %v", fresh, want)
	}
	if got.scans[1].Result != protocol.RunSucceeded {
		t.Fatalf("scan %s: %s", got.scans[1].Result, got.scans[1].Message)
	}
}

// TestADryRunThatRefreshedIsFollowedByARescan: the scheduled scan never
// refreshes (bound 0) and reports the stale view; a dry run refreshes the
// lists itself (apt-get update), changes nothing, and the rescan after it
// brings the Agent's updates to what apt lists.
func TestADryRunThatRefreshedIsFollowedByARescan(t *testing.T) {
	sb := staleHost(t)
	s := scansWith(t, apt.Runner{})
	var got reports
	ctx := t.Context()
	s.start(ctx, []protocol.ScanRequest{{Subsystem: "updates", ID: "updates-1", RefreshListsAfter: &protocol.Duration{}}}, got.queue)
	s.wait()

	w := newWorks(t.TempDir(), slog.New(slog.DiscardHandler))
	var rescanned <-chan struct{}
	w.rescan = func(ctx context.Context, id string) <-chan struct{} {
		rescanned = s.rescan(ctx, "updates", "updates-after-"+id, got.queue)
		return rescanned
	}
	req := protocol.WorkRequest{ID: "dry.1", AgentUpdate: "dry", DryRun: true, Reboot: protocol.RebootNever,
		Packages: &protocol.PackageWork{Scope: protocol.ScopeNamed, Names: []string{"redflag-old"},
			Managers: []protocol.PackageManager{protocol.ManagerApt}}}
	w.start(ctx, &req, got.queue)
	w.wg.Wait()
	if final := got.last(t); final.Phase != protocol.WorkSucceeded {
		t.Fatalf("dry run ended %s: %s", final.Phase, final.Message)
	}
	if rescanned == nil {
		t.Fatal("no rescan after a dry run that ran apt-get update")
	}
	select {
	case <-rescanned:
	case <-time.After(time.Minute):
		t.Fatal("the rescan did not end")
	}
	if ids := got.scanIDs(); !slices.Equal(ids, []string{"updates-1", "updates-after-dry.1"}) {
		t.Fatalf("scan reports %v", ids)
	}
	before, after, want := reported(t, got.scans[0]), reported(t, got.scans[1]), truth(t, sb)
	if slices.Equal(before, want) {
		t.Fatalf("the scheduled scan already saw %v: the lists were not stale", before)
	}
	if !slices.Equal(after, want) {
		t.Fatalf("after the dry run the Agent's updates are %v, want what apt lists: %v", after, want)
	}
}

func chtimes(path string, at time.Time) error { return os.Chtimes(path, at, at) }
