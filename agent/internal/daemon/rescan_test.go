package daemon

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redflag-io/redflag/agent/internal/facts"
	"github.com/redflag-io/redflag/agent/internal/install"
	"github.com/redflag-io/redflag/agent/internal/scan"
	"github.com/redflag-io/redflag/agent/internal/scanrun"
	"github.com/redflag-io/redflag/internal/protocol"
)

// steppedScanner returns the next of its answers on each run, each run
// waiting for a value on release first.
type steppedScanner struct {
	release chan struct{}
	entered atomic.Int32 // runs started
	mu      sync.Mutex
	answers [][]protocol.PendingUpdate
}

func (s *steppedScanner) Manager() protocol.PackageManager { return protocol.ManagerApt }

func (s *steppedScanner) Scan(ctx context.Context) ([]protocol.PendingUpdate, error) {
	s.entered.Add(1)
	select {
	case <-s.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	next := s.answers[0]
	s.answers = s.answers[1:]
	return next, nil
}

// step lets one waiting scan finish, failing the test when none is
// waiting within a few seconds (rather than blocking until go test's
// timeout).
func (s *steppedScanner) step(t *testing.T) {
	t.Helper()
	select {
	case s.release <- struct{}{}:
	case <-time.After(5 * time.Second):
		t.Fatal("no scan was waiting to be released")
	}
}

func scansWith(t *testing.T, sc scan.Scanner) *scans {
	t.Helper()
	r, err := scanrun.New(scanrun.Config{
		Updates: []scan.Scanner{sc},
		Facts:   func(context.Context) (facts.Facts, error) { return facts.Facts{}, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	s, err := newScans(slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	s.runner = r
	return s
}

// TestRescanFollowsTheScanAlreadyRunning: a scheduled updates scan that
// began before an install finished reports what was pending then; the
// rescan asked for by the install runs after it, not instead of it and not
// alongside it, and its result (what is pending now) is reported last.
func TestRescanFollowsTheScanAlreadyRunning(t *testing.T) {
	openssl := protocol.PendingUpdate{Manager: protocol.ManagerApt, Name: "openssl", CurrentVersion: "3.0.14", AvailableVersion: "3.0.15"}
	sc := &steppedScanner{release: make(chan struct{}), answers: [][]protocol.PendingUpdate{{openssl}, nil}}
	s := scansWith(t, sc)
	var got reports
	// Canceled when the test ends, so a failed check does not leave scans
	// blocked on release for ever.
	ctx := t.Context()

	s.start(ctx, []protocol.ScanRequest{{Subsystem: "updates", ID: "updates-100"}}, got.queue)
	done := s.rescan(ctx, "updates", "updates-after-w1", got.queue)
	select {
	case <-done:
		t.Fatal("the rescan ended while the scan before it was still running")
	case <-time.After(50 * time.Millisecond):
	}
	if n := sc.entered.Load(); n != 1 {
		t.Fatalf("%d scans running at once; the rescan must wait for the one running", n)
	}
	sc.step(t) // the scheduled scan ends
	sc.step(t) // only now can the rescan run
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the rescan did not end")
	}
	s.wait()

	if ids := got.scanIDs(); !slices.Equal(ids, []string{"updates-100", "updates-after-w1"}) {
		t.Fatalf("scan reports %v: want the scheduled scan, then the rescan", ids)
	}
	if first, last := got.scans[0].Updates, got.scans[1].Updates; first == nil || first.Total != 1 || last == nil || last.Total != 0 {
		t.Errorf("inventories reported: %+v then %+v; want openssl pending, then nothing", first, last)
	}
	if got.scans[0].UpdatesHash == got.scans[1].UpdatesHash {
		t.Error("the rescan's inventory hash equals the stale one: the gateway would not store it")
	}
}

// TestAnInstallThatChangedPackagesAsksForARescan: after an install that
// changed packages the agent scans for pending updates again, so the
// Agent's inventory follows the host at once; a dry run or an install
// that changed nothing does not.
func TestAnInstallThatChangedPackagesAsksForARescan(t *testing.T) {
	changed := []protocol.PackageChange{{Manager: protocol.ManagerApt, Name: "openssl", From: "3.0.14", To: "3.0.15"}}
	cases := []struct {
		name      string
		dryRun    bool
		changes   []protocol.PackageChange
		refreshed bool
		fail      bool
		want      []string
	}{
		{name: "install", changes: changed, want: []string{"patch.1"}},
		{name: "dry run", dryRun: true, changes: changed},
		{name: "nothing to do", changes: nil},
		// The package lists were refreshed (apt-get update): what is
		// pending may have grown even though nothing was installed.
		{name: "dry run that refreshed the lists", dryRun: true, changes: changed, refreshed: true, want: []string{"patch.1"}},
		{name: "nothing to do after refreshing the lists", refreshed: true, want: []string{"patch.1"}},
		{name: "failure after refreshing the lists", refreshed: true, fail: true, want: []string{"patch.1"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newWorks(t.TempDir(), slog.New(slog.DiscardHandler))
			w.install = func(context.Context, protocol.PackageWork, bool, install.Options) (install.Outcome, error) {
				out := install.Outcome{Changes: slices.Clone(c.changes), Refreshed: c.refreshed}
				if c.fail {
					return out, &install.Failure{Reason: install.ReasonDryRunFailed, Err: errors.New("E: broken")}
				}
				return out, nil
			}
			var asked []string
			w.rescan = func(_ context.Context, id string) <-chan struct{} {
				asked = append(asked, id)
				return nil
			}
			req := protocol.WorkRequest{ID: "patch.1", AgentUpdate: "patch", DryRun: c.dryRun,
				Packages: &protocol.PackageWork{Scope: protocol.ScopeAll}, Reboot: protocol.RebootNever}
			var got reports
			w.start(context.Background(), &req, got.queue)
			w.wg.Wait()
			if final := got.last(t); final.Phase != protocol.WorkSucceeded && !c.fail {
				t.Fatalf("work ended %s: %s", final.Phase, final.Message)
			}
			if !slices.Equal(asked, c.want) {
				t.Errorf("rescans asked for %v, want %v", asked, c.want)
			}
		})
	}
}
