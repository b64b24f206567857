package scanrun

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redflag-io/redflag/agent/internal/scan"
	"github.com/redflag-io/redflag/internal/protocol"
)

// optionScanner records the options it was run with.
type optionScanner struct {
	*fakeScanner
	got []scan.Options
}

func (o *optionScanner) ScanWith(ctx context.Context, opts scan.Options) ([]protocol.PendingUpdate, error) {
	o.got = append(o.got, opts)
	return o.fakeScanner.Scan(ctx)
}

// TestRunWithHandsOptions: RunWith's options reach a scanner that takes
// them; Run hands the zero options (no refresh).
func TestRunWithHandsOptions(t *testing.T) {
	apt := &optionScanner{fakeScanner: returns(mApt, nil, nil)}
	plain := returns(mDnf, nil, nil)
	r, _ := newTestRunner(t, Config{Updates: []scan.Scanner{apt, plain}})
	if _, err := r.RunWith(context.Background(), scan.Options{RefreshListsAfter: 3 * time.Hour}, Updates); err != nil {
		t.Fatal(err)
	}
	runOne(t, r, Updates)
	want := []scan.Options{{RefreshListsAfter: 3 * time.Hour}, {}}
	if len(apt.got) != 2 || apt.got[0] != want[0] || apt.got[1] != want[1] {
		t.Fatalf("scanner got options %+v, want %+v", apt.got, want)
	}
	if plain.calls.Load() != 2 {
		t.Fatalf("a scanner without options ran %d times", plain.calls.Load())
	}
}

// TestNotRefreshedIsAResult: a scan of lists that could not be refreshed
// is a success, with the updates it found (none included) and the refresh
// problem as its message; it neither opens the breaker nor keeps an older
// list.
func TestNotRefreshedIsAResult(t *testing.T) {
	for _, items := range [][]protocol.PendingUpdate{nil, {upd(mApt, "bash", false)}} {
		err := fmt.Errorf("apt scan: %w: apt-get update: E: mirror down", scan.ErrNotRefreshed)
		r, _ := newTestRunner(t, Config{Updates: []scan.Scanner{returns(mApt, items, err)}})
		res := runOne(t, r, Updates)
		o := outcome(t, res, "apt")
		if o.Result != protocol.RunSucceeded || o.Updates != len(items) || o.KeptFrom != nil {
			t.Fatalf("%d updates: outcome %+v", len(items), o)
		}
		if !strings.Contains(o.Message, "package lists not refreshed") || !strings.Contains(o.Message, "mirror down") ||
			strings.HasPrefix(o.Message, "partial") {
			t.Fatalf("message %q", o.Message)
		}
		if int(res.Updates.Total) != len(items) {
			t.Fatalf("inventory %+v", res.Updates)
		}
		// What the Agent's status.subsystems shows.
		if res.Status.Result != protocol.RunSucceeded || !strings.Contains(res.Status.Message, "apt: apt scan: package lists not refreshed") {
			t.Fatalf("subsystem status %+v", res.Status)
		}
	}
}

func TestUsable(t *testing.T) {
	stale := fmt.Errorf("x: %w", scan.ErrNotRefreshed)
	malformed := fmt.Errorf("x: %w", scan.ErrMalformed)
	tests := []struct {
		err  error
		n    int
		want bool
	}{
		{nil, 0, true},
		{stale, 0, true},
		{malformed, 0, false},
		{malformed, 1, true},
		{fmt.Errorf("%w", errJoin(stale, malformed)), 0, false},
		{fmt.Errorf("%w", errJoin(stale, malformed)), 2, true},
		{errBroken, 3, false},
	}
	for _, tt := range tests {
		if got := scan.Usable(tt.err, tt.n); got != tt.want {
			t.Errorf("Usable(%v, %d) = %v, want %v", tt.err, tt.n, got, tt.want)
		}
	}
}

func errJoin(errs ...error) error { return fmt.Errorf("%w; %w", errs[0], errs[1]) }
