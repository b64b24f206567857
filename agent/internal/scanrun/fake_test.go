package scanrun

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	testingclock "k8s.io/utils/clock/testing"

	"github.com/redflag-io/redflag/agent/internal/facts"
	"github.com/redflag-io/redflag/agent/internal/scan"
	"github.com/redflag-io/redflag/internal/protocol"
)

// t0 is the fake clock's start.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// fakeScanner is a package manager whose behaviour the test scripts.
type fakeScanner struct {
	manager protocol.PackageManager
	fn      func(ctx context.Context) ([]protocol.PendingUpdate, error)
	calls   atomic.Int32
}

func (f *fakeScanner) Manager() protocol.PackageManager { return f.manager }

func (f *fakeScanner) Scan(ctx context.Context) ([]protocol.PendingUpdate, error) {
	f.calls.Add(1)
	return f.fn(ctx)
}

// returns scans to items and err.
func returns(m protocol.PackageManager, items []protocol.PendingUpdate, err error) *fakeScanner {
	return &fakeScanner{manager: m, fn: func(context.Context) ([]protocol.PendingUpdate, error) {
		return slices.Clone(items), err
	}}
}

// hangs blocks until its context ends, as a well-behaved scanner whose
// package manager hangs does.
func hangs(m protocol.PackageManager) *fakeScanner {
	return &fakeScanner{manager: m, fn: func(ctx context.Context) ([]protocol.PendingUpdate, error) {
		<-ctx.Done()
		return nil, fmt.Errorf("fake %s: %w", m, context.Cause(ctx))
	}}
}

func notInstalled(m protocol.PackageManager) *fakeScanner {
	return returns(m, nil, fmt.Errorf("%s scan: %w: exec: not found", m, scan.ErrNotInstalled))
}

var errBroken = errors.New("exit status 100: E: broken")

func upd(m protocol.PackageManager, name string, security bool) protocol.PendingUpdate {
	return protocol.PendingUpdate{Manager: m, Name: name, CurrentVersion: "1.0", AvailableVersion: "1.1", Security: security}
}

// newTestRunner builds a Runner on a fake clock with short timeouts.
func newTestRunner(t *testing.T, cfg Config) (*Runner, *testingclock.FakePassiveClock) {
	t.Helper()
	clk := testingclock.NewFakePassiveClock(t0)
	cfg.Clock = clk
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.Facts == nil {
		cfg.Facts = func(context.Context) (facts.Facts, error) { return facts.Facts{}, nil }
	}
	r, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return r, clk
}

// runOne runs one subsystem and returns its result.
func runOne(t *testing.T, r *Runner, sub Subsystem) Result {
	t.Helper()
	rep, err := r.Run(context.Background(), sub)
	if err != nil {
		t.Fatalf("Run(%s): %v", sub, err)
	}
	if len(rep.Results) != 1 {
		t.Fatalf("Run(%s) gave %d results", sub, len(rep.Results))
	}
	return rep.Results[0]
}

// outcome finds the outcome named name.
func outcome(t *testing.T, res Result, name string) Outcome {
	t.Helper()
	for _, o := range res.Outcomes {
		if o.Name == name {
			return o
		}
	}
	t.Fatalf("no outcome %q in %+v", name, res.Outcomes)
	return Outcome{}
}
